import type { HealthResult } from '../types.js';
import type { SlackContext } from './context.js';
import { managedChannels, managedGroups } from './discovery.js';

/** The token works, and every channel and user group the config names is one Latch can manage. */
export async function health(ctx: SlackContext): Promise<HealthResult> {
  try {
    const me = await ctx.api.whoAmI();
    const where = `Slack workspace ${me.team} as ${me.user || me.userId}`;
    const [channels, groups] = await Promise.all([managedChannels(ctx), managedGroups(ctx)]);
    const problems: string[] = [];
    const missingChannels = (ctx.config.channels ?? []).filter(
      (n) => !channels.some((c) => c.name.toLowerCase() === n),
    );
    if (missingChannels.length)
      problems.push(
        `channels not found, archived, #general, or without Latch's Slack user in them: ${missingChannels.map((n) => `#${n}`).join(', ')}`,
      );
    const missingGroups = (ctx.config.usergroups ?? []).filter(
      (h) => !groups.some((g) => g.handle.toLowerCase() === h),
    );
    if (missingGroups.length)
      problems.push(`user groups not found or disabled: ${missingGroups.map((h) => `@${h}`).join(', ')}`);
    if (problems.length) return { ok: false, message: `${where}: ${problems.join('; ')}` };
    return {
      ok: true,
      message: `${where}: ${channels.length} channel(s) and ${groups.length} user group(s) to manage`,
    };
  } catch (err) {
    return { ok: false, message: err instanceof Error ? err.message : String(err) };
  }
}
