/**
 * Starts the servers every test file shares and hands their addresses to the test workers through
 * the environment: MongoDB as docs/ARCHITECTURE.md ("Storage") says (MONGODB_URI, else mongodb-memory-server, else
 * SecantusDB), PostgreSQL (PG_URL, else a throwaway cluster) and MariaDB (MARIADB_URL, else a
 * throwaway server).
 */
import path from 'node:path';
import { startEmbeddedMongo, type EmbeddedMongo } from '../../src/store/embedded-mongo.js';
import { startPostgres, type PostgresServer } from './postgres-server.js';
import { startMariadb, type MariadbServer } from './mariadb-server.js';

declare global {
  var __latchServers: { mongo?: EmbeddedMongo; pg?: PostgresServer; mariadb?: MariadbServer } | undefined;
}

export async function startServers(): Promise<void> {
  const servers: NonNullable<typeof globalThis.__latchServers> = {};
  globalThis.__latchServers = servers;
  const log = (m: string) => process.stderr.write(`[test setup] ${m}\n`);
  const [mongo, pg, mariadb] = await Promise.all([
    process.env.MONGODB_URI
      ? Promise.resolve(undefined)
      : startEmbeddedMongo({
          stateDir: path.resolve('.latch'),
          persistent: false,
          prefer: process.env.LATCH_TEST_MONGO === 'secantusdb' ? 'secantusdb' : undefined,
          log,
        }),
    startPostgres(),
    startMariadb(),
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
  servers.mariadb = mariadb;
  process.env.MARIADB_URL = mariadb.url;
  log(`MariaDB: ${mariadb.url}`);
}
