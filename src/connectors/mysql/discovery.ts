import type mysql from 'mysql2/promise';
import type { DiscoveredResource } from '../types.js';
import { isManagedDatabase, type MysqlContext } from './context.js';
import { databaseResourceId } from './names.js';
import { PERMISSIONS } from './privileges.js';

/** The databases this integration manages (those the admin account can see). */
export async function managedDatabases(ctx: MysqlContext): Promise<string[]> {
  const [rows] = await ctx.pool.query<mysql.RowDataPacket[]>(
    'SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME',
  );
  return rows.map((r) => String(r.name)).filter((db) => isManagedDatabase(ctx, db));
}

export async function discover(ctx: MysqlContext): Promise<DiscoveredResource[]> {
  return (await managedDatabases(ctx)).map((db) => ({
    id: databaseResourceId(db),
    name: db,
    kind: 'database',
    permissions: [...PERMISSIONS],
  }));
}
