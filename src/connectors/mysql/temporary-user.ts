/**
 * temporary_user mode: each grant is its own account `<prefix>…`@'%' with a generated password and
 * privileges on one database, dropped on revoke (its sessions killed). Where the server's
 * event_scheduler is ON, a one-shot EVENT also drops it at its expiry (defence in depth,
 * docs/ARCHITECTURE.md, "Connectors").
 */
import { createHash, randomBytes } from 'node:crypto';
import type mysql from 'mysql2/promise';
import { registerSecret } from '../../secret-scrubber.js';
import {
  PartialGrantError,
  type GrantHandle,
  type GrantItem,
  type GrantResult,
  type GrantSpec,
} from '../types.js';
import { refuseProtectedUser, resolveDatabase, type MysqlContext } from './context.js';
import { databasePattern, expiryEventName, isTemporaryUserName, temporaryUserName } from './names.js';
import { DATABASE_PRIVILEGES, requirePermission } from './privileges.js';
import { account, asError, ident, killSessionsSql, lit } from './sql.js';

const HOST = '%';

/** 192 random bits, URL-safe so it survives connection strings and chat messages unescaped. */
const generatePassword = (): string => randomBytes(24).toString('base64url');

/**
 * The mysql_native_password hash MariaDB stores: sending it (IDENTIFIED BY PASSWORD) keeps the
 * plaintext out of the server's general log and processlist.
 */
const nativePasswordHash = (password: string): string => {
  const once = createHash('sha1').update(password).digest();
  return `*${createHash('sha1').update(once).digest('hex').toUpperCase()}`;
};

/** The key of a temporary user's access (one user per grant). */
export const temporaryKey = (user: string): string => `temporary:${user}`;

/** The user to act on: the handle's, else the one the grantId maps to (a grant that failed before returning a handle). */
export function temporaryUserOf(ctx: MysqlContext, spec: GrantSpec, handle: GrantHandle): string {
  const user =
    typeof handle.user === 'string' ? handle.user : temporaryUserName(ctx.config.userPrefix, spec.grantId);
  // A handle is data from the store; never let one make us drop an account Latch did not create.
  if (!isTemporaryUserName(ctx.config.userPrefix, user)) {
    throw new Error(
      `refusing to drop ${JSON.stringify(user)}: it is not a temporary user of prefix ${ctx.config.userPrefix}`,
    );
  }
  refuseProtectedUser(ctx, user);
  return user;
}

const eventId = (ctx: MysqlContext, user: string): string =>
  `${ident(ctx.config.eventDatabase)}.${ident(expiryEventName(user))}`;

const createEventDatabaseSql = (ctx: MysqlContext): string =>
  `CREATE DATABASE IF NOT EXISTS ${ident(ctx.config.eventDatabase)}`;

const eventSql = (ctx: MysqlContext, user: string, expiresAt: Date): string =>
  `CREATE OR REPLACE EVENT ${eventId(ctx, user)}
   ON SCHEDULE AT FROM_UNIXTIME(${lit(Math.ceil(expiresAt.getTime() / 1000))}) ON COMPLETION NOT PRESERVE
   COMMENT ${lit(`Latch: expiry of temporary user ${user}`)}
   DO BEGIN DROP USER IF EXISTS ${account(user, HOST)}; ${killSessionsSql([user])}; END`;

export async function grantTemporaryUser(ctx: MysqlContext, spec: GrantSpec): Promise<GrantResult> {
  const database = resolveDatabase(ctx, spec);
  const permission = requirePermission(spec.permission);
  const user = temporaryUserName(ctx.config.userPrefix, spec.grantId);
  const password = generatePassword();
  registerSecret(password); // never in a log line, whoever logs it
  const hash = nativePasswordHash(password);
  const handle: GrantHandle = { mode: 'temporary_user', user, database, permission };
  // A retried grant finds the user made by the first try and gives it the new password.
  const [results] = await ctx.pool.query<mysql.RowDataPacket[][]>(
    `CREATE USER IF NOT EXISTS ${account(user, HOST)} IDENTIFIED BY PASSWORD ${lit(hash)};
     ALTER USER ${account(user, HOST)} IDENTIFIED BY PASSWORD ${lit(hash)};
     SELECT @@GLOBAL.event_scheduler AS scheduler`,
  );
  const scheduler = String(results[2]?.[0]?.scheduler ?? 'OFF');
  const withEvent = ctx.config.expiryEvents && scheduler === 'ON' && spec.expiresAt !== null;
  try {
    // DATABASE_PRIVILEGES is fixed text; the database goes through escapeId as a pattern matching only itself.
    const statements = [
      `GRANT ${DATABASE_PRIVILEGES[permission]} ON ${ident(databasePattern(database))}.* TO ${account(user, HOST)}`,
    ];
    if (withEvent) statements.push(createEventDatabaseSql(ctx), eventSql(ctx, user, spec.expiresAt!));
    await ctx.pool.query(statements.join(';\n'));
  } catch (err) {
    // The user exists but its privileges (or its expiry) do not: take it away again, so a failed
    // grant leaves nothing. If even that fails, say what is left, for the revoke path to remove.
    try {
      await revokeTemporaryUsers(ctx, [user]);
    } catch (cleanup) {
      throw new PartialGrantError(
        `${asError(err).message}; the user ${user} it had created could not be removed yet (${asError(cleanup).message})`,
        handle,
        { cause: err },
      );
    }
    throw err;
  }
  const { host, port } = ctx.config;
  return { handle, credentials: { username: user, password, host, port: String(port), database } };
}

