import type { DiscoveredResource } from '../types.js';
import type { SlackChannel, SlackUserGroup } from './api.js';
import type { SlackContext } from './context.js';
import { PERMISSION, resourceId } from './names.js';

/**
 * The channels Latch manages: those its Slack user is in (it can only add and remove members there),
 * not archived, never the default channel everyone is in, narrowed by the `channels` list.
 */
export async function managedChannels(ctx: SlackContext): Promise<SlackChannel[]> {
  const only = ctx.config.channels;
  if (only?.length === 0) return [];
  const all = await ctx.api.channels();
  return all.filter(
    (c) => c.is_member && !c.is_general && !c.is_archived && (!only || only.includes(c.name.toLowerCase())),
  );
}

/** The enabled user groups Latch manages, narrowed by the `usergroups` list. */
export async function managedGroups(ctx: SlackContext, includeUsers = false): Promise<SlackUserGroup[]> {
  const only = ctx.config.usergroups;
  if (only?.length === 0) return [];
  const all = await ctx.api.usergroups({ includeUsers });
  return all.filter((g) => !g.date_delete && (!only || only.includes(g.handle.toLowerCase())));
}

export async function discover(ctx: SlackContext): Promise<DiscoveredResource[]> {
  const [channels, groups] = await Promise.all([managedChannels(ctx), managedGroups(ctx)]);
  return [
    ...channels.map((c) => ({
      id: resourceId({ kind: 'channel', id: c.id }),
      name: `#${c.name}`,
      kind: 'channel',
      tags: { private: String(c.is_private === true) },
      permissions: [PERMISSION],
    })),
    ...groups.map((g) => ({
      id: resourceId({ kind: 'usergroup', id: g.id }),
      name: `@${g.handle}`,
      kind: 'usergroup',
      permissions: [PERMISSION],
    })),
  ];
}
