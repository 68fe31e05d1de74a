/**
 * The Teams channel (docs/ARCHITECTURE.md, "Teams channel"): the bot at POST /api/messages, behind
 * the adapter module that alone knows botbuilder, and the channel's own store of people.
 */
import type { Connection } from 'mongoose';
import type { ChannelCore } from '../../app.js';
import type { TeamsConfig } from '../../config.js';
import type { Logger } from '../../logger.js';
import type { Routes } from '../../web/server.js';
import { createTeamsAdapter, type BotFrameworkEndpoints, type TeamsAdapter } from './adapter.js';
import { teamsBot } from './bot.js';
import { TeamsNotifier } from './notifier.js';
import { TeamsRequestForms } from './request-form.js';
import { SecretBox } from '../../store/secrets.js';
import { ensureTeamsIndexes, teamsModels, TeamsPeople, type TeamsModels } from './store.js';

export const TEAMS_MESSAGES_PATH = '/api/messages';

export interface TeamsCore {
  config: TeamsConfig;
  m: TeamsModels;
  box: SecretBox;
  people: TeamsPeople;
  adapter: TeamsAdapter;
  /** The outbox's channel: give it to createLatch as `channels.teams`. */
  notifier: TeamsNotifier;
}

export interface TeamsChannel {
  routes: Routes;
  people: TeamsPeople;
  adapter: TeamsAdapter;
}

/** The half the core needs before it is built: the store, the adapter and the outbox's channel. */
export async function createTeamsCore(opts: {
  config: TeamsConfig;
  conn: Connection;
  /** Seals one-time credentials until the requester opens them. */
  encryptionKey: Buffer;
  log: Logger;
  /** Every Bot Framework endpoint, for a sovereign cloud or local stand-ins; the public cloud without. */
  endpoints?: BotFrameworkEndpoints;
  clock?: () => Date;
}): Promise<TeamsCore> {
  const { config } = opts;
  if (config.appType === 'UserAssignedMSI' || !config.appPassword)
    throw new Error('Teams: only client-secret bots (MicrosoftAppPassword) are supported so far');
  const m = teamsModels(opts.conn);
  await ensureTeamsIndexes(m);
  const people = new TeamsPeople(m, opts.clock);
  const adapter = createTeamsAdapter({
    MicrosoftAppId: config.appId,
    MicrosoftAppPassword: config.appPassword,
    MicrosoftAppType: config.appType,
    MicrosoftAppTenantId: config.tenantId,
    endpoints: opts.endpoints,
  });
  const box = new SecretBox(opts.encryptionKey);
  const notifier = new TeamsNotifier({
    m,
    people,
    box,
    log: opts.log,
    now: opts.clock,
    appId: config.appId,
    // The manifest's personal tab (manifests/teams), where admins close break-glass reviews.
    tabUrl: `https://teams.microsoft.com/l/entity/${encodeURIComponent(config.appId)}/latch-home`,
  });
  return { config, m, box, people, adapter, notifier };
}

/** The bot at POST /api/messages, on the built core; deliveries start once it runs. */
export function startTeamsBot(teams: TeamsCore, core: ChannelCore, log: Logger): TeamsChannel {
  teams.notifier.bind(teams.adapter, core);
  const forms = new TeamsRequestForms(core, log);
  const onTurn = teamsBot({ core, people: teams.people, m: teams.m, box: teams.box, forms, log });
  return {
    people: teams.people,
    adapter: teams.adapter,
    routes: (router) => {
      router.on('POST', TEAMS_MESSAGES_PATH, (req, res) => teams.adapter.process(req, res, onTurn));
    },
  };
}
