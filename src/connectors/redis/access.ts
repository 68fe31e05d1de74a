/**
 * listAccess (docs/ARCHITECTURE.md, "Reconciliation"): the ACL users on what the integration
 * manages. Latch's users (by prefix) map back to their resource by their exact key and channel
 * patterns; users made by hand are standing access on every resource whose patterns they hold.
 */
import { randomBytes } from 'node:crypto';
import type { AccessEntry, GrantHandle } from '../types.js';
import { madeFor, parseAclLine, reaches, type AclUser } from './acl.js';
import { asError, type RedisContext } from './context.js';
import { resourceIdOf } from './names.js';

/** What a Latch user whose patterns match no configured resource (the config changed since) is listed under. */
export const UNMATCHED_RESOURCE_ID = 'keys:?';

/**
 * accessKey: a grant's user holds one thing; a hand-made user is listed once per resource it
 * reaches, so its entries' keys carry the resource.
 */
export function accessKeyOf(handle: GrantHandle): string {
  const user = String(handle.user);
  return handle.standing === true ? `acl-user:${user}@${String(handle.resourceId)}` : `acl-user:${user}`;
}

/**
 * How Redis itself describes each permission's command rules (it reorders and expands them, e.g.
 * `-@dangerous`), read from throwaway users inside one MULTI/EXEC: no other client ever sees them,
 * and the ACL LIST in the same transaction is read after they are gone. A permission the server
 * refuses (an unknown category) comes back as its error.
 */
export async function describePermissions(
  ctx: RedisContext,
): Promise<{ described: Map<string, string | Error>; lines: string[] }> {
  const names = Object.keys(ctx.permissions);
  // The '.' keeps it apart from every grant's user (grantUserName makes only [a-z0-9_-]).
  const probe = `${ctx.config.userPrefix}probe.${randomBytes(6).toString('hex')}`;
  const tx = ctx.redis.multi();
  for (const name of names) {
    tx.call('ACL', ['SETUSER', probe, 'reset', ...ctx.permissions[name]!]);
    tx.call('ACL', ['GETUSER', probe]);
  }
  tx.call('ACL', ['DELUSER', probe]);
  tx.call('ACL', ['LIST']);
  const results = await tx.exec();
  if (!results) throw new Error('the ACL transaction was aborted');
  const described = new Map<string, string | Error>();
  names.forEach((name, i) => {
    const [setError] = results[2 * i]!;
    const [, user] = results[2 * i + 1]!;
    if (setError) described.set(name, asError(setError));
    else described.set(name, commandsOf(user));
  });
  const [listError, lines] = results[results.length - 1]!;
  if (listError) throw asError(listError);
  return { described, lines: lines as string[] };
}

/** The `commands` field of an ACL GETUSER reply (a flat field/value list). */
function commandsOf(reply: unknown): string {
  if (!Array.isArray(reply)) return '';
  const i = reply.indexOf('commands');
  return i >= 0 ? String(reply[i + 1]) : '';
}

export async function listAccess(ctx: RedisContext): Promise<AccessEntry[]> {
  const { described, lines } = await describePermissions(ctx);
  const permissionOf = (user: AclUser): string => {
    for (const [name, commands] of described) if (commands === user.commands) return name;
    return `custom: ${user.commands}`;
  };
  const { userPrefix, username, resources } = ctx.config;
  const entries: AccessEntry[] = [];
  for (const user of lines.map(parseAclLine)) {
    if (!user || user.name === 'default' || user.name === username) continue;
    const permission = permissionOf(user);
    if (user.name.startsWith(userPrefix)) {
      const resource = resources.find((r) => madeFor(user, r));
      const handle: GrantHandle = {
        user: user.name,
        resourceId: resource ? resourceIdOf(resource.name) : UNMATCHED_RESOURCE_ID,
        permission,
      };
      entries.push(entry(handle, user, true));
      continue;
    }
    // A user that is off, or may run nothing, gives no access.
    if (!user.on || user.commands === '-@all' || user.commands === '') continue;
    for (const resource of resources.filter((r) => reaches(user, r))) {
      const handle: GrantHandle = {
        user: user.name,
        standing: true,
        resourceId: resourceIdOf(resource.name),
        permission,
      };
      entries.push(entry(handle, user, false));
    }
  }
  return entries;
}

function entry(handle: GrantHandle, user: AclUser, madeByLatch: boolean): AccessEntry {
  return {
    key: accessKeyOf(handle),
    resourceId: String(handle.resourceId),
    permission: String(handle.permission),
    account: user.name,
    madeByLatch,
    handle,
  };
}
