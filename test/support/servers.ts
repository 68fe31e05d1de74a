/**
 * Starts the servers every test file shares and hands their addresses to the test workers through
 * the environment: MongoDB as docs/ARCHITECTURE.md ("Storage") says (MONGODB_URI, else mongodb-memory-server, else
 * SecantusDB), PostgreSQL (PG_URL, else a throwaway cluster), Redis (REDIS_URL, else a throwaway
 * redis-server), MariaDB (MARIADB_URL, else a throwaway mariadbd) and OpenLDAP (LDAP_URL + LDAP_TEST,
 * else a throwaway slapd).
 */
import path from 'node:path';
import { startEmbeddedMongo, type EmbeddedMongo } from '../../src/store/embedded-mongo.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';
import { startRedis, type RedisServer } from './redis-server.js';
import { startMariadb, type MariadbServer } from './mariadb-server.js';
import { startLdap, type LdapServer } from './ldap-server.js';

interface Servers {
  mongo?: EmbeddedMongo;
  pg?: PostgresServer;
  redis?: RedisServer;
  mariadb?: MariadbServer;
  ldap?: LdapServer;
}

declare global {
  var __latchServers: Servers | undefined;
}

export async function startServers(): Promise<void> {
  const servers: Servers = {};
  globalThis.__latchServers = servers;
  const log = (m: string) => process.stderr.write(`[test setup] ${m}\n`);
  const [mongo, pg, redis, mariadb, ldap] = await Promise.all([
    process.env.MONGODB_URI
      ? Promise.resolve(undefined)
      : startEmbeddedMongo({
          stateDir: path.resolve('.latch'),
          persistent: false,
          prefer: process.env.LATCH_TEST_MONGO === 'secantusdb' ? 'secantusdb' : undefined,
          log,
        }),
    startPostgres(),
    startRedis(),
    startMariadb(),
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
  servers.redis = redis;
  process.env.REDIS_URL = redis.url;
  log(`Redis: ${redis.url.replace(/:[^:@/]*@/, ':***@')}`);
  servers.mariadb = mariadb;
  process.env.MARIADB_URL = mariadb.url;
  log(`MariaDB: ${mariadb.url}`);
  servers.ldap = ldap;
  process.env.LDAP_URL = ldap.url;
  process.env.LDAP_TEST = JSON.stringify({ ...ldap, stop: undefined });
  log(`OpenLDAP: ${ldap.url}`);
}

/** Stops what startServers started (benchmarks; the tests' global teardown does the same). */
export async function stopServers(): Promise<void> {
  const servers = globalThis.__latchServers ?? {};
  await Promise.all(Object.values(servers).map((s) => s?.stop()));
}
