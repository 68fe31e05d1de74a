/**
 * Starts the servers every test file shares and hands their addresses to the test workers through
 * the environment: MongoDB as docs/ARCHITECTURE.md ("Storage") says (MONGODB_URI, else mongodb-memory-server, else
 * SecantusDB) and PostgreSQL (PG_URL, else a throwaway cluster).
 */
import path from 'node:path';
import { startEmbeddedMongo, type EmbeddedMongo } from '../../src/store/embedded-mongo.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';
import { startLdap, type LdapServer } from './ldap-server.js';

declare global {
  var __latchServers: { mongo?: EmbeddedMongo; pg?: PostgresServer; ldap?: LdapServer } | undefined;
}

export async function startServers(): Promise<void> {
  const servers: NonNullable<typeof globalThis.__latchServers> = {};
  globalThis.__latchServers = servers;
  const log = (m: string) => process.stderr.write(`[test setup] ${m}\n`);
  const [mongo, pg, ldap] = await Promise.all([
    process.env.MONGODB_URI
      ? Promise.resolve(undefined)
      : startEmbeddedMongo({
          stateDir: path.resolve('.latch'),
          persistent: false,
          prefer: process.env.LATCH_TEST_MONGO === 'secantusdb' ? 'secantusdb' : undefined,
          log,
        }),
    startPostgres(),
    startLdap(),
  ]);
  if (mongo) {
    servers.mongo = mongo;
    process.env.MONGODB_URI = mongo.uri;
    log(`MongoDB: ${mongo.kind} at ${mongo.uri}`);
  } else {
    log(`MongoDB: MONGODB_URI`);
  }
  servers.pg = pg;
  process.env.PG_URL = pg.url;
  process.env.LATCH_TEST_PG_DATA = pg.dataDir ?? '';
  log(`PostgreSQL: ${pg.url}`);
  servers.ldap = ldap;
  process.env.LDAP_URL = ldap.url;
  process.env.LDAP_TEST = JSON.stringify({ ...ldap, stop: undefined });
  log(`OpenLDAP: ${ldap.url}`);
}
