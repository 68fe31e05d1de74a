/**
 * Benchmark: how fast does Latch answer Teams card clicks when many approvers click at once?
 *
 * Composes Latch with its Teams bot as test/e2e/teams-bot.test.ts does (createTeamsCore on the
 * database Latch then uses, the Teams notifier as the outbox's `teams` channel, startTeamsBot's
 * routes on Latch's own HTTP server on a real port), against the Bot Framework stand-in
 * (test/support/bot-framework-stand-in.ts: the OpenID metadata and keys the channel's tokens are
 * checked against, the Entra token endpoint, the connector). Set-up: a PostgreSQL integration whose
 * N (+ warm-up) schemas each have their own owner, one flow whose approver is the resource owner,
 * and N requests from N requesters, one per schema, submitted through the core; approvers and
 * requesters have installed the app (teams_users written in one batch, the stand-in knows each
 * approver as a member), and the outbox has delivered every approval card. Then N approvers click
 * Approve at once: N signed `invoke` activities (`adaptiveCard/action`, Action.Execute with the verb
 * and data of the card each received) POSTed to /api/messages, each on a new connection. Each
 * response time is from the POST to the whole invoke response read (it carries the redrawn card,
 * checked to say "Approved by you."). The outbox then rewrites each approver's card and tells each
 * requester, in the background, while later invokes are still being answered, as in production.
 *
 * Floor, measured in the same run, before the measured round: the same N signed POSTs, sent the same
 * way, to a bench-only route on the same server that runs the same adapter's process() (body read,
 * botbuilder's JWT check against the stand-in's keys, the turn, the invoke response written) with a
 * handler that answers at once. What Latch does on top of that is the difference. A second floor
 * ("floor + lookup") also looks the sender up (TeamsInfo.getMember, one connector call), as every
 * Latch turn does first, to show what that lookup costs under the same burst. And the store floor:
 * the least the store must do for N approvals at once, with no HTTP and no Latch (one guarded update
 * per approval on copies of the N requests, with the requests' indexes; measureStoreFloor).
 *
 *   npm run bench:teams-invoke -- [--count 200] [--warmup 10] [--timeout-seconds 60]
 *                                  [--setup-concurrency 4] [--in-process] [--worker] [--trace]
 *
 * Goal from the issue: 200 concurrent invokes, p99 within 2x the floor. It prints figures and asserts
 * nothing about them; it exits 1 only on a real error (an invoke not answered with the approved card,
 * a floor request not answered 200, a crash).
 *
 * MongoDB: MONGODB_URI when set, else the embedded one (mongodb-memory-server or SecantusDB, as the
 * other benchmarks pick); PostgreSQL: PG_URL, else a throwaway cluster. The Microsoft side (the
 * stand-in and the sender) runs in a child process (this file again), as Microsoft runs on its own
 * servers, so its work does not queue on Latch's event loop; --in-process runs it in this process, as
 * the e2e tests do. --worker also runs the sweep loop in this process (the `all` role): the approved
 * requests are granted on PostgreSQL while later clicks are answered.
 *
 * Also printed: where the time goes inside Latch, per invoke (taken in this process by wrapping the
 * adapter's process(), the turn's sender lookup, the teams_users write and the core calls the bot
 * makes), the connector calls, token requests and key fetches the round caused, and event loop delay.
 * --trace adds every MongoDB command of the measured round (driver command monitoring), labelled by
 * the turn phase that sent it, or the background (the outbox).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { forkSide, serveSide } from './child-side.js';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { Agent, fetch } from 'undici';
import { VERB, type AdaptiveCard } from '../blocks/teams/cards.js';
import { createLatch, type ChannelCore } from '../src/app.js';
import type { BotFrameworkEndpoints, TeamsTurn } from '../src/channels/teams/adapter.js';
import { createTeamsCore, startTeamsBot, TEAMS_MESSAGES_PATH } from '../src/channels/teams/index.js';
import type { Notifier } from '../src/lifecycle/notifier.js';
import { mapLimit } from '../src/lifecycle/sweeps/index.js';
import { silentLogger } from '../src/logger.js';
import { connectDatabase, type Database } from '../src/store/db.js';
import { startEmbeddedMongo, type EmbeddedMongo } from '../src/store/embedded-mongo.js';
import { startWebServer, type Routes } from '../src/web/server.js';
import { BotFrameworkStandIn, type TeamsMember } from '../test/support/bot-framework-stand-in.js';
import {
  addPgIntegration,
  createPgDatabase,
  flow,
  person,
  schemaId,
  withDatabase,
} from '../test/support/fixture.js';
import { startPostgres } from '../test/support/postgres-server.js';
import { percentile, say, secs, sleep } from './active-grants.js';
import { progress, runThenStop, type Stops } from './harness.js';

// The e2e test's app registration (test/e2e/teams-bot.test.ts).
const APP_ID = '8c0f1f8e-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const APP_PASSWORD = 'stand-in-secret';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ADMIN = 'bench-admin@example.com';
const GOAL_RATIO = 2;
const FLOOR_PATH = '/bench/floor';
const LOOKUP_FLOOR_PATH = '/bench/floor-lookup';
const INVOKE_MESSAGE = 'application/vnd.microsoft.activity.message';

interface Args {
  count: number;
  warmup: number;
  timeoutMs: number;
  setupConcurrency: number;
  inProcess: boolean;
  worker: boolean;
  trace: boolean;
}

function parseCli(): Args {
  const { values } = parseArgs({
    options: {
      count: { type: 'string', default: '200' },
      warmup: { type: 'string', default: '10' },
      'timeout-seconds': { type: 'string', default: '60' },
      'setup-concurrency': { type: 'string', default: '4' },
      'in-process': { type: 'boolean', default: false },
      worker: { type: 'boolean', default: false },
      trace: { type: 'boolean', default: false },
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
    timeoutMs: int('timeout-seconds', values['timeout-seconds'], 1) * 1000,
    setupConcurrency: int('setup-concurrency', values['setup-concurrency'], 1),
    inProcess: values['in-process'] ?? false,
    worker: values.worker ?? false,
    trace: values.trace ?? false,
  };
}

/** Milliseconds on this process's monotonic clock. */
const clock = () => performance.now();

