/**
 * What happens when things break: the target database goes away during a revoke, a worker dies in
 * the middle of revoking, and the real Agenda-held sweep loop fails over between workers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createPostgresConnector } from '../../src/connectors/postgres/index.js';
import type { Connector, ConnectorFactory } from '../../src/connectors/types.js';
import { startJobs } from '../../src/jobs/agenda.js';
import { silentLogger } from '../../src/logger.js';
import { startPostgres, type PostgresServer } from '../support/postgres-server.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

const MIN = 60_000;
const alice = person('alice');
const bob = person('bob');

async function waitFor(check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function autoFlow(fx: Fixture, integration: string, resourceId: string): Promise<void> {
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: `auto ${integration}`,
      targets: [{ integration, include: [{ id: resourceId }], permissions: ['read'] }],
    }),
  );
}

describe('a revoke while PostgreSQL is down', () => {
  let server: PostgresServer;
  let fx: Fixture;

  beforeAll(async () => {
    server = await startPostgres({ private: true });
    fx = await createFixture('outage', { sweep: { retryBaseMs: 1_000, alertAfter: 2 } });
  }, 120_000);
  afterAll(async () => {
    await fx.close();
    await server.stop();
  });

  it('is retried with backoff, stays revoking, alerts admins, and completes once PostgreSQL is back', async () => {
    const { database } = await createPgDatabase('outage', server.url);
    await addPgIntegration(fx.latch, 'pg', { databases: [database] }, server.url);
    await autoFlow(fx, 'pg', schemaId(database));
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: schemaId(database), permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    await fx.latch.sweeps.tickUrgent();
    const role = fx.notifier.of('access.granted', req.id)[0]!.credentials[0]!.values.username!;
    expect(await roleExists(role, server.url)).toBe(true);

    server.pause();
    fx.clock.advance(31 * MIN);
    const load = () => fx.db.models.Request.findOne({ number: req.number }).lean();

    const first = await fx.latch.sweeps.tickUrgent();
    expect(first.revokeFailures).toBe(1);
    let doc = await load();
    expect(doc!.state).toBe('revoking');
    expect(doc!.attempts).toBe(1);
    expect(doc!.lastError).toBeTruthy();
    const firstDelay = doc!.nextAttemptAt!.getTime() - fx.clock.current.getTime();
    expect(fx.notifier.of('revoke.failing')).toHaveLength(0);

    // Not retried before its time.
    expect((await fx.latch.sweeps.tickUrgent()).revokeFailures).toBe(0);

    fx.clock.advance(firstDelay);
    expect((await fx.latch.sweeps.tickUrgent()).revokeFailures).toBe(1);
    doc = await load();
    expect(doc!.state).toBe('revoking');
    expect(doc!.attempts).toBe(2);
    const secondDelay = doc!.nextAttemptAt!.getTime() - fx.clock.current.getTime();
    expect(secondDelay).toBeGreaterThan(firstDelay);
    const alert = fx.notifier.of('revoke.failing', req.id);
    expect(alert).toHaveLength(1);
    expect(alert[0]!.admins).toEqual(['admin@example.com']);
    expect(alert[0]!.attempts).toBe(2);

    server.start();
    fx.clock.advance(secondDelay);
    const done = await fx.latch.sweeps.tickUrgent();
    expect(done.revoked).toBe(1);
    doc = await load();
    expect(doc!.state).toBe('expired');
    expect(await roleExists(role, server.url)).toBe(false);
    expect(fx.notifier.of('access.revoked', req.id)).toHaveLength(1);
    const failures = await fx.latch.audit.latest(10, { action: 'revoke.attempt_failed' });
    expect(failures).toHaveLength(2);
  });
});

/** The real PostgreSQL connector with some operations replaced, to stage a failure. */
function withOverrides(overrides: (real: Connector) => Partial<Connector>): ConnectorFactory {
  return (integration) => {
    const real = createPostgresConnector(integration);
    const over = overrides(real);
    return {
      type: real.type,
      discover: over.discover ?? (() => real.discover()),
      grant: over.grant ?? ((spec) => real.grant(spec)),
      revoke: over.revoke ?? ((spec, handle) => real.revoke(spec, handle)),
      check: over.check ?? ((spec, handle) => real.check(spec, handle)),
      extend: over.extend ?? ((spec, handle, at) => real.extend(spec, handle, at)),
      accessKey: (handle) => real.accessKey(handle),
      listAccess: over.listAccess ?? (() => real.listAccess()),
      health: over.health ?? (() => real.health()),
      close: over.close ?? (() => real.close()),
    };
  };
}

