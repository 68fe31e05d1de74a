/**
 * User group membership. Slack only replaces a group's whole member list (usergroups.users.update),
 * so every change is read, modify, write, then read again to confirm: another writer (an admin in
 * Slack, or a second Latch process) can replace the list between Latch's read and its write. Within
 * one process the changes to one group run one at a time. Slack refuses a group without members.
 */
import { PartialGrantError } from '../types.js';
import { callError, outcomeUnknown, type SlackUserGroup } from './api.js';
import { errorOf, type SlackContext } from './context.js';
import { membershipHandle, type Membership } from './names.js';

const ATTEMPTS = 3;

/** The group, checked as one Latch may change: it exists and is in the `usergroups` list if there is one. */
export async function managedGroup(
  ctx: SlackContext,
  id: string,
  forGrant: boolean,
): Promise<SlackUserGroup> {
  const group = (await ctx.api.usergroups({ includeDisabled: true })).find((g) => g.id === id);
  if (!group) throw new Error(`Slack user group ${id} does not exist`);
  const name = `@${group.handle}`;
  if (ctx.config.usergroups && !ctx.config.usergroups.includes(group.handle.toLowerCase()))
    throw new Error(`${name} is not in this integration's usergroups list`);
  if (forGrant && group.date_delete) throw new Error(`${name} is disabled in Slack`);
  return group;
}

async function membersOf(ctx: SlackContext, id: string, name: string): Promise<string[]> {
  const members = await ctx.api.usergroupMembers(id);
  if (!members) throw new Error(`Slack user group ${name} does not exist`);
  return members;
}

const lastMemberError = (user: string, name: string) =>
  new Error(
    `Slack does not allow a user group without members, and ${user} is the last member of ${name}: ` +
      `add someone else to ${name} (or disable it in Slack), then revoke again`,
  );

export function grantUsergroup(ctx: SlackContext, m: Membership): Promise<void> {
  return ctx.locks.run(m.id, async () => {
    const name = `@${(await managedGroup(ctx, m.id, true)).handle}`;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      const before = await membersOf(ctx, m.id, name);
      if (before.includes(m.user)) return;
      if (before.length === 0) {
        // The person would be its only member, whom Slack will not let Latch remove later.
        throw new Error(
          `${name} has no members, and Slack cannot remove a user group's last member, so this access could not be taken back: add a standing member to ${name} first`,
        );
      }
      try {
        await ctx.api.setUsergroupMembers(m.id, [...before, m.user]);
      } catch (err) {
        const error = callError('usergroups.users.update', `adding ${m.user} to ${name}`, err);
        if (outcomeUnknown(err)) await undoAdd(ctx, m, name, error);
        throw error;
      }
      // Slack said ok; the read only checks that no other writer's list replaced ours since.
      const after = await ctx.api.usergroupMembers(m.id).catch(() => null);
      if (!after || after.includes(m.user)) return;
    }
    throw new Error(
      `${name} was changed by someone else each time Latch added ${m.user}; the grant can be tried again`,
    );
  });
}

/** After an update of unknown outcome: takes the person out again if Slack did add them. */
async function undoAdd(ctx: SlackContext, m: Membership, name: string, error: Error): Promise<void> {
  try {
    const now = await membersOf(ctx, m.id, name);
    if (!now.includes(m.user)) return;
    const rest = now.filter((u) => u !== m.user);
    if (rest.length === 0) throw lastMemberError(m.user, name);
    await ctx.api.setUsergroupMembers(m.id, rest);
  } catch (undoErr) {
    throw new PartialGrantError(
      `${error.message}; removing ${m.user} again also failed: ${errorOf(undoErr).message}`,
      membershipHandle(m),
      { cause: error },
    );
  }
}

/**
 * Removes these users from one group in one update (then a read to confirm, retried if another
 * writer crossed it): the same order as `users`, null where they are gone. If they are all its
 * members, one stays, with an error saying why, since Slack refuses an empty group.
 */
export function revokeUsergroupMembers(
  ctx: SlackContext,
  id: string,
  users: string[],
): Promise<Array<Error | null>> {
  return ctx.locks.run(id, async () => {
    const failed = new Map<string, Error>();
    const fail = (users: Iterable<string>, err: Error) => {
      for (const u of users) if (!failed.has(u)) failed.set(u, err);
    };
    const wanted = [...new Set(users)];
    try {
      const name = `@${(await managedGroup(ctx, id, false)).handle}`;
      const self = (await ctx.api.whoAmI()).userId;
      if (wanted.includes(self))
        fail([self], new Error(`refusing to remove Latch's own Slack user (${self}) from ${name}`));
      let remove: string[] = [];
      for (let attempt = 0; attempt <= ATTEMPTS; attempt++) {
        const current = await membersOf(ctx, id, name);
        remove = wanted.filter((u) => !failed.has(u) && current.includes(u));
        if (remove.length === 0 || attempt === ATTEMPTS) break;
        let rest = current.filter((u) => !remove.includes(u));
        if (rest.length === 0) {
          const kept = remove.pop()!;
          fail([kept], lastMemberError(kept, name));
          rest = [kept];
          if (remove.length === 0) break;
        }
        try {
          await ctx.api.setUsergroupMembers(id, rest);
        } catch (err) {
          const error = callError('usergroups.users.update', `removing from ${name}`, err);
          // Of unknown outcome: the next read tells who is gone.
          if (!outcomeUnknown(err)) fail(remove, error);
        }
      }
      fail(remove, new Error(`still a member of ${name} after ${ATTEMPTS} attempts to remove them`));
    } catch (err) {
      fail(wanted, errorOf(err));
    }
    return users.map((u) => failed.get(u) ?? null);
  });
}
