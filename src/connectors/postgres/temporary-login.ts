/**
 * temporary_login mode: each grant is its own LOGIN role with a generated password, a member of the
 * target's group role (which holds the privileges), dropped on revoke.
 */
import type pg from 'pg';
import pLimit from 'p-limit';
import {
  PartialGrantError,
  type GrantHandle,
  type GrantItem,
  type GrantResult,
  type GrantSpec,
} from '../types.js';
import { adminPool, resolveTarget, type PgContext } from './context.js';
import { groupRoleName, isGroupRoleName, temporaryRoleName } from './names.js';
import { grantStatements, LIST_SCHEMAS_SQL, requirePermission } from './privileges.js';
import { registerSecret } from '../../secret-scrubber.js';
import { generatePassword, scramSha256Verifier } from './scram.js';
import { aclBatch, batch, ident, literal, pgCode, PgCode, validUntil } from './sql.js';

export async function grantTemporaryLogin(ctx: PgContext, spec: GrantSpec): Promise<GrantResult> {
  const target = resolveTarget(ctx, spec);
  const permission = requirePermission(spec.permission);
  const role = temporaryRoleName(ctx.config.rolePrefix, spec.grantId);
  const password = generatePassword();
  registerSecret(password); // never in a log line, whoever logs it
  const handle: GrantHandle = {
    mode: 'temporary_login',
    role,
    database: target.database,
    schema: target.schema,
    permission,
  };
  await upsertLoginRole(adminPool(ctx), role, await scramSha256Verifier(password), spec.expiresAt);

  try {
    // The privileges go to the target's group role, and the login joins it: dropping a login then
    // leaves the schema's ACLs alone, where a thousand logins with entries of their own made every
    // DROP OWNED rewrite them (docs/ARCHITECTURE.md, "Connectors").
    const group = groupRoleName(ctx.config.rolePrefix, target.database, target.schema, permission);
    await ensureGroupRole(adminPool(ctx), group);
    const pool = ctx.pools.get(target.database);
    const schemas =
      target.schema === null
        ? (await pool.query<{ nspname: string }>(LIST_SCHEMAS_SQL)).rows.map((r) => r.nspname)
        : [target.schema];
    // Every grant grants again: tables created since the last one are covered too.
    await pool.query(aclBatch(grantStatements(target.database, schemas, group, permission)));
    await adminPool(ctx).query(`GRANT ${ident(group)} TO ${ident(role)}`);
  } catch (err) {
    // The login exists but its privileges do not: take the login away again, so a failed grant
    // leaves nothing. If even that fails, say what is left, for the revoke path to remove.
    try {
      await revokeTemporaryLogin(ctx, spec, handle);
    } catch (cleanup) {
      throw new PartialGrantError(
        `${(err as Error).message}; the login ${role} it had created could not be removed yet (${(cleanup as Error).message})`,
        handle,
        { cause: err },
      );
    }
    throw err;
  }

  const { host, port } = ctx.config;
  return {
    handle,
    credentials: { username: role, password, host, port: String(port), database: target.database },
  };
}

/** Creates the role, or (on a retried grant) gives the existing one a new password, expiry and LOGIN back. */
async function upsertLoginRole(admin: pg.Pool, role: string, verifier: string, expiresAt: Date | null) {
  const r = ident(role);
  const attributes = `LOGIN PASSWORD ${literal(verifier)} VALID UNTIL ${validUntil(expiresAt)}`;
  try {
    // Membership lets a non-superuser CREATEROLE admin later terminate, REASSIGN and DROP OWNED this role
    // (all require having its privileges); for a superuser it is harmless and vanishes with DROP ROLE.
    await admin.query(batch([`CREATE ROLE ${r} ${attributes}`, `GRANT ${r} TO CURRENT_USER`]));
  } catch (err) {
    const code = pgCode(err);
    // 23505: a concurrent CREATE ROLE of the same name won the race on pg_authid's unique index.
    if (code !== PgCode.duplicateObject && code !== PgCode.uniqueViolation) throw err;
    await admin.query(`ALTER ROLE ${r} ${attributes}`);
  }
}

/** Creates the NOLOGIN group role unless it exists (a concurrent grant may create it first). */
async function ensureGroupRole(admin: pg.Pool, group: string): Promise<void> {
  try {
    await admin.query(`CREATE ROLE ${ident(group)} NOLOGIN`);
  } catch (err) {
    const code = pgCode(err);
    if (code !== PgCode.duplicateObject && code !== PgCode.uniqueViolation) throw err;
  }
}

