import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { appendFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import {
  createPostgresConnector,
  postgresConfigSchema,
  groupRoleName,
  temporaryRoleName,
  type PostgresConnector,
} from '../../src/connectors/postgres/index.js';
import {
  PartialGrantError,
  type Connector,
  type GrantResult,
  type GrantSpec,
} from '../../src/connectors/types.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';

const { escapeIdentifier: ident } = pg;

// Every name carries this run's suffix: other test files share the server.
const s = randomBytes(4).toString('hex');
const prefix = `lt${s}_`;
const appDb = `lt_${s}_app`;
const oddDb = `lt ${s} o'dd "db"`;
const weirdSchema = `we"ird sch'ema`;
const pwnRole = `lt_${s}_pwned`;
const injectionSchemas = [`inj"; CREATE ROLE ${pwnRole}; --`, `inj'; CREATE ROLE ${pwnRole}; --`];
const alice = `alice_${s}`;
const readers = `lt_${s}_readers`;
const weak = `lt_${s}_weak`;
const manager = `lt_${s}_mgr`;

const url = new URL(process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
const server = { host: url.hostname, port: Number(url.port), user: decodeURIComponent(url.username) };

const clients: pg.Client[] = [];
const connectors: Connector[] = [];
let admin: pg.Client;
let app: pg.Client;

async function connect(opts: { user: string; database: string; password?: string; port?: number }) {
  const client = new pg.Client({ host: server.host, port: server.port, ...opts });
  // A terminated backend makes the client emit 'error'; unhandled, it would crash the test worker.
  client.on('error', () => {});
  await client.connect();
  clients.push(client);
  return client;
}

const connectWith = (creds: Record<string, string> | undefined) =>
  connect({
    user: creds!.username!,
    password: creds!.password!,
    database: creds!.database!,
    port: Number(creds!.port),
  });

function connector(config: Record<string, unknown>): PostgresConnector {
  const c = createPostgresConnector({
    name: 'pg-test',
    type: 'postgresql',
    config: { host: server.host, port: server.port, user: server.user, rolePrefix: prefix, ...config },
    secrets: {},
  }) as PostgresConnector;
  connectors.push(c);
  return c;
}

let n = 0;
function spec(resourceId: string, permission: string, extra: Partial<GrantSpec> = {}): GrantSpec {
  n += 1;
  return {
    grantId: `g${s}${n}`,
    requestId: `r${n}`,
    requesterEmail: 'someone@example.com',
    resource: {
      id: resourceId,
      name: resourceId,
      kind: resourceId.includes('/schema:') ? 'schema' : 'database',
    },
    permission,
    expiresAt: new Date(Date.now() + 3_600_000),
    ...extra,
  };
}

const billing = `db:${appDb}/schema:billing`;

async function roleRow(role: string) {
  const { rows } = await admin.query<{ validuntil: string | null; rolcanlogin: boolean }>(
    'SELECT rolvaliduntil::text AS validuntil, rolcanlogin FROM pg_roles WHERE rolname = $1',
    [role],
  );
  return rows[0];
}

async function validUntilMatches(role: string, at: Date): Promise<boolean> {
  const { rows } = await admin.query<{ same: boolean }>(
    'SELECT rolvaliduntil = $2::timestamptz AS same FROM pg_roles WHERE rolname = $1',
    [role, at],
  );
  return rows[0]?.same === true;
}

const roleExists = async (role: string) =>
  ((await admin.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role])).rowCount ?? 0) > 0;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  admin = await connect({ user: server.user, database: 'postgres' });
  await admin.query(`CREATE DATABASE ${ident(appDb)}`);
  await admin.query(`CREATE DATABASE ${ident(oddDb)}`);
  await admin.query(
    `CREATE ROLE ${ident(alice)} LOGIN; CREATE ROLE ${ident(readers)} NOLOGIN; CREATE ROLE ${ident(weak)} LOGIN;
     CREATE ROLE ${ident(manager)} LOGIN CREATEROLE`,
  );
  app = await connect({ user: server.user, database: appDb });
  await app.query(
    `CREATE SCHEMA billing;
     CREATE TABLE billing.invoices (id serial PRIMARY KEY, amount int);
     INSERT INTO billing.invoices (amount) VALUES (1), (2);
     CREATE TABLE public.canary (x int);
     ${injectionSchemas.map((schema) => `CREATE SCHEMA ${ident(schema)}; CREATE TABLE ${ident(schema)}.t (x int);`).join('\n')}
     GRANT USAGE ON SCHEMA billing TO ${ident(readers)};
     GRANT SELECT ON billing.invoices TO ${ident(readers)};
     CREATE SCHEMA managed AUTHORIZATION ${ident(manager)};
     SET ROLE ${ident(manager)}; CREATE TABLE managed.items (x int); INSERT INTO managed.items VALUES (7); RESET ROLE`,
  );
  const odd = await connect({ user: server.user, database: oddDb });
  await odd.query(
    `CREATE SCHEMA ${ident(weirdSchema)};
     CREATE TABLE ${ident(weirdSchema)}.${ident('t"ab')} (x int); INSERT INTO ${ident(weirdSchema)}.${ident('t"ab')} VALUES (42);
     CREATE TABLE public.plain (x int); INSERT INTO public.plain VALUES (1)`,
  );
});

