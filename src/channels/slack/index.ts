/**
 * The Slack channel. It is built in two halves because lifecycle needs the notifier before the
 * Bolt app can be given the use-cases: `createSlackCore` (store, directory, notifier) comes first,
 * then `startSlackApp` wires Bolt, its receiver (HTTP on Latch's server, or Socket Mode) and the
 * listeners onto the built Latch.
 */
import { App, LogLevel, SocketModeReceiver } from '@slack/bolt';
import { InstallProvider } from '@slack/oauth';
import type { Latch } from '../../app.js';
import type { SlackConfig } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Connection } from 'mongoose';
import { SecretBox } from '../../store/secrets.js';
import type { Routes } from '../../web/server.js';
import type { SlackDeps } from './context.js';
import { dedupeDeliveries } from './dedupe.js';
import { SlackDirectory } from './directory.js';
import { createHomePublisher } from './home.js';
import { MongoInstallationStore } from './installation-store.js';
import { registerListeners } from './listeners/index.js';
import { SlackNotifier } from './notifier.js';
import { boltLogger } from './bolt-logger.js';
import { BOT_SCOPES, SLACK_EVENTS_PATH, SlackHttpReceiver } from './receiver.js';
import { ensureSlackIndexes, slackModels, type SlackModels } from './store.js';
import { clientOptions, InstalledWorkspaces, SingleWorkspace, type Workspaces } from './workspaces.js';

export interface SlackCore {
  config: SlackConfig;
  m: SlackModels;
  box: SecretBox;
  workspaces: Workspaces;
  installations?: MongoInstallationStore;
  directory: SlackDirectory;
  notifier: SlackNotifier;
  /** Set once the app is started, so lifecycle events can redraw an open App Home. */
  onRequestChanged?: SlackDeps['home'];
}

export async function createSlackCore(opts: {
  /** The MongoDB connection the channel keeps its own stores on. */
  conn: Connection;
  config: SlackConfig;
  encryptionKey: Buffer;
  log: Logger;
  clock?: () => Date;
}): Promise<SlackCore> {
  const m = slackModels(opts.conn);
  await ensureSlackIndexes(m);
  const box = new SecretBox(opts.encryptionKey);
  const installations = opts.config.oauth ? new MongoInstallationStore(m, box) : undefined;
  const workspaces: Workspaces = opts.config.botToken
    ? new SingleWorkspace(opts.config.botToken, opts.config.apiUrl, opts.log)
    : new InstalledWorkspaces(installations!, opts.config.apiUrl, opts.log);
  const directory = new SlackDirectory(m, workspaces, opts.log, opts.clock);
  const core: SlackCore = {
    config: opts.config,
    m,
    box,
    workspaces,
    installations,
    directory,
    notifier: undefined as unknown as SlackNotifier,
  };
  core.notifier = new SlackNotifier({
    m,
    directory,
    workspaces,
    box,
    log: opts.log,
    now: opts.clock,
    onRequestChanged: async (r) => {
      if (!core.onRequestChanged) return;
      // Only people who have opened App Home have one to redraw.
      const seen = await m.SlackUser.findOne({
        email: r.requester.id,
        homeSection: { $exists: true },
      }).lean();
      if (seen)
        await core.onRequestChanged.publish(seen.teamId === '-' ? undefined : seen.teamId, seen.userId);
    },
  });
  return core;
}

export interface SlackChannel {
  app: App;
  /** HTTP mode: /slack/events and, with OAuth, /slack/install and /slack/oauth_redirect. */
  routes?: Routes;
  /**
   * HTTP mode: what a front needs to acknowledge slash commands for this app, and where it hands
   * them over (src/web/front/).
   */
  commandAcks?: {
    path: string;
    signingSecret: string;
    deliver(headers: Record<string, string | string[] | undefined>, body: Buffer): void;
  };
  deps: SlackDeps;
  /** Stops the app (Socket Mode); messages still to go out stay in the core's outbox. */
  stop(): Promise<void>;
}