describe('a revoke that reports success but leaves access behind', () => {
  let fx: Fixture;
  let dropDb: () => Promise<void>;
  let lying = true;
  const liar = withOverrides((real) => ({
    revoke: async (spec, handle) => (lying ? undefined : real.revoke(spec, handle)),
  }));

  beforeAll(async () => {
    fx = await createFixture('verify', { factories: { postgresql: liar } });
  }, 60_000);
  afterAll(async () => {
    await fx.close();
    await dropDb?.();
  });

  it('is not believed: the request stays revoking until the system confirms the access is gone', async () => {
    const pgdb = await createPgDatabase('verify');
    dropDb = pgdb.drop;
    await addPgIntegration(fx.latch, 'pg', { databases: [pgdb.database] });
    await autoFlow(fx, 'pg', schemaId(pgdb.database));
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: schemaId(pgdb.database), permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    await fx.latch.sweeps.tickUrgent();
    const role = fx.notifier.of('access.granted', req.id)[0]!.credentials[0]!.values.username!;
    fx.clock.advance(31 * MIN);
    expect((await fx.latch.sweeps.tickUrgent()).revokeFailures).toBe(1);
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(doc!.state).toBe('revoking');
    expect(doc!.lastError).toMatch(/still present/);
    expect(await roleExists(role)).toBe(true);
    expect(fx.notifier.of('access.revoked', req.id)).toHaveLength(0);

    lying = false;
    fx.clock.advance(5 * MIN);
    expect((await fx.latch.sweeps.tickUrgent()).revoked).toBe(1);
    expect(await roleExists(role)).toBe(false);
    expect((await fx.db.models.Request.findOne({ number: req.number }).lean())!.state).toBe('expired');
  });
});

/** A connector whose revokes wait until the test lets them go: a worker frozen mid-revoke. */
function freezingFactory(): { factory: ConnectorFactory; release: () => void; started: () => boolean } {
  let releaseAll: () => void = () => {};
  const gate = new Promise<void>((resolve) => (releaseAll = resolve));
  let began = false;
  const factory = withOverrides((real) => ({
    revoke: async (spec, handle) => {
      began = true;
      await gate;
      return real.revoke(spec, handle);
    },
  }));
  return { factory, release: () => releaseAll(), started: () => began };
}

