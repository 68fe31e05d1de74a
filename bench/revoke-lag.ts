/**
 * Benchmark: how late are revokes when many grants expire at once?
 *
 * Creates N active grants (temporary PostgreSQL logins) on the real stores, moves their `expiresAt`
 * so they fall evenly over a window a few seconds ahead, and lets the real worker (the Agenda-held
 * sweep loop, real clock) revoke them. Prints the lag from each `expiresAt` to the confirmed revoke
 * (`endedAt`) as p50/p99/max, the revokes per second, and checks that no role is left on PostgreSQL.
 * Goals: p99 under 1 s for 1,000 grants in 10 s; with --window-seconds 1 (1,000 expiring in the same
 * second) every one revoked and verified within 2 s of its expiry (max lag). It also measures, in the
 * same run, the floor this machine sets for revoking that many at once (bench/active-grants.ts). It prints figures; it asserts
 * nothing about them (exit 1 only on a real error).
 *
 *   npm run bench:revoke-lag -- [--count 1000] [--window-seconds 10] [--lead-seconds 3]
 *                               [--tick-ms 250] [--batch-size 200] [--concurrency 16]
 *                               [--setup-concurrency 4] [--trace]
 *
 * Servers start as the tests start them (MONGODB_URI / PG_URL win). Set-up (submits, grants) is slow
 * on SecantusDB: minutes for 1,000. --lead-seconds is the gap between the (estimated) end of the
 * deadline rewrite and the first deadline. --tick-ms, --batch-size and --concurrency are the sweep
 * options of the measured worker.
 *
 * --trace adds a breakdown of where the sweep loop spends its time (MongoDB commands, PostgreSQL
 * revokes, audit appends, CPU per process) measured by wrapping calls from outside; it adds a little
 * overhead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import type { Latch } from '../src/app.js';
import { startJobs, WORKER_JOBS, type RunningJobs } from '../src/jobs/agenda.js';
import { silentLogger } from '../src/logger.js';
import type { Database } from '../src/store/db.js';
import type { RequestDoc } from '../src/store/models.js';
import {
  measureRevokeFloor,
  percentile,
  rolesLeft,
  say,
  secs,
  setUpActiveGrants,
  sleep,
} from './active-grants.js';
import { progress, runThenStop, type Stops } from './harness.js';

interface Args {
  count: number;
  windowMs: number;
  leadMs: number;
  tickMs: number | undefined;
  batchSize: number | undefined;
  concurrency: number | undefined;
  setupConcurrency: number;
  trace: boolean;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '1000' },
      'window-seconds': { type: 'string', default: '10' },
      'lead-seconds': { type: 'string', default: '3' },
      'tick-ms': { type: 'string' },
      'batch-size': { type: 'string' },
      concurrency: { type: 'string' },
      'setup-concurrency': { type: 'string', default: '4' },
      trace: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const num = (name: string, v: string | undefined, min: number): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number >= ${min}, got ${v}`);
    return n;
  };
  return {
    count: Math.floor(num('count', values.count, 1)!),
    windowMs: num('window-seconds', values['window-seconds'], 0)! * 1000,
    leadMs: num('lead-seconds', values['lead-seconds'], 0)! * 1000,
    tickMs: num('tick-ms', values['tick-ms'], 20),
    batchSize: num('batch-size', values['batch-size'], 1),
    concurrency: num('concurrency', values.concurrency, 1),
    setupConcurrency: Math.floor(num('setup-concurrency', values['setup-concurrency'], 1)!),
    trace: values.trace ?? false,
  };
}

/** Durations per label, for the --trace breakdown. */
class Timings {
  private readonly samples = new Map<string, number[]>();
  enabled = false;

  add(label: string, ms: number): void {
    if (!this.enabled) return;
    let list = this.samples.get(label);
    if (!list) this.samples.set(label, (list = []));
    list.push(ms);
  }

