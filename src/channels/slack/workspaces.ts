/**
 * Which Web API client to use for a workspace: the one bot token of a single-workspace install, or
 * the installation's token under OAuth. Every client points at SLACK_API_URL.
 */
import { WebClient, type WebClientOptions } from '@slack/web-api';
import type { Logger } from '../../logger.js';
import type { MongoInstallationStore } from './installation-store.js';
import { boltLogger } from './bolt-logger.js';

export interface Workspaces {
  client(teamId?: string): Promise<WebClient>;
  /** Every installed workspace, for lookups that start from an email. */
  all(): Promise<Array<{ teamId?: string; client: WebClient }>>;
}

export function clientOptions(apiUrl: string, log?: Logger): WebClientOptions {
  // Two quick retries: a DM that fails for a blip is worth one more try, but a stuck Web API must
  // not hold up a lifecycle step for minutes. A rate limit is not waited out inside a call: the
  // outbox retries the event after Slack's Retry-After (and a click answers at once).
  return {
    slackApiUrl: apiUrl,
    retryConfig: { retries: 2, factor: 1.5, minTimeout: 200, maxTimeout: 1000 },
    rejectRateLimitedCalls: true,
    timeout: 10_000,
    // A burst of commands must open its modals within Slack's 3-second trigger life; the default of
    // 100 calls in flight made the second hundred wait for the first.
    maxRequestConcurrency: 400,
    ...(log ? { logger: boltLogger(log) } : {}),
  };
}

export class SingleWorkspace implements Workspaces {
  private readonly web: WebClient;
  constructor(token: string, apiUrl: string, log?: Logger) {
    this.web = new WebClient(token, clientOptions(apiUrl, log));
  }
  async client(): Promise<WebClient> {
    return this.web;
  }
  async all() {
    return [{ client: this.web }];
  }
}

export class InstalledWorkspaces implements Workspaces {
  private readonly clients = new Map<string, WebClient>();
  constructor(
    private readonly store: MongoInstallationStore,
    private readonly apiUrl: string,
    private readonly log?: Logger,
  ) {}

  private cached(token: string): WebClient {
    let c = this.clients.get(token);
    if (!c) {
      c = new WebClient(token, clientOptions(this.apiUrl, this.log));
      this.clients.set(token, c);
    }
    return c;
  }

  async client(teamId?: string): Promise<WebClient> {
    if (!teamId) {
      const [first] = await this.store.all();
      if (!first) throw new Error('Latch is not installed in any workspace yet');
      return this.cached(first.botToken);
    }
    const inst = await this.store.fetchInstallation({
      teamId,
      enterpriseId: undefined,
      isEnterpriseInstall: false,
    });
    if (!inst.bot?.token) throw new Error(`installation of ${teamId} has no bot token`);
    return this.cached(inst.bot.token);
  }

  async all() {
    return (await this.store.all()).map((i) => ({ teamId: i.teamId, client: this.cached(i.botToken) }));
  }
}
