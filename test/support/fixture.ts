/**
 * A Latch instance for one test file: its own MongoDB database on the shared test server, a
 * recording notifier, a controllable clock, and a PostgreSQL integration on the shared test cluster.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createLatch, CONNECTOR_FACTORIES, type Latch, type LatchOptions } from '../../src/app.js';
import type { FlowInput } from '../../src/domain/flow.js';
import type { Identity } from '../../src/domain/identity.js';
import type { LatchError } from '../../src/lifecycle/errors.js';
import type { LatchEvent, Notifier } from '../../src/lifecycle/notifier.js';
import { silentLogger } from '../../src/logger.js';
import { connectDatabase, type Database } from '../../src/store/db.js';

export class RecordingNotifier implements Notifier {
  events: LatchEvent[] = [];
  async notify(event: LatchEvent): Promise<void> {
    this.events.push(event);
  }
  of<T extends LatchEvent['type']>(type: T, requestId?: string): Extract<LatchEvent, { type: T }>[] {
    return this.events.filter(
      (e): e is Extract<LatchEvent, { type: T }> =>
        e.type === type && (!requestId || e.request.id === requestId),
    );
  }
}

export class TestClock {
  constructor(public current = new Date()) {}
  now = (): Date => this.current;
  advance(ms: number): void {
    this.current = new Date(this.current.getTime() + ms);
  }
}

export interface Fixture {
  latch: Latch;
  db: Database;
  notifier: RecordingNotifier;
  clock: TestClock;
  encryptionKey: Buffer;
  dbName: string;
  close(): Promise<void>;
}

export async function createFixture(
  name: string,
  opts: Partial<LatchOptions> & { dbName?: string } = {},
): Promise<Fixture> {
  const dbName = opts.dbName ?? `t_${name}_${randomBytes(4).toString('hex')}`;
  const db = await connectDatabase(process.env.MONGODB_URI!, { dbName });
  const notifier = new RecordingNotifier();
  const clock = new TestClock();
  const encryptionKey = opts.encryptionKey ?? randomBytes(32);
  const latch = createLatch({
    db,
    encryptionKey,
    log: silentLogger,
    notifier,
    clock: clock.now,
    envAdmins: ['admin@example.com'],
    factories: CONNECTOR_FACTORIES,
    ...opts,
    sweep: { retryBaseMs: 1_000, ...opts.sweep },
  });
  return {
    latch,
    db,
    notifier,
    clock,
    encryptionKey,
    dbName,
    close: async () => {
      await latch.close();
      if (!opts.dbName) await db.conn.dropDatabase();
      await db.close();
    },
  };
}

export function person(name: string, groups: string[] = []): Identity {
  return { id: `${name}@example.com`, email: `${name}@example.com`, displayName: name, groups };
}
export const admin = person('admin');

/** A database on the test PostgreSQL with schema `billing` and a table in it. */
export async function createPgDatabase(
  prefix: string,
  pgUrl = process.env.PG_URL!,
): Promise<{ database: string; drop(): Promise<void> }> {
  const database = `${prefix}_${randomBytes(3).toString('hex')}`;
  const adminClient = new pg.Client({ connectionString: pgUrl });
  await adminClient.connect();
  await adminClient.query(`CREATE DATABASE ${pg.escapeIdentifier(database)}`);
  await adminClient.end();
  const c = new pg.Client({ connectionString: withDatabase(pgUrl, database) });
  await c.connect();
  await c.query(
    'CREATE SCHEMA billing; CREATE TABLE billing.invoices (id serial primary key, amount int); INSERT INTO billing.invoices (amount) VALUES (10), (20)',
  );
  await c.end();
  return {
    database,
    drop: async () => {
      const a = new pg.Client({ connectionString: pgUrl });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS ${pg.escapeIdentifier(database)} WITH (FORCE)`);
      await a.end();
    },
  };
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${encodeURIComponent(database)}`;
  return u.toString();
}

/** Registers the test cluster as integration `name` and discovers its resources. */
export async function addPgIntegration(
  latch: Latch,
  name: string,
  extra: Record<string, unknown> = {},
  pgUrl = process.env.PG_URL!,
): Promise<void> {
  const u = new URL(pgUrl);
  await latch.admin.saveIntegration('config-file', {
    name,
    type: 'postgresql',
    config: {
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      database: 'postgres',
      ...extra,
    },
    secrets: u.password ? { password: decodeURIComponent(u.password) } : {},
  });
  await latch.admin.discover('config-file', name);
}

export function schemaId(database: string, schema = 'billing'): string {
  return `db:${database}/schema:${schema}`;
}

export function flow(input: Partial<FlowInput> & Pick<FlowInput, 'name'>): FlowInput {
  return {
    grantees: { include: [{ type: 'everyone' }] },
    duration: { maxMinutes: 240 },
    ...input,
  } as FlowInput;
}

export async function roleExists(role: string, pgUrl = process.env.PG_URL!): Promise<boolean> {
  const c = new pg.Client({ connectionString: pgUrl });
  await c.connect();
  try {
    const r = await c.query('SELECT 1 FROM pg_roles WHERE rolname = $1', [role]);
    return r.rowCount === 1;
  } finally {
    await c.end();
  }
}

/** The LatchError a use-case refused with; fails the test if the call went through. */
export async function refusalOf(p: Promise<unknown>): Promise<LatchError> {
  try {
    await p;
  } catch (err) {
    return err as LatchError;
  }
  throw new Error('expected the call to be refused');
}
