/**
 * The Slack connector under the conformance suite, against the Slack Web API stand-in
 * (test/support/slack-stand-in.ts), which is also the oracle: it reads and changes channel and user
 * group membership directly. One channel and one user group are managed; `target` picks which the
 * suite's grants go to. Each has a standing member (the keeper), so a user group is never emptied
 * by the suite, and the workspace has a #general the connector must never touch.
 */
import { randomBytes } from 'node:crypto';
import { createSlackConnector } from '../../../src/connectors/slack/index.js';
import type { GrantHandle, GrantSpec } from '../../../src/connectors/types.js';
import type { ConformanceFixture } from '../connector-conformance.js';
import { startSlackStandIn, type SlackStandIn } from '../slack-stand-in.js';

export interface SlackFixture extends ConformanceFixture {
  standIn: SlackStandIn;
  /** Latch's own Slack user (the token's), and its email. */
  botUser: string;
  botEmail: string;
  /** The standing member of the channel and the user group. */
  keeper: string;
  channelId: string;
  groupId: string;
  generalId: string;
  /** The Slack user id of a person the fixture made. */
  userOf(email: string): string;
}

/** Retries the fixture's integration allows; failPartWay fails every attempt. */
const RETRIES = 1;

export async function createSlackFixture(
  opts: { target?: 'channel' | 'usergroup' } = {},
): Promise<SlackFixture> {
  const kind = opts.target ?? 'channel';
  const standIn = await startSlackStandIn({ knownTokensOnly: true });
  const s = randomBytes(3).toString('hex');
  const token = `xoxb-conformance-${s}`;
  const botUser = 'ULATCHBOT';
  const keeper = 'UKEEPER';
  const channelId = 'CCONFORM';
  const groupId = 'SCONFORM';
  const generalId = 'CGENERAL';
  standIn.addToken(token, { teamId: 'T0LATCH', teamName: 'Conformance', botUserId: botUser });
  const botEmail = `latch-${s}@example.test`;
  standIn.addUser({ id: botUser, email: botEmail, name: 'latch' });
  standIn.addUser({ id: keeper, email: `keeper-${s}@example.test` });
  standIn.addChannel({ id: generalId, name: 'general', isGeneral: true, members: [botUser, keeper] });
  standIn.addChannel({ id: channelId, name: 'conformance', members: [botUser, keeper] });
  standIn.addUserGroup({ id: groupId, handle: 'conformance', users: [keeper] });
  // Small pages, so the connector's reads of a 200-member channel really page.
  standIn.setPageLimit(50);

  const users = new Map<string, string>();
  let n = 0;
  const addPerson = (name: string, emailPart: string): string => {
    n += 1;
    const id = `UP${s.toUpperCase()}${n.toString(36).toUpperCase()}`;
    const email = `${emailPart}.${s}.${n}@example.test`;
    standIn.addUser({ id, email, name, realName: name });
    // Slack adds everyone to #general.
    standIn.addChannelMember(generalId, id);
    users.set(email.toLowerCase(), id);
    return email;
  };
  const userOf = (email: string): string => {
    const id = users.get(email.toLowerCase());
    if (!id) throw new Error(`the fixture made no person with email ${email}`);
    return id;
  };
  const target =
    kind === 'channel'
      ? { resourceId: `channel:${channelId}`, name: '#conformance' }
      : { resourceId: `usergroup:${groupId}`, name: '@conformance' };
  const membersOfTarget = () =>
    kind === 'channel' ? standIn.channelMembers(channelId) : standIn.userGroupMembers(groupId);
  const holderOf = (spec: GrantSpec, handle: GrantHandle) =>
    typeof handle.user === 'string' ? handle.user : userOf(spec.requesterEmail);
  const integration = {
    type: 'slack',
    config: {
      apiUrl: standIn.url,
      channels: ['conformance'],
      usergroups: ['conformance'],
      retries: RETRIES,
    },
    secrets: { token },
  };

  return {
    standIn,
    botUser,
    botEmail,
    keeper,
    channelId,
    groupId,
    generalId,
    userOf,
    integration,
    target: { resourceId: target.resourceId, permission: 'member' },
    person: async () => addPerson(`person ${n + 1}`, 'p'),
    connector: () => createSlackConnector({ name: 'conformance', ...integration }),
    async spec(o = {}): Promise<GrantSpec> {
      const email =
        o.hostile === undefined ? addPerson(`person ${n + 1}`, 'p') : addPerson(o.hostile, o.hostile);
      const id = `${o.hostile ?? 'g'}-${s}-${n}`;
      return {
        grantId: id,
        requestId: `r-${id}`,
        requesterEmail: email,
        resource: { id: target.resourceId, name: target.name, kind },
        permission: 'member',
        expiresAt: new Date(Date.now() + 3_600_000),
      };
    },
    async present(spec, handle) {
      return membersOfTarget().includes(holderOf(spec, handle));
    },
    async snapshot() {
      return [
        ...standIn.channelMembers(generalId).map((u) => `general ${u}`),
        ...standIn.channelMembers(channelId).map((u) => `channel ${u}`),
        ...standIn.userGroupMembers(groupId).map((u) => `usergroup ${u}`),
      ];
    },
    async failPartWay() {
      // Slack makes the change and then answers 500, on every attempt: the outcome is unknown.
      const method = kind === 'channel' ? 'conversations.invite' : 'usergroups.users.update';
      standIn.failNext(method, 'internal_error', { status: 500, applied: true });
      for (let i = 0; i < RETRIES; i++) standIn.failNext(method, 'internal_error', { status: 500 });
      return async () => standIn.clearFailures(method);
    },
    async removeBehindBack(spec, handle) {
      const user = holderOf(spec, handle);
      if (kind === 'channel') standIn.removeChannelMember(channelId, user);
      else
        standIn.setUserGroupMembers(
          groupId,
          standIn.userGroupMembers(groupId).filter((u) => u !== user),
        );
    },
    async createStanding() {
      const account = userOf(addPerson('standing person', 'standing'));
      if (kind === 'channel') standIn.addChannelMember(channelId, account);
      else standIn.setUserGroupMembers(groupId, [...standIn.userGroupMembers(groupId), account]);
      return { account, resourceId: target.resourceId, permission: 'member' };
    },
    async close() {
      await standIn.close();
    },
  };
}
