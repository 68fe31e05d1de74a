/**
 * existing_user mode: the requester already has an account; a grant makes it a member of a role
 * that holds the privileges. MariaDB applies a role only once the session enables it, so a grant
 * also makes the role the account's default role when it has none (README, "MySQL / MariaDB").
 */
import type mysql from 'mysql2/promise';
import {
  PartialGrantError,
  type GrantHandle,
  type GrantItem,
  type GrantResult,
  type GrantSpec,
} from '../types.js';
import { refuseProtectedUser, resolveDatabase, type MysqlContext } from './context.js';
import { accountForEmail } from './names.js';
import { requirePermission } from './privileges.js';
import { account, asError, ErrNo, errno, ident, killSessionsSql, lit } from './sql.js';

export interface Membership {
  user: string;
  host: string;
  role: string;
}

/** The key of one membership: grants that share it share one thing on the server. */
export const membershipKey = (m: Membership): string => `member:${JSON.stringify([m.user, m.host, m.role])}`;

export function membershipHandle(m: Membership, database: string | null): GrantHandle {
  return {
    mode: 'existing_user',
    user: m.user,
    host: m.host,
    role: m.role,
    database,
    shareKey: membershipKey(m),
  };
}

function membershipFor(ctx: MysqlContext, spec: GrantSpec): Membership {
  const permission = requirePermission(spec.permission);
  const role = ctx.config.roleMap[permission];
  if (!role) throw new Error(`no MySQL role is mapped for permission ${permission} (config roleMap)`);
  const user = accountForEmail(ctx.config.loginMapping, spec.requesterEmail);
  // Revoke kills every session of the account: pointed at Latch's own it would cut Latch off.
  refuseProtectedUser(ctx, user);
  return { user, host: ctx.config.loginHost, role };
}

export function membershipOf(ctx: MysqlContext, spec: GrantSpec, handle: GrantHandle): Membership {
  if (typeof handle.user === 'string' && typeof handle.host === 'string' && typeof handle.role === 'string') {
    refuseProtectedUser(ctx, handle.user);
    return { user: handle.user, host: handle.host, role: handle.role };
  }
  return membershipFor(ctx, spec);
}

interface AccountState {
  defaultRole: string;
  held: boolean;
}

/** Each account's default role and whether it holds its membership, in one query. */
async function readStates(ctx: MysqlContext, ms: Membership[]): Promise<Map<string, AccountState>> {
  const [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
    `SELECT u.User AS user, u.Host AS host, u.default_role AS defaultRole, m.Role AS role
     FROM mysql.user u LEFT JOIN mysql.roles_mapping m ON m.User = u.User AND m.Host = u.Host
     WHERE u.is_role = 'N' AND (u.User, u.Host) IN (${lit(ms.map((m) => [m.user, m.host]))})`,
  );
  const states = new Map<string, AccountState>();
  for (const m of ms) {
    const mine = rows.filter((r) => r.user === m.user && r.host === m.host);
    if (mine.length === 0) continue;
    states.set(membershipKey(m), {
      defaultRole: String(mine[0]!.defaultRole ?? ''),
      held: mine.some((r) => r.role === m.role),
    });
  }
  return states;
}

