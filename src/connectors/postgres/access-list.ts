/**
 * What access really exists on what the integration manages (Connector.listAccess,
 * docs/ARCHITECTURE.md, "Reconciliation"): members of Latch's group roles and of the roleMap
 * roles, Latch's own temporary logins, and logins given privileges on a discovered schema by hand.
 */
import type { AccessEntry, GrantHandle } from '../types.js';
import { adminPool, type PgContext } from './context.js';
import { discover } from './discovery.js';
import { groupRoleName, isGroupRoleName, parseResourceId } from './names.js';
import { PERMISSIONS, type Permission } from './privileges.js';

/** The key reconciliation matches a grant's handle and a listed entry by. */
export function accessKeyOf(handle: GrantHandle): string {
  if (handle.mode === 'existing_login') return `member:${String(handle.login)}:${String(handle.group)}`;
  if (handle.mode === 'direct')
    return `acl:${String(handle.login)}:${String(handle.database)}:${String(handle.schema)}`;
  return `role:${String(handle.role)}`;
}

interface MemberRow {
  grp: string;
  member: string;
  canlogin: boolean;
}

interface AclRow {
  nspname: string;
  login: string;
  creates: boolean;
  writes: boolean;
}

/**
 * Schema privileges given straight to logins (not through a role Latch manages): USAGE is read,
 * a table write privilege makes it write, CREATE makes it admin. Superusers, Latch's admin user and
 * Latch's own roles are left out.
 */
const DIRECT_ACL_SQL = `
WITH schema_acl AS (
  SELECT n.nspname, a.grantee, bool_or(a.privilege_type = 'CREATE') AS creates
  FROM pg_namespace n, aclexplode(n.nspacl) a
  WHERE n.nspname = ANY($1::text[]) GROUP BY n.nspname, a.grantee
), table_writes AS (
  SELECT DISTINCT n.nspname, a.grantee
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace, aclexplode(c.relacl) a
  WHERE n.nspname = ANY($1::text[]) AND a.privilege_type IN ('INSERT', 'UPDATE', 'DELETE')
)
SELECT s.nspname, r.rolname AS login, s.creates, (w.grantee IS NOT NULL) AS writes
FROM schema_acl s
JOIN pg_roles r ON r.oid = s.grantee
LEFT JOIN table_writes w ON w.nspname = s.nspname AND w.grantee = s.grantee
WHERE r.rolcanlogin AND NOT r.rolsuper AND r.rolname <> current_user AND NOT starts_with(r.rolname, $2)`;

export async function listAccess(ctx: PgContext): Promise<AccessEntry[]> {
  const { rolePrefix, roleMap } = ctx.config;
  const resources = (await discover(ctx)).map((r) => ({ id: r.id, ...parseResourceId(r.id) }));
  // Which group role stands for which resource and permission.
  const groups = new Map<string, { resourceId: string; permission: Permission }>();
  for (const r of resources)
    for (const permission of PERMISSIONS)
      groups.set(groupRoleName(rolePrefix, r.database, r.schema, permission), {
        resourceId: r.id,
        permission,
      });
  // A roleMap role gives its permission wherever it was granted; it is listed against the first resource.
  const mapped = new Map<string, Permission>();
  for (const permission of PERMISSIONS) {
    const role = roleMap[permission];
    if (role) mapped.set(role, permission);
  }

  const admin = adminPool(ctx);
  const { rows: members } = await admin.query<MemberRow>(
    `SELECT g.rolname AS grp, u.rolname AS member, u.rolcanlogin AS canlogin
       FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
      WHERE g.rolname = ANY($1::text[]) AND u.rolname <> current_user`,
    [[...groups.keys(), ...mapped.keys()]],
  );
  const entries: AccessEntry[] = [];
  const latchRolesSeen = new Set<string>();
  for (const m of members) {
    if (isGroupRoleName(rolePrefix, m.member)) continue;
    const group = groups.get(m.grp);
    const ours = m.member.startsWith(rolePrefix) && group !== undefined;
    if (ours) {
      latchRolesSeen.add(m.member);
      const { database, schema } = parseResourceId(group.resourceId);
      const handle = {
        mode: 'temporary_login',
        role: m.member,
        database,
        schema,
        permission: group.permission,
      };
      entries.push({
        key: accessKeyOf(handle),
        resourceId: group.resourceId,
        permission: group.permission,
        account: m.member,
        madeByLatch: true,
        handle,
      });
      continue;
    }
    if (!m.canlogin) continue;
    const permission = group?.permission ?? mapped.get(m.grp);
    const resourceId = group?.resourceId ?? resources[0]?.id;
    if (!permission || !resourceId) continue;
    const handle = { mode: 'existing_login', login: m.member, group: m.grp };
    entries.push({
      key: accessKeyOf(handle),
      resourceId,
      permission,
      account: m.member,
      madeByLatch: false,
      handle,
    });
  }

  // Latch's logins that hold no group: left over from a grant that failed or a revoke cut short.
  const { rows: logins } = await admin.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) AND rolcanlogin`,
    [rolePrefix],
  );
  for (const { rolname } of logins) {
    if (latchRolesSeen.has(rolname) || isGroupRoleName(rolePrefix, rolname)) continue;
    const handle = { mode: 'temporary_login', role: rolname };
    entries.push({
      key: accessKeyOf(handle),
      resourceId: '',
      permission: '',
      account: rolname,
      madeByLatch: true,
      handle,
    });
  }

  const byDatabase = new Map<string, string[]>();
  for (const r of resources)
    if (r.schema !== null) byDatabase.set(r.database, [...(byDatabase.get(r.database) ?? []), r.schema]);
  for (const [database, schemas] of byDatabase) {
    const { rows } = await ctx.pools.get(database).query<AclRow>(DIRECT_ACL_SQL, [schemas, rolePrefix]);
    for (const row of rows) {
      const resourceId = resources.find((r) => r.database === database && r.schema === row.nspname)!.id;
      const permission: Permission = row.creates ? 'admin' : row.writes ? 'write' : 'read';
      const handle = { mode: 'direct', login: row.login, database, schema: row.nspname };
      entries.push({
        key: accessKeyOf(handle),
        resourceId,
        permission,
        account: row.login,
        madeByLatch: false,
        handle,
      });
    }
  }
  return entries;
}
