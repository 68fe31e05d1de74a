/**
 * Benchmark: how fast does Latch acknowledge `/access` and open the request modal when many people
 * type it at once?
 *
 * Composes Latch and its Slack channel exactly as the end-to-end tests do (test/support/slack-harness.ts:
 * the real Bolt app behind Latch's HTTP receiver, a recording stand-in of the Slack Web API with the
 * Block Kit limits validator), seeds the stand-in with N people and the catalog with one flow's worth of
 * resources, then sends N `/access` commands from N different people at once, signed as Slack signs
 * them. For each it measures:
 *
 *   - ack:          from sending the command to the HTTP response (Slack gives up after 3 s);
 *   - views.open:   from sending to the stand-in recording the views.open with that trigger_id
 *                   (Slack's trigger ids expire 3 s after the command);
 *   - views.update: from sending to the stand-in recording the views.update that fills that modal in.
 *
 * A warm-up round (other people, not counted) runs first. Goals from the issue: ack p99 < 100 ms and
 * views.open p99 < 500 ms. It prints figures and asserts nothing about them; it exits 1 only on a
 * real error (a command not answered 200, a modal not opened or not filled in, a crash).
 *
 *   npm run bench:slack-ack -- [--count 200] [--warmup 10] [--resources 20] [--timeout-seconds 30]
 *                               [--in-process]
 *
 * MongoDB: MONGODB_URI when set, else the embedded one (mongodb-memory-server or SecantusDB, as
 * `npm start` and the tests pick). The commands are sent from a child process (this file again, in
 * sender mode), as Slack sends from elsewhere; --in-process sends them from this process instead, so
 * sending and reading the answers queue on the app's event loop too. The Web API stand-in runs in
 * this process either way (as in the tests), so its work is on the app's event loop: the figures are
 * an upper bound for the app alone. Also printed: when the app's HTTP server read each delivery and
 * how long it took to answer it, and the event loop delay, to tell queueing from work.
 *
 * Each command comes on a new connection, as from Slack straight to Latch. A warm-up as large as
 * --count (--warmup 200) leaves that many keep-alive connections open for the measured round, as a
 * reverse proxy in front of Latch would: compare the two to see what connection set-up costs.
 */
import { fork } from 'node:child_process';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { VIEW } from '../blocks/slack/ids.js';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src/store/embedded-mongo.js';
import { flow } from '../test/support/fixture.js';
import type { SlackCall } from '../test/support/slack-stand-in.js';
import { SlackDriver } from '../test/support/slack-driver.js';
import { SIGNING_SECRET, startSlackHarness, TEAM, type SlackHarness } from '../test/support/slack-harness.js';

const INTEGRATION = 'bench-pg';
const GOAL_ACK_P99_MS = 100;
const GOAL_OPEN_P99_MS = 500;

interface Args {
  count: number;
  warmup: number;
  resources: number;
  timeoutMs: number;
  inProcess: boolean;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '10' },
      resources: { type: 'string', default: '20' },
      'timeout-seconds': { type: 'string', default: '30' },
      'in-process': { type: 'boolean', default: false },
    },
    strict: true,
  });
  const int = (name: string, v: string | undefined, min: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}, got ${v}`);
    return n;
  };
  return {
    count: int('count', values.count, 1),
    warmup: int('warmup', values.warmup, 0),
    resources: int('resources', values.resources, 1),
    timeoutMs: int('timeout-seconds', values['timeout-seconds'], 1) * 1000,
    inProcess: values['in-process'] ?? false,
  };
}

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const progress = (msg: string) => process.stderr.write(`[bench] ${msg}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

/** U0000001, U0000002, ...: valid Slack user ids (the directory and LATCH_ADMINS parsing accept them). */
const userId = (n: number) => `U${String(n).padStart(7, '0')}`;

interface Sample {
  user: string;
  triggerId: string;
  /** Times are `clock()` values: when the command was handed to the driver, answered, ... */
  sentAt?: number;
  ackAt?: number;
  ackStatus?: number;
  ackError?: string;
  /** When the stand-in recorded the views.open carrying this trigger_id. */
  openAt?: number;
  openOk?: boolean;
  openError?: string;
  /** When the stand-in recorded the views.update of that modal. */
  updateAt?: number;
  updateOk?: boolean;
  /** callback_id of the view views.update put in (latch_request when the form was drawn). */
  updateCallbackId?: string;
  updateError?: string;
}

/** A trigger id shaped like Slack's, unique per command, so views.open can be matched to its sender. */
function triggerIdFor(round: string, i: number): string {
  return `${Date.now()}.${round}${String(i).padStart(6, '0')}.${Math.random().toString(16).slice(2).padEnd(16, '0')}`;
}