export async function grantExistingUser(ctx: MysqlContext, spec: GrantSpec): Promise<GrantResult> {
  const database = resolveDatabase(ctx, spec);
  const m = membershipFor(ctx, spec);
  const state = (await readStates(ctx, [m])).get(membershipKey(m));
  if (!state) throw new Error(`cannot grant ${m.role}: the MySQL account ${m.user}@${m.host} does not exist`);
  const acct = account(m.user, m.host);
  const statements = [`GRANT ${ident(m.role)} TO ${acct}`];
  if (state.defaultRole === '') statements.push(`SET DEFAULT ROLE ${ident(m.role)} FOR ${acct}`);
  try {
    await ctx.pool.query(statements.join(';\n'));
  } catch (err) {
    const why = errno(err) === ErrNo.invalidRole ? `role ${m.role} does not exist` : asError(err).message;
    // The membership may have been given before the default role failed: take it back unless it was already held.
    if (!state.held) {
      try {
        await ctx.pool.query(`REVOKE ${ident(m.role)} FROM ${acct}`);
      } catch (cleanup) {
        if (errno(cleanup) !== ErrNo.cannotRevokeRole && errno(cleanup) !== ErrNo.invalidRole) {
          throw new PartialGrantError(
            `cannot grant ${m.role} to ${m.user}@${m.host}: ${why}; the membership could not be taken back yet (${asError(cleanup).message})`,
            membershipHandle(m, database),
            { cause: err },
          );
        }
      }
    }
    throw new Error(`cannot grant ${m.role} to ${m.user}@${m.host}: ${why}`, { cause: err });
  }
  // Two grants (say, two databases) can map to the same membership: the lifecycle keeps it while any holds it.
  return { handle: membershipHandle(m, database) };
}

/**
 * Takes the memberships back, clears a default role that named them, and kills the accounts'
 * sessions (a session that had the role enabled would keep it), in two round trips.
 */
async function revokeMemberships(ctx: MysqlContext, ms: Membership[]): Promise<void> {
  if (ms.length === 0) return;
  const states = await readStates(ctx, ms);
  const statements: string[] = [];
  for (const m of ms) {
    const state = states.get(membershipKey(m));
    if (!state) continue; // no such account: it holds nothing
    const acct = account(m.user, m.host);
    if (state.held) statements.push(`REVOKE ${ident(m.role)} FROM ${acct}`);
    if (state.defaultRole === m.role) statements.push(`SET DEFAULT ROLE NONE FOR ${acct}`);
  }
  statements.push(killSessionsSql([...new Set(ms.map((m) => m.user))]));
  await ctx.pool.query(statements.join(';\n'));
}

export async function revokeExistingUser(
  ctx: MysqlContext,
  spec: GrantSpec,
  handle: GrantHandle,
): Promise<void> {
  await revokeMemberships(ctx, [membershipOf(ctx, spec, handle)]);
}

/** Many memberships at once; if the batch fails, each on its own, so every item gets its own outcome. */
export async function revokeExistingUserMany(
  ctx: MysqlContext,
  items: GrantItem[],
): Promise<Array<Error | null>> {
  const outcomes: Array<Error | null> = items.map(() => null);
  const byKey = new Map<string, { m: Membership; items: number[] }>();
  items.forEach(({ spec, handle }, i) => {
    try {
      const m = membershipOf(ctx, spec, handle);
      const entry = byKey.get(membershipKey(m)) ?? { m, items: [] };
      entry.items.push(i);
      byKey.set(membershipKey(m), entry);
    } catch (err) {
      outcomes[i] = asError(err);
    }
  });
  const all = [...byKey.values()];
  try {
    await revokeMemberships(
      ctx,
      all.map((e) => e.m),
    );
  } catch {
    for (const { m, items: of } of all) {
      const error = await revokeMemberships(ctx, [m]).then(() => null, asError);
      for (const i of of) outcomes[i] = error;
    }
  }
  return outcomes;
}

/** Which of these memberships exist, in one query. */
export async function checkExistingUsers(ctx: MysqlContext, items: GrantItem[]): Promise<boolean[]> {
  const ms = items.map(({ spec, handle }) => membershipOf(ctx, spec, handle));
  if (ms.length === 0) return [];
  const [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
    `SELECT User AS user, Host AS host, Role AS role FROM mysql.roles_mapping
     WHERE (User, Host, Role) IN (${lit(ms.map((m) => [m.user, m.host, m.role]))})`,
  );
  const present = new Set(rows.map((r) => membershipKey({ user: r.user, host: r.host, role: r.role })));
  return ms.map((m) => present.has(membershipKey(m)));
}
