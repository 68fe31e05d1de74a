/**
 * What membership really exists on what the integration manages (Connector.listAccess,
 * docs/ARCHITECTURE.md, "Reconciliation"): every member of the managed channels and user groups but
 * Latch's own Slack user. Slack does not record who added a member, so no entry is marked as Latch's:
 * reconciliation tells Latch's grants by their access keys.
 */
import pLimit from 'p-limit';
import type { AccessEntry } from '../types.js';
import type { SlackContext } from './context.js';
import { managedChannels, managedGroups } from './discovery.js';
import { membershipHandle, membershipKey, PERMISSION, resourceId, type Membership } from './names.js';

const READS_AT_ONCE = 4;

export async function listAccess(ctx: SlackContext): Promise<AccessEntry[]> {
  const [me, channels, groups, users] = await Promise.all([
    ctx.api.whoAmI(),
    managedChannels(ctx),
    managedGroups(ctx, true),
    ctx.api.users(),
  ]);
  const emails = new Map(users.map((u) => [u.id, u.profile?.email]));
  const limit = pLimit(READS_AT_ONCE);
  const channelMembers = await Promise.all(
    channels.map((c) =>
      limit(async () => ({ id: c.id, members: [...((await ctx.api.channelMembers(c.id)) ?? [])] })),
    ),
  );
  const memberships: Membership[] = [
    ...channelMembers.flatMap(({ id, members }) =>
      members.map((user) => ({ kind: 'channel' as const, id, user })),
    ),
    ...groups.flatMap((g) => (g.users ?? []).map((user) => ({ kind: 'usergroup' as const, id: g.id, user }))),
  ];
  return memberships
    .filter((m) => m.user !== me.userId)
    .map((m) => {
      const email = emails.get(m.user);
      return {
        key: membershipKey(m),
        resourceId: resourceId(m),
        permission: PERMISSION,
        account: m.user,
        ...(email ? { email } : {}),
        madeByLatch: false,
        handle: membershipHandle(m),
      };
    });
}
