import mysql from 'mysql2/promise';

export type Pool = mysql.Pool;

/**
 * Identifiers and values reach SQL only through mysql2's escaping: `ident` for identifiers, `lit`
 * for values. (Not its `?` placeholders in text that already holds a quoted identifier: mysql2's
 * format would fill a `?` inside a name such as `a?b`.) Its value escaping uses backslashes, so every pooled
 * session first takes NO_BACKSLASH_ESCAPES out of its sql_mode: under that mode a backslash would
 * not escape, and a quote in a name could end the string.
 */
export function createPool(options: mysql.PoolOptions): Pool {
  const pool = mysql.createPool({ ...options, multipleStatements: true, charset: 'UTF8MB4_UNICODE_CI' });
  pool.pool.on('connection', (conn) => {
    // Queued before any query of the session; a session where it fails is not used at all.
    conn.query(
      "SET SESSION sql_mode = REPLACE(@@SESSION.sql_mode, 'NO_BACKSLASH_ESCAPES', '')",
      (err: unknown) => {
        if (err) conn.destroy();
      },
    );
  });
  return pool;
}

/**
 * One identifier, quoted by mysql2. Not its `??` placeholder: that reads `a.b` as two qualified
 * parts, and a database may well be named `a.b`.
 */
export const ident = (name: string): string => mysql.escapeId(name, true);

/** A value as an SQL literal (a list becomes `a, b`, a list of lists `(a, b), (c, d)`), quoted by mysql2. */
export const lit = (value: Parameters<typeof mysql.escape>[0]): string => mysql.escape(value);

/** An account, `'name'@'host'`. */
export const account = (user: string, host: string): string => `${lit(user)}@${lit(host)}`;

/** MariaDB/MySQL server error numbers the connector tells apart. */
export const ErrNo = {
  /** "There is no such grant defined for user" */
  nonexistingGrant: 1141,
  /** "Can't find any matching row in the user table" */
  noSuchUser: 1133,
  /** "Invalid role specification" */
  invalidRole: 1959,
  /** "Cannot revoke role ... from" (it is not granted) */
  cannotRevokeRole: 1962,
  unknownDatabase: 1049,
} as const;

export function errno(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'errno' in err && typeof err.errno === 'number')
    return err.errno;
  return undefined;
}

export const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

/**
 * Ends every session of the user name, from any host (MariaDB's KILL ... USER; it kills nothing,
 * without error, when there is none). Needs CONNECTION ADMIN or SUPER.
 */
export const killSessionsSql = (users: string[]): string =>
  users.map((u) => `KILL CONNECTION USER ${lit(u)}`).join(';\n');