afterAll(async () => {
  await Promise.allSettled(connectors.map((c) => c.close()));
  await Promise.allSettled(clients.filter((c) => c !== admin).map((c) => c.end()));
  for (const db of [appDb, oddDb]) await admin.query(`DROP DATABASE IF EXISTS ${ident(db)} WITH (FORCE)`);
  const { rows } = await admin.query<{ rolname: string }>(
    `SELECT rolname FROM pg_roles WHERE starts_with(rolname, $1) OR starts_with(rolname, $2) OR rolname = $3`,
    [prefix, `lt_${s}_`, alice],
  );
  for (const { rolname } of rows) await admin.query(`DROP ROLE IF EXISTS ${ident(rolname)}`);
  await admin.end();
});

describe('PostgreSQL connector: config and health', () => {
  it('applies defaults and rejects bad config with a clear error', () => {
    const cfg = postgresConfigSchema.parse({ host: 'db', user: 'admin' });
    expect(cfg).toMatchObject({
      port: 5432,
      database: 'postgres',
      ssl: false,
      mode: 'temporary_login',
      loginMapping: 'email_localpart',
      rolePrefix: 'latch_',
      poolSize: 10,
    });
    const make = (config: Record<string, unknown>) => () =>
      createPostgresConnector({ name: 'bad', type: 'postgresql', config, secrets: {} });
    expect(make({ user: 'admin' })).toThrow(/invalid config for PostgreSQL integration bad[\s\S]*host/);
    expect(make({ host: 'db', user: 'admin', mode: 'sometimes' })).toThrow(/mode/);
    expect(make({ host: 'db', user: 'admin', rolePrefix: 'Bad-Prefix' })).toThrow(/rolePrefix/);
  });

  it('reports health ok for a superuser, and not ok (without throwing) for a wrong port or a weak user', async () => {
    const ok = await connector({}).health();
    expect(ok.ok).toBe(true);
    expect(ok.message).toMatch(/PostgreSQL \d+/);

    const down = await connector({ port: await freePort() }).health();
    expect(down.ok).toBe(false);
    expect(down.message).toMatch(/ECONNREFUSED|connect/);

    const notAdmin = await connector({ user: weak }).health();
    expect(notAdmin).toMatchObject({ ok: false, message: expect.stringMatching(/CREATEROLE/) });
  });
});

describe('PostgreSQL connector: discovery', () => {
  it('lists the configured databases and their schemas, without system schemas', async () => {
    const resources = await connector({ databases: [appDb, oddDb] }).discover();
    const ids = resources.map((r) => r.id);
    expect(ids).toEqual(
      expect.arrayContaining([
        `db:${appDb}`,
        billing,
        `db:${appDb}/schema:public`,
        `db:${oddDb}`,
        `db:${oddDb}/schema:${weirdSchema}`,
        ...injectionSchemas.map((schema) => `db:${appDb}/schema:${schema}`),
      ]),
    );
    expect(ids.filter((id) => /schema:(pg_|information_schema)/.test(id))).toEqual([]);
    expect(ids.every((id) => id.startsWith(`db:${appDb}`) || id.startsWith(`db:${oddDb}`))).toBe(true);
    expect(resources.find((r) => r.id === billing)).toEqual({
      id: billing,
      name: `${appDb}.billing`,
      kind: 'schema',
      permissions: ['read', 'write', 'admin'],
    });
    expect(resources.find((r) => r.id === `db:${oddDb}`)).toMatchObject({ name: oddDb, kind: 'database' });
  });
});

