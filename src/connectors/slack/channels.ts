/**
 * Channel membership: a grant invites the requester, a revoke removes (kicks) them. Slack has no
 * bulk removal, so many revokes are one kick each, a few at a time, each with its own outcome.
 */
import pLimit from 'p-limit';
import { PartialGrantError } from '../types.js';
import { callError, outcomeUnknown, type SlackChannel } from './api.js';
import { errorOf, type SlackContext } from './context.js';
import { membershipHandle, type Membership } from './names.js';

const KICKS_AT_ONCE = 4;

/**
 * The channel, checked as one Latch may change: it exists and Latch's Slack user can see it and is in
 * it (Slack lets only members add or remove others), it is not the default channel everyone is in,
 * and it is in the integration's `channels` list when there is one.
 */
export async function managedChannel(ctx: SlackContext, id: string): Promise<SlackChannel> {
  const channel = await ctx.api.channel(id);
  if (!channel) {
    throw new Error(`Slack channel ${id} does not exist, or is private and Latch's Slack user is not in it`);
  }
  const name = `#${channel.name}`;
  if (channel.is_general) {
    throw new Error(
      `${name} is the workspace's default channel, which everyone is in: Latch neither grants nor removes its membership`,
    );
  }
  if (ctx.config.channels && !ctx.config.channels.includes(channel.name.toLowerCase()))
    throw new Error(`${name} is not in this integration's channels list`);
  if (!channel.is_member) {
    throw new Error(
      `Latch's Slack user is not a member of ${name}, so it cannot add or remove members: invite the app to the channel`,
    );
  }
  return channel;
}

/**
 * Adds the member unless they already are one. If the invite fails in a way that leaves open
 * whether Slack made it, the person (who was not a member before) is removed again, so a failed
 * grant leaves nothing; if that fails too, the PartialGrantError names the membership.
 */
export async function grantChannel(ctx: SlackContext, m: Membership): Promise<void> {
  const channel = await managedChannel(ctx, m.id);
  const name = `#${channel.name}`;
  if (channel.is_archived) throw new Error(`${name} is archived`);
  const members = await ctx.api.channelMembers(m.id);
  if (!members) throw new Error(`Latch's Slack user cannot read the members of ${name}`);
  if (members.has(m.user)) return;
  try {
    await ctx.api.invite(m.id, m.user);
  } catch (err) {
    const error = callError('conversations.invite', `${m.user} to ${name}`, err);
    if (!outcomeUnknown(err)) throw error;
    try {
      await ctx.api.kick(m.id, m.user);
    } catch (undoErr) {
      throw new PartialGrantError(
        `${error.message}; removing ${m.user} again also failed: ${errorOf(undoErr).message}`,
        membershipHandle(m),
        { cause: err },
      );
    }
    throw error;
  }
}

/** Removes these users from one channel: the same order as `users`, null where they are gone. */
export async function revokeChannelMembers(
  ctx: SlackContext,
  channelId: string,
  users: string[],
): Promise<Array<Error | null>> {
  let channel: SlackChannel;
  let self: string;
  try {
    channel = await managedChannel(ctx, channelId);
    self = (await ctx.api.whoAmI()).userId;
  } catch (err) {
    return users.map(() => errorOf(err));
  }
  const name = `#${channel.name}`;
  const limit = pLimit(KICKS_AT_ONCE);
  const outcomes = new Map<string, Promise<Error | null>>();
  for (const user of new Set(users)) {
    outcomes.set(
      user,
      limit(async () => {
        if (user === self)
          return new Error(`refusing to remove Latch's own Slack user (${user}) from ${name}`);
        try {
          await ctx.api.kick(channelId, user);
          return null;
        } catch (err) {
          return callError('conversations.kick', `${user} from ${name}`, err);
        }
      }),
    );
  }
  return Promise.all(users.map((u) => outcomes.get(u)!));
}