/** The role to act on: the handle's, else the one the grantId maps to (a grant that failed before returning a handle). */
function roleOf(ctx: PgContext, spec: GrantSpec, handle: GrantHandle): string {
  const role =
    typeof handle.role === 'string' ? handle.role : temporaryRoleName(ctx.config.rolePrefix, spec.grantId);
  // A handle is data from the store; never let one make us drop a role Latch did not create.
  if (!role.startsWith(ctx.config.rolePrefix)) {
    throw new Error(
      `refusing to touch role ${JSON.stringify(role)}: it lacks the prefix ${ctx.config.rolePrefix}`,
    );
  }
  // Nor drop a group role: that would take the access of every member at once.
  if (isGroupRoleName(ctx.config.rolePrefix, role)) {
    throw new Error(`refusing to touch role ${JSON.stringify(role)}: it is one of Latch's group roles`);
  }
  return role;
}

interface DependencyRow {
  terminated: number;
  dbid: number | null;
  datname: string | null;
  owns: boolean | null;
}

/**
 * One row per database holding something of the role (dbid 0: privileges on shared objects such as
 * databases), after ending its sessions. The terminate CTE yields exactly one row, so it runs even
 * when the role holds nothing.
 */
const TERMINATE_AND_FIND_DEPENDENCIES_SQL = `
WITH killed AS (
  SELECT count(pg_terminate_backend(pid))::int AS terminated
  FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()
), deps AS (
  SELECT s.dbid, bool_or(s.deptype = 'o') AS owns
  FROM pg_shdepend s
  WHERE s.refclassid = 'pg_authid'::regclass
    AND s.refobjid = (SELECT oid FROM pg_roles WHERE rolname = $1)
  GROUP BY s.dbid
)
SELECT k.terminated, d.dbid::int AS dbid, db.datname, d.owns
FROM killed k LEFT JOIN deps d ON true LEFT JOIN pg_database db ON db.oid = d.dbid`;

/**
 * NOLOGIN is committed before sessions are ended, so a client that reconnects at once is refused;
 * only then are its privileges and the role removed. Three round trips for the usual one-database grant.
 */
export async function revokeTemporaryLogin(
  ctx: PgContext,
  spec: GrantSpec,
  handle: GrantHandle,
): Promise<void> {
  const role = roleOf(ctx, spec, handle);
  const r = ident(role);
  const admin = adminPool(ctx);
  try {
    await admin.query(`ALTER ROLE ${r} NOLOGIN`);
  } catch (err) {
    if (pgCode(err) === PgCode.undefinedObject) return;
    throw err;
  }
  const { rows } = await admin.query<DependencyRow>(TERMINATE_AND_FIND_DEPENDENCIES_SQL, [role]);

  const perDatabase = rows.filter((row) => row.dbid !== null && row.dbid !== 0 && row.datname !== null);
  const hasShared = rows.some((row) => row.dbid === 0);
  const targets = perDatabase.map((row) => ({ database: row.datname as string, owns: row.owns === true }));
  // DROP OWNED in any database also clears shared-object privileges (e.g. CONNECT).
  if (targets.length === 0 && hasShared) targets.push({ database: ctx.config.database, owns: false });

  let dropped = false;
  for (const [i, t] of targets.entries()) {
    const last = i === targets.length - 1;
    const statements = aclBatch([
      // Objects the temporary role created (admin permission) are kept, handed to the admin user.
      t.owns && `REASSIGN OWNED BY ${r} TO CURRENT_USER`,
      `DROP OWNED BY ${r}`,
      last && `DROP ROLE IF EXISTS ${r}`,
    ]);
    try {
      await ctx.pools.get(t.database).query(statements);
      dropped = last;
    } catch (err) {
      const code = pgCode(err);
      if (code === PgCode.undefinedObject) return; // a concurrent revoke finished first
      if (code !== PgCode.invalidCatalogName) throw err; // else the database was dropped meanwhile
    }
  }
  if (!dropped) await admin.query(`DROP ROLE IF EXISTS ${r}`);
}

/** What the roles of a batch hold, per database, after their sessions were ended. */
const TERMINATE_AND_FIND_DEPENDENCIES_MANY_SQL = `
WITH killed AS (
  SELECT count(pg_terminate_backend(pid))::int AS terminated
  FROM pg_stat_activity WHERE usename = ANY($1::text[]) AND pid <> pg_backend_pid()
), deps AS (
  SELECT s.dbid, array_agg(DISTINCT r.rolname::text) FILTER (WHERE s.deptype = 'o') AS owners
  FROM pg_shdepend s JOIN pg_roles r ON r.oid = s.refobjid
  WHERE s.refclassid = 'pg_authid'::regclass AND r.rolname = ANY($1::text[])
  GROUP BY s.dbid
)
SELECT k.terminated, d.dbid::int AS dbid, db.datname, d.owners
FROM killed k LEFT JOIN deps d ON true LEFT JOIN pg_database db ON db.oid = d.dbid`;