describe('PostgreSQL connector: temporary logins', () => {
  const tl = () => connector({ databases: [appDb, oddDb] });

  it('read: the credentials connect and can SELECT but not INSERT; VALID UNTIL is the expiry', async () => {
    const c = tl();
    const g = spec(billing, 'read');
    const { handle, credentials } = await c.grant(g);
    expect(handle).toMatchObject({ mode: 'temporary_login', database: appDb, schema: 'billing' });
    const role = handle.role as string;
    expect(role.startsWith(prefix)).toBe(true);
    expect(Buffer.byteLength(role)).toBeLessThanOrEqual(63);
    expect(credentials).toEqual({
      username: role,
      password: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
      host: server.host,
      port: String(server.port),
      database: appDb,
    });
    expect(await validUntilMatches(role, g.expiresAt!)).toBe(true);
    expect(await c.check(g, handle)).toBe(true);

    const session = await connectWith(credentials);
    const { rows } = await session.query('SELECT count(*)::int AS n FROM billing.invoices');
    expect(rows[0].n).toBeGreaterThanOrEqual(2);
    await expect(session.query('INSERT INTO billing.invoices (amount) VALUES (3)')).rejects.toMatchObject({
      code: '42501',
    });
    await c.revoke(g, handle);
  });

  it('write: can INSERT (with the serial sequence), UPDATE, DELETE, and read tables created later', async () => {
    const c = tl();
    const g = spec(billing, 'write');
    const { handle, credentials } = await c.grant(g);
    await app.query('CREATE TABLE billing.later (x int); INSERT INTO billing.later VALUES (5)');
    const session = await connectWith(credentials);
    await session.query('INSERT INTO billing.invoices (amount) VALUES (10)');
    await session.query('UPDATE billing.invoices SET amount = 11 WHERE amount = 10');
    await session.query('DELETE FROM billing.invoices WHERE amount = 11');
    expect((await session.query('SELECT x FROM billing.later')).rows).toEqual([{ x: 5 }]);
    await expect(session.query('CREATE TABLE billing.mine (x int)')).rejects.toMatchObject({ code: '42501' });
    await c.revoke(g, handle);
    expect(await roleExists(handle.role as string)).toBe(false);
  });

  it('admin: can create tables in the schema; revoke keeps them, handed to the admin user', async () => {
    const c = tl();
    const g = spec(billing, 'admin');
    const { handle, credentials } = await c.grant(g);
    const session = await connectWith(credentials);
    await session.query(
      'CREATE TABLE billing.made_by_temp (x int); INSERT INTO billing.made_by_temp VALUES (1)',
    );
    await session.query('TRUNCATE billing.later');
    await c.revoke(g, handle);
    expect(await roleExists(handle.role as string)).toBe(false);
    const { rows } = await app.query(
      `SELECT tableowner FROM pg_tables WHERE schemaname = 'billing' AND tablename = 'made_by_temp'`,
    );
    expect(rows).toEqual([{ tableowner: server.user }]);
  });

  it('granting twice is harmless and issues new working credentials; extend moves VALID UNTIL', async () => {
    const c = tl();
    const g = spec(billing, 'read');
    const first = await c.grant(g);
    const second = await c.grant({ ...g, expiresAt: null });
    expect(second.handle).toEqual(first.handle);
    expect(second.credentials!.password).not.toBe(first.credentials!.password);
    expect((await roleRow(first.handle.role as string))?.validuntil).toBe('infinity');
    const session = await connectWith(second.credentials);
    expect((await session.query('SELECT 1 AS one FROM billing.invoices LIMIT 1')).rows).toEqual([{ one: 1 }]);

    const later = new Date(Date.now() + 7_200_000);
    await c.extend(g, second.handle, later);
    expect(await validUntilMatches(second.handle.role as string, later)).toBe(true);
    await c.extend(g, second.handle, null);
    expect((await roleRow(second.handle.role as string))?.validuntil).toBe('infinity');
    await c.revoke(g, second.handle);
  });

  it('revoke cuts off a live session, drops the role, and is harmless twice; check follows', async () => {
    const c = tl();
    const g = spec(billing, 'write');
    const { handle, credentials } = await c.grant(g);
    const session = await connectWith(credentials);
    await session.query('SELECT 1');
    expect(await c.check(g, handle)).toBe(true);

    await c.revoke(g, handle);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await roleExists(handle.role as string)).toBe(false);
    expect(await c.check(g, handle)).toBe(false);
    await expect(c.revoke(g, handle)).resolves.toBeUndefined();
    // A grant that never returned a handle is still found through its grantId.
    await expect(c.revoke(g, {})).resolves.toBeUndefined();
    await expect(connectWith(credentials)).rejects.toThrow(/does not exist/);
  });

  it('refuses to drop a role from a handle that Latch did not create', async () => {
    await expect(
      tl().revoke(spec(billing, 'read'), { mode: 'temporary_login', role: 'postgres' }),
    ).rejects.toThrow(/refusing/);
  });

  it("refuses to drop one of its group roles from a handle, which would take every member's access", async () => {
    const c = tl();
    const g = spec(billing, 'read');
    const { handle } = await c.grant(g);
    const group = groupRoleName(prefix, appDb, 'billing', 'read');
    expect(await roleExists(group)).toBe(true);
    await expect(c.revoke(g, { mode: 'temporary_login', role: group })).rejects.toThrow(/group roles/);
    expect(await roleExists(group)).toBe(true);
    await c.revoke(g, handle);
  });

  it('handles awkward names: a database with spaces and quotes, a schema named we"ird sch\'ema', async () => {
    const c = tl();
    const whole = spec(`db:${oddDb}`, 'read');
    const dbGrant = await c.grant(whole);
    expect(dbGrant.credentials!.database).toBe(oddDb);
    const session = await connectWith(dbGrant.credentials);
    const weird = `${ident(weirdSchema)}.${ident('t"ab')}`;
    expect((await session.query(`SELECT x FROM ${weird}`)).rows).toEqual([{ x: 42 }]);
    expect((await session.query('SELECT x FROM public.plain')).rows).toEqual([{ x: 1 }]);
    await c.revoke(whole, dbGrant.handle);
    expect(await roleExists(dbGrant.handle.role as string)).toBe(false);

    const schemaOnly = spec(`db:${oddDb}/schema:${weirdSchema}`, 'write');
    const schemaGrant = await c.grant(schemaOnly);
    const s2 = await connectWith(schemaGrant.credentials);
    await s2.query(`INSERT INTO ${weird} VALUES (43)`);
    await expect(s2.query('SELECT x FROM public.plain')).rejects.toMatchObject({ code: '42501' });
    await c.revoke(schemaOnly, schemaGrant.handle);
    expect(await roleExists(schemaGrant.handle.role as string)).toBe(false);
  });

  it('does not execute SQL smuggled in schema names, grant ids or resource ids', async () => {
    const c = tl();
    for (const schema of injectionSchemas) {
      const g = spec(`db:${appDb}/schema:${schema}`, 'write', {
        grantId: `x'; CREATE ROLE ${pwnRole}; --"${schema}`,
      });
      const { handle, credentials } = await c.grant(g);
      expect(handle.role).toMatch(/^[a-z0-9_]+$/);
      const session = await connectWith(credentials);
      await session.query(`INSERT INTO ${ident(schema)}.t VALUES (1)`);
      await c.revoke(g, handle);
    }
    await expect(
      c.grant(spec(`db:${appDb}/schema:nope"; DROP TABLE public.canary; --`, 'read')),
    ).rejects.toThrow(/does not exist/);
    expect(await roleExists(pwnRole)).toBe(false);
    expect((await app.query(`SELECT to_regclass('public.canary') IS NOT NULL AS present`)).rows).toEqual([
      { present: true },
    ]);
  });

  it('refuses resources outside the configured databases and unknown permissions', async () => {
    const c = tl();
    await expect(c.grant(spec('db:postgres', 'read'))).rejects.toThrow(/not in this integration's databases/);
    await expect(c.grant(spec(billing, 'superpowers'))).rejects.toThrow(/unknown PostgreSQL permission/);
  });

  it('grants and revokes many logins concurrently on the same schema', async () => {
    const c = tl();
    const specs = Array.from({ length: 24 }, (_, i) => spec(billing, i % 2 ? 'read' : 'write'));
    const results = await Promise.all(specs.map((g) => c.grant(g)));
    await Promise.all(specs.map((g, i) => c.revoke(g, results[i]!.handle)));
    const { rows } = await admin.query('SELECT rolname FROM pg_roles WHERE rolname = ANY($1)', [
      results.map((r) => r.handle.role),
    ]);
    expect(rows).toEqual([]);
  });

  it('works with a non-superuser CREATEROLE admin user', async () => {
    const c = connector({ user: manager, databases: [appDb] });
    expect(await c.health()).toMatchObject({ ok: true, message: expect.stringMatching(/CREATEROLE/) });
    const g = spec(`db:${appDb}/schema:managed`, 'read');
    const { handle, credentials } = await c.grant(g);
    const session = await connectWith(credentials);
    expect((await session.query('SELECT x FROM managed.items')).rows).toEqual([{ x: 7 }]);
    await c.revoke(g, handle);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await roleExists(handle.role as string)).toBe(false);
  });
});