  wrap<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    return fn().finally(() => this.add(label, performance.now() - t0));
  }

  print(title: string): void {
    if (this.samples.size === 0) return;
    say(title);
    say(
      `  ${'what'.padEnd(58)} ${'calls'.padStart(6)} ${'total ms'.padStart(9)} ${'mean'.padStart(7)} ${'p50'.padStart(7)} ${'max'.padStart(7)}`,
    );
    const rows = [...this.samples.entries()].sort((a, b) => a[0].localeCompare(b[0]));
    for (const [label, list] of rows) {
      const sorted = [...list].sort((a, b) => a - b);
      const total = list.reduce((s, x) => s + x, 0);
      say(
        `  ${label.padEnd(58)} ${String(list.length).padStart(6)} ${total.toFixed(0).padStart(9)} ${(total / list.length).toFixed(1).padStart(7)} ${percentile(sorted, 50).toFixed(1).padStart(7)} ${sorted.at(-1)!.toFixed(1).padStart(7)}`,
      );
    }
  }
}

/** Records every urgent tick of the loop (start, duration, what it did) while `on()` says so. */
function recordTicks(latch: Latch, ticks: TickRecord[], on: () => boolean): void {
  const origUrgent = latch.sweeps.tickUrgent.bind(latch.sweeps);
  latch.sweeps.tickUrgent = async () => {
    const start = Date.now();
    const s = await origUrgent();
    if (on()) ticks.push({ start, ms: Date.now() - start, expired: s.expired, revoked: s.revoked });
    return s;
  };
}

/** Times the sweeps' steps by wrapping them from outside (src is not changed). */
function instrumentSweeps(latch: Latch, t: Timings): void {
  const sweeps = latch.sweeps as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  for (const name of [
    'claimExpired',
    'processRevokes',
    'verifyRevoked',
    'processGrants',
    'tickRelaxed',
    'claim',
  ]) {
    if (typeof sweeps[name] !== 'function') continue; // renamed or gone: trace what exists
    const orig = sweeps[name]!.bind(latch.sweeps);
    sweeps[name] = (...a: unknown[]) =>
      t.wrap(`sweeps.${name}${name === 'claim' ? `(${JSON.stringify(a[0])})` : ''}`, () => orig(...a));
  }
  const Request = latch.db.models.Request as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const origBulk = Request.bulkWrite!.bind(latch.db.models.Request);
  Request.bulkWrite = (...a: unknown[]) =>
    t.wrap('Request.bulkWrite (revoke outcomes)', () => origBulk(...a));
  const audit = latch.audit as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
  const origAppend = audit.append!.bind(latch.audit);
  audit.append = (...a: unknown[]) => t.wrap('audit.append', () => origAppend(...a));
}

async function instrumentConnector(latch: Latch, integration: string, t: Timings): Promise<void> {
  const connector = (await latch.registry.get(integration)) as unknown as Record<
    string,
    (...a: unknown[]) => Promise<unknown>
  >;
  for (const [name, label] of [
    ['revoke', 'postgres connector.revoke (one grant)'],
    ['revokeMany', 'postgres connector.revokeMany (a batch)'],
    ['checkMany', 'postgres connector.checkMany (a batch)'],
  ] as const) {
    const orig = connector[name]!.bind(connector);
    connector[name] = (...a: unknown[]) => t.wrap(label, () => orig(...a));
  }
}

/** MongoDB command round trips (driver command monitoring), labelled by command, collection and filter keys. */
function monitorCommands(db: Database, t: Timings): void {
  const client = db.conn.getClient();
  const started = new Map<number, string>();
  const keysOf = (v: unknown): string =>
    v && typeof v === 'object' ? Object.keys(v as object).join(',') : '';
  client.on('commandStarted', (e) => {
    const cmd = e.command as Record<string, unknown>;
    const coll = typeof cmd[e.commandName] === 'string' ? String(cmd[e.commandName]) : '';
    let shape = '';
    if (e.commandName === 'find' || e.commandName === 'delete') shape = keysOf(cmd.filter);
    else if (e.commandName === 'update') {
      const ups = cmd.updates as Array<{ q: unknown }> | undefined;
      shape = `${ups?.length ?? 0}x ${keysOf(ups?.[0]?.q)}`;
    } else if (e.commandName === 'findAndModify') shape = keysOf(cmd.query);
    else if (e.commandName === 'aggregate') shape = 'count: the benchmark waiting';
    else if (e.commandName === 'insert')
      shape = `${(cmd.documents as unknown[] | undefined)?.length ?? 0} docs`;
    started.set(e.requestId, `mongo ${e.commandName} ${coll} {${shape}}`.slice(0, 58));
  });
  const done = (e: { requestId: number; duration: number }) => {
    const label = started.get(e.requestId);
    started.delete(e.requestId);
    if (label) t.add(label, e.duration);
  };
  client.on('commandSucceeded', done);
  client.on('commandFailed', done);
}

