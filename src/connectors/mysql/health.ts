import type mysql from 'mysql2/promise';
import type { HealthResult } from '../types.js';
import type { MysqlContext } from './context.js';
import { lit } from './sql.js';

export async function health(ctx: MysqlContext): Promise<HealthResult> {
  const { host, port, user, mode, roleMap, expiryEvents } = ctx.config;
  const where = `${user}@${host}:${port}`;
  try {
    const [first] = await ctx.pool.query<mysql.RowDataPacket[]>(
      'SELECT VERSION() AS version, @@GLOBAL.event_scheduler AS scheduler',
    );
    const version = String(first[0]?.version ?? '?');
    const at = `${/mariadb/i.test(version) ? 'MariaDB' : 'MySQL'} ${version.split('-')[0]} at ${where}`;
    let rows: mysql.RowDataPacket[];
    try {
      [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
        "SELECT Create_user_priv AS createUser FROM mysql.user WHERE CONCAT(User, '@', Host) = CURRENT_USER()",
      );
    } catch (err) {
      return {
        ok: false,
        message: `${at}: ${user} cannot read the mysql database (needs SELECT on mysql.*): ${(err as Error).message}`,
      };
    }
    if (rows[0]?.createUser !== 'Y') {
      return {
        ok: false,
        message: `${at}: ${user} cannot manage accounts (needs the CREATE USER privilege)`,
      };
    }
    if (mode === 'existing_user') {
      const roles = [...new Set(Object.values(roleMap).filter((r): r is string => !!r))];
      if (roles.length === 0)
        return { ok: false, message: `${at}: existing_user mode, but roleMap maps no role` };
      const [found] = await ctx.pool.query<mysql.RowDataPacket[]>(
        `SELECT User AS role FROM mysql.user WHERE is_role = 'Y' AND User IN (${lit(roles)})`,
      );
      const missing = roles.filter((r) => !found.some((f) => f.role === r));
      if (missing.length > 0)
        return { ok: false, message: `${at}: mapped roles missing: ${missing.join(', ')}` };
    }
    const scheduler = String(first[0]?.scheduler ?? 'OFF');
    const expiry =
      mode !== 'temporary_user'
        ? ''
        : expiryEvents && scheduler === 'ON'
          ? '; temporary users also expire by EVENT'
          : `; temporary users end by Latch's revoke only (event_scheduler ${expiryEvents ? scheduler : 'not used'})`;
    return { ok: true, message: `${at}${expiry}` };
  } catch (err) {
    return { ok: false, message: `${where}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
