/**
 * existing_login mode: the requester already has a login; a grant is membership in a group role
 * that holds the privileges.
 */
import type { GrantHandle, GrantItem, GrantResult, GrantSpec } from '../types.js';
import {
  adminPool,
  resolveTarget,
  TERMINATE_SESSIONS_OF_ANY_SQL,
  TERMINATE_SESSIONS_SQL,
  type PgContext,
} from './context.js';
import { loginForEmail } from './names.js';
import { requirePermission } from './privileges.js';
import { batch, ident, pgCode, PgCode } from './sql.js';

interface Membership {
  login: string;
  group: string;
}

function membershipFor(ctx: PgContext, spec: GrantSpec): Membership {
  const permission = requirePermission(spec.permission);
  const group = ctx.config.roleMap[permission];
  if (!group)
    throw new Error(`no PostgreSQL group role is mapped for permission ${permission} (config roleMap)`);
  const login = loginForEmail(ctx.config.loginMapping, spec.requesterEmail);
  // Revoke ends every session of the login: pointed at Latch's own admin user it would cut Latch off.
  if (login === ctx.config.user)
    throw new Error(`refusing to grant to ${login}: it is the integration's admin user`);
  return { login, group };
}

function membershipOf(ctx: PgContext, spec: GrantSpec, handle: GrantHandle): Membership {
  if (typeof handle.login === 'string' && typeof handle.group === 'string') {
    return { login: handle.login, group: handle.group };
  }
  return membershipFor(ctx, spec);
}

export async function grantExistingLogin(ctx: PgContext, spec: GrantSpec): Promise<GrantResult> {
  const target = resolveTarget(ctx, spec);
  const { login, group } = membershipFor(ctx, spec);
  try {
    // Already a member: PostgreSQL only notices, so a repeated grant is harmless.
    await adminPool(ctx).query(`GRANT ${ident(group)} TO ${ident(login)}`);
  } catch (err) {
    if (pgCode(err) === PgCode.undefinedObject) {
      throw new Error(`cannot grant ${group} to ${login}: ${(err as Error).message}`, { cause: err });
    }
    throw err;
  }
  return {
    // Two grants (say, two schemas) can map to the same membership: the lifecycle keeps it while any holds it.
    handle: {
      mode: 'existing_login',
      login,
      group,
      database: target.database,
      schema: target.schema,
      shareKey: `member:${login}:${group}`,
    },
  };
}

/**
 * Sessions are ended after the REVOKE commits: one that had run SET ROLE to the group would
 * otherwise keep acting as it.
 */
export async function revokeExistingLogin(
  ctx: PgContext,
  spec: GrantSpec,
  handle: GrantHandle,
): Promise<void> {
  const { login, group } = membershipOf(ctx, spec, handle);
  const admin = adminPool(ctx);
  try {
    await admin.query(`REVOKE ${ident(group)} FROM ${ident(login)}`);
  } catch (err) {
    // A login or group that no longer exists holds no membership.
    if (pgCode(err) !== PgCode.undefinedObject) throw err;
  }
  await admin.query(TERMINATE_SESSIONS_SQL, [login]);
}

/**
 * Many memberships revoked in one transaction, then all their logins' sessions ended in one query.
 * If the transaction fails (a login or group dropped meanwhile), each is revoked on its own.
 */
export async function revokeExistingLogins(ctx: PgContext, items: GrantItem[]): Promise<Array<Error | null>> {
  const outcomes: Array<Error | null> = items.map(() => null);
  const memberships = new Map<string, { m: Membership; items: number[] }>();
  items.forEach(({ spec, handle }, i) => {
    try {
      const m = membershipOf(ctx, spec, handle);
      const key = JSON.stringify([m.login, m.group]);
      const entry = memberships.get(key) ?? { m, items: [] };
      entry.items.push(i);
      memberships.set(key, entry);
    } catch (err) {
      outcomes[i] = err instanceof Error ? err : new Error(String(err));
    }
  });
  const all = [...memberships.values()];
  if (all.length === 0) return outcomes;
  const admin = adminPool(ctx);
  try {
    await admin.query(batch(all.map(({ m }) => `REVOKE ${ident(m.group)} FROM ${ident(m.login)}`)));
    await admin.query(TERMINATE_SESSIONS_OF_ANY_SQL, [[...new Set(all.map(({ m }) => m.login))]]);
  } catch {
    for (const { m, items: of } of all) {
      const error = await revokeExistingLogin(ctx, items[of[0]!]!.spec, { ...m }).then(
        () => null,
        (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
      );
      for (const i of of) outcomes[i] = error;
    }
  }
  return outcomes;
}

export async function checkExistingLogin(
  ctx: PgContext,
  spec: GrantSpec,
  handle: GrantHandle,
): Promise<boolean> {
  const { login, group } = membershipOf(ctx, spec, handle);
  const { rowCount } = await adminPool(ctx).query(
    `SELECT 1 FROM pg_auth_members m
       JOIN pg_roles g ON g.oid = m.roleid
       JOIN pg_roles u ON u.oid = m.member
     WHERE g.rolname = $1 AND u.rolname = $2`,
    [group, login],
  );
  return (rowCount ?? 0) > 0;
}