/** CPU used by this process, its SecantusDB child and the throwaway PostgreSQL cluster (Linux /proc, best effort). */
class CpuMeter {
  private readonly hz = 100; // USER_HZ: clock ticks per second in /proc/<pid>/stat on Linux
  constructor(private readonly pgDataDir: string | null) {}

  private stat(pid: number): { ppid: number; ms: number } | null {
    try {
      const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = s.slice(s.lastIndexOf(')') + 2).split(' '); // f[0] is field 3 (state)
      return { ppid: Number(f[1]), ms: ((Number(f[11]) + Number(f[12])) * 1000) / this.hz };
    } catch {
      return null;
    }
  }

  private processes(): Map<number, { ppid: number; ms: number }> {
    const all = new Map<number, { ppid: number; ms: number }>();
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const st = this.stat(Number(name));
      if (st) all.set(Number(name), st);
    }
    return all;
  }

  /** Per-process CPU ms of each group, keyed by pid so processes that come and go are counted fairly. */
  snapshot(): { groups: Record<string, Map<number, number>>; machineBusyMs: number } {
    const all = this.processes();
    const under = (root: number): Map<number, number> => {
      const out = new Map<number, number>();
      const walk = (pid: number) => {
        const st = all.get(pid);
        if (!st || out.has(pid)) return;
        out.set(pid, st.ms);
        for (const [child, c] of all) if (c.ppid === pid) walk(child);
      };
      walk(root);
      return out;
    };
    const node = new Map([[process.pid, (process.cpuUsage().user + process.cpuUsage().system) / 1000]]);
    const mongo = new Map<number, number>();
    for (const [pid, st] of all)
      if (st.ppid === process.pid) for (const [p, ms] of under(pid)) mongo.set(p, ms);
    let pgRoot = 0;
    try {
      if (this.pgDataDir)
        pgRoot = Number(readFileSync(path.join(this.pgDataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      // not a local cluster
    }
    const postgres = pgRoot ? under(pgRoot) : new Map<number, number>();
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal
    const busyTicks = cpu[0]! + cpu[1]! + cpu[2]! + cpu[5]! + cpu[6]! + cpu[7]!;
    return {
      groups: { 'node (Latch + Agenda + benchmark)': node, 'MongoDB server': mongo, PostgreSQL: postgres },
      machineBusyMs: (busyTicks * 1000) / this.hz,
    };
  }

  static diff(
    a: ReturnType<CpuMeter['snapshot']>,
    b: ReturnType<CpuMeter['snapshot']>,
  ): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, after] of Object.entries(b.groups)) {
      const before = a.groups[name] ?? new Map<number, number>();
      let ms = 0;
      for (const [pid, v] of after) ms += v - (before.get(pid) ?? 0);
      out[name] = ms;
    }
    out['whole machine (all processes)'] = b.machineBusyMs - a.machineBusyMs;
    return out;
  }
}

interface TickRecord {
  start: number;
  ms: number;
  expired: number;
  revoked: number;
}

async function main(): Promise<void> {
  const args = parseCli();
  await runThenStop((stops) => run(args, stops));
}