interface LoopDelay {
  meanMs: number;
  p99Ms: number;
  maxMs: number;
}

function loopDelayOf(h: ReturnType<typeof monitorEventLoopDelay>): LoopDelay {
  return { meanMs: h.mean / 1e6, p99Ms: h.percentile(99) / 1e6, maxMs: h.max / 1e6 };
}

const delayLine = (d: LoopDelay) =>
  `mean ${d.meanMs.toFixed(0)} ms, p99 ${d.p99Ms.toFixed(0)} ms, max ${d.maxMs.toFixed(0)} ms`;

// ---------------------------------------------------------------------------------------------
// The Microsoft side: the Bot Framework stand-in and the sender of the activities.
// ---------------------------------------------------------------------------------------------

/** One POST of a round; times are durations on the sender's clock. */
interface Shot {
  ms?: number;
  status?: number;
  body?: string;
  error?: string;
}

interface FireResult {
  shots: Shot[];
  /** From the first send to the last answer read. */
  roundMs: number;
  loopDelay?: LoopDelay;
}

/** What the stand-in has seen so far (differences between two of these are a round's). */
interface Counts {
  getMember: number;
  sendToConversation: number;
  replyToActivity: number;
  updateActivity: number;
  createConversation: number;
  tokenRequests: number;
  metadata: number;
  keys: number;
}

/** The Approve button of the approval card a conversation received: where it is and what it sends. */
interface CardAction {
  activityId: string;
  data: Record<string, unknown>;
}

/**
 * Sends every activity at once, each with its own freshly signed channel token (signed before the
 * first send), each on a new connection (a dispatcher of its own for the round), and times each
 * from the call to the whole response read.
 */