export async function startSlackApp(
  core: SlackCore,
  latch: Latch,
  opts: {
    log: Logger;
    envAdmins: string[];
    nowSeconds?: () => number;
  },
): Promise<SlackChannel> {
  const { config } = core;
  core.notifier.bind(latch);
  const logger = boltLogger(opts.log);
  const installer =
    config.oauth && core.installations
      ? new InstallProvider({
          clientId: config.oauth.clientId,
          clientSecret: config.oauth.clientSecret,
          stateSecret: config.oauth.stateSecret,
          installationStore: core.installations,
          clientOptions: clientOptions(config.apiUrl, opts.log),
          installUrlOptions: { scopes: BOT_SCOPES },
          // Straight to Slack's consent screen; GovSlack and tests authorize where their Web API lives.
          directInstall: true,
          authorizationUrl: new URL('/oauth/v2/authorize', config.apiUrl).toString(),
          logger,
        })
      : undefined;
  const socketMode = Boolean(config.appToken);
  const receiver = socketMode
    ? undefined
    : new SlackHttpReceiver({
        signingSecret: config.signingSecret!,
        log: opts.log,
        installer,
        nowSeconds: opts.nowSeconds,
      });
  const app = new App({
    // Built here rather than by Bolt so that apps.connections.open also goes to SLACK_API_URL.
    receiver:
      receiver ??
      new SocketModeReceiver({
        appToken: config.appToken!,
        logger,
        installerOptions: { clientOptions: clientOptions(config.apiUrl, opts.log) },
      }),
    ...(config.botToken
      ? { token: config.botToken }
      : { authorize: (source) => installer!.authorize(source) }),
    clientOptions: clientOptions(config.apiUrl, opts.log),
    logger,
    logLevel: LogLevel.INFO,
    ignoreSelf: true,
    // Latch keeps no conversation state in Bolt; its default store only costs time per delivery.
    convoStore: false,
    // Bolt would check the token in the background and crash the process on failure; init() below
    // checks it where the failure can be reported.
    deferInitialization: true,
  });
  try {
    await app.init();
  } catch (err) {
    throw new Error(
      `Slack: could not check the bot token with auth.test at ${config.apiUrl} (${(err as Error).message}). ` +
        'Check SLACK_BOT_TOKEN and SLACK_API_URL.',
      { cause: err },
    );
  }
  app.error(async (err) => {
    opts.log.error({ err }, 'Slack listener failed');
  });
  const partial: Omit<SlackDeps, 'home'> = {
    latch,
    m: core.m,
    directory: core.directory,
    workspaces: core.workspaces,
    log: opts.log,
    envAdmins: opts.envAdmins,
    box: core.box,
  };
  const deps: SlackDeps = { ...partial, home: createHomePublisher(partial) };
  core.onRequestChanged = deps.home;
  app.use(dedupeDeliveries(core.m, opts.log));
  registerListeners(app, deps);
  await resolveSlackAdmins(core, latch, opts);
  if (socketMode) await app.start();
  return {
    app,
    routes: receiver?.routes(),
    commandAcks: receiver
      ? {
          path: SLACK_EVENTS_PATH,
          signingSecret: config.signingSecret!,
          deliver: (headers, body) => void receiver.acknowledgedCommand(headers, body),
        }
      : undefined,
    deps,
    stop: async () => {
      if (socketMode) await app.stop();
    },
  };
}

const SLACK_USER_ID = /^[UW][A-Z0-9]{2,}$/;

/**
 * LATCH_ADMINS may name Slack user ids. They count as admins by id straight away (identities carry
 * their Slack id); their emails are added too, so that they also approve fallback requests.
 */
async function resolveSlackAdmins(core: SlackCore, latch: Latch, opts: { log: Logger; envAdmins: string[] }) {
  const ids = opts.envAdmins.filter((a) => SLACK_USER_ID.test(a));
  if (ids.length === 0) return;
  const emails: string[] = [];
  for (const id of ids) {
    try {
      emails.push((await core.directory.identity(undefined, id)).email);
    } catch (err) {
      opts.log.warn({ err, admin: id }, 'could not resolve an admin from LATCH_ADMINS');
    }
  }
  latch.admin.addEnvAdmins(emails);
}
