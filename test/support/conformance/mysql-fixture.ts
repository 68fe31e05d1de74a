/**
 * The conformance fixture for the MySQL/MariaDB connector (test/support/connector-conformance.ts)
 * on the test setup's MariaDB (MARIADB_URL). It makes its own database, roles and a least-privileged
 * admin account for the connector, and reads the server as root to judge what the connector did.
 */
import { randomBytes } from 'node:crypto';
import mysql from 'mysql2/promise';
import { createMysqlConnector, temporaryUserName } from '../../../src/connectors/mysql/index.js';
import type { Connector, GrantHandle, GrantSpec } from '../../../src/connectors/types.js';
import type { ConformanceFixture } from '../connector-conformance.js';

export type MysqlMode = 'temporary_user' | 'existing_user';

const ident = (name: string) => mysql.escapeId(name, true);
const lit = (v: Parameters<typeof mysql.escape>[0]) => mysql.escape(v);
const acct = (user: string, host = '%') => `${lit(user)}@${lit(host)}`;
/** MariaDB's user table cannot hold characters beyond the Basic Multilingual Plane. */
const storable = (s: string) => s.replace(/[\u{10000}-\u{10FFFF}]/gu, '');

export interface MysqlFixture extends ConformanceFixture {
  /** Root's connection to the server, for tests that look closer. */
  root: mysql.Connection;
  url: URL;
  names: {
    suffix: string;
    prefix: string;
    database: string;
    eventDatabase: string;
    admin: string;
    readers: string;
    writers: string;
  };
}