/**
 * Milliseconds since the epoch with sub-millisecond steps, comparable between this process and the
 * sender to within a millisecond (performance.timeOrigin can be tens of ms off between processes).
 */
const EPOCH_AT_ZERO = Date.now() - performance.now();
const clock = () => EPOCH_AT_ZERO + performance.now();

interface SendItem {
  user: string;
  triggerId: string;
}
interface SendResult {
  triggerId: string;
  sentAt: number;
  ackAt?: number;
  status?: number;
  error?: string;
}
/** Sends the commands all at once and reports when each was sent and answered. */
type Sender = (items: SendItem[]) => Promise<SendResult[]>;

interface DriverSettings {
  url: string;
  signingSecret: string;
  teamId: string;
  responseUrlBase: string;
}

async function sendAll(driver: SlackDriver, items: SendItem[]): Promise<SendResult[]> {
  return Promise.all(
    items.map(async ({ user, triggerId }) => {
      const sentAt = clock();
      try {
        const res = await driver.command({ id: user }, '/access', '', { trigger_id: triggerId });
        return { triggerId, sentAt, ackAt: clock(), status: res.status };
      } catch (err) {
        return { triggerId, sentAt, error: String(err) };
      }
    }),
  );
}

const SENDER_ENV = 'LATCH_BENCH_SLACK_SENDER';

/**
 * Slack sends from elsewhere: by default the commands go out from a child process (this file again,
 * in sender mode), so sending and reading the answers do not queue on Latch's event loop.
 */
