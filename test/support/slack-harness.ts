/**
 * Latch with its Slack channel, composed as src/main.ts composes it, serving HTTP on a free port,
 * talking to a recording stand-in of the Slack Web API that runs the Block Kit limits validator
 * over every view and message. Tests drive it with requests signed as Slack signs them.
 */
import { randomBytes } from 'node:crypto';
import { ACTION } from '../../blocks/slack/ids.js';
import { checkMessage, checkView } from './slack-views/block-kit-limits.js';
import { createLatch, CONNECTOR_FACTORIES, type LatchOptions } from '../../src/app.js';
import { slackAuditChannelWitness } from '../../src/channels/slack/audit-witness.js';
import { createSlackCore, startSlackApp, type SlackChannel } from '../../src/channels/slack/index.js';
import type { SlackConfig } from '../../src/config.js';
import { silentLogger } from '../../src/logger.js';
import type { Notifier } from '../../src/lifecycle/notifier.js';
import { connectDatabase, type Database } from '../../src/store/db.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { RecordingNotifier, TestClock, type Fixture } from './fixture.js';
import { SlackDriver } from './slack-driver.js';
import { startSlackStandIn, type SlackStandIn, type SlackView } from './slack-stand-in.js';

export const SIGNING_SECRET = 'test-signing-secret';
export const BOT_TOKEN = 'xoxb-test-latch';
export const TEAM = 'T0LATCH';

export interface SlackHarness extends Fixture {
  standIn: SlackStandIn;
  driver: SlackDriver;
  slack: SlackChannel;
  server: WebServer;
  baseUrl: string;
}

const VIEW_METHODS = new Set(['views.open', 'views.update', 'views.push', 'views.publish']);
const MESSAGE_METHODS = new Set(['chat.postMessage', 'chat.update', 'chat.postEphemeral', 'response_url']);

/** Every view and message the app sends goes through the limits validator; a breach fails the call. */
export function blockKitValidator(method: string, args: Record<string, unknown>): string[] {
  const issues = VIEW_METHODS.has(method)
    ? checkView(args.view)
    : MESSAGE_METHODS.has(method)
      ? checkMessage(args)
      : [];
  return issues.map((i) => `${i.path}: ${i.message}`);
}

export async function startSlackHarness(
  name: string,
  opts: {
    envAdmins?: string[];
    slack?: Partial<SlackConfig>;
    expiryWarningMinutes?: number;
    /**
     * Slash commands acknowledged by the front's thread, as `npm start` does (default); false serves
     * everything from the app's own server.
     */
    front?: boolean;
    /** Runs after the stand-in starts and before the app does (Socket Mode needs its URL first). */
    beforeStart?: (standIn: SlackStandIn) => Promise<void> | void;
    /** More outbox channels (Teams), built on the harness's database before Latch is. */
    channels?: (db: Database) => Promise<Record<string, Notifier>>;
    /** Lifecycle webhooks on, with these delivery options (e.g. the receiver's test CA). */
    webhooks?: LatchOptions['webhooks'];
  } = {},
): Promise<SlackHarness> {
  const standIn = await startSlackStandIn({ validate: blockKitValidator });
  standIn.addToken(BOT_TOKEN, { teamId: TEAM });
  await opts.beforeStart?.(standIn);
  const dbName = `t_${name}_${randomBytes(4).toString('hex')}`;
  const db = await connectDatabase(process.env.MONGODB_URI!, { dbName });
  const clock = new TestClock();
  const notifier = new RecordingNotifier();
  const encryptionKey = randomBytes(32);
  const config: SlackConfig = {
    signingSecret: SIGNING_SECRET,
    botToken: BOT_TOKEN,
    apiUrl: standIn.url,
    ...opts.slack,
  };
  const envAdmins = opts.envAdmins ?? ['admin@example.com'];
  const core = await createSlackCore({
    conn: db.conn,
    config,
    encryptionKey,
    log: silentLogger,
    clock: clock.now,
  });
  const latch = createLatch({
    db,
    encryptionKey,
    log: silentLogger,
    envAdmins,
    clock: clock.now,
    factories: CONNECTOR_FACTORIES,
    expiryWarningMinutes: opts.expiryWarningMinutes,
    notifier,
    channels: { slack: core.notifier, ...(opts.channels ? await opts.channels(db) : {}) },
    sweep: { retryBaseMs: 1_000 },
    webhooks: opts.webhooks,
    // Checkpoints soon after writes, so tests see the audit channel's checkpoint lines without waiting a minute.
    auditCheckpointEveryMs: 200,
  });
  latch.audit.addWitness(
    slackAuditChannelWitness({
      auditChannel: async () => (await latch.ctx.settings()).auditChannel,
      workspaces: core.workspaces,
    }),
  );
  const slack = await startSlackApp(core, latch, { log: silentLogger, envAdmins });
  const server = await startWebServer(latch, {
    port: 0,
    routes: slack.routes ? [slack.routes] : [],
    front: opts.front !== false && slack.commandAcks ? { slack: slack.commandAcks } : undefined,
  });
  const port = server.port;
  const baseUrl = `http://127.0.0.1:${port}`;
  const driver = new SlackDriver({
    url: `${baseUrl}/slack/events`,
    signingSecret: SIGNING_SECRET,
    teamId: TEAM,
    responseUrlBase: standIn.hooksUrl,
  });
  return {
    latch,
    db,
    notifier,
    clock,
    encryptionKey,
    dbName,
    standIn,
    driver,
    slack,
    server,
    baseUrl,
    close: async () => {
      await server.close(1_000);
      await slack.stop();
      await latch.close();
      await standIn.close();
      await db.conn.dropDatabase();
      await db.close();
    },
  };
}