async function fire(
  standIn: BotFrameworkStandIn,
  url: string,
  activities: object[],
  timeoutMs: number,
  measureLoop: boolean,
): Promise<FireResult> {
  const bodies = activities.map((a) => JSON.stringify(a));
  const tokens = await Promise.all(activities.map(() => standIn.signChannelToken({ audience: APP_ID })));
  const agent = new Agent({ keepAliveTimeout: 10_000 });
  const loop = measureLoop ? monitorEventLoopDelay({ resolution: 10 }) : undefined;
  loop?.enable();
  const shots: Shot[] = activities.map(() => ({}));
  const start = clock();
  try {
    await Promise.all(
      shots.map(async (shot, i) => {
        const sentAt = clock();
        try {
          const res = await fetch(url, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens[i]}` },
            body: bodies[i],
            dispatcher: agent,
            signal: AbortSignal.timeout(timeoutMs),
          });
          shot.body = await res.text();
          shot.ms = clock() - sentAt;
          shot.status = res.status;
        } catch (err) {
          shot.error = String(err);
        }
      }),
    );
  } finally {
    loop?.disable();
    await agent.close();
  }
  return { shots, roundMs: clock() - start, loopDelay: loop && loopDelayOf(loop) };
}

function countsOf(standIn: BotFrameworkStandIn): Counts {
  const by = (op: string) => standIn.calls.filter((c) => c.operation === op).length;
  return {
    getMember: by('getMember'),
    sendToConversation: by('sendToConversation'),
    replyToActivity: by('replyToActivity'),
    updateActivity: by('updateActivity'),
    createConversation: by('createConversation'),
    tokenRequests: standIn.tokenRequests.length,
    metadata: standIn.wellKnownFetches.metadata,
    keys: standIn.wellKnownFetches.keys,
  };
}

/** The Approve action of the last approval card each conversation was sent (null: none arrived). */
function approvalCards(standIn: BotFrameworkStandIn, conversationIds: string[]): Array<CardAction | null> {
  const found = new Map<string, CardAction>();
  for (const call of standIn.calls) {
    if (call.operation !== 'sendToConversation' && call.operation !== 'replyToActivity') continue;
    const card = (call.body.attachments as Array<{ content?: AdaptiveCard }> | undefined)?.[0]?.content;
    const approve = card?.actions?.find((a) => a.verb === VERB.approve);
    if (!approve || !call.conversationId) continue;
    found.set(call.conversationId, {
      activityId: String(call.response.id),
      data: (approve.data ?? {}) as Record<string, unknown>,
    });
  }
  return conversationIds.map((id) => found.get(id) ?? null);
}

interface MicrosoftSide {
  where: string;
  endpoints: BotFrameworkEndpoints;
  serviceUrl: string;
  addMembers(members: TeamsMember[]): Promise<void>;
  approvalCards(conversationIds: string[]): Promise<Array<CardAction | null>>;
  fire(url: string, activities: object[], timeoutMs: number, measureLoop: boolean): Promise<FireResult>;
  counts(): Promise<Counts>;
}

const STAND_IN_OPTIONS = { appId: APP_ID, appPassword: APP_PASSWORD, tenantId: TENANT_ID };

function inProcessSide(standIn: BotFrameworkStandIn): MicrosoftSide {
  return {
    where: "this process (--in-process: the stand-in and the sender share Latch's event loop)",
    endpoints: standIn.endpoints,
    serviceUrl: standIn.serviceUrl,
    addMembers: async (members) => members.forEach((m) => standIn.members.set(m.id, m)),
    approvalCards: async (ids) => approvalCards(standIn, ids),
    fire: (url, activities, timeoutMs, measureLoop) => fire(standIn, url, activities, timeoutMs, measureLoop),
    counts: async () => countsOf(standIn),
  };
}

const MICROSOFT_SIDE_ENV = 'LATCH_BENCH_MICROSOFT_SIDE';

type SideRequest =
  | { id: number; op: 'addMembers'; members: TeamsMember[] }
  | { id: number; op: 'approvalCards'; conversationIds: string[] }
  | { id: number; op: 'fire'; url: string; activities: object[]; timeoutMs: number; measureLoop: boolean }
  | { id: number; op: 'counts' };
interface SideReady {
  ready: true;
  endpoints: BotFrameworkEndpoints;
  serviceUrl: string;
}

/** The Microsoft side in a child process (this file again), answering the parent over IPC. */
async function startMicrosoftProcess(): Promise<MicrosoftSide & { stop(): Promise<void> }> {
  const { ready, call, stop } = await forkSide<SideRequest, SideReady>(
    fileURLToPath(import.meta.url),
    MICROSOFT_SIDE_ENV,
    'Microsoft',
  );
  return {
    where: 'a child process (the stand-in and the sender)',
    endpoints: ready.endpoints,
    serviceUrl: ready.serviceUrl,
    addMembers: (members) => call({ op: 'addMembers', members }),
    approvalCards: (conversationIds) => call({ op: 'approvalCards', conversationIds }),
    fire: (url, activities, timeoutMs, measureLoop) =>
      call({ op: 'fire', url, activities, timeoutMs, measureLoop }),
    counts: () => call({ op: 'counts' }),
    stop,
  };
}

/** Microsoft mode: runs the stand-in and sends what the parent asks; exits when the parent goes. */
async function runMicrosoftProcess(): Promise<void> {
  const standIn = await BotFrameworkStandIn.start(STAND_IN_OPTIONS);
  const side = inProcessSide(standIn);
  const handle = async (req: SideRequest): Promise<unknown> => {
    switch (req.op) {
      case 'addMembers':
        return side.addMembers(req.members);
      case 'approvalCards':
        return side.approvalCards(req.conversationIds);
      case 'fire':
        return side.fire(req.url, req.activities, req.timeoutMs, req.measureLoop);
      case 'counts':
        return side.counts();
    }
  };
  serveSide<SideRequest>(handle, () => standIn.close());
  process.send!({
    ready: true,
    endpoints: standIn.endpoints,
    serviceUrl: standIn.serviceUrl,
  } satisfies SideReady);
}

// ---------------------------------------------------------------------------------------------
// Inside Latch: where each invoke's time goes.
// ---------------------------------------------------------------------------------------------

/** One POST as the app handled it (times on this process's clock). */
interface TurnTrace {
  path: string;
  arrivedAt: number;
  /** When botbuilder had checked the token and called the turn handler. */
  turnAt?: number;
  turnEndAt?: number;
  /** When the response was handed to the OS. */
  finishedAt?: number;
  phases: Record<string, number>;
  /** The phase running now (a turn's phases run one after the other). */
  current?: Phase;
}

const PHASES = {
  sender: 'sender lookup (TeamsInfo.getMember, a connector call)',
  seen: 'teams_users write (people.seen), beside the turn: not waited for',
  approve: 'approve use-case',
  context: 'requester context (2 counts)',
} as const;
type Phase = keyof typeof PHASES;

const turnTraces = new AsyncLocalStorage<TurnTrace>();

/** Times `fn` as `phase` of the turn it runs in (background work, outside any turn, is not timed). */
async function timed<T>(phase: Phase, fn: () => Promise<T>): Promise<T> {
  const trace = turnTraces.getStore();
  if (!trace) return fn();
  const t0 = clock();
  trace.current = phase;
  try {
    return await fn();
  } finally {
    trace.current = undefined;
    trace.phases[phase] = (trace.phases[phase] ?? 0) + clock() - t0;
  }
}

/** `target` with `method` timed as `phase`; everything else as it is. */
function timedMethod<T extends object>(target: T, method: string, phase: Phase): T {
  return new Proxy(target, {
    get(t, prop) {
      const v: unknown = Reflect.get(t, prop, t);
      if (typeof v !== 'function') return v;
      const bound = (v as (...a: unknown[]) => unknown).bind(t);
      return prop === method
        ? (...args: unknown[]) => timed(phase, () => bound(...args) as Promise<unknown>)
        : bound;
    },
  });
}

/**
 * MongoDB commands (driver command monitoring, --trace) while `on`, by who sent them: a turn (and
 * which phase of it) or the background (the outbox), with the command, collection and filter keys.
 */
class CommandTally {
  on = false;
  readonly byLabel = new Map<string, { n: number; ms: number }>();

  constructor(db: Database) {
    const client = db.conn.getClient();
    const started = new Map<number, string>();
    const keysOf = (v: unknown) => (v && typeof v === 'object' ? Object.keys(v as object).join(',') : '');
    client.on('commandStarted', (e) => {
      if (!this.on) return;
      const cmd = e.command as Record<string, unknown>;
      const coll = typeof cmd[e.commandName] === 'string' ? String(cmd[e.commandName]) : '';
      let shape = '';
      if (e.commandName === 'find' || e.commandName === 'delete') shape = keysOf(cmd.filter);
      else if (e.commandName === 'count') shape = keysOf(cmd.query);
      else if (e.commandName === 'update') {
        const ups = cmd.updates as Array<{ q: unknown }> | undefined;
        shape = `${ups?.length ?? 0}x ${keysOf(ups?.[0]?.q)}`;
      } else if (e.commandName === 'findAndModify') shape = keysOf(cmd.query);
      else if (e.commandName === 'insert')
        shape = `${(cmd.documents as unknown[] | undefined)?.length ?? 0} docs`;
      const trace = turnTraces.getStore();
      const who = trace ? `turn ${trace.current ?? '(no phase)'}` : 'background';
      started.set(e.requestId, `${who}: ${e.commandName} ${coll} {${shape}}`);
    });
    const done = (e: { requestId: number; duration: number }) => {
      const label = started.get(e.requestId);
      if (!label) return;
      started.delete(e.requestId);
      const t = this.byLabel.get(label) ?? { n: 0, ms: 0 };
      t.n++;
      t.ms += e.duration;
      this.byLabel.set(label, t);
    };
    client.on('commandSucceeded', done);
    client.on('commandFailed', done);
  }
}

// ---------------------------------------------------------------------------------------------
// The benchmark.
// ---------------------------------------------------------------------------------------------

const pad = (n: number) => String(n).padStart(4, '0');
const approverEmail = (n: number) => `approver${pad(n)}@example.com`;
const aadOf = (kind: 'a' | 'r', n: number) =>
  `6f1b2c3d-0000-4000-8000-${kind === 'a' ? 'a' : 'b'}${String(n).padStart(11, '0')}`;
const personalChat = (aad: string) => `a:1personal-${aad}`;

interface Pair {
  n: number;
  schema: string;
  approver: TeamsMember;
  requestId?: string;
  card?: CardAction;
}

function stats(values: number[]): { p50: number; p95: number; p99: number; max: number; n: number } {
  const s = [...values].sort((a, b) => a - b);
  return {
    p50: percentile(s, 50),
    p95: percentile(s, 95),
    p99: percentile(s, 99),
    max: s.at(-1) ?? NaN,
    n: s.length,
  };
}

const ms = (x: number) => `${Math.round(x)} ms`.padStart(8);

function line(label: string, values: number[], note = ''): string {
  const s = stats(values);
  return `  ${label.padEnd(14)} p50 ${ms(s.p50)}  p95 ${ms(s.p95)}  p99 ${ms(s.p99)}  max ${ms(s.max)}  (n=${s.n})${note ? `  ${note}` : ''}`;
}

async function main(): Promise<void> {
  const args = parseCli();
  await runThenStop((stops) => run(args, stops));
}

async function run(args: Args, stops: Stops): Promise<number> {
  const t0 = Date.now();
  const total = args.count + args.warmup;

  // 1. MongoDB and PostgreSQL (as the other benchmarks start them), and the Microsoft side.
  const [mongo, pgServer] = await Promise.all([
    process.env.MONGODB_URI
      ? Promise.resolve(undefined)
      : startEmbeddedMongo({ stateDir: path.resolve('.latch'), persistent: false, log: progress }),
    startPostgres(),
  ]);
  if (mongo) stops.push(['MongoDB', () => (mongo as EmbeddedMongo).stop()]);
  stops.push(['PostgreSQL', () => pgServer.stop()]);
  const engine = mongo ? mongo.kind : 'MONGODB_URI';
  let microsoft: MicrosoftSide;
  if (args.inProcess) {
    const standIn = await BotFrameworkStandIn.start(STAND_IN_OPTIONS);
    stops.push(['the stand-in', () => standIn.close()]);
    microsoft = inProcessSide(standIn);
  } else {
    const child = await startMicrosoftProcess();
    stops.push(['the Microsoft process', () => child.stop()]);
    microsoft = child;
  }

  // 2. Latch with its Teams bot, composed as the e2e test composes it, plus the floor's routes.
  let uri = process.env.MONGODB_URI ?? mongo!.uri;
  if (args.trace) uri += (uri.includes('?') ? '&' : '?') + 'monitorCommands=true';
  const db = await connectDatabase(uri, { dbName: `bench_teams_${randomBytes(4).toString('hex')}` });
  const tally = args.trace ? new CommandTally(db) : undefined;
  stops.push(['MongoDB connection', () => db.close()]);
  if (process.env.MONGODB_URI) stops.push(['bench database', () => db.conn.dropDatabase()]);
  const encryptionKey = randomBytes(32);
  const teamsCore = await createTeamsCore({
    config: { appId: APP_ID, appPassword: APP_PASSWORD, appType: 'SingleTenant', tenantId: TENANT_ID },
    conn: db.conn,
    encryptionKey,
    log: silentLogger,
    endpoints: microsoft.endpoints,
  });
  // Instrumentation: each POST through the adapter is a trace; the turn's sender lookup, the
  // teams_users write and the core calls the bot makes are timed inside it. The outbox's deliveries
  // run outside any trace (they may start inside a turn that kicked them), so they are not counted.
  const traces: TurnTrace[] = [];
  const adapter = teamsCore.adapter;
  const process0 = adapter.process.bind(adapter);
  adapter.process = (req, res, onTurn) => {
    const trace: TurnTrace = { path: req.url ?? '', arrivedAt: clock(), phases: {} };
    traces.push(trace);
    res.once('finish', () => (trace.finishedAt = clock()));
    return turnTraces.run(trace, () =>
      process0(req, res, async (turn) => {
        trace.turnAt = clock();
        const traced = Object.assign(Object.create(turn) as TeamsTurn, {
          sender: () => timed('sender', () => turn.sender()),
        });
        try {
          await onTurn(traced);
        } finally {
          trace.turnEndAt = clock();
        }
      }),
    );
  };
  const seen0 = teamsCore.people.seen.bind(teamsCore.people);
  teamsCore.people.seen = (...a) => timed('seen', () => seen0(...a));
  const teamsChannel: Notifier = {
    notify: (event) => turnTraces.exit(() => teamsCore.notifier.notify(event)),
  };
  const latch = createLatch({
    db,
    encryptionKey,
    log: silentLogger,
    envAdmins: [ADMIN],
    channels: { teams: teamsChannel },
  });
  stops.push(['Latch', () => latch.close()]);
  stops.push(['outbox deliveries', () => latch.outbox.drain(5_000)]);
  const core: ChannelCore = {
    admin: latch.admin,
    requests: timedMethod(latch.requests, 'approve', 'approve'),
    queries: timedMethod(latch.queries, 'requesterContext', 'context'),
  };
  const teams = startTeamsBot(teamsCore, core, silentLogger);
  // The floor: the same adapter's process(), with a handler that answers the invoke at once (an
  // invoke response is kept by botbuilder and written as the HTTP answer; nothing goes to the
  // connector), and the same after looking the sender up.
  const answerAtOnce = (turn: TeamsTurn) =>
    turn.sendActivity({
      type: 'invokeResponse',
      value: { status: 200, body: { statusCode: 200, type: INVOKE_MESSAGE, value: 'ok' } },
    });
  const floorRoutes: Routes = (router) => {
    router.on('POST', FLOOR_PATH, (req, res) =>
      adapter.process(req, res, async (turn) => {
        await answerAtOnce(turn);
      }),
    );
    router.on('POST', LOOKUP_FLOOR_PATH, (req, res) =>
      adapter.process(req, res, async (turn) => {
        await turn.sender();
        await answerAtOnce(turn);
      }),
    );
  };
  const web = await startWebServer(latch, { port: 0, routes: [teams.routes, floorRoutes] });
  stops.push(['the web server', () => web.close(1_000)]);
  const base = `http://127.0.0.1:${web.port}`;
  const serversReady = Date.now();
  progress(`servers ready in ${secs(serversReady - t0)} (MongoDB: ${engine})`);

  // 3. Data. A PostgreSQL database with one schema per approver, discovered as an integration; each
  //    schema's owner is its approver (one bulk write); one flow asks the resource owner.
  const target = await createPgDatabase('teams_bench', pgServer.url);
  stops.push(['PostgreSQL database', () => target.drop()]);
  const pairs: Pair[] = Array.from({ length: total }, (_, i) => {
    const n = i + 1;
    const aadObjectId = aadOf('a', n);
    return {
      n,
      schema: `s${pad(n)}`,
      approver: {
        id: `29:1approver-${pad(n)}`,
        name: `Approver ${n}`,
        aadObjectId,
        email: approverEmail(n),
        userPrincipalName: approverEmail(n),
        tenantId: TENANT_ID,
      },
    };
  });
  {
    const c = new pg.Client({ connectionString: withDatabase(pgServer.url, target.database) });
    await c.connect();
    try {
      await c.query(pairs.map((p) => `CREATE SCHEMA ${p.schema}`).join(';\n'));
    } finally {
      await c.end();
    }
  }
  await addPgIntegration(latch, 'pg', { databases: [target.database] }, pgServer.url);
  await db.models.Resource.bulkWrite(
    pairs.map((p) => ({
      updateOne: {
        filter: { integration: 'pg', resourceId: schemaId(target.database, p.schema) },
        update: { $set: { owners: [p.approver.email!] } },
      },
    })),
    { ordered: false },
  );
  await latch.admin.saveFlow(
    person('bench-admin'),
    flow({
      name: 'Bench schema read',
      targets: [{ integration: 'pg', include: [], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'resource_owner' }] }] },
      duration: { maxMinutes: 60 },
    }),
  );
  //    Everyone has installed the app: one batch into teams_users (approvers and requesters, with the
  //    conversation reference of their personal chat); the stand-in knows the approvers as members.
  const reference = (userId: string, aadObjectId: string) => ({
    user: { id: userId, aadObjectId },
    bot: { id: `28:${APP_ID}`, name: 'Latch' },
    conversation: { id: personalChat(aadObjectId), conversationType: 'personal', tenantId: TENANT_ID },
    channelId: 'msteams',
    serviceUrl: microsoft.serviceUrl,
  });
  const now = new Date();
  const installed = (userId: string, aadObjectId: string, email: string, displayName: string) => ({
    _id: `${TENANT_ID}:${aadObjectId}`,
    tenantId: TENANT_ID,
    aadObjectId,
    userId,
    email,
    userPrincipalName: email,
    displayName,
    reference: reference(userId, aadObjectId),
    installedAt: now,
    seenAt: now,
  });
  await teamsCore.m.TeamsUser.insertMany(
    pairs.flatMap((p) => [
      installed(p.approver.id, p.approver.aadObjectId, p.approver.email!, p.approver.name),
      installed(`29:1requester-${pad(p.n)}`, aadOf('r', p.n), `requester${pad(p.n)}@example.com`, `R ${p.n}`),
    ]),
    { ordered: false },
  );
  await microsoft.addMembers(pairs.map((p) => p.approver));
  //    The requests, through the core (each submit appends to the audit log, so few at a time).
  const dataReady = Date.now();
  let submitted = 0;
  await mapLimit(pairs, args.setupConcurrency, async (p) => {
    const r = await latch.requests.submit(person(`requester${pad(p.n)}`), {
      targets: [{ integration: 'pg', resourceId: schemaId(target.database, p.schema), permission: 'read' }],
      durationMinutes: 60,
      justification: `bench ${p.n}`,
      source: 'api',
    });
    p.requestId = r.id;
    if (++submitted % 50 === 0) progress(`submitted ${submitted}/${total}`);
  });
  const submittedAt = Date.now();
  await settleOutbox(latch.outbox, args.timeoutMs * 4, 'approval cards');
  const cards = await microsoft.approvalCards(pairs.map((p) => personalChat(p.approver.aadObjectId)));
  pairs.forEach((p, i) => (p.card = cards[i] ?? undefined));
  const missingCards = pairs.filter((p) => !p.card || p.card.data.request !== p.requestId);
  if (missingCards.length)
    throw new Error(`${missingCards.length} approvers got no approval card for their request`);
  const cardsAt = Date.now();
  progress(
    `${total} requests submitted in ${secs(submittedAt - dataReady)}, their cards delivered in ${secs(cardsAt - submittedAt)}`,
  );

  // 4. The sweep loop, with --worker (the `all` role): approved requests get granted meanwhile.
  if (args.worker) {
    const stop = new AbortController();
    const running = latch.loop.run(stop.signal);
    stops.push([
      'the sweep loop',
      async () => {
        stop.abort();
        await running;
      },
    ]);
  }

  // 5. Rounds: warm-up (other approvers, not counted), the floors, the measured round.
  const invoke = (p: Pair) => ({
    type: 'invoke',
    name: 'adaptiveCard/action',
    id: `f:${randomBytes(8).toString('hex')}`,
    timestamp: new Date().toISOString(),
    localTimestamp: new Date().toISOString(),
    localTimezone: 'Europe/London',
    locale: 'en-GB',
    serviceUrl: microsoft.serviceUrl,
    channelId: 'msteams',
    from: { id: p.approver.id, name: p.approver.name, aadObjectId: p.approver.aadObjectId },
    conversation: {
      id: personalChat(p.approver.aadObjectId),
      conversationType: 'personal',
      tenantId: TENANT_ID,
    },
    recipient: { id: `28:${APP_ID}`, name: 'Latch' },
    replyToId: p.card!.activityId,
    channelData: {
      tenant: { id: TENANT_ID },
      source: { name: 'message' },
      legacy: { replyToId: p.card!.activityId },
    },
    // Action.Execute with associatedInputs 'auto': Teams adds the card's inputs (the empty reason box).
    value: {
      action: { type: 'Action.Execute', verb: VERB.approve, data: { ...p.card!.data, reason: '' } },
      trigger: 'manual',
    },
  });
  const warmups = pairs.slice(args.count);
  const measured = pairs.slice(0, args.count);
  const approvedCard = (shot: Shot) => {
    if (shot.status !== 200 || !shot.body) return false;
    try {
      const b = JSON.parse(shot.body) as { type?: string; value?: unknown };
      return (
        b.type === 'application/vnd.microsoft.card.adaptive' &&
        JSON.stringify(b.value).includes('Approved by you.')
      );
    } catch {
      return false;
    }
  };
  const beforeWarmup = await microsoft.counts();
  if (warmups.length) {
    const w = await microsoft.fire(
      `${base}${TEAMS_MESSAGES_PATH}`,
      warmups.map(invoke),
      args.timeoutMs,
      false,
    );
    const bad = w.shots.filter((s) => !approvedCard(s));
    progress(`warm-up: ${warmups.length} approvals, ${bad.length} not answered with the approved card`);
    await settleOutbox(latch.outbox, args.timeoutMs, 'the warm-up');
  }
  const afterWarmup = await microsoft.counts();

  interface Round {
    label: string;
    result: FireResult;
    traces: TurnTrace[];
    /** The stand-in's counts before the round, and what the round added. */
    before: Counts;
    counts: Counts;
    appLoop: LoopDelay;
  }
  const round = async (label: string, url: string): Promise<Round> => {
    await sleep(500); // let the previous round's leftovers (sockets closing, GC) settle
    const before = await microsoft.counts();
    const firstTrace = traces.length;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const result = await microsoft.fire(url, measured.map(invoke), args.timeoutMs, !args.inProcess);
    loop.disable();
    const after = await microsoft.counts();
    const counts = Object.fromEntries(
      Object.entries(after).map(([k, v]) => [k, v - before[k as keyof Counts]]),
    ) as unknown as Counts;
    progress(`${label}: ${measured.length} invokes in ${secs(result.roundMs)}`);
    return { label, result, traces: traces.slice(firstTrace), before, counts, appLoop: loopDelayOf(loop) };
  };
  const floor = await round('floor', `${base}${FLOOR_PATH}`);
  const lookupFloor = await round('floor + lookup', `${base}${LOOKUP_FLOOR_PATH}`);
  await sleep(500);
  const storeFloor = await measureStoreFloor(
    db,
    measured.map((p) => p.requestId!),
  );
  progress(`store floor: ${measured.length} guarded updates at once in ${secs(storeFloor.totalMs)}`);
  const roundStart = clock();
  if (tally) tally.on = true;
  const latchRound = await round('Latch', `${base}${TEAMS_MESSAGES_PATH}`);
  if (tally) tally.on = false;
  // The outbox's background work (card rewrites, the requesters told) the round started.
  const outboxLeft = await settleOutbox(latch.outbox, args.timeoutMs * 2, 'the round');
  const outboxDoneMs = clock() - roundStart;
  const outboxCounts = await microsoft.counts();

  // 6. Figures.
  const times = (r: Round) => r.result.shots.flatMap((s) => (s.ms === undefined ? [] : [s.ms]));
  const failedFloor = [...floor.result.shots, ...lookupFloor.result.shots].filter((s) => s.status !== 200);
  const notApproved = latchRound.result.shots.filter((s) => !approvedCard(s));
  const approvedNow = await db.models.Request.countDocuments({
    state: { $in: ['approved', 'granting', 'active'] },
  });
  const latchP99 = stats(times(latchRound)).p99;
  const floorP99 = stats(times(floor)).p99;
  const lookupP99 = stats(times(lookupFloor)).p99;
  const storeP99 = stats(storeFloor.times).p99;
  const ratio = latchP99 / floorP99;

  say('');
  say(
    `Teams card clicks under load — ${args.count} Action.Execute approvals at once, each from a different approver on a different request`,
  );
  say(`  MongoDB engine:   ${engine}`);
  say(`  Microsoft side:   ${microsoft.where}`);
  say(`  sweep loop:       ${args.worker ? 'running in this process (--worker)' : 'not running (web role)'}`);
  say(
    `  set-up:           ${secs(Date.now() - t0)}; ${total} requests submitted in ${secs(submittedAt - dataReady)} (concurrency ${args.setupConcurrency}), cards delivered in ${secs(cardsAt - submittedAt)}; warm-up ${args.warmup} approvals`,
  );
  say(`  each POST on a new connection; times from the POST to the whole response read`);
  say(line('Latch', times(latchRound), '<- approve, answered with the redrawn card'));
  say(line('floor', times(floor), '<- same POSTs, same adapter (JWT check), handler answers at once'));
  say(line('floor + lookup', times(lookupFloor), '<- the same, after TeamsInfo.getMember'));
  say(
    `  goal: p99 within ${GOAL_RATIO}x the floor: ${Math.round(latchP99)} ms / ${Math.round(floorP99)} ms = ${ratio.toFixed(1)}x ${ratio <= GOAL_RATIO ? '✓ met' : '✗ missed'}` +
      ` (floor + lookup p99 ${Math.round(lookupP99)} ms: ${(latchP99 / lookupP99).toFixed(1)}x)`,
  );
  say(
    line('store floor', storeFloor.times, '<- the store alone: one guarded update per approval, at once') +
      `\n  with the store: ${Math.round(latchP99)} ms / (${Math.round(floorP99)} + ${Math.round(storeP99)} ms) = ${(latchP99 / (floorP99 + storeP99)).toFixed(1)}x the HTTP floor plus the store floor`,
  );
  say(
    `  round: ${secs(latchRound.result.roundMs)} from the first POST to the last answer; the outbox's rewrites and messages done ${secs(outboxDoneMs)} after the first POST${outboxLeft ? ` (${outboxLeft} requests still waiting)` : ''}`,
  );

  say('  where the time goes in Latch, per invoke (taken in this process):');
  const inner = (label: string, values: number[], note: string) => say(`  ${line(label, values, note)}`);
  const done = (r: Round) => r.traces.filter((t) => t.finishedAt !== undefined);
  const authOf = (ts: TurnTrace[]) =>
    ts.flatMap((t) => (t.turnAt === undefined ? [] : [t.turnAt - t.arrivedAt]));
  const inAppOf = (ts: TurnTrace[]) => ts.map((t) => t.finishedAt! - t.arrivedAt);
  const ft = done(floor);
  const lt = done(latchRound);
  inner('floor, in app', inAppOf(ft), '<- request read to answer written');
  inner('  auth', authOf(ft), '<- body read, JWT checked, turn set up (botbuilder)');
  inner('Latch, in app', inAppOf(lt), '<- request read to answer written');
  inner('  auth', authOf(lt), '<- body read, JWT checked, turn set up (botbuilder)');
  for (const [phase, label] of Object.entries(PHASES) as Array<[Phase, string]>)
    inner(
      `  ${phase}`,
      lt.map((t) => t.phases[phase] ?? 0),
      `<- ${label}`,
    );
  inner(
    '  rest of turn',
    lt.flatMap((t) =>
      t.turnAt === undefined || t.turnEndAt === undefined
        ? []
        : [
            t.turnEndAt -
              t.turnAt -
              Object.entries(t.phases)
                .filter(([phase]) => phase !== 'seen')
                .reduce((a, [, ms]) => a + ms, 0),
          ],
    ),
    '<- the card drawn, the answer handed to botbuilder',
  );
  inner(
    '  answer',
    lt.flatMap((t) => (t.turnEndAt === undefined ? [] : [t.finishedAt! - t.turnEndAt])),
    '<- turn end to answer written',
  );

  const c = latchRound.counts;
  say(
    `  sender lookups: ${c.getMember} TeamsInfo.getMember calls to the connector during the round (${(c.getMember / args.count).toFixed(2)} per invoke); floor + lookup made ${lookupFloor.counts.getMember}, the floor ${floor.counts.getMember}`,
  );
  const since = (k: keyof Counts) => outboxCounts[k] - latchRound.before[k];
  say(
    `  the outbox's connector calls (background): ${c.updateActivity} card rewrites and ${c.sendToConversation + c.replyToActivity} messages during the round; ${since('updateActivity')} and ${since('sendToConversation') + since('replyToActivity')} until it was done`,
  );
  say(
    `  token requests (Entra) in the rounds: floor ${floor.counts.tokenRequests}, Latch ${c.tokenRequests}; OpenID metadata / key fetches: floor ${floor.counts.metadata}/${floor.counts.keys}, Latch ${c.metadata}/${c.keys}; before the rounds ${afterWarmup.metadata}/${afterWarmup.keys}, ${afterWarmup.metadata - beforeWarmup.metadata}/${afterWarmup.keys - beforeWarmup.keys} of them in the warm-up (botbuilder caches the keys)`,
  );
  say(
    `  event loop delay (Latch's process) during the round: ${delayLine(latchRound.appLoop)}; during the floor: ${delayLine(floor.appLoop)}`,
  );
  if (latchRound.result.loopDelay)
    say(
      `  event loop delay of the Microsoft process during the round: ${delayLine(latchRound.result.loopDelay)}`,
    );
  if (tally) {
    say(
      `  MongoDB commands during the round (--trace), by sender, most time first (count, total ms, per invoke):`,
    );
    const rows = [...tally.byLabel].sort((a, b) => b[1].ms - a[1].ms);
    for (const [label, t] of rows.slice(0, 25))
      say(
        `    ${String(t.n).padStart(5)} ${String(Math.round(t.ms)).padStart(8)} ms ${(t.n / args.count).toFixed(2).padStart(6)}  ${label}`,
      );
    const sum = (f: (l: string) => boolean) => rows.filter(([l]) => f(l)).reduce((a, [, t]) => a + t.n, 0);
    say(
      `    in turns: ${sum((l) => l.startsWith('turn'))} commands; background: ${sum((l) => l.startsWith('background'))}`,
    );
  }
  say(`  requests approved (or further) after the round: ${approvedNow} of ${total}`);
  if (notApproved.length)
    say(
      `  invokes not answered with the approved card: ${notApproved.length} (${[...new Set(notApproved.map((s) => s.error ?? `${s.status} ${s.body?.slice(0, 120)}`))].slice(0, 3).join('; ')})`,
    );
  if (failedFloor.length)
    say(
      `  floor POSTs not answered 200: ${failedFloor.length} (${[...new Set(failedFloor.map((s) => s.error ?? s.status))].join(', ')})`,
    );
  const errors = notApproved.length + failedFloor.length;
  if (errors) progress(`${errors} errors (see above)`);
  return errors ? 1 : 0;
}

/** The fields of a request document the store floor's update touches. */
interface ScratchRequest {
  _id: unknown;
  state: string;
  step: number;
  version: number;
  decidedAt?: Date;
  decidedBy?: string;
  nextAttemptAt?: Date;
  'lease.until'?: Date;
  notifyAt?: Date;
  remindAt?: Date;
  decideBy?: Date;
  approvals: Array<{ step: number; by: string; byGroups: string[]; at: Date }>;
  outbox: Array<Record<string, unknown>>;
}

interface StoreFloor {
  /** Each approval's update, from the start of the burst to its answer. */
  times: number[];
  totalMs: number;
}

/**
 * The least the store must do for N approvals at once, measured now on scratch copies of the N
 * pending requests (same documents, same indexes as the requests collection), with Latch not
 * involved: one guarded update per approval that changes all that Latch's approval changes (the
 * approval and the outbox entry pushed, state, deadlines and lease: the requests' indexed fields),
 * all at once, and one insert of N audit entries beside them (Latch's audit log batches its appends).
 */
async function measureStoreFloor(db: Database, requestIds: string[]): Promise<StoreFloor> {
  const { Request } = db.models;
  const numbers = requestIds.map((id) => Number(id.replace(/^\D+/, '')));
  const docs = await Request.find({ number: { $in: numbers } }).lean();
  const name = `bench_floor_${randomBytes(3).toString('hex')}`;
  const scratch = db.conn.db!.collection<ScratchRequest>(name);
  const audit = db.conn.db!.collection(`${name}_audit`);
  try {
    for (const { key, name: index, v, ns, ...options } of await Request.collection.indexes()) {
      void v;
      void ns;
      if (index !== '_id_') await scratch.createIndex(key, { name: index, ...options });
    }
    await scratch.insertMany(docs as unknown as ScratchRequest[], { ordered: false });
    const start = clock();
    const times: number[] = [];
    await Promise.all([
      ...docs.map(async (d) => {
        const at = new Date();
        // Everything Latch's two guarded updates change (decide.ts: the approval pushed, then the
        // step and the request completed, with the outbox entry), in one update.
        await scratch.findOneAndUpdate(
          { _id: d._id, state: 'pending', step: 0 },
          {
            $set: {
              state: 'approved',
              decidedBy: 'floor@example.com',
              decidedAt: at,
              nextAttemptAt: at,
              'lease.until': new Date(0),
              notifyAt: at,
            },
            $unset: { remindAt: 1, decideBy: 1 },
            $push: {
              approvals: { step: 0, by: 'floor@example.com', byGroups: [], at },
              outbox: {
                id: randomBytes(16).toString('hex'),
                type: 'request.approved',
                at,
                channels: ['teams'],
                attempts: 0,
                by: 'floor@example.com',
              },
            },
            $inc: { version: 1 },
          },
          { returnDocument: 'after' },
        );
        times.push(clock() - start);
      }),
      audit.insertMany(
        docs.map((d, i) => ({
          seq: i,
          action: 'request.approved',
          subject: { type: 'request', id: String(d.number) },
          at: new Date(),
          hash: 'x'.repeat(64),
        })),
        { ordered: false },
      ),
    ]);
    return { times, totalMs: clock() - start };
  } finally {
    await Promise.all([scratch.drop(), audit.drop()]);
  }
}

/**
 * Waits until no request has outbox events waiting (the deliveries this process started, and any
 * due that it kicks); returns how many still wait when `timeoutMs` ran out.
 */
async function settleOutbox(
  outbox: { drain(timeoutMs?: number): Promise<number>; kick(): void },
  timeoutMs: number,
  what: string,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = await outbox.drain(Math.max(0, Math.min(1_000, deadline - Date.now())));
    if (left === 0) return 0;
    if (Date.now() >= deadline) {
      progress(`the outbox still has events for ${left} requests after ${what}`);
      return left;
    }
    outbox.kick();
    await sleep(50);
  }
}

if (process.env[MICROSOFT_SIDE_ENV]) await runMicrosoftProcess();
else await main();