async function startSenderProcess(
  settings: DriverSettings,
): Promise<{ send: Sender; stop(): Promise<void> }> {
  const child = fork(fileURLToPath(import.meta.url), [], {
    env: { ...process.env, [SENDER_ENV]: JSON.stringify(settings) },
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('message', () => resolve());
    child.once('exit', (code) =>
      reject(new Error(`the sender process exited with ${code} before it was ready`)),
    );
  });
  return {
    send: (items) =>
      new Promise((resolve, reject) => {
        const onExit = (code: number | null) => reject(new Error(`the sender process exited with ${code}`));
        child.once('exit', onExit);
        child.once('message', (m) => {
          child.off('exit', onExit);
          resolve((m as { results: SendResult[] }).results);
        });
        child.send({ items });
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Sender mode: sends each batch the parent asks for; exits when the parent goes away. */
function runSender(settings: DriverSettings): void {
  const driver = new SlackDriver(settings);
  process.on('message', (m) => {
    void sendAll(driver, (m as { items: SendItem[] }).items).then((results) => process.send!({ results }));
  });
  process.on('disconnect', () => process.exit(0));
  process.send!({ ready: true });
}

/**
 * Sends `/access` from each user at once and follows each to its filled-in modal. Waiters on the
 * stand-in are registered before the commands are sent, so each time is taken when the stand-in
 * records the call (their promises resolve from its record step).
 */
async function round(
  h: SlackHarness,
  send: Sender,
  name: string,
  users: string[],
  timeoutMs: number,
): Promise<Sample[]> {
  // Forget earlier calls, so each waiter below scans only this round's (the model of views is kept).
  h.standIn.reset();
  const mark = h.standIn.mark();
  const samples: Sample[] = users.map((user, i) => ({ user, triggerId: triggerIdFor(name, i) }));
  const followed = samples.map(async (s) => {
    let opened: SlackCall;
    try {
      opened = await h.standIn.waitForCall('views.open', (a) => a.trigger_id === s.triggerId, {
        after: mark,
        timeoutMs,
      });
    } catch {
      s.openError = 'no views.open';
      return;
    }
    s.openAt = clock();
    s.openOk = opened.response.ok;
    if (!opened.response.ok) {
      s.openError = String(opened.response.error);
      return;
    }
    const viewId = (opened.response.view as { id: string }).id;
    try {
      const updated = await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, {
        after: mark,
        timeoutMs,
      });
      s.updateAt = clock();
      s.updateOk = updated.response.ok;
      s.updateCallbackId = (updated.args.view as { callback_id?: string } | undefined)?.callback_id;
      if (!updated.response.ok) s.updateError = String(updated.response.error);
    } catch {
      s.updateError = 'no views.update';
    }
  });
  const sent = send(samples.map(({ user, triggerId }) => ({ user, triggerId }))).then((results) => {
    const byTrigger = new Map(results.map((r) => [r.triggerId, r]));
    for (const s of samples) {
      const r = byTrigger.get(s.triggerId);
      s.sentAt = r?.sentAt;
      s.ackAt = r?.ackAt;
      s.ackStatus = r?.status;
      s.ackError = r ? r.error : 'not sent';
    }
  });
  await Promise.all([sent, ...followed]);
  return samples;
}

/** What the app's own HTTP server saw: when each delivery arrived and when its answer was written. */
function watchServer(h: SlackHarness): { arrivals: number[]; inApp: number[]; stop(): void } {
  const arrivals: number[] = [];
  const inApp: number[] = [];
  const onRequest = (_req: unknown, res: { once(e: 'finish', f: () => void): void }) => {
    const at = clock();
    arrivals.push(at);
    res.once('finish', () => inApp.push(clock() - at));
  };
  h.server.prependListener('request', onRequest);
  return { arrivals, inApp, stop: () => h.server.off('request', onRequest) };
}

function p99Of(values: number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    99,
  );
}

function line(label: string, values: number[], goalMs?: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (x: number) => `${Math.round(x)} ms`.padStart(8);
  const p99 = percentile(sorted, 99);
  const goal = goalMs === undefined ? '' : `   goal p99 < ${goalMs} ms ${p99 < goalMs ? '✓' : '✗'}`;
  return `  ${label.padEnd(14)} p50 ${f(percentile(sorted, 50))}  p99 ${f(p99)}  max ${f(sorted.at(-1) ?? NaN)}  (n=${sorted.length})${goal}`;
}

async function main(): Promise<void> {
  const args = parseCli();
  const stops: Array<[string, () => Promise<unknown>]> = [];
  let exitCode: number;
  try {
    exitCode = await run(args, stops);
  } catch (err) {
    console.error(err);
    exitCode = 1;
  } finally {
    for (const [what, stop] of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        progress(`stopping ${what} failed: ${String(err)}`);
        exitCode = 1;
      }
    }
  }
  process.exit(exitCode);
}

async function run(args: Args, stops: Array<[string, () => Promise<unknown>]>): Promise<number> {
  const t0 = Date.now();

  // 1. MongoDB (as the tests start it), then Latch + Slack composed by the test harness on it.
  let mongo: EmbeddedMongo | undefined;
  if (!process.env.MONGODB_URI) {
    mongo = await startEmbeddedMongo({ stateDir: path.resolve('.latch'), persistent: false, log: progress });
    stops.push(['MongoDB', () => mongo!.stop()]);
    // The harness connects to MONGODB_URI (a database of its own, dropped on close).
    process.env.MONGODB_URI = mongo.uri;
  }
  const engine = mongo ? mongo.kind : 'MONGODB_URI';
  const h = await startSlackHarness('bench_slack_ack');
  stops.push(['Latch and Slack', () => h.close()]);

  // 2. People (measured ones and warm-up ones apart, so no measured profile is cached by the warm-up).
  const measured = Array.from({ length: args.count }, (_, i) => userId(i + 1));
  const warmups = Array.from({ length: args.warmup }, (_, i) => userId(args.count + i + 1));
  for (const id of [...measured, ...warmups]) {
    const n = id.slice(1).replace(/^0+/, '');
    h.standIn.addUser({ id, email: `user${n}@example.com`, realName: `User ${n}` });
  }

  // 3. One flow over an integration's resources, so the modal has something to offer. The resources
  //    are written as discovery writes them; no connection to the integration is ever made here.
  await h.latch.admin.saveIntegration('config-file', {
    name: INTEGRATION,
    type: 'postgresql',
    config: { host: '127.0.0.1', port: 1, user: 'latch', database: 'postgres' },
    secrets: {},
  });
  await h.db.models.Resource.insertMany(
    Array.from({ length: args.resources }, (_, i) => ({
      integration: INTEGRATION,
      resourceId: `db:app/schema:s${String(i + 1).padStart(3, '0')}`,
      name: `app.s${String(i + 1).padStart(3, '0')}`,
      kind: 'schema',
      permissions: ['read', 'write'],
      tags: {},
      owners: [],
      seenAt: new Date(),
    })),
  );
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Bench app read',
      targets: [{ integration: INTEGRATION, include: [], permissions: ['read'] }],
      duration: { choicesMinutes: [60, 120], maxMinutes: 120 },
    }),
  );

  // 4. Who plays Slack's side: a child process (default) or this process (--in-process).
  let send: Sender;
  if (args.inProcess) {
    send = (items) => sendAll(h.driver, items);
  } else {
    const sender = await startSenderProcess({
      url: `${h.baseUrl}/slack/events`,
      signingSecret: SIGNING_SECRET,
      teamId: TEAM,
      responseUrlBase: h.standIn.hooksUrl,
    });
    stops.push(['sender process', () => sender.stop()]);
    send = sender.send;
  }
  const ready = Date.now();
  progress(`ready in ${secs(ready - t0)} (MongoDB: ${engine})`);

  // 5. Warm-up (not counted), then the measured round.
  if (warmups.length) {
    const w = await round(h, send, 'w', warmups, args.timeoutMs);
    const bad = w.filter((s) => s.ackStatus !== 200 || !s.updateOk);
    progress(`warm-up: ${warmups.length} commands, ${bad.length} not answered or not filled in`);
  }
  const server = watchServer(h);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const roundStart = clock();
  const samples = await round(h, send, 'm', measured, args.timeoutMs);
  const roundMs = clock() - roundStart;
  loopDelay.disable();
  server.stop();

  // 6. Figures.
  const since = (s: Sample, at: number | undefined) =>
    at === undefined || s.sentAt === undefined ? undefined : at - s.sentAt;
  const values = (xs: Array<number | undefined>) => xs.filter((x): x is number => x !== undefined);
  const answered = samples.filter((s) => s.ackStatus === 200);
  const acks = values(answered.map((s) => since(s, s.ackAt)));
  const failedAcks = samples.filter((s) => s.ackStatus !== 200);
  const opens = values(samples.filter((s) => s.openOk).map((s) => since(s, s.openAt)));
  const missingOpen = samples.filter((s) => s.openAt === undefined);
  const failedOpen = samples.filter((s) => s.openAt !== undefined && !s.openOk);
  const updates = values(samples.filter((s) => s.updateOk).map((s) => since(s, s.updateAt)));
  const missingUpdate = samples.filter((s) => s.openOk && !s.updateOk);
  const notForm = samples.filter((s) => s.updateOk && s.updateCallbackId !== VIEW.request);
  const violations = h.standIn.violations.length; // of this round: round() resets the stand-in's record
  const firstSent = Math.min(...values(samples.map((s) => s.sentAt)));
  const ackP99 = p99Of(acks);
  const openP99 = p99Of(opens);

  say('');
  say(`/access under load — ${args.count} commands from ${args.count} people at once`);
  say(`  MongoDB engine:  ${engine}`);
  say(
    `  sender:          ${args.inProcess ? "this process (--in-process: sending shares the app's event loop)" : 'a child process'}`,
  );
  say(
    `  set-up:          ${secs(ready - t0)}; ${args.resources} resources in one flow; warm-up ${args.warmup} commands`,
  );
  say(`  round:           ${secs(roundMs)} from the first send to the last modal filled in`);
  say(line('ack', acks, GOAL_ACK_P99_MS));
  say(line('views.open', opens, GOAL_OPEN_P99_MS));
  say(line('views.update', updates));
  say(
    `  failed acks (non-200 or no answer): ${failedAcks.length}` +
      (failedAcks.length
        ? ` (${[...new Set(failedAcks.map((s) => s.ackStatus ?? s.ackError))].join(', ')})`
        : ''),
  );
  say(
    `  missing views.open: ${missingOpen.length}; views.open refused: ${failedOpen.length}` +
      (failedOpen.length ? ` (${[...new Set(failedOpen.map((s) => s.openError))].join(', ')})` : ''),
  );
  say(
    `  views.update missing or refused: ${missingUpdate.length}` +
      (missingUpdate.length ? ` (${[...new Set(missingUpdate.map((s) => s.updateError))].join(', ')})` : '') +
      `; filled with something other than the request form: ${notForm.length}` +
      (notForm.length ? ` (${[...new Set(notForm.map((s) => s.updateCallbackId))].join(', ')})` : ''),
  );
  if (violations) say(`  Block Kit violations reported by the stand-in: ${violations}`);
  const lastSent = Math.max(...values(samples.map((s) => s.sentAt)));
  const arrivals = server.arrivals.map((a) => a - firstSent);
  say('  where the ack time goes (app side):');
  say(`  sending         the sender took ${Math.round(lastSent - firstSent)} ms to hand all to fetch`);
  say(line('arrival', arrivals) + '  <- first send to the app reading the request');
  say(line('in the app', server.inApp) + '  <- request read to answer written');
  say(
    `  event loop delay during the round: mean ${(loopDelay.mean / 1e6).toFixed(0)} ms, p99 ${(loopDelay.percentile(99) / 1e6).toFixed(0)} ms, max ${(loopDelay.max / 1e6).toFixed(0)} ms`,
  );
  say(
    `  goals: ack p99 < ${GOAL_ACK_P99_MS} ms ${ackP99 < GOAL_ACK_P99_MS ? '✓' : '✗'}, views.open p99 < ${GOAL_OPEN_P99_MS} ms ${openP99 < GOAL_OPEN_P99_MS ? '✓' : '✗'}`,
  );

  const errors =
    failedAcks.length +
    missingOpen.length +
    failedOpen.length +
    missingUpdate.length +
    notForm.length +
    violations;
  if (errors) progress(`${errors} errors (see above)`);
  return errors ? 1 : 0;
}

const senderSettings = process.env[SENDER_ENV];
if (senderSettings) runSender(JSON.parse(senderSettings) as DriverSettings);
else await main();
