/**
 * The PostgreSQL connector (temporary logins, the default mode) under the conformance suite: its own
 * database on the shared test cluster, its own role prefix. The oracle asks PostgreSQL itself
 * whether a login can log in and read the schema.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPostgresConnector } from '../../../src/connectors/postgres/index.js';
import type { GrantHandle, GrantSpec } from '../../../src/connectors/types.js';
import type { ConformanceFixture } from '../connector-conformance.js';
import { createPgDatabase, schemaId, withDatabase } from '../fixture.js';

const ident = pg.escapeIdentifier;

export async function createPostgresFixture(): Promise<ConformanceFixture> {
  const url = process.env.PG_URL!;
  const u = new URL(url);
  const s = randomBytes(3).toString('hex');
  const prefix = `lc${s}_`;
  const { database, drop } = await createPgDatabase(`lc_${s}`);
  // Pools: the suite asks many questions at once.
  const admin = new pg.Pool({ connectionString: url, max: 4 });
  const app = new pg.Pool({ connectionString: withDatabase(url, database), max: 4 });
  // Other test files end sessions on the shared cluster; an idle client cut off that way emits
  // 'error', which unhandled would crash the worker. The pool replaces it; a query cut off still fails.
  for (const pool of [admin, app]) pool.on('error', () => {});
  const standing: string[] = [];
  const resourceId = schemaId(database);
  const integration = {
    type: 'postgresql',
    config: {
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      databases: [database],
      rolePrefix: prefix,
    },
    secrets: {},
  };
  let n = 0;
  const roleOf = (handle: GrantHandle) => String(handle.role);

  return {
    integration,
    target: { resourceId, permission: 'read' },
    person: async () => `p${s}${++n}@example.com`,
    connector: () => createPostgresConnector({ name: 'conformance', ...integration }),
    async spec(opts = {}): Promise<GrantSpec> {
      n += 1;
      const id = `${opts.hostile ?? 'g'}-${s}-${n}`;
      return {
        grantId: id,
        requestId: `r-${id}`,
        requesterEmail: `${opts.hostile ?? 'p'}${n}@example.com`,
        resource: { id: resourceId, name: `${database}.billing`, kind: 'schema' },
        permission: 'read',
        expiresAt: new Date(Date.now() + 3_600_000),
      };
    },
    async present(_spec, handle) {
      const { rows } = await app.query<{ ok: boolean }>(
        `SELECT r.rolcanlogin AND has_schema_privilege(r.oid, 'billing', 'USAGE')
                AND has_table_privilege(r.oid, 'billing.invoices', 'SELECT') AS ok
           FROM pg_roles r WHERE r.rolname = $1`,
        [roleOf(handle)],
      );
      return rows[0]?.ok === true;
    },
    async snapshot() {
      // Latch's group roles are not in it: without members they give nothing, and they are kept on
      // purpose (docs/ARCHITECTURE.md, "Connectors"). Logins, memberships and tables are.
      const { rows } = await admin.query<{ line: string }>(
        `SELECT u.rolname || ' login=' || u.rolcanlogin || ' in ' ||
                coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m
                            JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = u.oid), '') AS line
           FROM pg_roles u
          WHERE (starts_with(u.rolname, $1) AND u.rolname !~ '^.*grp_[0-9a-f]{16}$') OR u.rolname = ANY($2::text[])`,
        [prefix, standing],
      );
      const tables = await app.query<{ line: string }>(
        `SELECT 'table ' || schemaname || '.' || tablename AS line FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')`,
      );
      return [...rows, ...tables.rows].map((r) => r.line);
    },
    async failPartWay() {
      // The login is made in the admin database, then the schema GRANTs fail in the app database.
      await app.query(`CREATE OR REPLACE FUNCTION lc_refuse() RETURNS event_trigger LANGUAGE plpgsql AS
        $$ BEGIN RAISE EXCEPTION 'GRANT refused by the conformance fixture'; END $$;
        CREATE EVENT TRIGGER lc_refuse_grants ON ddl_command_start WHEN TAG IN ('GRANT') EXECUTE FUNCTION lc_refuse()`);
      return async () => {
        await app.query('DROP EVENT TRIGGER IF EXISTS lc_refuse_grants');
      };
    },
    async removeBehindBack(_spec, handle) {
      await admin.query(`DROP ROLE IF EXISTS ${ident(roleOf(handle))}`);
    },
    async createStanding() {
      const account = `standing_${s}_${standing.length + 1}`;
      standing.push(account);
      await admin.query(`CREATE ROLE ${ident(account)} LOGIN`);
      await app.query(
        `GRANT USAGE ON SCHEMA billing TO ${ident(account)}; GRANT SELECT ON ALL TABLES IN SCHEMA billing TO ${ident(account)}`,
      );
      return { account, resourceId, permission: 'read' };
    },
    async close() {
      await app.end();
      await drop();
      const { rows } = await admin.query<{ rolname: string }>(
        'SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) OR rolname = ANY($2::text[])',
        [prefix, standing],
      );
      for (const { rolname } of rows) await admin.query(`DROP ROLE IF EXISTS ${ident(rolname)}`);
      await admin.end();
    },
  };
}
