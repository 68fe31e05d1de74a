/**
 * The Teams personal tab (docs/ARCHITECTURE.md, "Teams channel", "Personal tab"): the page Teams
 * frames at /teams/tab (static, built on the Teams JavaScript SDK) and the API it calls with the
 * person's Entra token, mounted on Latch's router like the bot's /api/messages.
 */
import type { ChannelCore } from '../../../app.js';
import type { TeamsConfig } from '../../../config.js';
import type { Logger } from '../../../logger.js';
import type { Routes } from '../../../web/server.js';
import { TabSso } from '../sso.js';
import { mountApi } from './api.js';
import { mountAssets, TAB_PATH } from './assets.js';

export { TAB_PATH } from './assets.js';
export { TAB_API } from './api.js';

export interface TeamsTabOptions {
  config: TeamsConfig;
  core: ChannelCore;
  log: Logger;
  /** Hosts Latch is reached at (LATCH_PUBLIC_URL's): tokens for `api://{host}/{app id}` are accepted. */
  hosts: string[];
  /** Entra ID's login authority; the public cloud's without (tests: a local stand-in). */
  authority?: string;
}

export interface TeamsTab {
  routes: Routes;
  path: string;
}

export function teamsTab(opts: TeamsTabOptions): TeamsTab {
  const { config, log } = opts;
  const tenants = config.tabTenants ?? (config.tenantId ? [config.tenantId] : []);
  if (tenants.length === 0)
    log.warn(
      'Teams tab: no tenant is allowed (set MicrosoftAppTenantId or LATCH_TEAMS_TENANTS); it refuses everyone',
    );
  if (opts.hosts.length === 0)
    log.warn(
      `Teams tab: LATCH_PUBLIC_URL is not set, so tokens for api://<host>/${config.appId} are refused; set it to Latch's public URL`,
    );
  const sso = new TabSso({ appId: config.appId, hosts: opts.hosts, tenants, authority: opts.authority });
  return {
    path: TAB_PATH,
    routes: (router) => {
      mountAssets(router);
      mountApi(router, { core: opts.core, sso, log });
    },
  };
}
