import type { HealthResult } from '../types.js';
import { adminPool, type PgContext } from './context.js';

interface AdminRow {
  version: string;
  rolsuper: boolean;
  rolcreaterole: boolean;
}

export async function health(ctx: PgContext): Promise<HealthResult> {
  const { host, port, database, user, mode, roleMap } = ctx.config;
  const where = `${user}@${host}:${port}/${database}`;
  try {
    const pool = adminPool(ctx);
    const { rows } = await pool.query<AdminRow>(
      `SELECT version() AS version, r.rolsuper, r.rolcreaterole
       FROM pg_roles r WHERE r.rolname = current_user`,
    );
    const row = rows[0];
    if (!row) return { ok: false, message: `${where}: current user not found in pg_roles` };
    const version = row.version.split(' on ')[0] ?? row.version;
    if (!row.rolsuper && !row.rolcreaterole) {
      return {
        ok: false,
        message: `${version} at ${where}: ${user} cannot manage roles (needs CREATEROLE or superuser)`,
      };
    }
    if (mode === 'existing_login') {
      const groups = [...new Set(Object.values(roleMap).filter((g): g is string => !!g))];
      const found = await pool.query<{ rolname: string }>(
        'SELECT rolname FROM pg_roles WHERE rolname = ANY($1)',
        [groups],
      );
      const missing = groups.filter((g) => !found.rows.some((r) => r.rolname === g));
      if (missing.length > 0) {
        return {
          ok: false,
          message: `${version} at ${where}: mapped group roles missing: ${missing.join(', ')}`,
        };
      }
    }
    return {
      ok: true,
      message: `${version} at ${where}; ${user} is ${row.rolsuper ? 'superuser' : 'CREATEROLE'}`,
    };
  } catch (err) {
    return { ok: false, message: `${where}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
