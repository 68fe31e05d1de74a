/**
 * Benchmark: the panic button. An admin revokes everything while N grants are active.
 *
 * Creates N active grants (temporary PostgreSQL logins) through the real path (bench/active-grants.ts),
 * starts the real worker (the Agenda-held sweep loop, real clock), then calls the revoke-all use-case
 * as App Home's "Revoke all access" does. It prints the time from the click until every role is gone
 * from PostgreSQL (polled on the server itself), and until every request is recorded as revoked,
 * which the worker does only after checking the system (verified). Goal: under 2 s for 1,000. It also
 * prints the floor this machine sets for revoking N at once, measured in the same run. It asserts
 * nothing about the figures (exit 1 only on a real error).
 *
 *   npm run bench:revoke-all -- [--count 1000] [--setup-concurrency 4] [--batch-size 200] [--concurrency 16]
 *
 * Servers start as the tests start them (MONGODB_URI / PG_URL win). Set-up is slow on SecantusDB:
 * minutes for 1,000.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { startJobs, WORKER_JOBS } from '../src/jobs/agenda.js';
import { silentLogger } from '../src/logger.js';
import { person, withDatabase } from '../test/support/fixture.js';
import { measureRevokeFloor, rolesLeft, say, secs, setUpActiveGrants, sleep } from './active-grants.js';
import { progress, runThenStop, type Stops } from './harness.js';

interface Args {
  count: number;
  setupConcurrency: number;
  batchSize: number | undefined;
  concurrency: number | undefined;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '1000' },
      'setup-concurrency': { type: 'string', default: '4' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a whole number >= 1, got ${v}`);
    return n;
  };
  return {
    count: int('count', values.count)!,
    setupConcurrency: int('setup-concurrency', values['setup-concurrency'])!,
    batchSize: int('batch-size', values['batch-size']),
    concurrency: int('concurrency', values.concurrency),
  };
}

async function run(args: Args, stops: Stops): Promise<void> {
  const setup = await setUpActiveGrants(
    {
      count: args.count,
      setupConcurrency: args.setupConcurrency,
      sweep: {
        ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
        ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
      },
    },
    stops,
  );
  const { db, latch, roles, pgServer } = setup;
  const { Request } = db.models;
  const floor = await measureRevokeFloor(setup, args.count);
  progress(`floor: ${floor.detail}`);

  const jobs = await startJobs(db, latch.loop, silentLogger, WORKER_JOBS);
  stops.push(['jobs', () => jobs.stop()]);
  const loopWait = Date.now() + 30_000;
  while (!latch.loop.running) {
    if (Date.now() > loopWait) throw new Error('the sweep loop did not start within 30 s');
    await sleep(50);
  }

  const pgClient = new pg.Client({ connectionString: withDatabase(pgServer.url, 'postgres') });
  await pgClient.connect();
  stops.push(['PostgreSQL client', () => pgClient.end()]);
  if ((await rolesLeft(pgClient, roles)) !== args.count) throw new Error('not every grant has its role');

  // The click: the use-case App Home's confirmed "Revoke all access" calls.
  const clickedAt = performance.now();
  const { revoking } = await latch.requests.revokeAll(person('bench-admin'), 'benchmark: panic button');
  const answeredAt = performance.now();
  // PostgreSQL is polled closely (a cheap catalog read); the store only now and then, since every
  // read there queues with the worker's writes. When each request was recorded comes from its endedAt.
  let goneAt = NaN;
  let recorded = false;
  let lastStorePoll = 0;
  const deadline = clickedAt + 120_000;
  while (performance.now() < deadline && (Number.isNaN(goneAt) || !recorded)) {
    if (Number.isNaN(goneAt) && (await rolesLeft(pgClient, roles)) === 0) goneAt = performance.now();
    if (!recorded && performance.now() - lastStorePoll > 500) {
      lastStorePoll = performance.now();
      recorded = (await Request.countDocuments({ state: { $in: ['active', 'revoking'] } })) === 0;
    }
    await sleep(20);
  }
  const clickedWall = Date.now() - (performance.now() - clickedAt);
  const ended = await Request.find({ endedAt: { $ne: null } })
    .select({ endedAt: 1 })
    .lean();
  const recordedAt = recorded
    ? clickedAt + Math.max(...ended.map((d) => d.endedAt!.getTime())) - clickedWall
    : NaN;
  const left = await rolesLeft(pgClient, roles);
  const states = await Request.aggregate<{ _id: string; n: number }>([
    { $group: { _id: '$state', n: { $sum: 1 } } },
  ]);
  const failedAttempts = await Request.countDocuments({ attempts: { $gt: 0 } });

  const ms = (x: number) => (Number.isNaN(x) ? 'not within 120 s' : `${Math.round(x)} ms`);
  const floorMs = floor.storeMs + floor.postgresMs;
  const verified = recordedAt - clickedAt;
  say('');
  say(`revoke-all benchmark — the panic button on ${args.count} active grants`);
  say(`  MongoDB engine:      ${setup.engine}`);
  say(
    `  sweep options:       batchSize=${latch.sweeps.opts.batchSize} concurrency=${latch.sweeps.opts.concurrency}`,
  );
  say(`  setup:               ${setup.setupSummary}`);
  say(`  use-case answered:   ${ms(answeredAt - clickedAt)} (${revoking} requests moved to revoking)`);
  say(`  all roles gone on PostgreSQL: ${ms(goneAt - clickedAt)} after the click`);
  say(`  all recorded revoked (verified on PostgreSQL first): ${ms(verified)} after the click`);
  say(`  floor for ${args.count} at once: ${Math.round(floorMs)} ms = ${floor.detail}`);
  say(
    `  goal < 2000 ms:      ${verified < 2000 ? 'met' : 'MISSED'}; ${(verified / floorMs).toFixed(1)}x the floor`,
  );
  say(`  roles left:          ${left} of ${roles.length}`);
  say(`  request states:      ${states.map((s) => `${s._id} ${s.n}`).join(', ')}`);
  say(`  requests with a failed attempt: ${failedAttempts}`);
  say(`  total run:           ${secs(performance.now())}`);
}

await runThenStop((stops) => run(parseCli(), stops));
