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
import { ensureTeamsIndexes, teamsModels, TeamsPeople } from './store.js';

export const TEAMS_MESSAGES_PATH = '/api/messages';

export interface TeamsChannel {
  routes: Routes;
  people: TeamsPeople;
  adapter: TeamsAdapter;
}

export async function startTeamsChannel(opts: {
  config: TeamsConfig;
  core: ChannelCore;
  conn: Connection;
  log: Logger;
  /** Every Bot Framework endpoint, for a sovereign cloud or local stand-ins; the public cloud without. */
  endpoints?: BotFrameworkEndpoints;
  clock?: () => Date;
}): Promise<TeamsChannel> {
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
  const onTurn = teamsBot({ core: opts.core, people, log: opts.log });
  return {
    people,
    adapter,
    routes: (router) => {
      router.on('POST', TEAMS_MESSAGES_PATH, (req, res) => adapter.process(req, res, onTurn));
    },
  };
}
