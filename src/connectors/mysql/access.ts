/**
 * listAccess (docs/ARCHITECTURE.md, "Reconciliation"): on the managed databases, Latch's temporary
 * users, privileges given to other accounts by hand, and memberships of the roleMap roles.
 */
import type mysql from 'mysql2/promise';
import type { AccessEntry } from '../types.js';
import { isProtectedUser, type MysqlContext } from './context.js';
import { managedDatabases } from './discovery.js';
import { membershipHandle, membershipKey } from './existing-user.js';
import { databaseResourceId, isTemporaryUserName, patternDatabase } from './names.js';
import { DB_PRIVILEGE_COLUMNS, PERMISSIONS, permissionOfRow, type Permission } from './privileges.js';
import { lit } from './sql.js';
import { standingHandle, standingKey } from './standing.js';
import { temporaryKey } from './temporary-user.js';

export async function listAccess(ctx: MysqlContext): Promise<AccessEntry[]> {
  const databases = new Set(await managedDatabases(ctx));
  const roles = [...new Set(Object.values(ctx.config.roleMap).filter((r): r is string => !!r))];
  const cols = DB_PRIVILEGE_COLUMNS.map((c) => `d.${c}`).join(', ');
  const statements = [
    // Accounts only: a role's own privileges are reached through its memberships.
    `SELECT d.User AS user, d.Host AS host, d.Db AS db, ${cols}
     FROM mysql.db d JOIN mysql.user u ON u.User = d.User AND u.Host = d.Host
     WHERE u.is_role = 'N' ORDER BY d.User, d.Host, d.Db`,
  ];
  if (roles.length > 0) {
    statements.push(
      `SELECT m.User AS user, m.Host AS host, m.Role AS role
       FROM mysql.roles_mapping m JOIN mysql.user u ON u.User = m.User AND u.Host = m.Host
       WHERE u.is_role = 'N' AND m.Role IN (${lit(roles)}) ORDER BY m.User, m.Host, m.Role`,
      `SELECT User AS role, Db AS db FROM mysql.db WHERE Host = '' AND User IN (${lit(roles)}) ORDER BY Db`,
    );
  }
  const [results] = await ctx.pool.query<mysql.RowDataPacket[][]>(statements.join(';\n'));
  const sets = statements.length === 1 ? [results as unknown as mysql.RowDataPacket[]] : results;
  const entries = new Map<string, AccessEntry>();
  const add = (e: AccessEntry) => {
    if (!entries.has(e.key)) entries.set(e.key, e);
  };

  for (const row of sets[0] ?? []) {
    const user = String(row.user);
    const host = String(row.host);
    const db = String(row.db);
    const database = patternDatabase(db);
    const permission = permissionOfRow(row);
    if (!permission || !databases.has(database) || isProtectedUser(ctx, user)) continue;
    if (host === '%' && isTemporaryUserName(ctx.config.userPrefix, user)) {
      add({
        key: temporaryKey(user),
        resourceId: databaseResourceId(database),
        permission,
        account: user,
        madeByLatch: true,
        handle: { mode: 'temporary_user', user, database, permission },
      });
    } else {
      const s = { user, host, db };
      add({
        key: standingKey(s),
        resourceId: databaseResourceId(database),
        permission,
        account: `${user}@${host}`,
        madeByLatch: false,
        handle: standingHandle(s),
      });
    }
  }

  if (roles.length > 0) {
    const roleDatabase = new Map<string, string>();
    for (const row of sets[2] ?? []) {
      const database = patternDatabase(String(row.db));
      if (databases.has(database) && !roleDatabase.has(String(row.role)))
        roleDatabase.set(String(row.role), database);
    }
    for (const row of sets[1] ?? []) {
      const m = { user: String(row.user), host: String(row.host), role: String(row.role) };
      // A role holding nothing on a managed database gives no access this integration manages.
      const database = roleDatabase.get(m.role);
      if (!database || isProtectedUser(ctx, m.user)) continue;
      const email = emailOf(ctx, m.user);
      add({
        key: membershipKey(m),
        resourceId: databaseResourceId(database),
        permission: permissionOfRole(ctx, m.role),
        account: `${m.user}@${m.host}`,
        ...(email ? { email } : {}),
        // Latch cannot tell its memberships from others: reconciliation matches them by key.
        madeByLatch: false,
        handle: membershipHandle(m, database),
      });
    }
  }
  return [...entries.values()];
}

/** The highest permission the role is mapped to. */
function permissionOfRole(ctx: MysqlContext, role: string): Permission {
  return [...PERMISSIONS].reverse().find((p) => ctx.config.roleMap[p] === role) ?? 'read';
}

function emailOf(ctx: MysqlContext, user: string): string | undefined {
  const mapping = ctx.config.loginMapping;
  if (mapping === 'email') return user.includes('@') ? user : undefined;
  if (typeof mapping === 'object') return Object.entries(mapping.map).find(([, u]) => u === user)?.[0];
  return undefined;
}
