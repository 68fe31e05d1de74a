import { ident } from './sql.js';

export const PERMISSIONS = ['read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function requirePermission(permission: string): Permission {
  if ((PERMISSIONS as readonly string[]).includes(permission)) return permission as Permission;
  throw new Error(
    `unknown PostgreSQL permission ${JSON.stringify(permission)} (expected ${PERMISSIONS.join(', ')})`,
  );
}

const SCHEMA_PRIVILEGES: Record<Permission, string> = {
  read: 'USAGE',
  write: 'USAGE',
  admin: 'USAGE, CREATE',
};
const TABLE_PRIVILEGES: Record<Permission, string> = {
  read: 'SELECT',
  write: 'SELECT, INSERT, UPDATE, DELETE',
  admin: 'ALL PRIVILEGES',
};
const SEQUENCE_PRIVILEGES: Record<Permission, string | null> = {
  read: null,
  write: 'USAGE, SELECT',
  admin: 'ALL PRIVILEGES',
};

/**
 * Statements giving `role` the permission on the schemas of one database. They must run while
 * connected to that database (schema-level GRANTs resolve names in the current database). The
 * default privileges cover tables the admin user creates later; DROP OWNED removes them again.
 */
export function grantStatements(
  database: string,
  schemas: string[],
  role: string,
  permission: Permission,
): string[] {
  const r = ident(role);
  const out = [`GRANT CONNECT ON DATABASE ${ident(database)} TO ${r}`];
  for (const schema of schemas) {
    const s = ident(schema);
    out.push(`GRANT ${SCHEMA_PRIVILEGES[permission]} ON SCHEMA ${s} TO ${r}`);
    out.push(`GRANT ${TABLE_PRIVILEGES[permission]} ON ALL TABLES IN SCHEMA ${s} TO ${r}`);
    out.push(
      `ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${TABLE_PRIVILEGES[permission]} ON TABLES TO ${r}`,
    );
    const seq = SEQUENCE_PRIVILEGES[permission];
    if (seq) {
      out.push(`GRANT ${seq} ON ALL SEQUENCES IN SCHEMA ${s} TO ${r}`);
      out.push(`ALTER DEFAULT PRIVILEGES IN SCHEMA ${s} GRANT ${seq} ON SEQUENCES TO ${r}`);
    }
  }
  return out;
}

/** User schemas of the database the pool is connected to. */
export const LIST_SCHEMAS_SQL = `SELECT nspname FROM pg_namespace
  WHERE left(nspname, 3) <> 'pg_' AND nspname <> 'information_schema'
  ORDER BY nspname`;
