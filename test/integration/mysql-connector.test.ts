import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import mysql from 'mysql2/promise';
import {
  createMysqlConnector,
  expiryEventName,
  mysqlConfigSchema,
  temporaryUserName,
  validateMysqlSettings,
  type MysqlConnector,
} from '../../src/connectors/mysql/index.js';
import { PartialGrantError, type Connector, type GrantSpec } from '../../src/connectors/types.js';
import { scrub } from '../../src/secret-scrubber.js';
import { until } from '../support/wait.js';
import { startMariadb, type MariadbServer } from '../support/mariadb-server.js';
import { createMysqlFixture, type MysqlFixture } from '../support/conformance/mysql-fixture.js';

const ident = (name: string) => mysql.escapeId(name, true);
const lit = (v: string) => mysql.escape(v);
const acct = (user: string) => `${lit(user)}@'%'`;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

// The conformance suites run from test/integration/connector-conformance.test.ts.

describe('MySQL/MariaDB connector', () => {
  let tf: MysqlFixture;
  let ef: MysqlFixture;
  let root: mysql.Connection;
  const sessions: mysql.Connection[] = [];
  const connectors: Connector[] = [];
  const extraDbs: string[] = [];
  const extraUsers: string[] = [];

  beforeAll(async () => {
    [tf, ef] = await Promise.all([createMysqlFixture(), createMysqlFixture({ mode: 'existing_user' })]);
    root = tf.root;
  });
  afterAll(async () => {
    await Promise.allSettled(connectors.map((c) => c.close()));
    await Promise.allSettled(sessions.map((c) => c.end()));
    if (extraUsers.length)
      await root.query(`DROP USER IF EXISTS ${extraUsers.map((u) => acct(u)).join(', ')}`);
    for (const db of extraDbs) await root.query(`DROP DATABASE IF EXISTS ${ident(db)}`);
    await Promise.allSettled([tf?.close(), ef?.close()]);
  });

  function connector(
    f: MysqlFixture,
    config: Record<string, unknown> = {},
    secrets?: Record<string, string>,
  ): MysqlConnector {
    const c = createMysqlConnector({
      name: 'mysql-test',
      type: 'mysql',
      config: { ...f.integration.config, ...config },
      secrets: secrets ?? f.integration.secrets,
    }) as MysqlConnector;
    connectors.push(c);
    return c;
  }

  async function open(opts: {
    user: string;
    password?: string;
    database?: string;
  }): Promise<mysql.Connection> {
    const c = await mysql.createConnection({ host: tf.url.hostname, port: Number(tf.url.port), ...opts });
    // A killed session makes the connection emit 'error'; unhandled, it would crash the worker.
    c.on('error', () => {});
    sessions.push(c);
    return c;
  }
  const openWith = (creds: Record<string, string> | undefined) =>
    open({ user: creds!.username!, password: creds!.password!, database: creds!.database! });

  const rows = async (sql: string) => (await root.query<mysql.RowDataPacket[]>(sql))[0];
  const userExists = async (user: string) =>
    (await rows(`SELECT 1 FROM mysql.user WHERE User = ${lit(user)}`)).length > 0;
  const eventAt = async (f: MysqlFixture, user: string) =>
    (
      await rows(
        `SELECT UNIX_TIMESTAMP(EXECUTE_AT) AS at FROM information_schema.EVENTS
         WHERE EVENT_SCHEMA = ${lit(f.names.eventDatabase)} AND EVENT_NAME = ${lit(expiryEventName(user))}`,
      )
    )[0]?.at as number | undefined;

  let n = 0;
  function spec(f: MysqlFixture, permission = 'read', extra: Partial<GrantSpec> = {}): GrantSpec {
    n += 1;
    return {
      grantId: `t${f.names.suffix}${n}`,
      requestId: `r${n}`,
      requesterEmail: 'someone@example.com',
      resource: { id: `db:${f.names.database}`, name: f.names.database, kind: 'database' },
      permission,
      expiresAt: new Date(Date.now() + 3_600_000),
      ...extra,
    };
  }

  describe('settings', () => {
    it('applies defaults to a config with only the required fields', () => {
      expect(mysqlConfigSchema.parse({ host: 'db', user: 'latch' })).toEqual({
        host: 'db',
        user: 'latch',
        port: 3306,
        ssl: false,
        mode: 'temporary_user',
        userPrefix: 'latch_',
        roleMap: {},
        loginMapping: 'email_localpart',
        loginHost: '%',
        expiryEvents: true,
        eventDatabase: 'latch',
        poolSize: 10,
      });
      expect(validateMysqlSettings({ host: 'db', user: 'latch' }, {})).toEqual([]);
    });

    it('reports bad settings by field, and the factory refuses them naming the integration', () => {
      const issues = validateMysqlSettings(
        { user: 'latch', mode: 'sometimes', userPrefix: 'Bad-Prefix', hots: 'x', roleMap: { read: 'r🙂' } },
        { password: 'p', pasword: 'typo' },
      );
      const at = issues.map((i) => i.path.join('.'));
      expect(at).toEqual(
        expect.arrayContaining([
          'config.host',
          'config.mode',
          'config.userPrefix',
          'config.hots',
          'config.roleMap.read',
          'secrets.pasword',
        ]),
      );
      expect(issues.find((i) => i.path.join('.') === 'config.roleMap.read')?.message).toMatch(/emoji/);
      expect(() =>
        createMysqlConnector({ name: 'bad', type: 'mysql', config: { user: 'x' }, secrets: {} }),
      ).toThrow(/invalid config for MySQL integration bad[\s\S]*host/);
    });
  });

  describe('health', () => {
    it('is ok for the fixture admin, and says how temporary users expire', async () => {
      const h = await connector(tf).health();
      expect(h).toEqual({
        ok: true,
        message: expect.stringMatching(/^MariaDB 1\d\.\d+\.\d+ at .*expire by EVENT/),
      });
    });

    it('is not ok, without throwing, for a wrong password, a closed port, a weak account or a missing role', async () => {
      const wrong = await connector(tf, {}, { password: 'wrong-password' }).health();
      expect(wrong).toMatchObject({ ok: false, message: expect.stringMatching(/Access denied/) });
      const closed = await connector(tf, { port: await freePort() }).health();
      expect(closed).toMatchObject({ ok: false, message: expect.stringMatching(/ECONNREFUSED|connect/) });

      const weak = `lt_${tf.names.suffix}_weak`;
      extraUsers.push(weak);
      await root.query(
        `CREATE USER ${acct(weak)} IDENTIFIED BY 'weak-password'; GRANT SELECT ON mysql.* TO ${acct(weak)}`,
      );
      const notAdmin = await connector(tf, { user: weak }, { password: 'weak-password' }).health();
      expect(notAdmin).toMatchObject({ ok: false, message: expect.stringMatching(/CREATE USER/) });

      const missing = await connector(ef, {
        roleMap: { read: ef.names.readers, admin: 'no_such_role' },
      }).health();
      expect(missing).toMatchObject({
        ok: false,
        message: expect.stringMatching(/mapped roles missing: no_such_role/),
      });
    });
  });

  describe('discovery', () => {
    it('lists the databases the admin can see, never the system ones or the event database', async () => {
      const odd = `lt_${tf.names.suffix} o'dd "db".x`;
      extraDbs.push(odd);
      await root.query(
        `CREATE DATABASE ${ident(odd)}; CREATE TABLE ${ident(odd)}.t (x INT); INSERT INTO ${ident(odd)}.t VALUES (42);
         GRANT ALL PRIVILEGES ON ${ident(odd.replace(/[\\_%]/g, '\\$&'))}.* TO ${acct(tf.names.admin)} WITH GRANT OPTION`,
      );
      const c = connector(tf, { databases: undefined });
      await c.grant(spec(tf)).then((g) => c.revoke(spec(tf), g.handle)); // makes the event database exist
      const all = await c.discover();
      const ids = all.map((r) => r.id);
      expect(ids).toEqual(expect.arrayContaining([`db:${tf.names.database}`, `db:${odd}`]));
      expect(ids.filter((id) => /^db:(mysql|information_schema|performance_schema|sys)$/.test(id))).toEqual(
        [],
      );
      expect(ids).not.toContain(`db:${tf.names.eventDatabase}`);
      expect(all.find((r) => r.id === `db:${odd}`)).toEqual({
        id: `db:${odd}`,
        name: odd,
        kind: 'database',
        permissions: ['read', 'write', 'admin'],
      });
      expect((await connector(tf).discover()).map((r) => r.id)).toEqual([`db:${tf.names.database}`]);

      // A database named with quotes and dots is granted on exactly.
      const g = spec(tf, 'read', { resource: { id: `db:${odd}`, name: odd, kind: 'database' } });
      const granted = await c.grant(g);
      const session = await openWith(granted.credentials);
      expect((await session.query<mysql.RowDataPacket[]>('SELECT x FROM t'))[0]).toEqual([{ x: 42 }]);
      await c.revoke(g, granted.handle);
    });
  });

  describe('temporary users', () => {
    it('read: the credentials log in and can SELECT but not INSERT; the password is masked in logs', async () => {
      const c = connector(tf);
      const g = spec(tf, 'read');
      const { handle, credentials } = await c.grant(g);
      const user = temporaryUserName(tf.names.prefix, g.grantId);
      expect(handle).toEqual({
        mode: 'temporary_user',
        user,
        database: tf.names.database,
        permission: 'read',
      });
      expect(user.length).toBeLessThanOrEqual(32);
      expect(credentials).toEqual({
        username: user,
        password: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/),
        host: tf.url.hostname,
        port: tf.url.port,
        database: tf.names.database,
      });
      expect(scrub(`password=${credentials!.password}`)).not.toContain(credentials!.password);
      const session = await openWith(credentials);
      expect((await session.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM items'))[0]).toEqual([
        { n: 2 },
      ]);
      await expect(session.query("INSERT INTO items (name) VALUES ('x')")).rejects.toMatchObject({
        errno: 1142,
      });
      await c.revoke(g, handle);
    });

    it('write can change rows but not tables; admin can create tables', async () => {
      const c = connector(tf);
      const w = spec(tf, 'write');
      const writer = await c.grant(w);
      const ws = await openWith(writer.credentials);
      await ws.query("INSERT INTO items (name) VALUES ('three')");
      await ws.query("UPDATE items SET name = 'drei' WHERE name = 'three'");
      await ws.query("DELETE FROM items WHERE name = 'drei'");
      await expect(ws.query('CREATE TABLE mine (x INT)')).rejects.toMatchObject({ errno: 1142 });
      const a = spec(tf, 'admin');
      const admin = await c.grant(a);
      const as = await openWith(admin.credentials);
      await as.query('CREATE TABLE made_by_temp (x INT)');
      await as.query('DROP TABLE made_by_temp');
      await c.revokeMany([
        { spec: w, handle: writer.handle },
        { spec: a, handle: admin.handle },
      ]);
    });

    it('grants on the database alone: `_` in its name is not a wildcard', async () => {
      // lt_<suffix>_app as a pattern would also match ltX<suffix>Xapp.
      const twin = tf.names.database.replace(/_/g, 'X');
      extraDbs.push(twin);
      await root.query(`CREATE DATABASE ${ident(twin)}; CREATE TABLE ${ident(twin)}.secret (x INT)`);
      const c = connector(tf);
      const g = spec(tf, 'admin');
      const { handle, credentials } = await c.grant(g);
      const session = await openWith(credentials);
      await expect(session.query(`SELECT * FROM ${ident(twin)}.secret`)).rejects.toMatchObject({
        errno: 1142,
      });
      await c.revoke(g, handle);
    });

    it('revoke kills live sessions and drops the user; harmless twice; found by grantId without a handle', async () => {
      const c = connector(tf);
      const g = spec(tf, 'read');
      const { handle, credentials } = await c.grant(g);
      const s1 = await openWith(credentials);
      const s2 = await openWith(credentials);
      await s1.query('SELECT 1');
      await c.revoke(g, handle);
      await expect(s1.query('SELECT 1')).rejects.toThrow();
      await expect(s2.query('SELECT 1')).rejects.toThrow();
      expect(await userExists(handle.user as string)).toBe(false);
      expect(await c.check(g, handle)).toBe(false);
      await expect(c.revoke(g, handle)).resolves.toBeUndefined();
      await expect(c.revoke(g, {})).resolves.toBeUndefined();
      await expect(openWith(credentials)).rejects.toMatchObject({ errno: 1045 });
    });

    it('granting twice issues new working credentials; the expiry EVENT follows extend, and goes with null', async () => {
      const c = connector(tf);
      const g = spec(tf, 'read');
      const first = await c.grant(g);
      const second = await c.grant(g);
      expect(second.handle).toEqual(first.handle);
      await expect(openWith(first.credentials)).rejects.toMatchObject({ errno: 1045 });
      await openWith(second.credentials);
      const user = second.handle.user as string;
      expect(Number(await eventAt(tf, user))).toBe(Math.ceil(g.expiresAt!.getTime() / 1000));

      const later = new Date(Date.now() + 7_200_000);
      await c.extend(g, second.handle, later);
      expect(Number(await eventAt(tf, user))).toBe(Math.ceil(later.getTime() / 1000));
      await c.extend(g, second.handle, null);
      expect(await eventAt(tf, user)).toBeUndefined();
      await c.extend(g, second.handle, later);
      expect(Number(await eventAt(tf, user))).toBe(Math.ceil(later.getTime() / 1000));
      await c.revoke(g, second.handle);
      expect(await eventAt(tf, user)).toBeUndefined();
      await expect(c.extend(g, second.handle, later)).rejects.toThrow(/no longer exists/);
    });

    it('the expiry EVENT drops the user and kills its sessions by itself at expiry', async () => {
      const c = connector(tf);
      const g = spec(tf, 'read', { expiresAt: new Date(Date.now() + 2_000) });
      const { handle, credentials } = await c.grant(g);
      const session = await openWith(credentials);
      await session.query('SELECT 1');
      await until(
        'the expiry event to drop the user',
        async () => ((await userExists(handle.user as string)) ? undefined : true),
        {
          tries: 200,
          everyMs: 100,
        },
      );
      await expect(session.query('SELECT 1')).rejects.toThrow();
      expect(await c.check(g, handle)).toBe(false);
      await c.revoke(g, handle);
    });

    it('with event_scheduler off, grants make no EVENT and health says expiry is revoke only', async () => {
      const c = connector(tf);
      await root.query('SET GLOBAL event_scheduler = OFF');
      try {
        const g = spec(tf, 'read');
        const { handle } = await c.grant(g);
        expect(await eventAt(tf, handle.user as string)).toBeUndefined();
        await c.extend(g, handle, new Date(Date.now() + 60_000));
        expect(await eventAt(tf, handle.user as string)).toBeUndefined();
        expect((await c.health()).message).toMatch(/revoke only \(event_scheduler OFF\)/);
        await c.revoke(g, handle);
      } finally {
        await root.query('SET GLOBAL event_scheduler = ON');
      }
      // expiryEvents: false never makes one.
      const off = connector(tf, { expiryEvents: false });
      const g2 = spec(tf, 'read');
      const { handle: h2 } = await off.grant(g2);
      expect(await eventAt(tf, h2.user as string)).toBeUndefined();
      await off.revoke(g2, h2);
    });

    it('refuses handles naming root, its admin account, or a user without its prefix', async () => {
      const c = connector(tf);
      const g = spec(tf);
      for (const user of ['root', tf.names.admin, 'someone_else', `${tf.names.prefix}Upper`]) {
        await expect(c.revoke(g, { mode: 'temporary_user', user })).rejects.toThrow(/refusing/);
      }
      expect(await c.revokeMany([{ spec: g, handle: { mode: 'temporary_user', user: 'root' } }])).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/refusing/) }),
      ]);
      await expect(
        c.revoke(g, { mode: 'standing_privileges', user: 'root', host: 'localhost', db: tf.names.database }),
      ).rejects.toThrow(/built-in/);
      await expect(
        c.revoke(g, { mode: 'standing_privileges', user: 'bob', host: '%', db: 'mysql' }),
      ).rejects.toThrow(/refusing/);
      expect(await userExists('root')).toBe(true);
    });

    it('names what it left when it cannot clean up, so the revoke path can remove it', async () => {
      const c = connector(tf, { databases: undefined });
      const g = spec(tf, 'read', {
        resource: { id: `db:lt_${tf.names.suffix}_missing`, name: 'x', kind: 'database' },
      });
      const user = temporaryUserName(tf.names.prefix, g.grantId);
      // The GRANT is refused (the admin holds nothing there), then the clean-up loses its connection.
      const pool = (c as unknown as { ctx: { pool: mysql.Pool } }).ctx.pool;
      const query = pool.query.bind(pool);
      pool.query = ((sql: unknown, ...rest: unknown[]) =>
        typeof sql === 'string' && sql.startsWith('DROP USER')
          ? Promise.reject(new Error('connection lost'))
          : (query as (...a: unknown[]) => unknown)(sql, ...rest)) as typeof pool.query;
      let err: unknown;
      try {
        await c.grant(g);
      } catch (e) {
        err = e;
      } finally {
        pool.query = query;
      }
      expect(err).toBeInstanceOf(PartialGrantError);
      expect((err as Error).message).toMatch(/Access denied.*could not be removed yet \(connection lost\)/);
      expect(await userExists(user)).toBe(true);
      await c.revoke(g, (err as PartialGrantError).handle);
      expect(await userExists(user)).toBe(false);
    });

    it('lists hand-made privileges as standing access; revoking one takes them and keeps the account', async () => {
      const c = connector(tf);
      const bob = `lt_${tf.names.suffix}_bob`;
      extraUsers.push(bob);
      const db = ident(tf.names.database);
      await root.query(
        `CREATE USER ${acct(bob)} IDENTIFIED BY 'bob-password'; GRANT SELECT, INSERT ON ${db}.* TO ${acct(bob)};
         GRANT CREATE ON ${db}.* TO 'root'@'localhost'`,
      );
      const g = spec(tf, 'admin');
      const granted = await c.grant(g);
      const entries = await c.listAccess();
      expect(entries.find((e) => e.key === c.accessKey(granted.handle))).toMatchObject({
        resourceId: `db:${tf.names.database}`,
        permission: 'admin',
        madeByLatch: true,
      });
      const bobs = entries.find((e) => e.account === `${bob}@%`);
      expect(bobs).toMatchObject({
        permission: 'write',
        madeByLatch: false,
        resourceId: `db:${tf.names.database}`,
      });
      // Neither root nor the admin account is ever listed, so never offered for removal.
      expect(entries.filter((e) => /^(root|lt_\w+_admin)@/.test(e.account))).toEqual([]);

      const session = await open({ user: bob, password: 'bob-password', database: tf.names.database });
      await c.revoke(spec(tf, 'write'), bobs!.handle);
      await expect(session.query('SELECT 1')).rejects.toThrow();
      expect(await userExists(bob)).toBe(true);
      expect(await rows(`SELECT 1 FROM mysql.db WHERE User = ${lit(bob)}`)).toEqual([]);
      await c.revoke(g, granted.handle);
    });
  });

  describe('existing users', () => {
    const person = async (name: string, defaultRole?: string) => {
      const user = `lt_${ef.names.suffix}_${name}`;
      extraUsers.push(user);
      await root.query(`CREATE USER ${acct(user)} IDENTIFIED BY 'person-password'`);
      if (defaultRole) {
        await root.query(
          `GRANT ${ident(defaultRole)} TO ${acct(user)}; SET DEFAULT ROLE ${ident(defaultRole)} FOR ${acct(user)}`,
        );
      }
      return user;
    };
    const defaultRoleOf = async (user: string) =>
      String((await rows(`SELECT default_role AS r FROM mysql.user WHERE User = ${lit(user)}`))[0]?.r ?? '');

    it('grants the role as the default role, so a new session can read at once; revoke clears it and kills sessions', async () => {
      const c = connector(ef);
      const alice = await person('alice');
      const g = spec(ef, 'read', { requesterEmail: `${alice.toUpperCase()}@Example.com` });
      const before = await open({ user: alice, password: 'person-password' });
      await expect(before.query(`SELECT * FROM ${ident(ef.names.database)}.items`)).rejects.toMatchObject({
        errno: 1142,
      });

      const result = await c.grant(g);
      expect(result).toEqual({
        handle: {
          mode: 'existing_user',
          user: alice,
          host: '%',
          role: ef.names.readers,
          database: ef.names.database,
          shareKey: `member:${JSON.stringify([alice, '%', ef.names.readers])}`,
        },
      });
      expect(c.accessKey(result.handle)).toBe(result.handle.shareKey);
      expect(await defaultRoleOf(alice)).toBe(ef.names.readers);
      const session = await open({ user: alice, password: 'person-password', database: ef.names.database });
      expect((await session.query<mysql.RowDataPacket[]>('SELECT COUNT(*) AS n FROM items'))[0]).toEqual([
        { n: 2 },
      ]);
      await c.extend(g, result.handle, new Date(Date.now() + 60_000));

      await c.revoke(g, result.handle);
      await expect(session.query('SELECT 1')).rejects.toThrow();
      expect(await defaultRoleOf(alice)).toBe('');
      expect(await c.check(g, result.handle)).toBe(false);
      await expect(c.revoke(g, result.handle)).resolves.toBeUndefined();
    });

    it('keeps a default role the account already has (the role is then enabled with SET ROLE)', async () => {
      const c = connector(ef);
      const carol = await person('carol', ef.names.readers);
      const g = spec(ef, 'write', { requesterEmail: `${carol}@example.com` });
      const { handle } = await c.grant(g);
      expect(await defaultRoleOf(carol)).toBe(ef.names.readers);
      const session = await open({ user: carol, password: 'person-password', database: ef.names.database });
      await session.query(`SET ROLE ${ident(ef.names.writers)}`);
      await session.query("INSERT INTO items (name) VALUES ('by carol')");
      await c.revoke(g, handle);
      expect(await defaultRoleOf(carol)).toBe(ef.names.readers);
      expect(await rows(`SELECT Role FROM mysql.roles_mapping WHERE User = ${lit(carol)}`)).toEqual([
        { Role: ef.names.readers },
      ]);
    });

    it('refuses clearly, changing nothing: no account, no mapped role, a missing role, the admin account', async () => {
      await expect(
        connector(ef).grant(spec(ef, 'read', { requesterEmail: 'nobody-here@example.com' })),
      ).rejects.toThrow(/account nobody-here@% does not exist/);
      await expect(
        connector(ef).grant(spec(ef, 'admin', { requesterEmail: 'x@example.com' })),
      ).rejects.toThrow(/no MySQL role is mapped for permission admin/);
      const dave = await person('dave');
      const missingRole = connector(ef, { roleMap: { read: `lt_${ef.names.suffix}_gone` } });
      await expect(
        missingRole.grant(spec(ef, 'read', { requesterEmail: `${dave}@example.com` })),
      ).rejects.toThrow(/does not exist/);
      expect(await defaultRoleOf(dave)).toBe('');
      const toAdmin = connector(ef, { loginMapping: { map: { 'boss@example.com': ef.names.admin } } });
      await expect(toAdmin.grant(spec(ef, 'read', { requesterEmail: 'boss@example.com' }))).rejects.toThrow(
        /admin user/,
      );
    });

    it('lists memberships of the mapped roles with the email the mapping knows', async () => {
      const erin = await person('erin');
      const c = connector(ef, { loginMapping: { map: { 'erin@example.com': erin } } });
      const g = spec(ef, 'read', { requesterEmail: 'Erin@example.com' });
      const { handle } = await c.grant(g);
      const entry = (await c.listAccess()).find((e) => e.key === c.accessKey(handle));
      expect(entry).toMatchObject({
        account: `${erin}@%`,
        email: 'erin@example.com',
        permission: 'read',
        resourceId: `db:${ef.names.database}`,
      });
      expect(
        await c.revokeMany([
          { spec: g, handle },
          { spec: spec(ef, 'read', { requesterEmail: 'nobody@example.com' }), handle: {} },
        ]),
      ).toEqual([
        null,
        expect.objectContaining({
          message: expect.stringMatching(/no MySQL account is mapped for nobody@example.com/),
        }),
      ]);
      expect(await c.check(g, handle)).toBe(false);
    });
  });

  describe('a server whose sql_mode has NO_BACKSLASH_ESCAPES', () => {
    let own: MariadbServer;
    beforeAll(async () => {
      own = await startMariadb({ private: true, args: ['--sql-mode=NO_BACKSLASH_ESCAPES'] });
    });
    afterAll(async () => {
      await own?.stop();
    });

    it("still quotes names exactly: a role is granted to o'b\\x and taken back", async () => {
      const ownRoot = await mysql.createConnection({ uri: own.url, multipleStatements: true });
      sessions.push(ownRoot);
      // Written for this sql_mode by hand: quotes doubled, backslashes literal.
      await ownRoot.query(
        "CREATE DATABASE app; CREATE USER 'o''b\\x'@'%'; CREATE ROLE readers; GRANT SELECT ON app.* TO readers",
      );
      const c = createMysqlConnector({
        name: 'nbe',
        type: 'mysql',
        config: {
          host: '127.0.0.1',
          port: own.port,
          user: 'root',
          mode: 'existing_user',
          roleMap: { read: 'readers' },
          loginMapping: 'email_localpart',
        },
        secrets: {},
      });
      connectors.push(c);
      const g: GrantSpec = {
        ...spec(tf, 'read', { requesterEmail: "o'b\\x@example.com" }),
        resource: { id: 'db:app', name: 'app', kind: 'database' },
      };
      const { handle } = await c.grant(g);
      const members = async () =>
        (
          await ownRoot.query<mysql.RowDataPacket[]>(
            "SELECT User FROM mysql.roles_mapping WHERE Role = 'readers' AND Host = '%'",
          )
        )[0];
      expect(await members()).toEqual([{ User: "o'b\\x" }]);
      await c.revoke(g, handle);
      expect(await members()).toEqual([]);
    });
  });
});