describe('PostgreSQL connector: checking many grants at once', () => {
  it('answers for each grant in one call, in order', async () => {
    const c = connector({ databases: [appDb] });
    const kept = spec(billing, 'read');
    const gone = spec(billing, 'read');
    const never = spec(billing, 'read');
    const a = await c.grant(kept);
    const b = await c.grant(gone);
    await c.revoke(gone, b.handle);
    const result = await c.checkMany([
      { spec: kept, handle: a.handle },
      { spec: gone, handle: b.handle },
      { spec: never, handle: {} },
    ]);
    expect(result).toEqual([true, false, false]);
    await c.revoke(kept, a.handle);
    expect(await c.checkMany([{ spec: kept, handle: a.handle }])).toEqual([false]);
  });
});

describe('PostgreSQL connector: revoking many grants at once', () => {
  /** Counts the queries the connector sends, on every pool it has opened or opens. */
  function countQueries(c: PostgresConnector): () => number {
    let count = 0;
    const pools = (c as unknown as { ctx: { pools: { get(db: string): pg.Pool } } }).ctx.pools;
    const get = pools.get.bind(pools);
    const wrapped = new Set<pg.Pool>();
    pools.get = (db: string) => {
      const pool = get(db);
      if (!wrapped.has(pool)) {
        wrapped.add(pool);
        const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
        pool.query = ((...args: unknown[]) => {
          count++;
          return query(...args);
        }) as typeof pool.query;
      }
      return pool;
    };
    return () => count;
  }

  it('revokes 200 logins in a few transactions: sessions cut, roles gone, created tables kept; harmless twice', async () => {
    const c = connector({ databases: [appDb] });
    const specs = Array.from({ length: 200 }, (_, i) => spec(billing, i === 0 ? 'admin' : 'read'));
    const granted: GrantResult[] = [];
    for (let i = 0; i < specs.length; i += 25)
      granted.push(...(await Promise.all(specs.slice(i, i + 25).map((g) => c.grant(g)))));
    const creator = await connectWith(granted[0]!.credentials);
    await creator.query(`CREATE TABLE billing.made_in_batch_${s} (x int)`);
    const reader = await connectWith(granted[1]!.credentials);
    await reader.query('SELECT 1 FROM billing.invoices LIMIT 1');

    const items = specs.map((g, i) => ({ spec: g, handle: granted[i]!.handle }));
    const queries = countQueries(c);
    expect(await c.revokeMany(items)).toEqual(items.map(() => null));
    // One batch, not one revoke after another: the count does not grow with the batch.
    expect(queries()).toBeLessThanOrEqual(5);

    await expect(reader.query('SELECT 1')).rejects.toThrow();
    await expect(creator.query('SELECT 1')).rejects.toThrow();
    expect(await c.checkMany(items)).toEqual(items.map(() => false));
    const { rows } = await app.query(
      `SELECT tableowner FROM pg_tables WHERE schemaname = 'billing' AND tablename = $1`,
      [`made_in_batch_${s}`],
    );
    expect(rows).toEqual([{ tableowner: server.user }]);
    await expect(connectWith(granted[1]!.credentials)).rejects.toThrow(/does not exist/);
    expect(await c.revokeMany(items)).toEqual(items.map(() => null));
  });

  it('gives the privileges to one group role per schema and permission, so ACLs do not grow with grants', async () => {
    const c = connector({ databases: [appDb] });
    const aclSize = async () =>
      (
        await app.query<{ n: number }>(
          `SELECT coalesce(array_length(nspacl, 1), 0) AS n FROM pg_namespace WHERE nspname = 'billing'`,
        )
      ).rows[0]!.n;
    const first = spec(billing, 'write');
    const granted = [await c.grant(first)];
    const before = await aclSize();
    const more = [spec(billing, 'write'), spec(billing, 'write'), spec(billing, 'write')];
    for (const g of more) granted.push(await c.grant(g));
    expect(await aclSize()).toBe(before);
    // Each login still works on its own, and loses it on its own.
    const session = await connectWith(granted[3]!.credentials);
    await session.query('INSERT INTO billing.invoices (amount) VALUES (5)');
    await c.revoke(more[2]!, granted[3]!.handle);
    await expect(connectWith(granted[3]!.credentials)).rejects.toThrow(/does not exist/);
    const other = await connectWith(granted[2]!.credentials);
    expect((await other.query('SELECT 1 AS one FROM billing.invoices LIMIT 1')).rows).toEqual([{ one: 1 }]);
    await c.revokeMany([first, ...more].map((g, i) => ({ spec: g, handle: granted[i]!.handle })));
  });

  it('gives each item its own outcome: a handle Latch did not create, or a role that cannot be dropped, fails alone', async () => {
    const c = connector({ databases: [appDb] });
    const [ok1, stuck, ok2] = [spec(billing, 'read'), spec(billing, 'read'), spec(billing, 'read')];
    const granted = [await c.grant(ok1), await c.grant(stuck), await c.grant(ok2)];
    // A database owned by the temporary role: neither DROP OWNED nor DROP ROLE can remove that.
    const owned = `lt_${s}_owned_by_temp`;
    const stuckRole = granted[1]!.handle.role as string;
    await admin.query(`CREATE DATABASE ${ident(owned)} OWNER ${ident(stuckRole)}`);
    try {
      const outcomes = await c.revokeMany([
        { spec: ok1, handle: granted[0]!.handle },
        { spec: stuck, handle: granted[1]!.handle },
        { spec: spec(billing, 'read'), handle: { mode: 'temporary_login', role: 'postgres' } },
        { spec: ok2, handle: granted[2]!.handle },
      ]);
      expect(outcomes.map((o) => o?.message ?? null)).toEqual([
        null,
        expect.stringMatching(/cannot be dropped/),
        expect.stringMatching(/refusing/),
        null,
      ]);
      expect(await roleExists(granted[0]!.handle.role as string)).toBe(false);
      expect(await roleExists(granted[2]!.handle.role as string)).toBe(false);
      // The one that stayed cannot log in any more.
      expect(await roleRow(stuckRole)).toMatchObject({ rolcanlogin: false });
      expect(await roleExists('postgres')).toBe(true);
    } finally {
      await admin.query(`DROP DATABASE ${ident(owned)}`);
    }
    expect(await c.revokeMany([{ spec: stuck, handle: granted[1]!.handle }])).toEqual([null]);
    expect(await roleExists(stuckRole)).toBe(false);
  });
});

