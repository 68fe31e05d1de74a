/**
 * What the revoke benchmarks share: the servers (started as the tests start them), N active grants
 * made through the real path (N people submit, the sweeps grant temporary PostgreSQL logins), a
 * second Latch that is the measured worker, and the floor this machine sets for revoking N grants,
 * measured in the same run.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import pg from 'pg';
import { createLatch, type Latch } from '../src/app.js';
import type { Notifier } from '../src/lifecycle/notifier.js';
import { mapLimit, type SweepOptions } from '../src/lifecycle/sweeps/index.js';
import { silentLogger } from '../src/logger.js';
import { connectDatabase, type Database } from '../src/store/db.js';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src/store/embedded-mongo.js';
import type { RequestDoc } from '../src/store/models.js';
import { addPgIntegration, createPgDatabase, flow, person, schemaId } from '../test/support/fixture.js';
import { startPostgres, type PostgresServer } from '../test/support/postgres-server.js';
import { progress, type Stops } from './harness.js';

export const ADMIN = 'bench-admin@example.com';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
export const say = (msg: string) => process.stdout.write(`${msg}\n`);

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

const noopNotifier: Notifier = { notify: async () => {} };

export interface BenchSetup {
  db: Database;
  pgServer: PostgresServer;
  engine: string;
  /** The measured worker: it has done nothing yet. */
  latch: Latch;
  /** The N active requests, one temporary login each. */
  active: RequestDoc[];
  roles: string[];
  /** The target database the grants are on. */
  database: string;
  setupSummary: string;
}

export interface SetupOptions {
  count: number;
  setupConcurrency: number;
  trace?: boolean;
  sweep?: Partial<Omit<SweepOptions, 'owner'>>;
  loop?: { tickMs?: number };
}

