/**
 * Benchmark: how fast does Latch acknowledge `/access` and open the request modal when many people
 * type it at once?
 *
 * Composes Latch and its Slack channel exactly as the end-to-end tests do (test/support/slack-harness.ts:
 * the real Bolt app behind Latch's HTTP receiver, talking to a recording stand-in of the Slack Web API
 * with the Block Kit limits validator), seeds the stand-in with N people and the catalog with one
 * flow's worth of resources, then sends N `/access` commands from N different people at once, signed
 * as Slack signs them. For each it measures:
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
 * Floor: after the warm-up and before the measured round, a do-nothing HTTP server is started in the
 * app's process (on 127.0.0.1:0; it reads each body and answers 200 `{}` at once) and Slack's side
 * sends it as many requests as the round has, the same way it sends the commands: the same signed
 * `/access` bodies and headers (so the same sizes), all at once, each on a new connection, through
 * the same driver and fetch, timed from send to response read as ack is. That is what this machine
 * and this way of sending cost with no app at all; it is printed right under the ack line, so ack
 * minus floor is roughly the app's own share. The server is closed before the measured round. It
 * uses connections of its own, so it leaves any keep-alive connections from the warm-up alone (they
 * only sit idle for as long as it takes). For each request it also opens the app's loading modal
 * with one bare fetch to the same Web API stand-in: 'floor open', the least a views.open costs from
 * this process under the same burst, printed under views.open. --no-floor skips it.
 *
 *   npm run bench:slack-ack -- [--count 200] [--warmup 10] [--resources 20] [--timeout-seconds 30]
 *                               [--in-process] [--no-floor] [--no-front]
 *
 * MongoDB: MONGODB_URI when set, else the embedded one (mongodb-memory-server or SecantusDB, as
 * `npm start` and the tests pick). Slack's side runs in a child process (this file again, in Slack
 * mode), as Slack runs on its own servers: it sends the commands and reads the answers, and it runs
 * the Web API stand-in (HTTP parsing, Block Kit validation of every view, the recording) that the app
 * is pointed at. So this process's event loop carries only the app, and all three delays are taken
 * on the child's one clock (performance.now() there). The harness still starts its own stand-in here,
 * which the app is not pointed at and which stays idle. --in-process runs Slack's side in this process
 * instead (sender and stand-in, as the tests do), so its work queues on the app's event loop too:
 * those figures are an upper bound for the app alone. Also printed: when the app's HTTP server
 * accepted each new connection and read each delivery, and how long it took to answer it (taken in
 * this process; the child's times are moved onto this process's clock by an offset measured over
 * IPC), and the event loop delay of the app's process and of the Slack process, to tell queueing
 * from work. (libuv accepts one connection per event loop turn, so a burst of new connections waits
 * in the listen queue while the app's loop is busy: compare 'accepted' with 'in the app'.)
 *
 * Each command comes on a new connection, as from Slack straight to Latch. A warm-up as large as
 * --count (--warmup 200) leaves that many keep-alive connections open for the measured round, as a
 * reverse proxy in front of Latch would: compare the two to see what connection set-up costs.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { forkSide, serveSide } from './child-side.js';
import { parseArgs } from 'node:util';
import { VIEW } from '../blocks/slack/ids.js';
import { loadingModal } from '../blocks/slack/request-modal.js';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src/store/embedded-mongo.js';
import { flow } from '../test/support/fixture.js';
import {
  startSlackStandIn,
  type SeedUser,
  type SlackCall,
  type SlackStandIn,
} from '../test/support/slack-stand-in.js';
import { SlackDriver } from '../test/support/slack-driver.js';
import {
  blockKitValidator,
  BOT_TOKEN,
  SIGNING_SECRET,
  startSlackHarness,
  TEAM,
  type SlackHarness,
} from '../test/support/slack-harness.js';
import { progress, runThenStop, type Stops } from './harness.js';

const INTEGRATION = 'bench-pg';
const GOAL_ACK_P99_MS = 100;
const GOAL_OPEN_P99_MS = 500;

interface Args {
  count: number;
  warmup: number;
  resources: number;
  timeoutMs: number;
  inProcess: boolean;
  floor: boolean;
  front: boolean;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '10' },
      resources: { type: 'string', default: '20' },
      'timeout-seconds': { type: 'string', default: '30' },
      'in-process': { type: 'boolean', default: false },
      'no-floor': { type: 'boolean', default: false },
      'no-front': { type: 'boolean', default: false },
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
    floor: !(values['no-floor'] ?? false),
    front: !(values['no-front'] ?? false),
  };
}

const say = (msg: string) => process.stdout.write(`${msg}\n`);
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
 * Milliseconds since the epoch with sub-millisecond steps. Within a process all times are taken on
 * it; between this process and the Slack process they are lined up with an offset measured over IPC
 * (see `measureOffset`).
 */
