import type { GrantSpec } from '../types.js';
import type { PostgresConfig } from './config.js';
import { parseResourceId, type PgTarget } from './names.js';
import type { PoolSet } from './pools.js';

/** What the mode implementations share. */
export interface PgContext {
  config: PostgresConfig;
  pools: PoolSet;
}

export const adminPool = (ctx: PgContext) => ctx.pools.get(ctx.config.database);

/** The grant's database and schema, refusing databases outside the configured `databases` list. */
export function resolveTarget(ctx: PgContext, spec: GrantSpec): PgTarget {
  const target = parseResourceId(spec.resource.id);
  const expectedKind = target.schema === null ? 'database' : 'schema';
  if (spec.resource.kind !== expectedKind) {
    throw new Error(`resource ${spec.resource.id} is a ${expectedKind}, not a ${spec.resource.kind}`);
  }
  const allowed = ctx.config.databases;
  if (allowed && !allowed.includes(target.database)) {
    throw new Error(
      `database ${JSON.stringify(target.database)} is not in this integration's databases list`,
    );
  }
  return target;
}

/** Ends every session of `role` except our own; pg_terminate_backend only signals, the backend exits promptly. */
export const TERMINATE_SESSIONS_SQL = `SELECT count(pg_terminate_backend(pid))::int AS terminated
  FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()`;

/** TERMINATE_SESSIONS_SQL for a list of roles ($1 a text array). */
export const TERMINATE_SESSIONS_OF_ANY_SQL = `SELECT count(pg_terminate_backend(pid))::int AS terminated
  FROM pg_stat_activity WHERE usename = ANY($1::text[]) AND pid <> pg_backend_pid()`;
