/**
 * The Slack connector: a grant makes the requester a member of a channel or a user group, found by
 * their email. Memberships are shared things (two grants can give the same one, and people are put
 * in channels by hand too), so handles carry a shareKey and revoke removes only what its handle names.
 */
import { parseIntegration } from '../settings.js';
import { registerSecret } from '../../secret-scrubber.js';
import type {
  AccessEntry,
  Connector,
  ConnectorFactory,
  DiscoveredResource,
  GrantHandle,
  GrantItem,
  GrantResult,
  GrantSpec,
  HealthResult,
  IntegrationRuntime,
} from '../types.js';
import { listAccess } from './access-list.js';
import { SlackApi } from './api.js';
import { grantChannel, revokeChannelMembers } from './channels.js';
import {
  slackConnectorConfigSchema,
  slackConnectorSecretsSchema,
  type SlackConnectorConfig,
} from './config.js';
import { errorOf, KeyedLock, type SlackContext } from './context.js';
import { discover } from './discovery.js';
import { health } from './health.js';
import {
  membershipHandle,
  membershipKey,
  membershipOf,
  parseResourceId,
  PERMISSION,
  resourceId,
  type Membership,
} from './names.js';
import { grantUsergroup, revokeUsergroupMembers } from './usergroups.js';

export {
  slackConnectorConfigSchema,
  slackConnectorSecretsSchema,
  validateSlackConnectorSettings,
  type SlackConnectorConfig,
} from './config.js';
export { slackConnectorForm } from './form.js';
export { parseResourceId, resourceId, membershipKey } from './names.js';

export class SlackConnector implements Connector {
  readonly type = 'slack';
  private readonly ctx: SlackContext;

  constructor(config: SlackConnectorConfig, token: string) {
    this.ctx = {
      config,
      api: new SlackApi(token, { apiUrl: config.apiUrl, retries: config.retries }),
      locks: new KeyedLock(),
    };
  }

  discover(): Promise<DiscoveredResource[]> {
    return discover(this.ctx);
  }

  async grant(spec: GrantSpec): Promise<GrantResult> {
    if (spec.permission !== PERMISSION)
      throw new Error(`Slack grants give the permission "${PERMISSION}", not "${spec.permission}"`);
    const target = parseResourceId(spec.resource.id);
    const user = await this.ctx.api.userByEmail(spec.requesterEmail);
    if (!user) throw new Error(`no Slack user in this workspace has the email ${spec.requesterEmail}`);
    if (user.deleted) throw new Error(`the Slack account of ${spec.requesterEmail} is deactivated`);
    if (user.id === (await this.ctx.api.whoAmI()).userId) {
      throw new Error(
        `${spec.requesterEmail} is Latch's own Slack user (the integration's token), whose memberships Latch does not change`,
      );
    }
    const m: Membership = { ...target, user: user.id };
    if (m.kind === 'channel') await grantChannel(this.ctx, m);
    else await grantUsergroup(this.ctx, m);
    return { handle: membershipHandle(m) };
  }

  async revoke(spec: GrantSpec, handle: GrantHandle): Promise<void> {
    const [outcome] = await this.revokeMany([{ spec, handle }]);
    if (outcome) throw outcome;
  }

  /** One update per user group for all its removals; one kick per channel member (Slack has no bulk kick). */
  async revokeMany(items: GrantItem[]): Promise<Array<Error | null>> {
    const outcomes: Array<Error | null> = items.map(() => null);
    const byTarget = new Map<string, Array<{ m: Membership; i: number }>>();
    items.forEach(({ spec, handle }, i) => {
      try {
        // A handle naming no membership is a grant never made: nothing to remove.
        const m = membershipOf(spec, handle);
        if (!m) return;
        const key = resourceId(m);
        byTarget.set(key, [...(byTarget.get(key) ?? []), { m, i }]);
      } catch (err) {
        outcomes[i] = errorOf(err);
      }
    });
    await Promise.all(
      [...byTarget.values()].map(async (entries) => {
        const { kind, id } = entries[0]!.m;
        const users = entries.map((e) => e.m.user);
        const results =
          kind === 'channel'
            ? await revokeChannelMembers(this.ctx, id, users)
            : await revokeUsergroupMembers(this.ctx, id, users);
        entries.forEach((e, k) => (outcomes[e.i] = results[k]!));
      }),
    );
    return outcomes;
  }

  async check(spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
    const [present] = await this.checkMany([{ spec, handle }]);
    return present!;
  }

  /** One member read per channel or user group involved. */
  async checkMany(items: GrantItem[]): Promise<boolean[]> {
    const memberships = items.map(({ spec, handle }) => membershipOf(spec, handle));
    const targets = new Map<string, Membership>();
    for (const m of memberships) if (m) targets.set(resourceId(m), m);
    const members = new Map<string, Set<string>>();
    await Promise.all(
      [...targets].map(async ([key, m]) => {
        const found =
          m.kind === 'channel'
            ? await this.ctx.api.channelMembers(m.id)
            : await this.ctx.api.usergroupMembers(m.id);
        members.set(key, new Set(found ?? []));
      }),
    );
    return memberships.map((m) => (m ? members.get(resourceId(m))!.has(m.user) : false));
  }

  accessKey(handle: GrantHandle): string {
    return membershipKey({
      kind: handle.kind === 'usergroup' ? 'usergroup' : 'channel',
      id: String(handle.target ?? ''),
      user: String(handle.user ?? ''),
    });
  }

  listAccess(): Promise<AccessEntry[]> {
    return listAccess(this.ctx);
  }

  /** Slack memberships have no expiry of their own: Latch's timer is the only one. */
  async extend(): Promise<void> {}

  health(): Promise<HealthResult> {
    return health(this.ctx);
  }

  async close(): Promise<void> {}
}

export const createSlackConnector: ConnectorFactory = (integration: IntegrationRuntime) => {
  const { config, secrets } = parseIntegration(
    integration,
    'Slack',
    slackConnectorConfigSchema,
    slackConnectorSecretsSchema,
  );
  registerSecret(secrets.token);
  return new SlackConnector(config, secrets.token);
};