export async function setUpActiveGrants(opts: SetupOptions, stops: Stops): Promise<BenchSetup> {
  const t0 = Date.now();
  const [mongo, pgServer] = await Promise.all([
    process.env.MONGODB_URI
      ? Promise.resolve(undefined)
      : startEmbeddedMongo({ stateDir: path.resolve('.latch'), persistent: false, log: progress }),
    startPostgres(),
  ]);
  if (mongo) stops.push(['MongoDB', () => (mongo as EmbeddedMongo).stop()]);
  stops.push(['PostgreSQL', () => pgServer.stop()]);
  const engine = mongo ? mongo.kind : 'MONGODB_URI';
  let uri = process.env.MONGODB_URI ?? mongo!.uri;
  if (opts.trace) uri += (uri.includes('?') ? '&' : '?') + 'monitorCommands=true';
  const db = await connectDatabase(uri, { dbName: `bench_revoke_${randomBytes(4).toString('hex')}` });
  stops.push(['MongoDB connection', () => db.close()]);
  if (process.env.MONGODB_URI) stops.push(['bench database', () => db.conn.dropDatabase()]);

  const encryptionKey = randomBytes(32);
  const latch = createLatch({
    db,
    encryptionKey,
    log: silentLogger,
    envAdmins: [ADMIN],
    notifier: noopNotifier,
    sweep: opts.sweep ?? {},
    loop: opts.loop ?? {},
  });
  stops.push(['Latch', () => latch.close()]);

  const target = await createPgDatabase('bench', pgServer.url);
  // On a shared cluster (PG_URL), roles a failed run left behind go once their database is dropped.
  const roles: string[] = [];
  stops.push(['left-over roles', () => dropRoles(pgServer.url, roles)]);
  stops.push(['PostgreSQL database', () => target.drop()]);
  // Set-up (submitting and granting) runs through its own Latch, like a web process would; the
  // measured one only revokes. Set-up concurrency stays low: every submit and every grant appends to
  // the audit log on its own, and concurrent appenders mostly lose the race for the next seq and retry.
  const setupLatch = createLatch({
    db,
    encryptionKey,
    log: silentLogger,
    envAdmins: [ADMIN],
    notifier: noopNotifier,
    sweep: { concurrency: opts.setupConcurrency },
  });
  stops.push(['set-up Latch', () => setupLatch.close()]);
  await addPgIntegration(setupLatch, 'pg', { databases: [target.database] }, pgServer.url);
  const resourceId = schemaId(target.database);
  await setupLatch.admin.saveFlow(
    person('bench-admin'),
    flow({
      name: 'Bench billing read (auto)',
      targets: [{ integration: 'pg', include: [{ id: resourceId }], permissions: ['read'] }],
      duration: { maxMinutes: 60 },
    }),
  );
  const serversReady = Date.now();
  progress(`servers ready in ${secs(serversReady - t0)} (MongoDB: ${engine})`);

  const { Request } = db.models;
  let submitted = 0;
  await mapLimit(
    Array.from({ length: opts.count }, (_, i) => i),
    opts.setupConcurrency,
    async (i) => {
      await setupLatch.requests.submit(person(`u${i}`), {
        targets: [{ integration: 'pg', resourceId, permission: 'read' }],
        durationMinutes: 60,
        source: 'api',
      });
      if (++submitted % 100 === 0) progress(`submitted ${submitted}/${opts.count}`);
    },
  );
  const submittedAt = Date.now();
  progress(`submitted ${opts.count} in ${secs(submittedAt - serversReady)}; granting`);
  let grantErrors = 0;
  let lastProgress = Date.now();
  for (;;) {
    let s = { granted: 0, grantFailures: 0 };
    try {
      s = await setupLatch.sweeps.tickUrgent();
    } catch (err) {
      // As the sweep loop does: log and go on; what the failed tick claimed is retried after its lease.
      grantErrors++;
      progress(`a granting tick failed (${String(err).split('\n')[0]}); going on`);
    }
    const open = await Request.countDocuments({ state: { $in: ['approved', 'granting'] } });
    if (s.granted + s.grantFailures > 0) {
      lastProgress = Date.now();
      progress(`granted ${s.granted} (failures ${s.grantFailures}), ${open} to go`);
    }
    if (open === 0) break;
    if (Date.now() - lastProgress > 180_000) throw new Error(`granting stalled with ${open} to go`);
    if (s.granted + s.grantFailures === 0) await sleep(200); // retries wait for their backoff or lease
  }
  await setupLatch.close();
  const active = await Request.find({ state: 'active' }).select('_id targets').lean<RequestDoc[]>();
  if (active.length !== opts.count)
    throw new Error(`only ${active.length} of ${opts.count} requests became active`);
  roles.push(...active.map((d) => String(d.targets[0]?.handle?.role)));
  const grantedAt = Date.now();
  progress(`granted ${opts.count} in ${secs(grantedAt - submittedAt)}`);
  return {
    db,
    pgServer,
    engine,
    latch,
    active,
    roles,
    database: target.database,
    setupSummary: `${secs(serversReady - t0)} servers, ${secs(submittedAt - serversReady)} submitting, ${secs(grantedAt - submittedAt)} granting (${grantErrors} failed ticks); concurrency ${opts.setupConcurrency}`,
  };
}

async function dropRoles(pgUrl: string, roles: string[]): Promise<void> {
  if (roles.length === 0) return;
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    const { rows } = await c.query<{ rolname: string }>(
      'SELECT rolname FROM pg_roles WHERE rolname = ANY($1::text[])',
      [roles],
    );
    for (const r of rows) await c.query(`DROP ROLE IF EXISTS ${pg.escapeIdentifier(r.rolname)}`);
  } finally {
    await c.end();
  }
}

/** How many of `roles` still exist on the server. */
export async function rolesLeft(client: pg.Client, roles: string[]): Promise<number> {
  const { rows } = await client.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM pg_roles WHERE rolname = ANY($1::text[])',
    [roles],
  );
  return rows[0]?.n ?? NaN;
}

export interface Floor {
  /** The MongoDB writes and reads a batch of N revokes needs at the least, on scratch data. */
  storeMs: number;
  /** Dropping N logins holding the same privileges, in one transaction, with nothing else around it. */
  postgresMs: number;
  detail: string;
}