describe('PostgreSQL connector: a grant that fails part-way', () => {
  it('leaves no login behind when its privileges cannot be granted', async () => {
    const c = connector({ databases: [appDb] });
    const g = spec(`db:${appDb}/schema:no_such_schema_${s}`, 'read');
    const role = temporaryRoleName(prefix, g.grantId);
    await expect(c.grant(g)).rejects.toThrow(/no_such_schema/);
    expect(await roleExists(role)).toBe(false);
  });

  it('names what it left when it cannot clean up, so the revoke path can remove it', async () => {
    const c = connector({ databases: [appDb] });
    const g = spec(`db:${appDb}/schema:no_such_schema_${s}`, 'read');
    const role = temporaryRoleName(prefix, g.grantId);
    // The privileges fail (no such schema), and then the clean-up loses its connection.
    const pools = (c as unknown as { ctx: { pools: { get(db: string): pg.Pool } } }).ctx.pools;
    const adminPool = pools.get('postgres');
    const query = adminPool.query.bind(adminPool) as (...args: unknown[]) => Promise<unknown>;
    adminPool.query = ((text: unknown, ...rest: unknown[]) =>
      typeof text === 'string' && /^ALTER ROLE .* NOLOGIN/.test(text)
        ? Promise.reject(new Error('connection lost'))
        : query(text, ...rest)) as typeof adminPool.query;
    let err: unknown;
    try {
      await c.grant(g);
    } catch (e) {
      err = e;
    } finally {
      adminPool.query = query as typeof adminPool.query;
    }
    expect(err).toBeInstanceOf(PartialGrantError);
    expect((err as PartialGrantError).message).toMatch(/no_such_schema.*could not be removed yet/);
    expect((err as PartialGrantError).handle).toMatchObject({ mode: 'temporary_login', role });
    expect(await roleExists(role)).toBe(true);
    await c.revoke(g, (err as PartialGrantError).handle);
    expect(await roleExists(role)).toBe(false);
  });
});