/**
 * Revokes many temporary logins at once (docs/ARCHITECTURE.md, "Connectors"): NOLOGIN for all of
 * them is committed first, then their sessions end, then one transaction per database holding
 * anything of theirs drops what they own and, in the last, the roles themselves. Four round trips
 * for the usual batch, where one revoke after another costs three each, serialised by the ACL lock.
 * If the batch fails as a whole, each role is revoked on its own, so one bad role cannot hold back
 * the rest and every item gets its own outcome.
 */
export async function revokeTemporaryLogins(
  ctx: PgContext,
  items: GrantItem[],
): Promise<Array<Error | null>> {
  const outcomes: Array<Error | null> = items.map(() => null);
  const itemsOf = new Map<string, number[]>();
  items.forEach(({ spec, handle }, i) => {
    try {
      const role = roleOf(ctx, spec, handle);
      itemsOf.set(role, [...(itemsOf.get(role) ?? []), i]);
    } catch (err) {
      outcomes[i] = asError(err);
    }
  });
  const roles = [...itemsOf.keys()];
  if (roles.length === 0) return outcomes;
  try {
    await revokeRoles(ctx, roles);
  } catch {
    const limit = pLimit(4);
    await Promise.all(
      roles.map((role) =>
        limit(async () => {
          const first = items[itemsOf.get(role)![0]!]!;
          const error = await revokeTemporaryLogin(ctx, first.spec, { ...first.handle, role }).then(
            () => null,
            asError,
          );
          for (const i of itemsOf.get(role)!) outcomes[i] = error;
        }),
      ),
    );
  }
  return outcomes;
}

async function revokeRoles(ctx: PgContext, roles: string[]): Promise<void> {
  const admin = adminPool(ctx);
  const { rows: present } = await admin.query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])',
    [roles],
  );
  const existing = present.map((r) => r.rolname);
  if (existing.length === 0) return;
  await admin.query(batch(existing.map((role) => `ALTER ROLE ${ident(role)} NOLOGIN`)));
  const { rows } = await admin.query<{
    dbid: number | null;
    datname: string | null;
    owners: string[] | null;
  }>(TERMINATE_AND_FIND_DEPENDENCIES_MANY_SQL, [existing]);
  const list = existing.map(ident).join(', ');
  const targets = rows
    .filter((row) => row.dbid !== null && row.dbid !== 0 && row.datname !== null)
    .map((row) => ({ database: row.datname as string, owners: row.owners ?? [] }));
  // DROP OWNED in any database also clears shared-object privileges (e.g. CONNECT).
  if (targets.length === 0) targets.push({ database: ctx.config.database, owners: [] });
  let dropped = false;
  for (const [i, t] of targets.entries()) {
    const last = i === targets.length - 1;
    try {
      await ctx.pools
        .get(t.database)
        .query(
          aclBatch([
            t.owners.length > 0 && `REASSIGN OWNED BY ${t.owners.map(ident).join(', ')} TO CURRENT_USER`,
            `DROP OWNED BY ${list}`,
            last && `DROP ROLE IF EXISTS ${list}`,
          ]),
        );
      dropped = last;
    } catch (err) {
      if (pgCode(err) !== PgCode.invalidCatalogName) throw err; // else the database was dropped meanwhile
    }
  }
  if (!dropped) await admin.query(`DROP ROLE IF EXISTS ${list}`);
}

function asError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}

export async function checkTemporaryLogin(
  ctx: PgContext,
  spec: GrantSpec,
  handle: GrantHandle,
): Promise<boolean> {
  const role = roleOf(ctx, spec, handle);
  const { rowCount } = await adminPool(ctx).query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
  return (rowCount ?? 0) > 0;
}

/** Which of these grants' roles still exist, in one query. */
export async function checkTemporaryLogins(ctx: PgContext, items: GrantItem[]): Promise<boolean[]> {
  const roles = items.map(({ spec, handle }) => roleOf(ctx, spec, handle));
  const { rows } = await adminPool(ctx).query<{ rolname: string }>(
    'SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])',
    [roles],
  );
  const present = new Set(rows.map((r) => r.rolname));
  return roles.map((r) => present.has(r));
}

export async function extendTemporaryLogin(
  ctx: PgContext,
  spec: GrantSpec,
  handle: GrantHandle,
  expiresAt: Date | null,
): Promise<void> {
  const role = roleOf(ctx, spec, handle);
  try {
    await adminPool(ctx).query(`ALTER ROLE ${ident(role)} VALID UNTIL ${validUntil(expiresAt)}`);
  } catch (err) {
    if (pgCode(err) === PgCode.undefinedObject)
      throw new Error(`temporary login ${role} no longer exists`, { cause: err });
    throw err;
  }
}
