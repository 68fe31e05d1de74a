/**
 * Two real worker processes share one MongoDB. The one running the sweeps is killed with SIGKILL in
 * the middle of a revoke (its DROP of a PostgreSQL login is held up by a lock); the standby must take
 * the sweeps and the half-done revoke over and cut the login's live session within 10 seconds,
 * because leases are short and renewed while work runs, not a minute long.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  addPgIntegration,
  createFixture,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
  withDatabase,
  type Fixture,
} from '../support/fixture.js';
import type { LatchProcess } from '../support/latch-process.js';
import { startLatchOn, waitFor } from '../support/latch-on-fixture.js';

const TAKEOVER_BOUND_MS = 10_000;
const alice = person('alice');

let fx: Fixture;
let database: string;
let dropDb: () => Promise<void>;
const workers: LatchProcess[] = [];
const clients: pg.Client[] = [];

async function client(url: string, user?: string): Promise<pg.Client> {
  const u = new URL(url);
  if (user) u.username = encodeURIComponent(user);
  const c = new pg.Client({ connectionString: u.toString() });
  c.on('error', () => {}); // a session cut by the revoke errors asynchronously
  await c.connect();
  clients.push(c);
  return c;
}

async function worker(): Promise<LatchProcess> {
  const { process: p } = await startLatchOn(fx, { role: 'worker' });
  workers.push(p);
  return p;
}

beforeAll(async () => {
  fx = await createFixture('worker_crash', { clock: () => new Date() });
  ({ database, drop: dropDb } = await createPgDatabase('crash'));
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });
  await fx.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: schemaId(database) }], permissions: ['read'] }],
    }),
  );
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(workers.map((w) => w.stop('SIGKILL')));
  await Promise.allSettled(clients.map((c) => c.end()));
  await fx?.close();
  await dropDb?.();
});

describe('a worker killed in the middle of a revoke', () => {
  it('has its revoke finished by the standby within seconds, and the live session cut', async () => {
    const first = await worker();
    await first.waitForOutput('this worker now runs the sweeps', 30_000);
    const standby = await worker();

    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: schemaId(database), permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    const number = req.number;
    const active = await waitFor(
      'granted by the first worker',
      async () => {
        const d = await fx.db.models.Request.findOne({ number }).lean();
        return d?.state === 'active' ? d : undefined;
      },
      30_000,
    );
    const role = String(active.targets[0]!.handle!.role);
    // The test cluster trusts local connections: a session as the temporary login, reading data.
    const session = await client(withDatabase(process.env.PG_URL!, database), role);
    expect((await session.query('SELECT count(*)::int AS n FROM billing.invoices')).rows[0].n).toBe(2);

    // Hold a lock on the login's catalog row, so the first worker's revoke waits in mid-air.
    const blocker = await client(process.env.PG_URL!);
    // pg_stat_activity is read from another session: inside a transaction it would be a frozen snapshot.
    const observer = await client(process.env.PG_URL!);
    await blocker.query('BEGIN');
    await blocker.query(`ALTER ROLE ${pg.escapeIdentifier(role)} VALID UNTIL 'infinity'`);
    await fx.latch.requests.revoke(alice, req.id, 'done');
    await waitFor(
      'the first worker revoking, blocked',
      async () =>
        (
          await observer.query(
            `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE 'ALTER ROLE%NOLOGIN%'`,
          )
        ).rowCount === 1,
      15_000,
    );
    const claimed = await fx.db.models.Request.findOne({ number }).lean();
    expect(claimed!.state).toBe('revoking');
    expect(claimed!.lease!.until!.getTime()).toBeGreaterThan(Date.now());

    await first.stop('SIGKILL');
    const killedAt = Date.now();
    await blocker.query('ROLLBACK');

    await waitFor(
      'the standby finishing the revoke',
      async () => (await fx.db.models.Request.findOne({ number }).lean())?.state === 'revoked',
      TAKEOVER_BOUND_MS,
    );
    const revokedAfterMs = Date.now() - killedAt;
    await expect(session.query('SELECT 1')).rejects.toThrow();
    expect(await roleExists(role)).toBe(false);
    expect(standby.output()).toContain('this worker now runs the sweeps');
    process.stderr.write(
      `[worker-crash] revoke finished by the standby ${revokedAfterMs} ms after SIGKILL\n`,
    );
  }, 120_000);
});