/** The buttons of a message or view, by action id. */
export function buttonsOf(
  blocks: unknown[] | undefined,
): Array<{ action_id: string; value?: string; text: string; block_id?: string }> {
  const out: Array<{ action_id: string; value?: string; text: string; block_id?: string }> = [];
  for (const b of (blocks ?? []) as Array<Record<string, unknown>>) {
    const els = [...((b.elements as unknown[]) ?? []), ...(b.accessory ? [b.accessory] : [])] as Array<
      Record<string, unknown>
    >;
    for (const e of els) {
      if (e.type === 'button')
        out.push({
          action_id: e.action_id as string,
          value: e.value as string | undefined,
          text: (e.text as { text: string }).text,
          block_id: b.block_id as string | undefined,
        });
    }
  }
  return out;
}

/** All the text of blocks, for asserting on what a person reads. */
export function textOf(blocks: unknown[] | undefined): string {
  const parts: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (typeof o.text === 'string') parts.push(o.text);
      for (const [k, x] of Object.entries(o)) if (k !== 'text' || typeof x !== 'string') walk(x);
    }
  };
  walk(blocks);
  return parts.join('\n');
}

/** A Slack user as the driver names one. */
type Person = { id: string; name?: string };

/**
 * Opens `user`'s App Home (and the `section` tab, if given) as Slack does, and returns the view
 * published for it.
 */
/** `/access [text]` as `user`: the request modal once Latch has drawn it (loading, then its form). */
export async function openRequestModal(h: SlackHarness, user: Person, text = '') {
  const mark = h.standIn.mark();
  const res = await h.driver.command(user, '/access', text);
  if (res.status !== 200) throw new Error(`/access answered ${res.status}`);
  const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
  const viewId = (opened.response.view as { id: string }).id;
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
  return h.standIn.view(viewId)!;
}

export async function openHome(h: SlackHarness, user: Person, section?: string) {
  let mark = h.standIn.mark();
  await h.driver.event({ type: 'app_home_opened', user: user.id, channel: 'D' + user.id, tab: 'home' });
  await h.standIn.waitForCall('views.publish', (a) => a.user_id === user.id, { after: mark });
  if (!section) return h.standIn.homeOf(user.id)!;
  mark = h.standIn.mark();
  await h.driver.blockActions(user, [{ action_id: `${ACTION.section}:${section}`, value: section }], {
    view: h.standIn.homeOf(user.id)!,
  });
  await h.standIn.waitForCall('views.publish', (a) => a.user_id === user.id, { after: mark });
  return h.standIn.homeOf(user.id)!;
}

/** Clicks a button of `view` (App Home or a modal) and returns the modal the click opened. */
export async function clickToOpen(
  h: SlackHarness,
  user: Person,
  view: SlackView,
  actionId: string,
  value: string,
) {
  const mark = h.standIn.mark();
  await h.driver.blockActions(user, [{ action_id: actionId, value }], { view });
  const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
  return h.standIn.view((opened.response.view as { id: string }).id)!;
}
