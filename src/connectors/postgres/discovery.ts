import type { DiscoveredResource } from '../types.js';
import { adminPool, type PgContext } from './context.js';
import { databaseResourceId, schemaResourceId } from './names.js';
import { LIST_SCHEMAS_SQL, PERMISSIONS } from './privileges.js';
import { pgCode, PgCode } from './sql.js';

/** Databases are read concurrently, but few at a time: each one may open a new pool. */
const CONCURRENCY = 4;

export async function discover(ctx: PgContext): Promise<DiscoveredResource[]> {
  const { rows } = await adminPool(ctx).query<{ datname: string }>(
    'SELECT datname FROM pg_database WHERE NOT datistemplate AND datallowconn ORDER BY datname',
  );
  const allowed = ctx.config.databases;
  const databases = rows.map((r) => r.datname).filter((db) => !allowed || allowed.includes(db));

  const perDatabase: DiscoveredResource[][] = new Array(databases.length);
  let next = 0;
  const worker = async () => {
    while (next < databases.length) {
      const i = next++;
      perDatabase[i] = await discoverDatabase(ctx, databases[i] as string);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, databases.length) }, worker));
  return perDatabase.flat();
}

async function discoverDatabase(ctx: PgContext, database: string): Promise<DiscoveredResource[]> {
  let schemas: string[];
  try {
    const { rows } = await ctx.pools.get(database).query<{ nspname: string }>(LIST_SCHEMAS_SQL);
    schemas = rows.map((r) => r.nspname);
  } catch (err) {
    if (pgCode(err) === PgCode.invalidCatalogName) return []; // dropped since it was listed
    throw err;
  }
  return [
    { id: databaseResourceId(database), name: database, kind: 'database', permissions: [...PERMISSIONS] },
    ...schemas.map((schema) => ({
      id: schemaResourceId(database, schema),
      name: `${database}.${schema}`,
      kind: 'schema',
      permissions: [...PERMISSIONS],
    })),
  ];
}
