import type { GrantSpec } from '../types.js';
import type { MysqlConfig } from './config.js';
import { parseResourceId } from './names.js';
import type { Pool } from './sql.js';

/** What the mode implementations share. */
export interface MysqlContext {
  config: MysqlConfig;
  pool: Pool;
}

/** Databases that are the server's own: never discovered, never granted on. */
export const SYSTEM_DATABASES = ['mysql', 'information_schema', 'performance_schema', 'sys'];

/** Accounts the server ships with: never changed from a handle or a mapping. */
const BUILT_IN_USERS = ['root', 'mariadb.sys', 'mysql', 'mysql.sys', 'mysql.session', 'mysql.infoschema'];

export function isManagedDatabase(ctx: MysqlContext, database: string): boolean {
  if (SYSTEM_DATABASES.includes(database.toLowerCase())) return false;
  if (database === ctx.config.eventDatabase) return false;
  const allowed = ctx.config.databases;
  return !allowed || allowed.includes(database);
}

/** The grant's database, refusing system databases and those outside the configured `databases`. */
export function resolveDatabase(ctx: MysqlContext, spec: GrantSpec): string {
  const database = parseResourceId(spec.resource.id);
  if (spec.resource.kind !== 'database') {
    throw new Error(`resource ${spec.resource.id} is a database, not a ${spec.resource.kind}`);
  }
  if (!isManagedDatabase(ctx, database)) {
    throw new Error(`database ${JSON.stringify(database)} is not one this integration manages`);
  }
  return database;
}

/**
 * A handle is data from the store, and a mapping is config: neither may make Latch revoke from,
 * kill the sessions of, or drop its own admin account or the server's built-in ones.
 */
export function refuseProtectedUser(ctx: MysqlContext, user: string): void {
  if (user === '') throw new Error('refusing to touch the anonymous account');
  if (user === ctx.config.user)
    throw new Error(`refusing to touch ${JSON.stringify(user)}: it is the integration's admin user`);
  if (BUILT_IN_USERS.includes(user))
    throw new Error(`refusing to touch ${JSON.stringify(user)}: it is a built-in account`);
}

export const isProtectedUser = (ctx: MysqlContext, user: string): boolean =>
  user === '' || user === ctx.config.user || BUILT_IN_USERS.includes(user);