describe('a worker that dies while revoking', () => {
  let a: Fixture;
  let b: Fixture;
  let dropDb: () => Promise<void>;
  const frozen = freezingFactory();

  beforeAll(async () => {
    a = await createFixture('killed', {
      factories: { postgresql: frozen.factory },
      sweep: { leaseMs: 30_000 },
    });
    b = await createFixture('killed', {
      dbName: a.dbName,
      encryptionKey: a.encryptionKey,
      sweep: { leaseMs: 30_000 },
    });
  }, 60_000);
  afterAll(async () => {
    frozen.release();
    await b.close();
    await a.close();
    await dropDb?.();
  });

  it('leaves claims whose lease runs out, and another worker finishes them exactly once', async () => {
    const pgdb = await createPgDatabase('killed');
    dropDb = pgdb.drop;
    await addPgIntegration(b.latch, 'pg', { databases: [pgdb.database] });
    await autoFlow(b, 'pg', schemaId(pgdb.database));
    const reqs = await Promise.all(
      [alice, bob].map((who) =>
        b.latch.requests.submit(who, {
          targets: [{ integration: 'pg', resourceId: schemaId(pgdb.database), permission: 'read' }],
          durationMinutes: 10,
          source: 'api',
        }),
      ),
    );
    await b.latch.sweeps.tickUrgent();
    const roles = reqs.map((r) => b.notifier.of('access.granted', r.id)[0]!.credentials[0]!.values.username!);

    for (const fx of [a, b]) fx.clock.advance(11 * MIN);
    // Worker A claims the expired grants and freezes inside the revoke.
    const aWork = a.latch.sweeps.tickUrgent();
    await waitFor(async () => frozen.started());
    const claimed = await a.db.models.Request.find({ state: 'revoking' }).lean();
    expect(claimed).toHaveLength(2);
    expect(claimed.every((d) => d.lease!.owner!.startsWith(a.latch.sweeps.opts.owner))).toBe(true);

    // While A's lease holds, B leaves the requests alone.
    expect((await b.latch.sweeps.tickUrgent()).revoked).toBe(0);
    for (const role of roles) expect(await roleExists(role)).toBe(true);

    // The lease runs out; B takes over and finishes.
    b.clock.advance(31_000);
    expect((await b.latch.sweeps.tickUrgent()).revoked).toBe(2);
    for (const r of reqs) {
      const doc = await b.db.models.Request.findOne({ number: r.number }).lean();
      expect(doc!.state).toBe('expired');
    }
    for (const role of roles) expect(await roleExists(role)).toBe(false);

    // A wakes up late: its revokes are harmless and it records and reports nothing.
    frozen.release();
    const late = await aWork;
    expect(late.revoked).toBe(0);
    expect(a.notifier.of('access.revoked')).toHaveLength(0);
    expect(b.notifier.of('access.revoked')).toHaveLength(2);
    const expiredEvents = await b.latch.audit.latest(20, { action: 'access.expired' });
    expect(expiredEvents).toHaveLength(2);
    expect((await b.latch.audit.verify()).ok).toBe(true);
  });
});

describe('the Agenda-held sweep loop', () => {
  let one: Fixture;
  let two: Fixture;
  let dropDb: () => Promise<void>;

  beforeAll(async () => {
    const realClock = () => new Date();
    one = await createFixture('agenda', { clock: realClock, loop: { tickMs: 50 } });
    two = await createFixture('agenda', {
      dbName: one.dbName,
      encryptionKey: one.encryptionKey,
      clock: realClock,
      loop: { tickMs: 50 },
    });
  }, 60_000);
  afterAll(async () => {
    await two.close();
    await one.close();
    await dropDb?.();
  });

  it('grants and revokes with no manual tick, and a standby worker takes over when the first stops', async () => {
    const pgdb = await createPgDatabase('agenda');
    dropDb = pgdb.drop;
    await addPgIntegration(one.latch, 'pg', { databases: [pgdb.database] });
    await autoFlow(one, 'pg', schemaId(pgdb.database));
    const opts = { processEveryMs: 200, lockLifetimeMs: 3_000 };
    const jobsOne = await startJobs(one.db, one.latch.loop, silentLogger, opts);
    const jobsTwo = await startJobs(two.db, two.latch.loop, silentLogger, opts);
    const target = { integration: 'pg', resourceId: schemaId(pgdb.database), permission: 'read' };
    const stateOf = async (n: number) => (await one.db.models.Request.findOne({ number: n }).lean())!.state;
    try {
      const first = await one.latch.requests.submit(alice, {
        targets: [target],
        durationMinutes: 30,
        source: 'api',
      });
      await waitFor(async () => (await stateOf(first.number)) === 'active');
      // Exactly one worker holds the loop.
      expect([one.latch.loop.running, two.latch.loop.running].filter(Boolean)).toHaveLength(1);
      const holder = one.latch.loop.running ? jobsOne : jobsTwo;
      const standby = one.latch.loop.running ? two : one;
      await one.latch.requests.revoke(alice, first.id);
      await waitFor(async () => (await stateOf(first.number)) === 'revoked');

      await holder.stop();
      await waitFor(async () => standby.latch.loop.running);
      const second = await one.latch.requests.submit(bob, {
        targets: [target],
        durationMinutes: 30,
        source: 'api',
      });
      await waitFor(async () => (await stateOf(second.number)) === 'active');
      await one.latch.requests.revoke(bob, second.id);
      await waitFor(async () => (await stateOf(second.number)) === 'revoked');
    } finally {
      await Promise.allSettled([jobsOne.stop(), jobsTwo.stop()]);
    }
  });
});
