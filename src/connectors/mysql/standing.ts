/**
 * Privileges given by hand on a managed database (standing access, docs/ARCHITECTURE.md,
 * "Reconciliation"): listAccess lists them, and revoking such an entry takes that account's
 * privileges on that one database. The account itself is never dropped.
 */
import type mysql from 'mysql2/promise';
import type { GrantHandle } from '../types.js';
import { isManagedDatabase, refuseProtectedUser, type MysqlContext } from './context.js';
import { patternDatabase } from './names.js';
import { account, ident, killSessionsSql, lit } from './sql.js';

export interface StandingPrivileges {
  user: string;
  host: string;
  /** The database pattern as mysql.db stores it. */
  db: string;
}

export const standingKey = (s: StandingPrivileges): string =>
  `privileges:${JSON.stringify([s.user, s.host, s.db])}`;

export const standingHandle = (s: StandingPrivileges): GrantHandle => ({ mode: 'standing_privileges', ...s });

function standingOf(ctx: MysqlContext, handle: GrantHandle): StandingPrivileges {
  const { user, host, db } = handle;
  if (typeof user !== 'string' || typeof host !== 'string' || typeof db !== 'string') {
    throw new Error('a standing_privileges handle needs user, host and db');
  }
  refuseProtectedUser(ctx, user);
  if (!isManagedDatabase(ctx, patternDatabase(db))) {
    throw new Error(`refusing to revoke on ${JSON.stringify(db)}: not a database this integration manages`);
  }
  return { user, host, db };
}

export async function revokeStanding(ctx: MysqlContext, handle: GrantHandle): Promise<void> {
  const s = standingOf(ctx, handle);
  const [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
    `SELECT Grant_priv AS grantable FROM mysql.db WHERE User = ${lit(s.user)} AND Host = ${lit(s.host)} AND Db = ${lit(s.db)}`,
  );
  const row = rows[0];
  if (!row) return;
  const on = `${ident(s.db)}.*`;
  const acct = account(s.user, s.host);
  await ctx.pool.query(
    [
      `REVOKE ALL PRIVILEGES ON ${on} FROM ${acct}`,
      // ALL PRIVILEGES leaves GRANT OPTION, which would let the account give the privileges back to itself.
      row.grantable === 'Y' && `REVOKE GRANT OPTION ON ${on} FROM ${acct}`,
      killSessionsSql([s.user]),
    ]
      .filter(Boolean)
      .join(';\n'),
  );
}

export async function checkStanding(ctx: MysqlContext, handle: GrantHandle): Promise<boolean> {
  const s = standingOf(ctx, handle);
  const [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
    `SELECT 1 FROM mysql.db WHERE User = ${lit(s.user)} AND Host = ${lit(s.host)} AND Db = ${lit(s.db)}`,
  );
  return rows.length > 0;
}
