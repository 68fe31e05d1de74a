/**
 * Privileges given to a login straight on a schema, outside Latch: listed as standing access
 * (access-list.ts), removed when an admin converts them (docs/ARCHITECTURE.md, "Reconciliation").
 * Only the login's own entries go: its memberships and the objects it owns stay.
 */
import type { GrantHandle } from '../types.js';
import { adminPool, TERMINATE_SESSIONS_SQL, type PgContext } from './context.js';
import { aclBatch, ident, pgCode, PgCode } from './sql.js';

interface Direct {
  login: string;
  database: string;
  schema: string;
}

function directOf(ctx: PgContext, handle: GrantHandle): Direct {
  const { login, database, schema } = handle;
  if (typeof login !== 'string' || typeof database !== 'string' || typeof schema !== 'string')
    throw new Error('not a handle of privileges given on a schema (login, database, schema)');
  if (login === ctx.config.user)
    throw new Error(`refusing to touch ${login}: it is the integration's admin user`);
  if (login.startsWith(ctx.config.rolePrefix))
    throw new Error(`refusing to treat ${login} as standing access: it carries Latch's prefix`);
  return { login, database, schema };
}

const INVALID_SCHEMA_NAME = '3F000';

export async function revokeDirect(ctx: PgContext, handle: GrantHandle): Promise<void> {
  const { login, database, schema } = directOf(ctx, handle);
  const { rows } = await adminPool(ctx).query<{ rolsuper: boolean }>(
    'SELECT rolsuper FROM pg_roles WHERE rolname = $1',
    [login],
  );
  if (rows.length === 0) return;
  if (rows[0]!.rolsuper) throw new Error(`refusing to touch ${login}: it is a superuser`);
  const [s, l] = [ident(schema), ident(login)];
  try {
    await ctx.pools
      .get(database)
      .query(
        aclBatch([
          `REVOKE ALL ON ALL TABLES IN SCHEMA ${s} FROM ${l}`,
          `REVOKE ALL ON ALL SEQUENCES IN SCHEMA ${s} FROM ${l}`,
          `REVOKE ALL ON ALL FUNCTIONS IN SCHEMA ${s} FROM ${l}`,
          `REVOKE ALL ON SCHEMA ${s} FROM ${l}`,
        ]),
      );
  } catch (err) {
    const code = pgCode(err);
    if (code !== PgCode.undefinedObject && code !== INVALID_SCHEMA_NAME && code !== PgCode.invalidCatalogName)
      throw err;
  }
  await adminPool(ctx).query(TERMINATE_SESSIONS_SQL, [login]);
}

export async function checkDirect(ctx: PgContext, handle: GrantHandle): Promise<boolean> {
  const { login, database, schema } = directOf(ctx, handle);
  try {
    const { rowCount } = await ctx.pools.get(database).query(
      `SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a JOIN pg_roles r ON r.oid = a.grantee
        WHERE n.nspname = $1 AND r.rolname = $2`,
      [schema, login],
    );
    return (rowCount ?? 0) > 0;
  } catch (err) {
    if (pgCode(err) === PgCode.invalidCatalogName) return false;
    throw err;
  }
}
