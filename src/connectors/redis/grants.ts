/**
 * A grant is one ACL user of its own (docs/ARCHITECTURE.md, "Connectors"): made by one ACL SETUSER,
 * saved to the ACL file where the server has one, deleted by ACL DELUSER, which also disconnects
 * every client authenticated as it.
 */
import { randomBytes } from 'node:crypto';
import { registerSecret } from '../../secret-scrubber.js';
import {
  PartialGrantError,
  type GrantHandle,
  type GrantItem,
  type GrantResult,
  type GrantSpec,
} from '../types.js';
import { grantRules, parseAclLine } from './acl.js';
import type { RedisResource } from './config.js';
import { acl, asError, saveAcl, type RedisContext } from './context.js';
import { grantUserName, resourceIdOf, resourceNameOf } from './names.js';

/** The configured resource and the command rules of the grant's permission. */
export function resolveGrant(
  ctx: RedisContext,
  spec: GrantSpec,
): { resource: RedisResource; rules: string[] } {
  const name = resourceNameOf(spec.resource.id);
  const resource = ctx.config.resources.find((r) => r.name === name);
  if (!resource) throw new Error(`resource ${spec.resource.id} is not configured in this Redis integration`);
  const offered = resource.permissions ?? Object.keys(ctx.permissions);
  const rules = Object.hasOwn(ctx.permissions, spec.permission)
    ? ctx.permissions[spec.permission]
    : undefined;
  if (!rules || !offered.includes(spec.permission))
    throw new Error(
      `resource ${resource.name} offers no permission ${JSON.stringify(spec.permission)} (it offers ${offered.join(', ')})`,
    );
  return { resource, rules };
}

export async function grant(ctx: RedisContext, spec: GrantSpec): Promise<GrantResult> {
  const { resource, rules } = resolveGrant(ctx, spec);
  const user = grantUserName(ctx.config.userPrefix, spec.grantId);
  const password = randomBytes(24).toString('base64url');
  registerSecret(password); // never in a log line, whoever logs it
  const handle: GrantHandle = { user, resourceId: resourceIdOf(resource.name), permission: spec.permission };
  // Asked before anything changes: a connection that fails here fails the grant with nothing made.
  await ctx.aclFile();
  try {
    await acl(ctx, 'SETUSER', user, ...grantRules(password, resource, rules));
    await saveAcl(ctx);
  } catch (err) {
    // SETUSER is atomic, but a timeout or a lost connection leaves unknown whether it ran, and a
    // failed ACL SAVE leaves a live user the file does not have. Either way the user goes again:
    // the name is this grant's alone, so deleting it never touches anything else.
    try {
      await deleteUsers(ctx, [user]);
    } catch (cleanup) {
      throw new PartialGrantError(
        `${asError(err).message}; the ACL user ${user} may be left (${asError(cleanup).message})`,
        handle,
        { cause: err },
      );
    }
    throw err;
  }
  const { host, port, tls } = ctx.config;
  return { handle, credentials: { username: user, password, host, port: String(port), tls: String(tls) } };
}

/**
 * The ACL user a handle names. A handle is data from the store: only users with Latch's prefix, or
 * ones listAccess marked as standing access, are ever deleted, and never `default` or Latch's own.
 */
export function userOf(ctx: RedisContext, spec: GrantSpec, handle: GrantHandle): string {
  const user =
    typeof handle.user === 'string' ? handle.user : grantUserName(ctx.config.userPrefix, spec.grantId);
  if (user === 'default' || user === ctx.config.username)
    throw new Error(
      `refusing to touch the ACL user ${JSON.stringify(user)}: it is ${user === 'default' ? "Redis's default user" : "Latch's own"}`,
    );
  if (!user || /[\s\p{Cc}]/u.test(user)) throw new Error(`not an ACL user name: ${JSON.stringify(user)}`);
  if (!user.startsWith(ctx.config.userPrefix) && handle.standing !== true)
    throw new Error(
      `refusing to touch the ACL user ${JSON.stringify(user)}: it lacks the prefix ${ctx.config.userPrefix} and was not listed as standing access`,
    );
  return user;
}

/** DELUSER (ending their connections), then ACL SAVE, also when they were gone already: an earlier revoke may have failed just before saving. */
async function deleteUsers(ctx: RedisContext, users: string[]): Promise<void> {
  await acl(ctx, 'DELUSER', ...users);
  await saveAcl(ctx);
}

export async function revoke(ctx: RedisContext, spec: GrantSpec, handle: GrantHandle): Promise<void> {
  await deleteUsers(ctx, [userOf(ctx, spec, handle)]);
}

/**
 * One ACL DELUSER for the whole batch and one ACL SAVE. If the batch command fails, each user is
 * deleted by a command of its own (pipelined), so every item gets its own outcome.
 */
export async function revokeMany(ctx: RedisContext, items: GrantItem[]): Promise<Array<Error | null>> {
  const outcomes: Array<Error | null> = items.map(() => null);
  const itemsOf = new Map<string, number[]>();
  items.forEach(({ spec, handle }, i) => {
    try {
      const user = userOf(ctx, spec, handle);
      itemsOf.set(user, [...(itemsOf.get(user) ?? []), i]);
    } catch (err) {
      outcomes[i] = asError(err);
    }
  });
  const users = [...itemsOf.keys()];
  if (users.length === 0) return outcomes;
  const failed = new Set<string>();
  try {
    await acl(ctx, 'DELUSER', ...users);
  } catch {
    const pipeline = ctx.redis.pipeline();
    for (const user of users) pipeline.call('ACL', ['DELUSER', user]);
    const results = (await pipeline.exec()) ?? [];
    users.forEach((user, k) => {
      const error = results[k]?.[0] ?? (results[k] ? null : new Error('no reply to ACL DELUSER'));
      if (!error) return;
      failed.add(user);
      for (const i of itemsOf.get(user)!) outcomes[i] = asError(error);
    });
  }
  const deleted = users.filter((u) => !failed.has(u));
  if (deleted.length === 0) return outcomes;
  try {
    await saveAcl(ctx);
  } catch (err) {
    // Gone from memory but not from the file: retried, or the user returns with the server.
    for (const user of deleted) for (const i of itemsOf.get(user)!) outcomes[i] = asError(err);
  }
  return outcomes;
}

/** The users that exist and are switched on, from one ACL LIST. */
async function activeUsers(ctx: RedisContext): Promise<Set<string>> {
  const lines = (await acl(ctx, 'LIST')) as string[];
  return new Set(
    lines
      .map(parseAclLine)
      .filter((u) => u?.on)
      .map((u) => u!.name),
  );
}

export async function check(ctx: RedisContext, spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
  return (await checkMany(ctx, [{ spec, handle }]))[0]!;
}

export async function checkMany(ctx: RedisContext, items: GrantItem[]): Promise<boolean[]> {
  const users = items.map(({ spec, handle }) => userOf(ctx, spec, handle));
  const active = await activeUsers(ctx);
  return users.map((u) => active.has(u));
}