/**
 * Drops the users (so nobody logs in as them again), then kills their sessions, in one round trip;
 * then drops their expiry events. Sessions must be killed: MariaDB lets a session of a dropped user
 * go on with the privileges it had.
 */
async function revokeTemporaryUsers(ctx: MysqlContext, users: string[]): Promise<void> {
  if (users.length === 0) return;
  const accounts = users.map((u) => account(u, HOST)).join(', ');
  const [results] = await ctx.pool.query<mysql.RowDataPacket[][]>(
    [
      `DROP USER IF EXISTS ${accounts}`,
      killSessionsSql(users),
      `SELECT EVENT_NAME AS name FROM information_schema.EVENTS
       WHERE EVENT_SCHEMA = ${lit(ctx.config.eventDatabase)} AND EVENT_NAME IN (${lit(users.map(expiryEventName))})`,
    ].join(';\n'),
  );
  const events = (results[results.length - 1] ?? []).map((r) => String(r.name));
  if (events.length === 0) return;
  await ctx.pool.query(
    events.map((e) => `DROP EVENT IF EXISTS ${ident(ctx.config.eventDatabase)}.${ident(e)}`).join(';\n'),
  );
}

export async function revokeTemporaryUser(
  ctx: MysqlContext,
  spec: GrantSpec,
  handle: GrantHandle,
): Promise<void> {
  await revokeTemporaryUsers(ctx, [temporaryUserOf(ctx, spec, handle)]);
}

/**
 * Many temporary users revoked in two round trips. If the batch fails as a whole, each is revoked
 * on its own, so one bad user cannot hold back the rest and every item gets its own outcome.
 */
export async function revokeTemporaryUserMany(
  ctx: MysqlContext,
  items: GrantItem[],
): Promise<Array<Error | null>> {
  const outcomes: Array<Error | null> = items.map(() => null);
  const itemsOf = new Map<string, number[]>();
  items.forEach(({ spec, handle }, i) => {
    try {
      const user = temporaryUserOf(ctx, spec, handle);
      itemsOf.set(user, [...(itemsOf.get(user) ?? []), i]);
    } catch (err) {
      outcomes[i] = asError(err);
    }
  });
  const users = [...itemsOf.keys()];
  try {
    await revokeTemporaryUsers(ctx, users);
  } catch {
    for (const user of users) {
      const error = await revokeTemporaryUsers(ctx, [user]).then(() => null, asError);
      for (const i of itemsOf.get(user)!) outcomes[i] = error;
    }
  }
  return outcomes;
}

/** Which of these grants' users still hold privileges on their database, in one query. */
export async function checkTemporaryUsers(ctx: MysqlContext, items: GrantItem[]): Promise<boolean[]> {
  const wanted = items.map(({ spec, handle }) => {
    const user = temporaryUserOf(ctx, spec, handle);
    const database = typeof handle.database === 'string' ? handle.database : resolveDatabase(ctx, spec);
    return [user, databasePattern(database)] as const;
  });
  if (wanted.length === 0) return [];
  const [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
    `SELECT User AS user, Db AS db FROM mysql.db WHERE Host = ${lit(HOST)} AND User IN (${lit([...new Set(wanted.map(([u]) => u))])})`,
  );
  const present = new Set(rows.map((r) => JSON.stringify([String(r.user), String(r.db)])));
  return wanted.map((w) => present.has(JSON.stringify(w)));
}

/** Moves the expiry event; an event left from before the scheduler was switched off is moved too. */
export async function extendTemporaryUser(
  ctx: MysqlContext,
  spec: GrantSpec,
  handle: GrantHandle,
  expiresAt: Date | null,
): Promise<void> {
  const user = temporaryUserOf(ctx, spec, handle);
  const [results] = await ctx.pool.query<mysql.RowDataPacket[][]>(
    `SELECT @@GLOBAL.event_scheduler AS scheduler;
     SELECT COUNT(*) AS n FROM mysql.user WHERE User = ${lit(user)} AND Host = ${lit(HOST)};
     SELECT COUNT(*) AS n FROM information_schema.EVENTS
     WHERE EVENT_SCHEMA = ${lit(ctx.config.eventDatabase)} AND EVENT_NAME = ${lit(expiryEventName(user))}`,
  );
  if (Number(results[1]?.[0]?.n) === 0) throw new Error(`temporary user ${user} no longer exists`);
  const hasEvent = Number(results[2]?.[0]?.n) > 0;
  const scheduler = String(results[0]?.[0]?.scheduler ?? 'OFF');
  if (expiresAt === null) {
    if (hasEvent) await ctx.pool.query(`DROP EVENT IF EXISTS ${eventId(ctx, user)}`);
  } else if (hasEvent || (ctx.config.expiryEvents && scheduler === 'ON')) {
    await ctx.pool.query([createEventDatabaseSql(ctx), eventSql(ctx, user, expiresAt)].join(';\n'));
  }
}
