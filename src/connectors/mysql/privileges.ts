export const PERMISSIONS = ['read', 'write', 'admin'] as const;
export type Permission = (typeof PERMISSIONS)[number];

export function requirePermission(permission: string): Permission {
  if ((PERMISSIONS as readonly string[]).includes(permission)) return permission as Permission;
  throw new Error(
    `unknown MySQL permission ${JSON.stringify(permission)} (expected ${PERMISSIONS.join(', ')})`,
  );
}

/** What each permission grants on a database (`GRANT <this> ON db.*`). Fixed text, never user input. */
export const DATABASE_PRIVILEGES: Record<Permission, string> = {
  read: 'SELECT, SHOW VIEW',
  write: 'SELECT, SHOW VIEW, INSERT, UPDATE, DELETE, LOCK TABLES, CREATE TEMPORARY TABLES',
  admin: 'ALL PRIVILEGES',
};

/** The privilege columns of mysql.db, as SELECT lists them. */
export const DB_PRIVILEGE_COLUMNS = [
  'Select_priv',
  'Insert_priv',
  'Update_priv',
  'Delete_priv',
  'Create_priv',
  'Drop_priv',
  'Grant_priv',
  'References_priv',
  'Index_priv',
  'Alter_priv',
  'Create_tmp_table_priv',
  'Lock_tables_priv',
  'Create_view_priv',
  'Show_view_priv',
  'Create_routine_priv',
  'Alter_routine_priv',
  'Execute_priv',
  'Event_priv',
  'Trigger_priv',
] as const;

const READ = new Set(['Select_priv', 'Show_view_priv']);
const WRITE = new Set([
  ...READ,
  'Insert_priv',
  'Update_priv',
  'Delete_priv',
  'Lock_tables_priv',
  'Create_tmp_table_priv',
]);

/**
 * The Latch permission a row of mysql.db amounts to: anything beyond `write` (DDL, routines,
 * GRANT OPTION...) counts as `admin`. null: the row grants nothing.
 */
export function permissionOfRow(row: Record<string, unknown>): Permission | null {
  const held = DB_PRIVILEGE_COLUMNS.filter((c) => row[c] === 'Y');
  if (held.length === 0) return null;
  if (held.some((c) => !WRITE.has(c))) return 'admin';
  if (held.some((c) => !READ.has(c))) return 'write';
  return 'read';
}