/**
 * What this machine needs at the least to revoke N grants, measured now, with Latch not involved:
 * on the store, the fewest operations a batch takes (claim N with one update, read them, record
 * their outcome with one update, append N audit entries with one insert), on documents the size of
 * real requests; on PostgreSQL, N scratch logins holding the grants' privileges as Latch's do
 * (members of one group role), dropped by one transaction. Neither part can be beaten by Latch's own code; their sum is the floor.
 */
export async function measureRevokeFloor(setup: BenchSetup, n: number): Promise<Floor> {
  const { db, pgServer, database } = setup;
  const sample = await db.models.Request.findOne({ _id: setup.active[0]!._id }).lean();
  const scratch = db.conn.db!.collection(`bench_floor_${randomBytes(3).toString('hex')}`);
  const audit = db.conn.db!.collection(`bench_floor_audit_${randomBytes(3).toString('hex')}`);
  const docs = Array.from({ length: n }, (_, i) => {
    const { _id, ...rest } = sample as Record<string, unknown>;
    void _id;
    return { ...rest, k: i, number: 1_000_000_000 + i, state: 'active', openKey: `floor-${i}` };
  });
  // The requests collection's indexes too: every write has to keep them, and they cost more than the
  // documents on the slow store.
  for (const { key, name, v, ns, ...options } of await db.models.Request.collection.indexes()) {
    void v;
    void ns;
    if (name !== '_id_') await scratch.createIndex(key, { name, ...options });
  }
  await scratch.insertMany(docs, { ordered: false });
  const t0 = performance.now();
  // The indexed fields Latch's claim and outcome change, no more.
  const until = new Date(Date.now() + 6_000);
  await scratch.updateMany(
    { state: 'active' },
    { $set: { state: 'revoking', 'lease.owner': 'floor', 'lease.until': until, nextAttemptAt: new Date() } },
  );
  await scratch.find({ state: 'revoking' }).toArray();
  await scratch.updateMany(
    { state: 'revoking' },
    {
      $set: { state: 'expired', endedAt: new Date(), 'lease.until': new Date(0) },
      $unset: { openKey: 1, warnAt: 1, nextAttemptAt: 1 },
    },
  );
  await audit.insertMany(
    Array.from({ length: n }, (_, i) => ({
      seq: i,
      action: 'access.expired',
      at: new Date(),
      hash: 'x'.repeat(64),
    })),
    { ordered: false },
  );
  const storeMs = performance.now() - t0;
  await Promise.all([scratch.drop(), audit.drop()]);

  const client = new pg.Client({ connectionString: pgServer.url.replace(/\/[^/]*$/, `/${database}`) });
  await client.connect();
  try {
    const tag = randomBytes(2).toString('hex');
    const names = Array.from({ length: n }, (_, i) => `bench_floor_${i}_${tag}`);
    const group = pg.escapeIdentifier(`bench_floor_group_${tag}`);
    const list = names.map((r) => pg.escapeIdentifier(r)).join(', ');
    // As Latch grants: the privileges on a group role, the logins members of it.
    await client.query(
      [
        `CREATE ROLE ${group} NOLOGIN`,
        `GRANT USAGE ON SCHEMA billing TO ${group}`,
        `GRANT SELECT ON ALL TABLES IN SCHEMA billing TO ${group}`,
        ...names.map((r) => `CREATE ROLE ${pg.escapeIdentifier(r)} LOGIN IN ROLE ${group}`),
      ].join(';\n'),
    );
    const t1 = performance.now();
    await client.query(`DROP OWNED BY ${list}; DROP ROLE ${list}`);
    const postgresMs = performance.now() - t1;
    await client.query(`DROP OWNED BY ${group}; DROP ROLE ${group}`);
    return {
      storeMs,
      postgresMs,
      detail: `store ${Math.round(storeMs)} ms (2 updates of ${n} on the requests' indexes, 1 read, 1 insert of ${n}) + PostgreSQL ${Math.round(postgresMs)} ms (DROP OWNED + DROP ROLE of ${n} group members in one transaction)`,
    };
  } finally {
    await client.end();
  }
}