describe('PostgreSQL connector: existing logins', () => {
  const el = (loginMapping: unknown = 'email_localpart') =>
    connector({ mode: 'existing_login', roleMap: { read: readers }, loginMapping, databases: [appDb] });
  const isMember = async () =>
    (
      await admin.query(
        `SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member
         WHERE g.rolname = $1 AND u.rolname = $2`,
        [readers, alice],
      )
    ).rowCount === 1;

  it('grants group membership, revokes it and cuts off the login’s sessions', async () => {
    const c = el();
    const g = spec(billing, 'read', { requesterEmail: `Alice_${s}@Example.com` });
    const before = await connect({ user: alice, database: appDb });
    await expect(before.query('SELECT * FROM billing.invoices')).rejects.toMatchObject({ code: '42501' });

    const result = await c.grant(g);
    expect(result).toEqual({
      handle: {
        mode: 'existing_login',
        login: alice,
        group: readers,
        database: appDb,
        schema: 'billing',
        shareKey: `member:${alice}:${readers}`,
      },
    });
    await c.grant(g);
    expect(await isMember()).toBe(true);
    expect(await c.check(g, result.handle)).toBe(true);
    await c.extend(g, result.handle, new Date(Date.now() + 60_000));

    const session = await connect({ user: alice, database: appDb });
    await session.query(`SET ROLE ${ident(readers)}`);
    expect(
      (await session.query('SELECT count(*)::int AS n FROM billing.invoices')).rows[0].n,
    ).toBeGreaterThan(0);

    await c.revoke(g, result.handle);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await isMember()).toBe(false);
    expect(await c.check(g, result.handle)).toBe(false);
    await expect(c.revoke(g, result.handle)).resolves.toBeUndefined();
  });

  it('revokes many memberships at once, each item with its own outcome, and cuts the sessions', async () => {
    const c = el({ map: { [`alice_${s}@example.com`]: alice } });
    const g1 = spec(billing, 'read', { requesterEmail: `alice_${s}@example.com` });
    const g2 = spec(`db:${appDb}/schema:public`, 'read', { requesterEmail: `alice_${s}@example.com` });
    const unmapped = spec(billing, 'read', { requesterEmail: 'nobody@example.com' });
    const a = await c.grant(g1);
    const b = await c.grant(g2);
    const session = await connect({ user: alice, database: appDb });
    await session.query(`SET ROLE ${ident(readers)}`);
    const outcomes = await c.revokeMany([
      { spec: g1, handle: a.handle },
      { spec: unmapped, handle: {} },
      { spec: g2, handle: b.handle },
    ]);
    expect(outcomes.map((o) => o?.message ?? null)).toEqual([null, expect.stringMatching(/nobody/), null]);
    expect(await isMember()).toBe(false);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await c.revokeMany([{ spec: g1, handle: a.handle }])).toEqual([null]);
  });

  it('maps logins through an explicit map, and errors clearly when nothing is mapped', async () => {
    const c = el({ map: { 'bob@example.com': alice } });
    const g = spec(billing, 'read', { requesterEmail: 'BOB@example.com' });
    const { handle } = await c.grant(g);
    expect(await isMember()).toBe(true);
    await c.revoke(g, handle);
    expect(await isMember()).toBe(false);

    await expect(c.grant(spec(billing, 'read', { requesterEmail: 'eve@example.com' }))).rejects.toThrow(
      /no PostgreSQL login is mapped for eve@example.com/,
    );
    await expect(c.grant(spec(billing, 'write', { requesterEmail: 'bob@example.com' }))).rejects.toThrow(
      /no PostgreSQL group role is mapped for permission write/,
    );
  });

  it('rejects a login that does not exist (even one made of SQL) without running it', async () => {
    const c = el('email');
    const email = `x"; create role ${pwnRole}; --@example.com`;
    await expect(c.grant(spec(billing, 'read', { requesterEmail: email }))).rejects.toThrow(/does not exist/);
    expect(await roleExists(pwnRole)).toBe(false);
  });

  it('refuses a derived login PostgreSQL would cut at 63 bytes, so two people never share one', async () => {
    // Both local parts share their first 63 bytes; PostgreSQL would cut both to that login.
    const shared = `${alice}_${'x'.repeat(63 - alice.length - 1)}`;
    expect(Buffer.byteLength(shared)).toBe(63);
    await admin.query(`CREATE ROLE ${ident(shared)} LOGIN`);
    const c = el();
    for (const tail of ['a', 'b']) {
      await expect(
        c.grant(spec(billing, 'read', { requesterEmail: `${shared}${tail}@example.com` })),
      ).rejects.toThrow(/64 bytes.*cuts names at 63/);
    }
    const members = await admin.query(
      `SELECT 1 FROM pg_auth_members m JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1`,
      [shared],
    );
    expect(members.rowCount).toBe(0);
    // Multi-byte characters count as bytes, not characters.
    await expect(
      c.grant(spec(billing, 'read', { requesterEmail: `${'é'.repeat(32)}@example.com` })),
    ).rejects.toThrow(/64 bytes/);
  });

  it('refuses to map a requester onto the admin user', async () => {
    const c = el({ map: { 'root@example.com': server.user } });
    await expect(c.grant(spec(billing, 'read', { requesterEmail: 'root@example.com' }))).rejects.toThrow(
      /admin user/,
    );
  });
});