const EPOCH_AT_ZERO = Date.now() - performance.now();
const clock = () => EPOCH_AT_ZERO + performance.now();

interface LoopDelay {
  meanMs: number;
  p99Ms: number;
  maxMs: number;
}

function loopDelayOf(h: ReturnType<typeof monitorEventLoopDelay>): LoopDelay {
  return { meanMs: h.mean / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
}

/** What a round on Slack's side reports. */
interface RoundResult {
  samples: Sample[];
  /** Block Kit violations the stand-in reported during the round. */
  violations: number;
  /** The event loop delay of the process playing Slack, when asked to measure it. */
  loopDelay?: LoopDelay;
}

/**
 * Slack's side of the benchmark: the Web API stand-in the app talks to and the sender of the
 * commands, in this process (--in-process) or in a child process.
 */
interface SlackSide {
  where: string;
  addUsers(users: SeedUser[]): Promise<void>;
  round(name: string, users: string[], timeoutMs: number, measureLoop: boolean): Promise<RoundResult>;
  /**
   * The floor: sends `/access` from each user at once, as `round` does, but to `url` (the do-nothing
   * server), and only times send → response.
   */
  floor(url: string, users: string[], timeoutMs: number): Promise<Sample[]>;
}

/**
 * Sends `/access` from each sample's user at once; `ackAt` is when the driver has the whole response
 * (status and body read). The measured round and the floor both send through here.
 */
async function sendCommands(driver: SlackDriver, samples: Sample[]): Promise<void> {
  await Promise.all(
    samples.map(async (s) => {
      s.sentAt = clock();
      try {
        const res = await driver.command({ id: s.user }, '/access', '', { trigger_id: s.triggerId });
        s.ackAt = clock();
        s.ackStatus = res.status;
      } catch (err) {
        s.ackError = String(err);
      }
    }),
  );
}

/**
 * The floor round: the same commands (same sizes: one-letter round name, same users), to another
 * URL, timing the acknowledgement and, with `timeoutMs` above 0, the views.open the floor server
 * makes for each.
 */
async function playFloor(
  standIn: SlackStandIn,
  driver: SlackDriver,
  users: string[],
  timeoutMs: number,
): Promise<Sample[]> {
  standIn.reset();
  const mark = standIn.mark();
  const samples: Sample[] = users.map((user, i) => ({ user, triggerId: triggerIdFor('f', i) }));
  const opened = (timeoutMs > 0 ? samples : []).map(async (s) => {
    try {
      await standIn.waitForCall('views.open', (a) => a.trigger_id === s.triggerId, {
        after: mark,
        timeoutMs,
      });
      s.openAt = clock();
    } catch {
      s.openError = 'no views.open';
    }
  });
  await Promise.all([sendCommands(driver, samples), ...opened]);
  return samples;
}

/**
 * Sends `/access` from each user at once and follows each to its filled-in modal. Waiters on the
 * stand-in are registered before the commands are sent, so each time is taken when the stand-in
 * records the call (their promises resolve from its record step). The stand-in and the sender run
 * in the same process, so every time here is on one clock.
 */
async function playRound(
  standIn: SlackStandIn,
  driver: SlackDriver,
  name: string,
  users: string[],
  timeoutMs: number,
  measureLoop: boolean,
): Promise<RoundResult> {
  // Forget earlier calls, so each waiter below scans only this round's (the model of views is kept).
  standIn.reset();
  const mark = standIn.mark();
  const samples: Sample[] = users.map((user, i) => ({ user, triggerId: triggerIdFor(name, i) }));
  const loop = measureLoop ? monitorEventLoopDelay({ resolution: 10 }) : undefined;
  loop?.enable();
  const followed = samples.map(async (s) => {
    let opened: SlackCall;
    try {
      opened = await standIn.waitForCall('views.open', (a) => a.trigger_id === s.triggerId, {
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
      const updated = await standIn.waitForCall('views.update', (a) => a.view_id === viewId, {
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
  const sent = sendCommands(driver, samples);
  await Promise.all([sent, ...followed]);
  loop?.disable();
  return {
    samples,
    violations: standIn.violations.length, // of this round: reset() above cleared earlier ones
    loopDelay: loop && loopDelayOf(loop),
  };
}

const SLACK_SIDE_ENV = 'LATCH_BENCH_SLACK_SIDE';

interface DriverSettings {
  url: string;
  signingSecret: string;
  teamId: string;
  responseUrlBase: string;
}

/** Requests from this process to the Slack process, over IPC; each is answered with its id. */
type SlackRequest =
  | { id: number; op: 'clock' }
  | { id: number; op: 'addUsers'; users: SeedUser[] }
  | { id: number; op: 'connect'; driver: DriverSettings }
  | { id: number; op: 'round'; name: string; users: string[]; timeoutMs: number; measureLoop: boolean }
  | { id: number; op: 'floor'; url: string; users: string[]; timeoutMs: number };
interface SlackReady {
  ready: true;
  apiUrl: string;
  hooksUrl: string;
}

/**
 * Slack runs elsewhere: by default the Web API stand-in and the sender run in a child process (this
 * file again, in Slack mode), so neither the stand-in's work nor sending and reading the answers
 * queue on Latch's event loop. Times come back on the child's clock, moved onto this one.
 */
async function startSlackProcess(): Promise<
  SlackSide & {
    apiUrl: string;
    hooksUrl: string;
    connect(driver: DriverSettings): Promise<void>;
    /** The child's clock minus this process's, and the round trip it was measured over. */
    measureOffset(): Promise<{ offsetMs: number; rttMs: number }>;
    stop(): Promise<void>;
  }
> {
  const { ready, call, stop } = await forkSide<SlackRequest, SlackReady>(
    fileURLToPath(import.meta.url),
    SLACK_SIDE_ENV,
    'Slack',
  );
  let offsetMs = 0;
  const toHere = (t: number | undefined) => (t === undefined ? undefined : t - offsetMs);
  const samplesToHere = (samples: Sample[]) => {
    for (const s of samples) {
      s.sentAt = toHere(s.sentAt);
      s.ackAt = toHere(s.ackAt);
      s.openAt = toHere(s.openAt);
      s.updateAt = toHere(s.updateAt);
    }
    return samples;
  };
  return {
    where: 'a child process (with the sender)',
    apiUrl: ready.apiUrl,
    hooksUrl: ready.hooksUrl,
    connect: (driver) => call({ op: 'connect', driver }),
    addUsers: (users) => call({ op: 'addUsers', users }),
    round: async (name, users, timeoutMs, measureLoop) => {
      const r = await call<RoundResult>({ op: 'round', name, users, timeoutMs, measureLoop });
      samplesToHere(r.samples);
      return r;
    },
    floor: async (url, users, timeoutMs) =>
      samplesToHere(await call<Sample[]>({ op: 'floor', url, users, timeoutMs })),
    // NTP-style: the child reads its clock halfway through the round trip; the quickest trip wins.
    measureOffset: async () => {
      let best = { offsetMs: 0, rttMs: Infinity };
      for (let i = 0; i < 20; i++) {
        const t0 = clock();
        const there = await call<number>({ op: 'clock' });
        const t1 = clock();
        if (t1 - t0 < best.rttMs) best = { offsetMs: there - (t0 + t1) / 2, rttMs: t1 - t0 };
      }
      offsetMs = best.offsetMs;
      return best;
    },
    stop,
  };
}

/**
 * Slack mode: runs the Web API stand-in (with the bot token the app uses) and, once told where the
 * app is, sends each round the parent asks for; exits when the parent goes away.
 */
async function runSlackProcess(): Promise<void> {
  const standIn = await startSlackStandIn({ validate: blockKitValidator });
  standIn.addToken(BOT_TOKEN, { teamId: TEAM });
  let settings: DriverSettings | undefined;
  let driver: SlackDriver | undefined;
  const handle = async (req: SlackRequest): Promise<unknown> => {
    switch (req.op) {
      case 'clock':
        return clock();
      case 'addUsers':
        for (const u of req.users) standIn.addUser(u);
        return null;
      case 'connect':
        settings = req.driver;
        driver = new SlackDriver(req.driver);
        return null;
      case 'round':
        if (!driver) throw new Error('round before connect');
        return playRound(standIn, driver, req.name, req.users, req.timeoutMs, req.measureLoop);
      case 'floor':
        if (!settings) throw new Error('floor before connect');
        // The same settings as the commands' driver (so the same bodies, headers and signing), another URL.
        return playFloor(standIn, new SlackDriver({ ...settings, url: req.url }), req.users, req.timeoutMs);
    }
  };
  serveSide<SlackRequest>(handle, () => standIn.close());
  process.send!({ ready: true, apiUrl: standIn.url, hooksUrl: standIn.hooksUrl } satisfies SlackReady);
}

/**
 * What the app's own HTTP server saw: when it accepted each new connection, when each delivery
 * arrived and when its answer was written.
 */
function watchServer(h: SlackHarness): {
  accepted: number[];
  arrivals: number[];
  inApp: number[];
  stop(): void;
} {
  const accepted: number[] = [];
  const arrivals: number[] = [];
  const inApp: number[] = [];
  const onConnection = () => accepted.push(clock());
  const onRequest = (_req: unknown, res: { once(e: 'finish', f: () => void): void }) => {
    const at = clock();
    arrivals.push(at);
    res.once('finish', () => inApp.push(clock() - at));
  };
  h.server.own.prependListener('connection', onConnection);
  h.server.own.prependListener('request', onRequest);
  return {
    accepted,
    arrivals,
    inApp,
    stop: () => {
      h.server.own.off('connection', onConnection);
      h.server.own.off('request', onRequest);
    },
  };
}

/**
 * The floor's do-nothing server, in the app's process: reads each request's body and answers
 * 200 `{}` at once. The path is the app's, so the request lines are as long as the commands'. Then
 * it opens the same loading modal the app opens, with one bare fetch to the Web API (no client
 * library, no queue, no retries): the least that opening a modal costs from this process.
 */
async function startFloorServer(apiUrl?: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks); // the whole body, as a handler would have it
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
      if (!apiUrl) return;
      const triggerId = new URLSearchParams(body.toString('utf8')).get('trigger_id');
      void fetch(new URL('views.open', apiUrl), {
        method: 'POST',
        headers: { authorization: `Bearer ${BOT_TOKEN}`, 'content-type': 'application/json; charset=utf-8' },
        body: JSON.stringify({ trigger_id: triggerId, view: loadingModal() }),
      })
        .then((r) => r.arrayBuffer())
        .catch(() => undefined);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}/slack/events`,
    close: () =>
      (closed ??= new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        // The sender's keep-alive connections would otherwise hold close() open.
        server.closeAllConnections();
      })),
  };
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

const delayLine = (d: LoopDelay) =>
  `mean ${d.meanMs.toFixed(0)} ms, p99 ${d.p99Ms.toFixed(0)} ms, max ${d.maxMs.toFixed(0)} ms`;

async function main(): Promise<void> {
  const args = parseCli();
  await runThenStop((stops) => run(args, stops));
}

async function run(args: Args, stops: Stops): Promise<number> {
  const t0 = Date.now();

  // 1. MongoDB (as the tests start it); Slack's side (unless --in-process), so the app can be pointed
  //    at its stand-in; then Latch + Slack composed by the test harness.
  let mongo: EmbeddedMongo | undefined;
  if (!process.env.MONGODB_URI) {
    mongo = await startEmbeddedMongo({ stateDir: path.resolve('.latch'), persistent: false, log: progress });
    stops.push(['MongoDB', () => mongo!.stop()]);
    // The harness connects to MONGODB_URI (a database of its own, dropped on close).
    process.env.MONGODB_URI = mongo.uri;
  }
  const engine = mongo ? mongo.kind : 'MONGODB_URI';
  let slackSide: SlackSide;
  let h: SlackHarness;
  let offset: { offsetMs: number; rttMs: number } | undefined;
  /** The Web API the app talks to (the floor server opens its modals there too). */
  let slackApiUrl: string;
  if (args.inProcess) {
    h = await startSlackHarness('bench_slack_ack', { front: args.front });
    slackApiUrl = h.standIn.url;
    stops.push(['Latch and Slack', () => h.close()]);
    const { standIn, driver } = h;
    slackSide = {
      where: "this process (--in-process: its work shares the app's event loop)",
      addUsers: async (users) => users.forEach((u) => standIn.addUser(u)),
      round: (name, users, timeoutMs, measureLoop) =>
        playRound(standIn, driver, name, users, timeoutMs, measureLoop),
      // The harness's driver settings (test/support/slack-harness.ts), another URL.
      floor: (url, users, timeoutMs) =>
        playFloor(
          standIn,
          new SlackDriver({
            url,
            signingSecret: SIGNING_SECRET,
            teamId: TEAM,
            responseUrlBase: standIn.hooksUrl,
          }),
          users,
          timeoutMs,
        ),
    };
  } else {
    const child = await startSlackProcess();
    stops.push(['the Slack process', () => child.stop()]);
    // The harness also starts a stand-in of its own here; the app is not pointed at it, so it idles.
    h = await startSlackHarness('bench_slack_ack', { slack: { apiUrl: child.apiUrl }, front: args.front });
    slackApiUrl = child.apiUrl;
    stops.push(['Latch and Slack', () => h.close()]);
    await child.connect({
      url: `${h.baseUrl}/slack/events`,
      signingSecret: SIGNING_SECRET,
      teamId: TEAM,
      responseUrlBase: child.hooksUrl,
    });
    offset = await child.measureOffset();
    slackSide = child;
  }

  // 2. People (measured ones and warm-up ones apart, so no measured profile is cached by the warm-up).
  const measured = Array.from({ length: args.count }, (_, i) => userId(i + 1));
  const warmups = Array.from({ length: args.warmup }, (_, i) => userId(args.count + i + 1));
  await slackSide.addUsers(
    [...measured, ...warmups].map((id) => {
      const n = id.slice(1).replace(/^0+/, '');
      return { id, email: `user${n}@example.com`, realName: `User ${n}` };
    }),
  );

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
  const ready = Date.now();
  progress(`ready in ${secs(ready - t0)} (MongoDB: ${engine})`);

  // 4. Warm-up (not counted), then the measured round.
  if (warmups.length) {
    const w = await slackSide.round('w', warmups, args.timeoutMs, false);
    const bad = w.samples.filter((s) => s.ackStatus !== 200 || !s.updateOk);
    progress(`warm-up: ${warmups.length} commands, ${bad.length} not answered or not filled in`);
  }
  let floor: Sample[] | undefined;
  let openFloor: Sample[] | undefined;
  if (args.floor) {
    // Two floors, one after the other: answering only (the ack's), then answering and opening the
    // loading modal (views.open's), so the opening work does not slow the first.
    for (const opens of [false, true]) {
      const floorServer = await startFloorServer(opens ? slackApiUrl : undefined);
      stops.push(['the floor server', () => floorServer.close()]);
      const floorStart = clock();
      const samples = await slackSide.floor(floorServer.url, measured, opens ? args.timeoutMs : 0);
      const floorMs = clock() - floorStart;
      await floorServer.close();
      if (opens) openFloor = samples;
      else floor = samples;
      progress(
        `floor: ${measured.length} requests to a do-nothing server${opens ? ' that opens the modal' : ''} in ${secs(floorMs)}`,
      );
    }
  }
  const server = watchServer(h);
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  loopDelay.enable();
  const roundStart = clock();
  const result = await slackSide.round('m', measured, args.timeoutMs, !args.inProcess);
  const roundMs = clock() - roundStart;
  loopDelay.disable();
  server.stop();
  const { samples, violations } = result;

  // 5. Figures.
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
  const firstSent = Math.min(...values(samples.map((s) => s.sentAt)));
  const ackP99 = p99Of(acks);
  const floorAnswered = floor?.filter((s) => s.ackStatus === 200) ?? [];
  const floorAcks = values(floorAnswered.map((s) => since(s, s.ackAt)));
  const failedFloor = floor?.filter((s) => s.ackStatus !== 200) ?? [];
  const floorOpens = values(
    (openFloor ?? []).filter((s) => s.openAt !== undefined).map((s) => since(s, s.openAt)),
  );
  const openP99 = p99Of(opens);

  say('');
  say(`/access under load — ${args.count} commands from ${args.count} people at once`);
  say(`  MongoDB engine:  ${engine}`);
  say(
    `  sender:          ${args.inProcess ? "this process (--in-process: sending shares the app's event loop)" : 'a child process'}`,
  );
  say(`  Web API stand-in: ${slackSide.where}`);
  say(
    `  acking path:     ${h.server.fronted ? "the front's own thread acks slash commands (src/web/front/)" : "Latch's event loop acks (--no-front)"}`,
  );
  say(
    `  set-up:          ${secs(ready - t0)}; ${args.resources} resources in one flow; warm-up ${args.warmup} commands`,
  );
  say(`  round:           ${secs(roundMs)} from the first send to the last modal filled in`);
  say(line('ack', acks, GOAL_ACK_P99_MS));
  if (floor)
    say(
      line('floor', floorAcks) +
        "  <- do-nothing server in the app's process, same sending: the cost without the app",
    );
  say(line('views.open', opens, GOAL_OPEN_P99_MS));
  if (floor)
    say(
      line('floor open', floorOpens) +
        '  <- the do-nothing server opening the loading modal with one bare fetch per command',
    );
  say(line('views.update', updates));
  say(
    `  failed acks (non-200 or no answer): ${failedAcks.length}` +
      (failedAcks.length
        ? ` (${[...new Set(failedAcks.map((s) => s.ackStatus ?? s.ackError))].join(', ')})`
        : ''),
  );
  if (failedFloor.length)
    say(
      `  failed floor requests (non-200 or no answer): ${failedFloor.length}` +
        ` (${[...new Set(failedFloor.map((s) => s.ackStatus ?? s.ackError))].join(', ')})`,
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
  if (server.accepted.length)
    say(
      line(
        'accepted',
        server.accepted.map((a) => a - firstSent),
      ) + '  <- first send to the app accepting the connection (new connections only)',
    );
  if (h.server.fronted)
    say('  arrival, in the app: not seen here: the front acks commands and hands them over as messages');
  else {
    say(line('arrival', arrivals) + '  <- first send to the app reading the request');
    say(line('in the app', server.inApp) + '  <- request read to answer written');
  }
  if (offset)
    say(
      `  clocks:          the Slack process's clock is ${offset.offsetMs.toFixed(2)} ms from this one's (±${(offset.rttMs / 2).toFixed(2)} ms); its times are corrected`,
    );
  say(`  event loop delay during the round: ${delayLine(loopDelayOf(loopDelay))}`);
  if (result.loopDelay)
    say(`  event loop delay of the Slack process (sender and stand-in): ${delayLine(result.loopDelay)}`);
  const floorP99 = floorAcks.length ? p99Of(floorAcks) : NaN;
  say(
    `  goals: ack p99 < ${GOAL_ACK_P99_MS} ms ${ackP99 < GOAL_ACK_P99_MS ? '✓' : '✗'}, ack p99 within 2x the floor ${ackP99 <= 2 * floorP99 ? '✓' : '✗'} (${(ackP99 / floorP99).toFixed(1)}x), views.open p99 < ${GOAL_OPEN_P99_MS} ms ${openP99 < GOAL_OPEN_P99_MS ? '✓' : '✗'} (${(openP99 / p99Of(floorOpens)).toFixed(1)}x the floor's)`,
  );

  const errors =
    failedAcks.length +
    failedFloor.length +
    missingOpen.length +
    failedOpen.length +
    missingUpdate.length +
    notForm.length +
    violations;
  if (errors) progress(`${errors} errors (see above)`);
  return errors ? 1 : 0;
}

if (process.env[SLACK_SIDE_ENV]) await runSlackProcess();
else await main();