async function run(args: Args, stops: Stops): Promise<void> {
  const timings = new Timings();
  const ticks: TickRecord[] = [];

  // 1-2. Servers, and N active grants made through the real path; the measured worker is idle.
  const setup = await setUpActiveGrants(
    {
      count: args.count,
      setupConcurrency: args.setupConcurrency,
      trace: args.trace,
      sweep: {
        ...(args.batchSize !== undefined ? { batchSize: args.batchSize } : {}),
        ...(args.concurrency !== undefined ? { concurrency: args.concurrency } : {}),
      },
      loop: args.tickMs !== undefined ? { tickMs: args.tickMs } : {},
    },
    stops,
  );
  const { db, latch, active, roles, pgServer, engine } = setup;
  const { Request } = db.models;
  const grantedAt = Date.now();
  const floor = await measureRevokeFloor(setup, args.count);
  progress(`floor: ${floor.detail}`);

  // 3. The real worker: Agenda holds the sweep loop, real clock. Started before the deadlines are moved,
  //    as in production, where the worker is already running when grants expire.
  let measuring = false;
  recordTicks(latch, ticks, () => measuring);
  if (args.trace) {
    instrumentSweeps(latch, timings);
    await instrumentConnector(latch, 'pg', timings);
    monitorCommands(db, timings);
  }
  let jobs: RunningJobs | undefined = await startJobs(db, latch.loop, silentLogger, WORKER_JOBS);
  stops.push(['jobs', () => (jobs ? jobs.stop() : Promise.resolve())]);
  const loopWait = Date.now() + 30_000;
  while (!latch.loop.running) {
    if (Date.now() > loopWait) throw new Error('the sweep loop did not start within 30 s');
    await sleep(50);
  }
  const loopStartedAt = Date.now();
  progress(`sweep loop running after ${secs(loopStartedAt - grantedAt)}`);

  // 4. Spread the deadlines evenly over the window, starting leadMs after this rewrite is done; no
  //    warnings. How long the rewrite takes is measured first by the same writes with far-off
  //    deadlines (the store's speed varies from run to run), so no deadline passes while it runs.
  const far = new Date(Date.now() + 3_600_000);
  const rehearsalStart = Date.now();
  await Request.bulkWrite(
    active.map((d) => ({
      updateOne: { filter: { _id: d._id, state: 'active' }, update: { $set: { expiresAt: far } } },
    })),
    { ordered: false },
  );
  const rehearsalMs = Date.now() - rehearsalStart;
  const windowStart = Date.now() + Math.round(rehearsalMs * 1.5) + args.leadMs;
  const step = args.count > 1 ? args.windowMs / (args.count - 1) : 0;
  const expiresAtOf = new Map<string, number>();
  const ops = active.map((d, i) => {
    const at = Math.round(windowStart + i * step);
    expiresAtOf.set(String(d._id), at);
    return {
      updateOne: {
        filter: { _id: d._id, state: 'active' },
        update: { $set: { expiresAt: new Date(at) }, $unset: { warnAt: 1 } },
      },
    };
  });
  const writeStart = Date.now();
  await Request.bulkWrite(ops, { ordered: false });
  const writtenAt = Date.now();
  const dueBeforeWritten = [...expiresAtOf.values()].filter((at) => at < writtenAt).length;
  progress(
    `moved ${args.count} deadlines in ${secs(writtenAt - writeStart)}: ${new Date(windowStart).toISOString()} + ${secs(args.windowMs)}` +
      (dueBeforeWritten ? ` (${dueBeforeWritten} were already due when written: raise --lead-seconds)` : ''),
  );
  timings.enabled = args.trace;
  measuring = true;
  const cpu = args.trace ? new CpuMeter(pgServer.dataDir) : null;
  const cpuBefore = cpu?.snapshot();
  const cpuStart = Date.now();

  // 5. Wait for every grant to be revoked (state expired), within a generous timeout.
  const lastExpiresAt = windowStart + args.windowMs;
  const deadline = lastExpiresAt + 120_000;
  let expired: number;
  for (;;) {
    await sleep(1000); // this count is load on the store too (it shows as "aggregate requests" in --trace)
    expired = await Request.countDocuments({ state: 'expired' });
    if (expired >= args.count || Date.now() > deadline) break;
  }
  timings.enabled = false;
  measuring = false;
  const cpuUsed = cpu && cpuBefore ? CpuMeter.diff(cpuBefore, cpu.snapshot()) : null;
  const cpuWallMs = Date.now() - cpuStart;
  const unfinished = args.count - expired;
  if (unfinished)
    progress(`${unfinished} did not finish within ${secs(deadline - lastExpiresAt)} of the last deadline`);
  const stopJobs = Date.now();
  await jobs.stop();
  jobs = undefined;
  const jobsStopMs = Date.now() - stopJobs;

  // 6. Figures.
  const ended = await Request.find({ _id: { $in: active.map((d) => d._id) } })
    .select('_id state expiresAt endedAt lastError attempts')
    .lean<RequestDoc[]>();
  const lags: number[] = [];
  let lastEnded = 0;
  let failedAttempts = 0;
  for (const d of ended) {
    if (d.attempts) failedAttempts += d.attempts;
    if (d.state !== 'expired' || !d.endedAt || !d.expiresAt) continue;
    lags.push(d.endedAt.getTime() - d.expiresAt.getTime());
    lastEnded = Math.max(lastEnded, d.endedAt.getTime());
  }
  lags.sort((a, b) => a - b);
  const firstExpiresAt = Math.min(...expiresAtOf.values());
  const spanMs = lags.length ? lastEnded - firstExpiresAt : NaN;

  const pgClient = new pg.Client({ connectionString: pgServer.url });
  await pgClient.connect();
  const left = await rolesLeft(pgClient, roles);
  await pgClient.end();

  const busy = ticks.filter((t) => t.expired + t.revoked > 0);
  const ms = (x: number) => `${Math.round(x)} ms`;
  say('');
  say(`revoke lag benchmark — ${args.count} grants expiring over ${secs(args.windowMs)}`);
  say(`  MongoDB engine:      ${engine}`);
  say(
    `  sweep options:       tickMs=${args.tickMs ?? 250} batchSize=${latch.sweeps.opts.batchSize} concurrency=${latch.sweeps.opts.concurrency}`,
  );
  say(`  setup:               ${setup.setupSummary}; ${secs(writtenAt - writeStart)} moving deadlines`);
  say(
    `  revoked:             ${lags.length}/${args.count}${unfinished ? ` (${unfinished} NOT finished)` : ''}`,
  );
  say(
    `  lag expiresAt->endedAt: p50 ${ms(percentile(lags, 50))}, p99 ${ms(percentile(lags, 99))}, max ${ms(lags.at(-1) ?? NaN)}`,
  );
  say(
    `  throughput:          ${(lags.length / (spanMs / 1000)).toFixed(1)} revokes/s over ${secs(spanMs)} (first expiresAt -> last endedAt)`,
  );
  const floorMs = floor.storeMs + floor.postgresMs;
  say(`  floor for ${args.count} at once: ${ms(floorMs)} = ${floor.detail}`);
  if (args.windowMs <= 1000) {
    const max = lags.at(-1) ?? NaN;
    say(
      `  goal max lag <= 2000 ms (all expiring within 1 s): ${max <= 2000 && !unfinished ? 'met' : 'MISSED'}; max lag is ${(max / floorMs).toFixed(1)}x the floor`,
    );
  } else say(`  goal p99 < 1000 ms:  ${percentile(lags, 99) < 1000 ? 'met' : 'MISSED'}`);
  say(`  roles left on PostgreSQL: ${left} of ${roles.length}`);
  say(`  failed revoke attempts: ${failedAttempts}; jobs stopped in ${ms(jobsStopMs)}`);
  if (busy.length) {
    const tickMs = busy.map((t) => t.ms).sort((a, b) => a - b);
    const perTick = busy.map((t) => t.revoked).sort((a, b) => a - b);
    say(
      `  busy ticks:          ${busy.length}; duration p50 ${ms(percentile(tickMs, 50))}, max ${ms(tickMs.at(-1)!)}; revoked per tick p50 ${percentile(perTick, 50)}, max ${perTick.at(-1)}`,
    );
  }
  if (args.trace) {
    say('');
    timings.print('where the measured phase spent its time (--trace):');
    if (cpuUsed) {
      say('');
      say(
        `CPU used during the measured phase (${secs(cpuWallMs)} wall, so at most ${secs(cpuWallMs * 2)} on 2 cores):`,
      );
      for (const [what, used] of Object.entries(cpuUsed))
        say(
          `  ${what.padEnd(34)} ${secs(used).padStart(8)}  (${((100 * used) / cpuWallMs).toFixed(0)}% of one core)`,
        );
    }
    say('');
    say('busy ticks (time after window start, duration, expired -> revoking, revoked):');
    for (const t of busy)
      say(
        `  +${String(t.start - firstExpiresAt).padStart(6)} ms  ${String(t.ms).padStart(5)} ms  ${String(t.expired).padStart(4)}  ${String(t.revoked).padStart(4)}`,
      );
  }
}

await main();