describe('PostgreSQL connector: password authentication', () => {
  // The shared server trusts every connection, so passwords are checked on a private cluster.
  let own: PostgresServer;
  beforeAll(async () => {
    own = await startPostgres({ private: true });
    const hba = path.join(own.dataDir!, 'pg_hba.conf');
    writeFileSync(hba, 'local all all trust\nhost all postgres 127.0.0.1/32 trust\n');
    appendFileSync(hba, 'host all all 127.0.0.1/32 scram-sha-256\n');
    const c = new pg.Client({ connectionString: own.url });
    await c.connect();
    await c.query('SELECT pg_reload_conf()');
    await c.query('CREATE TABLE public.t (x int); INSERT INTO public.t VALUES (1)');
    await c.end();
  });
  afterAll(async () => {
    await own?.stop();
  });

  it('authenticates with the generated password, only the newest one, and not after expiry or revoke', async () => {
    const c = connector({ port: own.port });
    const open = (creds: Record<string, string>, password = creds.password!) =>
      connect({ user: creds.username!, password, database: creds.database!, port: own.port });
    const g = spec('db:postgres/schema:public', 'read');
    const first = await c.grant(g);
    const firstSession = await open(first.credentials!);
    expect((await firstSession.query('SELECT x FROM public.t')).rows).toEqual([{ x: 1 }]);
    await expect(open(first.credentials!, 'wrong')).rejects.toMatchObject({ code: '28P01' });

    const second = await c.grant(g);
    await expect(open(first.credentials!)).rejects.toMatchObject({ code: '28P01' });
    await open(second.credentials!);

    // VALID UNTIL is enforced by password authentication itself: defence in depth behind revoke.
    await c.extend(g, second.handle, new Date(Date.now() - 1000));
    await expect(open(second.credentials!)).rejects.toMatchObject({ code: '28P01' });

    await c.revoke(g, second.handle);
    await expect(firstSession.query('SELECT 1')).rejects.toThrow();
    await c.close();
  });
});