export async function createMysqlFixture(opts: { mode?: MysqlMode } = {}): Promise<MysqlFixture> {
  const mode = opts.mode ?? 'temporary_user';
  const url = new URL(process.env.MARIADB_URL ?? 'mysql://root@127.0.0.1:3306');
  const root = await mysql.createConnection({
    uri: url.toString(),
    multipleStatements: true,
    charset: 'UTF8MB4_UNICODE_CI',
  });
  const s = randomBytes(4).toString('hex');
  const names = {
    suffix: s,
    prefix: `lt${s}_`,
    database: `lt_${s}_app`,
    eventDatabase: `lt_${s}_events`,
    admin: `lt_${s}_admin`,
    readers: `lt_${s}_readers`,
    writers: `lt_${s}_writers`,
  };
  const adminPassword = randomBytes(12).toString('hex');
  const db = ident(names.database);
  const allOnDb = `GRANT ALL PRIVILEGES ON ${db}.* TO ${acct(names.admin)} WITH GRANT OPTION`;
  await root.query(
    [
      `CREATE DATABASE ${db}`,
      `CREATE TABLE ${db}.items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(40))`,
      `INSERT INTO ${db}.items (name) VALUES ('one'), ('two')`,
      // What the README asks of Latch's account, and no more.
      `CREATE USER ${acct(names.admin)} IDENTIFIED BY ${lit(adminPassword)}`,
      `GRANT CREATE USER, CONNECTION ADMIN ON *.* TO ${acct(names.admin)}`,
      `GRANT SELECT${mode === 'existing_user' ? ', UPDATE' : ''} ON mysql.* TO ${acct(names.admin)}`,
      allOnDb,
      `GRANT ALL PRIVILEGES ON ${ident(names.eventDatabase)}.* TO ${acct(names.admin)}`,
      `CREATE ROLE ${ident(names.readers)}`,
      `CREATE ROLE ${ident(names.writers)}`,
      `GRANT ${ident(names.readers)} TO ${acct(names.admin)} WITH ADMIN OPTION`,
      `GRANT ${ident(names.writers)} TO ${acct(names.admin)} WITH ADMIN OPTION`,
      `GRANT SELECT ON ${db}.* TO ${ident(names.readers)}`,
      `GRANT SELECT, INSERT, UPDATE, DELETE ON ${db}.* TO ${ident(names.writers)}`,
    ].join(';\n'),
  );

  const integration = {
    type: 'mysql',
    config: {
      host: url.hostname,
      port: Number(url.port),
      user: names.admin,
      mode,
      userPrefix: names.prefix,
      databases: [names.database],
      eventDatabase: names.eventDatabase,
      ...(mode === 'existing_user' ? { roleMap: { read: names.readers, write: names.writers } } : {}),
    },
    secrets: { password: adminPassword },
  };
  const resourceId = `db:${names.database}`;
  const persons: string[] = [];
  const standing: string[] = [];
  let n = 0;
  const rand = () => `${++n}${randomBytes(3).toString('hex')}`;

  async function makePerson(name: string): Promise<string> {
    try {
      await root.query(`CREATE USER ${acct(name)} IDENTIFIED BY 'person-password'`);
      persons.push(name);
    } catch {
      // Too long for the server: the connector must refuse it too.
    }
    return `${name}@example.com`;
  }

  const temporaryUser = (spec: GrantSpec, handle: GrantHandle) =>
    typeof handle.user === 'string' ? handle.user : temporaryUserName(names.prefix, spec.grantId);
  const personOf = (spec: GrantSpec, handle: GrantHandle) =>
    typeof handle.user === 'string'
      ? handle.user
      : spec.requesterEmail.slice(0, spec.requesterEmail.lastIndexOf('@'));
  const roleOf = (spec: GrantSpec) => (spec.permission === 'write' ? names.writers : names.readers);
  const pattern = names.database.replace(/[\\_%]/g, '\\$&');

  const rows = async (sql: string) => (await root.query<mysql.RowDataPacket[]>(sql))[0];

  const fixture: MysqlFixture = {
    root,
    url,
    names,
    integration,
    target: { resourceId, permission: 'read' },
    person: () =>
      mode === 'existing_user' ? makePerson(`lt_${s}_p${rand()}`) : Promise.resolve(`p${rand()}@example.com`),
    connector: (): Connector => createMysqlConnector({ name: `mysql-${s}`, ...integration }),
    async spec(o = {}) {
      const email =
        mode === 'existing_user'
          ? await makePerson(
              o.hostile ? `${storable(o.hostile).toLowerCase()}_${rand()}` : `lt_${s}_p${rand()}`,
            )
          : `p${rand()}@example.com`;
      return {
        grantId: o.hostile ? `${o.hostile}-${rand()}` : `g${s}${rand()}`,
        requestId: `r${rand()}`,
        requesterEmail: email,
        resource: { id: resourceId, name: names.database, kind: 'database' },
        permission: 'read',
        expiresAt: new Date(Date.now() + 3_600_000),
      };
    },
    async present(spec, handle) {
      if (mode === 'temporary_user') {
        const user = temporaryUser(spec, handle);
        return (
          (
            await rows(
              `SELECT 1 FROM mysql.db WHERE User = ${lit(user)} AND Host = '%' AND Db = ${lit(pattern)}`,
            )
          ).length > 0
        );
      }
      return (
        (
          await rows(
            `SELECT 1 FROM mysql.roles_mapping WHERE User = ${lit(personOf(spec, handle))} AND Host = '%' AND Role = ${lit(roleOf(spec))}`,
          )
        ).length > 0
      );
    },
    async snapshot() {
      const roles = lit([names.readers, names.writers]);
      const lines = [
        ...(await rows(
          `SELECT CONCAT('user ', User, '@', Host) AS l FROM mysql.user WHERE User LIKE ${lit(`${names.prefix}%`)}`,
        )),
        ...(await rows(
          `SELECT CONCAT('db ', User, '@', Host, ' ', Db) AS l FROM mysql.db WHERE Db = ${lit(pattern)}`,
        )),
        ...(await rows(
          `SELECT CONCAT('member ', User, '@', Host, ' ', Role) AS l FROM mysql.roles_mapping WHERE Role IN (${roles})`,
        )),
        ...(await rows(
          `SELECT CONCAT('default ', User, '@', Host, ' ', default_role) AS l FROM mysql.user WHERE default_role IN (${roles})`,
        )),
        ...(await rows(
          `SELECT CONCAT('event ', EVENT_NAME) AS l FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ${lit(names.eventDatabase)}`,
        )),
      ];
      return lines.map((r) => String(r.l));
    },
    async failPartWay() {
      if (mode === 'temporary_user') {
        // The user is created, then the GRANT on the database is refused.
        await root.query(
          `REVOKE ALL PRIVILEGES ON ${db}.* FROM ${acct(names.admin)}; REVOKE GRANT OPTION ON ${db}.* FROM ${acct(names.admin)}`,
        );
        return async () => {
          await root.query(allOnDb);
        };
      }
      // The membership is granted, then setting it as the default role is refused.
      await root.query(`REVOKE UPDATE ON mysql.* FROM ${acct(names.admin)}`);
      return async () => {
        await root.query(`GRANT UPDATE ON mysql.* TO ${acct(names.admin)}`);
      };
    },
    async removeBehindBack(spec, handle) {
      if (mode === 'temporary_user')
        await root.query(`DROP USER IF EXISTS ${acct(temporaryUser(spec, handle))}`);
      else await root.query(`REVOKE ${ident(roleOf(spec))} FROM ${acct(personOf(spec, handle))}`);
    },
    async createStanding() {
      const user = `lt_${s}_standing${rand()}`;
      await root.query(`CREATE USER ${acct(user)}`);
      standing.push(user);
      // Temporary users' mode: privileges given by hand; existing users' mode: a membership given by hand.
      if (mode === 'temporary_user') await root.query(`GRANT SELECT ON ${db}.* TO ${acct(user)}`);
      else await root.query(`GRANT ${ident(names.readers)} TO ${acct(user)}`);
      return { account: `${user}@%`, resourceId, permission: 'read' };
    },
    async close() {
      const users = await rows(
        `SELECT User AS u FROM mysql.user WHERE User LIKE ${lit(`${names.prefix}%`)} AND Host = '%'`,
      );
      const drop = [...users.map((r) => String(r.u)), ...persons, ...standing, names.admin];
      await root.query(
        [
          `DROP USER IF EXISTS ${drop.map((u) => acct(u)).join(', ')}`,
          `DROP ROLE IF EXISTS ${ident(names.readers)}, ${ident(names.writers)}`,
          `DROP DATABASE IF EXISTS ${db}`,
          `DROP DATABASE IF EXISTS ${ident(names.eventDatabase)}`,
        ].join(';\n'),
      );
      await root.end();
    },
  };
  return fixture;
}
