/**
 * The only way names and literals get into SQL text: node-postgres's escaping. Utility statements
 * (CREATE ROLE, GRANT...) cannot take $n parameters, so they are built from escaped pieces.
 */
import pg from 'pg';

export const ident = (name: string): string => pg.escapeIdentifier(name);
export const literal = (value: string): string => pg.escapeLiteral(value);

export const validUntil = (expiresAt: Date | null): string =>
  literal(expiresAt ? expiresAt.toISOString() : 'infinity');

export const PgCode = {
  uniqueViolation: '23505',
  invalidCatalogName: '3D000',
  insufficientPrivilege: '42501',
  undefinedObject: '42704',
  duplicateObject: '42710',
} as const;

export function pgCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string')
    return err.code;
  return undefined;
}

/**
 * Concurrent GRANT/REVOKE/DROP OWNED on the same objects rewrite the same catalog rows, and
 * PostgreSQL answers the loser with "tuple concurrently updated" instead of waiting. One
 * transaction-scoped advisory lock per database serialises Latch's own ACL changes (across all
 * Latch processes); the lock is per database because advisory locks are.
 */
const ACL_LOCK = 'SELECT pg_advisory_xact_lock(1279349827, 1)';

/**
 * Joins statements into one simple-protocol query: one round trip, and PostgreSQL runs it as one
 * implicit transaction that rolls back on error. (An explicit BEGIN would instead leave the pooled
 * connection in an aborted transaction when a statement fails.)
 */
export function batch(statements: Array<string | null | false>): string {
  return statements.filter((s): s is string => typeof s === 'string').join(';\n');
}

export function aclBatch(statements: Array<string | null | false>): string {
  return batch([ACL_LOCK, ...statements]);
}
