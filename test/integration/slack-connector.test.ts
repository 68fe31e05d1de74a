/**
 * The Slack connector (src/connectors/slack) against the Slack Web API stand-in: the conformance
 * suite for a channel and for a user group, then what is particular to Slack: discovery, health,
 * settings, the guards (#general, Latch's own user, handles that do not match), retries and
 * applied-then-failed calls, user groups' whole-list updates, and listAccess's reads.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createSlackFixture, type SlackFixture } from '../support/conformance/slack-fixture.js';
import {
  createSlackConnector,
  slackConnectorConfigSchema,
  validateSlackConnectorSettings,
} from '../../src/connectors/slack/index.js';
import { PartialGrantError, type Connector, type GrantSpec } from '../../src/connectors/types.js';

// The conformance suites run from connector-conformance.test.ts (test/support/conformance/index.ts).

describe('Slack connector', () => {
  let f: SlackFixture;
  let c: Connector;
  const connectors: Connector[] = [];
  let n = 0;

  function make(config: Record<string, unknown> = {}, token?: string): Connector {
    const made = createSlackConnector({
      name: 'slack-test',
      type: 'slack',
      config: { apiUrl: f.standIn.url, retries: 1, ...config },
      secrets: { token: token ?? f.integration.secrets.token! },
    });
    connectors.push(made);
    return made;
  }

  function spec(resourceId: string, requesterEmail: string): GrantSpec {
    n += 1;
    return {
      grantId: `g-${n}`,
      requestId: `r-${n}`,
      requesterEmail,
      resource: { id: resourceId, name: resourceId, kind: resourceId.split(':')[0]! },
      permission: 'member',
      expiresAt: new Date(Date.now() + 3_600_000),
    };
  }

  const person = () => f.person();
  const slackIdOf = (email: string) => f.userOf(email);
  const since = (mark: number, method: string) =>
    f.standIn.calls(method).filter((call) => call.index >= mark);

  beforeAll(async () => {
    f = await createSlackFixture();
    const { standIn, botUser, keeper } = f;
    standIn.addChannel({ id: 'CPRIVATE', name: 'secret-ops', isPrivate: true, members: [botUser, keeper] });
    standIn.addChannel({ id: 'CLOBBY', name: 'lobby', members: [keeper] });
    standIn.addChannel({ id: 'CHIDDEN', name: 'hidden', isPrivate: true, members: [keeper] });
    standIn.addChannel({ id: 'COLD', name: 'old', isArchived: true, members: [botUser, keeper] });
    standIn.addUserGroup({ id: 'SRETIRED', handle: 'retired', users: [keeper], disabled: true });
    standIn.addUserGroup({ id: 'SONCALL', handle: 'oncall', users: [keeper] });
    standIn.addUserGroup({ id: 'SEMPTY', handle: 'empty', users: [] });
    c = make();
  });

  afterAll(async () => {
    await Promise.all(connectors.map((x) => x.close()));
    await f?.close();
  });

  describe('discovery', () => {
    it("lists the channels Latch's Slack user is in and the enabled user groups, never #general", async () => {
      const found = await c.discover();
      expect(found.map((r) => r.id).sort()).toEqual(
        [
          'channel:CCONFORM',
          'channel:CPRIVATE',
          'usergroup:SCONFORM',
          'usergroup:SEMPTY',
          'usergroup:SONCALL',
        ].sort(),
      );
      expect(found.find((r) => r.id === 'channel:CPRIVATE')).toEqual({
        id: 'channel:CPRIVATE',
        name: '#secret-ops',
        kind: 'channel',
        tags: { private: 'true' },
        permissions: ['member'],
      });
      expect(found.find((r) => r.id === 'usergroup:SONCALL')).toMatchObject({
        name: '@oncall',
        kind: 'usergroup',
      });
    });

    it('keeps to the channels and user groups named (with or without # and @); an empty list manages none', async () => {
      const mark = f.standIn.mark();
      const only = make({ channels: ['#Secret-Ops'], usergroups: [] });
      expect((await only.discover()).map((r) => r.id)).toEqual(['channel:CPRIVATE']);
      // A token without usergroups:read works with `usergroups: []`: nothing asks for them.
      expect(since(mark, 'usergroups.list')).toHaveLength(0);
      expect((await make({ channels: [], usergroups: ['@oncall'] }).discover()).map((r) => r.id)).toEqual([
        'usergroup:SONCALL',
      ]);
    });

    it('reads every page of the channel list', async () => {
      f.standIn.setPageLimit(1);
      try {
        const mark = f.standIn.mark();
        expect((await c.discover()).filter((r) => r.kind === 'channel')).toHaveLength(2);
        expect(since(mark, 'conversations.list').length).toBeGreaterThan(2);
      } finally {
        f.standIn.setPageLimit(50);
      }
    });
  });

  describe('health', () => {
    it('names the workspace and what it manages', async () => {
      const h = await c.health();
      expect(h).toEqual({ ok: true, message: expect.stringContaining('Conformance') });
      expect(h.message).toContain('2 channel(s) and 3 user group(s)');
    });

    it('is not ok, without throwing, when the token is refused', async () => {
      const h = await make({}, 'xoxb-not-a-real-token').health();
      expect(h.ok).toBe(false);
      expect(h.message).toContain('invalid_auth');
      expect(h.message).not.toContain('xoxb-not-a-real-token');
    });

    it("is not ok when a named channel is one Latch's user is not in, or a named group is disabled", async () => {
      const h = await make({ channels: ['conformance', 'lobby'], usergroups: ['retired'] }).health();
      expect(h.ok).toBe(false);
      expect(h.message).toContain('#lobby');
      expect(h.message).toContain('@retired');
      expect(h.message).not.toContain('#conformance');
    });
  });

  describe('settings', () => {
    it('needs only the token: the defaults are Slack itself, every channel and group, 3 retries', () => {
      expect(validateSlackConnectorSettings({}, { token: 'xoxb-1' })).toEqual([]);
      expect(slackConnectorConfigSchema.parse({})).toEqual({ apiUrl: 'https://slack.com/api/', retries: 3 });
      expect(slackConnectorConfigSchema.parse({ apiUrl: 'http://127.0.0.1:9/api' }).apiUrl).toBe(
        'http://127.0.0.1:9/api/',
      );
    });

    it('reports each bad or unknown field, and a missing token', () => {
      const issues = validateSlackConnectorSettings(
        { apiUrl: 'not a url', retries: -1, chanels: ['ops'], channels: [''] },
        {},
      );
      expect(issues.map((i) => i.path.join('.')).sort()).toEqual(
        ['config.apiUrl', 'config.chanels', 'config.channels.0', 'config.retries', 'secrets.token'].sort(),
      );
      expect(issues.find((i) => i.path.join('.') === 'config.chanels')?.unknownField).toBe(true);
    });
  });

  describe('guards', () => {
    it('refuses #general: no grant, and a handle naming it removes nobody', async () => {
      const email = await person();
      await expect(c.grant(spec('channel:CGENERAL', email))).rejects.toThrow(/default channel/);
      const mark = f.standIn.mark();
      const general = spec('channel:CGENERAL', email);
      await expect(
        c.revoke(general, { kind: 'channel', target: 'CGENERAL', user: f.keeper, shareKey: 'x' }),
      ).rejects.toThrow(/default channel/);
      expect(f.standIn.channelMembers('CGENERAL')).toContain(f.keeper);
      expect(since(mark, 'conversations.kick')).toHaveLength(0);
    });

    it("never removes Latch's own Slack user, from a channel or a user group, and grants it nothing", async () => {
      const mark = f.standIn.mark();
      const s = spec('channel:CCONFORM', 'x@example.test');
      await expect(c.revoke(s, { kind: 'channel', target: 'CCONFORM', user: f.botUser })).rejects.toThrow(
        /own Slack user/,
      );
      expect(f.standIn.channelMembers('CCONFORM')).toContain(f.botUser);
      expect(since(mark, 'conversations.kick')).toHaveLength(0);

      f.standIn.setUserGroupMembers('SONCALL', [f.keeper, f.botUser]);
      const g = spec('usergroup:SONCALL', 'x@example.test');
      await expect(c.revoke(g, { kind: 'usergroup', target: 'SONCALL', user: f.botUser })).rejects.toThrow(
        /own Slack user/,
      );
      expect(f.standIn.userGroupMembers('SONCALL')).toEqual([f.keeper, f.botUser]);
      f.standIn.setUserGroupMembers('SONCALL', [f.keeper]);

      await expect(c.grant(spec('channel:CPRIVATE', f.botEmail))).rejects.toThrow(/Latch's own Slack user/);
    });

    it("refuses a handle that names another resource than the grant's", async () => {
      const email = await person();
      const granted = await c.grant(spec('channel:CPRIVATE', email));
      await expect(c.revoke(spec('channel:CCONFORM', email), granted.handle)).rejects.toThrow(
        /not the grant's resource/,
      );
      await expect(
        c.revoke(spec('channel:CPRIVATE', email), { ...granted.handle, user: "U1'; --" }),
      ).rejects.toThrow(/valid Slack user id/);
      expect(f.standIn.channelMembers('CPRIVATE')).toContain(slackIdOf(email));
      await c.revoke(spec('channel:CPRIVATE', email), granted.handle);
      expect(f.standIn.channelMembers('CPRIVATE')).not.toContain(slackIdOf(email));
    });

    it("refuses channels outside the channels list, and channels Latch's user is not in", async () => {
      const email = await person();
      const listed = make({ channels: ['conformance'] });
      await expect(listed.grant(spec('channel:CPRIVATE', email))).rejects.toThrow(
        /not in this integration's channels list/,
      );
      await expect(
        listed.revoke(spec('channel:CPRIVATE', email), {
          kind: 'channel',
          target: 'CPRIVATE',
          user: f.keeper,
        }),
      ).rejects.toThrow(/channels list/);
      expect(f.standIn.channelMembers('CPRIVATE')).toContain(f.keeper);

      await expect(c.grant(spec('channel:CLOBBY', email))).rejects.toThrow(
        /not a member of #lobby.*invite the app/,
      );
      // Slack would answer not_in_channel here whether or not the keeper is in it: not taken as done.
      await expect(
        c.revoke(spec('channel:CLOBBY', email), { kind: 'channel', target: 'CLOBBY', user: f.keeper }),
      ).rejects.toThrow(/not a member of #lobby/);
      expect(f.standIn.channelMembers('CLOBBY')).toContain(f.keeper);
      await expect(c.grant(spec('channel:CHIDDEN', email))).rejects.toThrow(
        /private and Latch's Slack user is not in it/,
      );
      await expect(c.grant(spec('channel:COLD', email))).rejects.toThrow(/archived/);
      await expect(c.grant(spec('usergroup:SRETIRED', email))).rejects.toThrow(/disabled/);
      expect(f.standIn.userGroupMembers('SRETIRED')).toEqual([f.keeper]);
    });

    it('refuses people Slack does not know by that email, or whose account is deactivated', async () => {
      await expect(c.grant(spec('channel:CCONFORM', 'nobody@example.test'))).rejects.toThrow(
        /no Slack user .* nobody@example.test/,
      );
      f.standIn.addUser({ id: 'UGONE', email: 'gone@example.test', deleted: true });
      await expect(c.grant(spec('channel:CCONFORM', 'gone@example.test'))).rejects.toThrow(/deactivated/);
      expect(f.standIn.channelMembers('CCONFORM')).not.toContain('UGONE');
    });
  });

  describe('calls that fail', () => {
    it('a rate-limited invite is tried again after Retry-After, and the grant goes through', async () => {
      const email = await person();
      const mark = f.standIn.mark();
      f.standIn.failNext('conversations.invite', 'ratelimited', { retryAfter: 1 });
      const granted = await c.grant(spec('channel:CCONFORM', email));
      expect(since(mark, 'conversations.invite').map((call) => call.response.error ?? 'ok')).toEqual([
        'ratelimited',
        'ok',
      ]);
      expect(f.standIn.channelMembers('CCONFORM')).toContain(slackIdOf(email));
      await c.revoke(spec('channel:CCONFORM', email), granted.handle);
    });

    it('an invite Slack made and then answered 500 for is tried again, and already_in_channel is success', async () => {
      const email = await person();
      const mark = f.standIn.mark();
      f.standIn.failNext('conversations.invite', 'internal_error', { status: 500, applied: true });
      const granted = await c.grant(spec('channel:CCONFORM', email));
      expect(since(mark, 'conversations.invite').map((call) => call.response.error)).toEqual([
        'internal_error',
        'already_in_channel',
      ]);
      expect(since(mark, 'conversations.kick')).toHaveLength(0);
      expect(f.standIn.channelMembers('CCONFORM')).toContain(slackIdOf(email));
      await c.revoke(spec('channel:CCONFORM', email), granted.handle);
    });

    it('an invite whose outcome stays unknown is undone: the person, not a member before, is removed again', async () => {
      const email = await person();
      const mark = f.standIn.mark();
      f.standIn.failNext('conversations.invite', 'internal_error', { status: 500, applied: true });
      f.standIn.failNext('conversations.invite', 'internal_error', { status: 500 });
      const err = await c.grant(spec('channel:CCONFORM', email)).catch((e: unknown) => e as Error);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PartialGrantError);
      expect((err as Error).message).toMatch(/conversations\.invite .*500/);
      expect((err as Error).message).not.toContain(f.integration.secrets.token);
      expect(since(mark, 'conversations.kick').map((call) => call.args.user)).toEqual([slackIdOf(email)]);
      expect(f.standIn.channelMembers('CCONFORM')).not.toContain(slackIdOf(email));
    });

    it('a person already a member is never invited, so a failing grant cannot take their membership away', async () => {
      const email = await person();
      f.standIn.addChannelMember('CCONFORM', slackIdOf(email));
      const mark = f.standIn.mark();
      f.standIn.failNext('conversations.invite', 'internal_error', { status: 500, applied: true });
      const granted = await c.grant(spec('channel:CCONFORM', email));
      f.standIn.clearFailures();
      expect(since(mark, 'conversations.invite')).toHaveLength(0);
      expect(granted.handle.shareKey).toBe(`channel:CCONFORM:${slackIdOf(email)}`);
      expect(f.standIn.channelMembers('CCONFORM')).toContain(slackIdOf(email));
      f.standIn.removeChannelMember('CCONFORM', slackIdOf(email));
    });

    it('if the undo fails too, the PartialGrantError names the membership, and revoke removes it', async () => {
      const email = await person();
      const s = spec('channel:CCONFORM', email);
      f.standIn.failNext('conversations.invite', 'internal_error', { status: 500, applied: true });
      f.standIn.failNext('conversations.invite', 'internal_error', { status: 500 });
      f.standIn.failNext('conversations.kick', 'internal_error', { status: 500 });
      f.standIn.failNext('conversations.kick', 'internal_error', { status: 500 });
      const err = await c.grant(s).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PartialGrantError);
      const handle = (err as PartialGrantError).handle;
      expect(c.accessKey(handle)).toBe(`channel:CCONFORM:${slackIdOf(email)}`);
      expect(f.standIn.channelMembers('CCONFORM')).toContain(slackIdOf(email));
      await c.revoke(s, handle);
      expect(f.standIn.channelMembers('CCONFORM')).not.toContain(slackIdOf(email));
    });

    it('a user group update of unknown outcome is undone when Slack did make it', async () => {
      const email = await person();
      const mark = f.standIn.mark();
      f.standIn.failNext('usergroups.users.update', 'internal_error', { status: 500, applied: true });
      f.standIn.failNext('usergroups.users.update', 'internal_error', { status: 500 });
      await expect(c.grant(spec('usergroup:SONCALL', email))).rejects.toThrow(/usergroups\.users\.update/);
      expect(f.standIn.userGroupMembers('SONCALL')).toEqual([f.keeper]);
      // The undo wrote the list back without the person.
      expect(since(mark, 'usergroups.users.update').at(-1)?.args.users).toBe(f.keeper);
    });
  });

  describe('user groups', () => {
    it("revokeMany removes all of a group's members in one update, then reads it back", async () => {
      const emails = await Promise.all(Array.from({ length: 5 }, () => person()));
      const items = await Promise.all(
        emails.map(async (email) => {
          const s = spec('usergroup:SONCALL', email);
          return { spec: s, handle: (await c.grant(s)).handle };
        }),
      );
      expect(f.standIn.userGroupMembers('SONCALL')).toHaveLength(6);
      const mark = f.standIn.mark();
      expect(await c.revokeMany!(items)).toEqual([null, null, null, null, null]);
      expect(since(mark, 'usergroups.users.update')).toHaveLength(1);
      expect(f.standIn.userGroupMembers('SONCALL')).toEqual([f.keeper]);
    });

    it('grants made at once through one connector all hold (the read-modify-writes do not cross)', async () => {
      const emails = await Promise.all(Array.from({ length: 10 }, () => person()));
      const granted = await Promise.all(emails.map((e) => c.grant(spec('usergroup:SONCALL', e))));
      expect(f.standIn.userGroupMembers('SONCALL').sort()).toEqual(
        [f.keeper, ...emails.map(slackIdOf)].sort(),
      );
      await c.revokeMany!(
        granted.map((g, i) => ({ spec: spec('usergroup:SONCALL', emails[i]!), handle: g.handle })),
      );
      expect(f.standIn.userGroupMembers('SONCALL')).toEqual([f.keeper]);
    });

    it('a write by someone else between the write and the read-back is noticed, and the person added again', async () => {
      const email = await person();
      const other = slackIdOf(await person());
      const mark = f.standIn.mark();
      const grant = c.grant(spec('usergroup:SONCALL', email));
      // Answered before Latch's read-back can arrive: another writer's list replaces Latch's.
      await f.standIn.waitForCall('usergroups.users.update', undefined, { after: mark });
      f.standIn.setUserGroupMembers('SONCALL', [f.keeper, other]);
      const granted = await grant;
      expect(f.standIn.userGroupMembers('SONCALL')).toEqual([f.keeper, other, slackIdOf(email)]);
      expect(since(mark, 'usergroups.users.update')).toHaveLength(2);
      await c.revoke(spec('usergroup:SONCALL', email), granted.handle);
      f.standIn.setUserGroupMembers('SONCALL', [f.keeper]);
    });

    it('refuses to grant a group with no members: Slack would not let Latch remove its last member', async () => {
      const email = await person();
      await expect(c.grant(spec('usergroup:SEMPTY', email))).rejects.toThrow(/no members.*last member/);
      expect(f.standIn.userGroupMembers('SEMPTY')).toEqual([]);
    });

    it('keeps the last member, with an error saying why, when a revoke would empty the group', async () => {
      const [a, b] = [await person(), await person()];
      const items = await Promise.all(
        [a, b].map(async (email) => {
          const s = spec('usergroup:SONCALL', email);
          return { spec: s, handle: (await c.grant(s)).handle };
        }),
      );
      // The standing member leaves by hand: Latch's two grants are all the group has.
      f.standIn.setUserGroupMembers('SONCALL', [slackIdOf(a), slackIdOf(b)]);
      const outcomes = await c.revokeMany!(items);
      expect(outcomes[0]).toBeNull();
      expect(outcomes[1]?.message).toMatch(
        /does not allow a user group without members.*last member of @oncall/,
      );
      expect(f.standIn.userGroupMembers('SONCALL')).toEqual([slackIdOf(b)]);
      await expect(c.revoke(items[1]!.spec, items[1]!.handle)).rejects.toThrow(/last member/);
      f.standIn.setUserGroupMembers('SONCALL', [f.keeper]);
    });
  });

  describe('reads', () => {
    it('checkMany reads each channel and user group once, whatever the number of grants', async () => {
      const emails = await Promise.all(Array.from({ length: 4 }, () => person()));
      const items = await Promise.all(
        emails.map(async (email, i) => {
          const s = spec(i < 2 ? 'channel:CCONFORM' : 'usergroup:SONCALL', email);
          return { spec: s, handle: (await c.grant(s)).handle };
        }),
      );
      f.standIn.removeChannelMember('CCONFORM', slackIdOf(emails[1]!));
      const mark = f.standIn.mark();
      expect(await c.checkMany!(items)).toEqual([true, false, true, true]);
      expect(since(mark, 'conversations.members')).toHaveLength(1);
      expect(since(mark, 'usergroups.users.list')).toHaveLength(1);
      expect(await c.revokeMany!(items)).toEqual([null, null, null, null]);
    });

    it("listAccess lists the members of what it manages, with emails from one users.list read, never Latch's own user", async () => {
      const email = await person();
      const granted = await c.grant(spec('channel:CPRIVATE', email));
      const mark = f.standIn.mark();
      const entries = await c.listAccess();
      expect(since(mark, 'users.info')).toHaveLength(0);
      expect(since(mark, 'users.lookupByEmail')).toHaveLength(0);
      // One paged pass over the users (the stand-in's pages hold 50), however many members there are.
      const reads = since(mark, 'users.list');
      expect(reads.filter((call) => !call.args.cursor)).toHaveLength(1);
      expect(reads.at(-1)!.response.response_metadata).toEqual({ next_cursor: '' });
      expect(entries.find((e) => e.key === c.accessKey(granted.handle))).toEqual({
        key: `channel:CPRIVATE:${slackIdOf(email)}`,
        resourceId: 'channel:CPRIVATE',
        permission: 'member',
        account: slackIdOf(email),
        email,
        madeByLatch: false,
        handle: granted.handle,
      });
      expect(
        entries
          .filter((e) => e.account === f.keeper)
          .map((e) => e.resourceId)
          .sort(),
      ).toEqual(['channel:CCONFORM', 'channel:CPRIVATE', 'usergroup:SCONFORM', 'usergroup:SONCALL'].sort());
      expect(entries.filter((e) => e.account === f.botUser)).toEqual([]);
      expect(
        entries.filter((e) =>
          ['channel:CGENERAL', 'channel:CLOBBY', 'usergroup:SRETIRED'].includes(e.resourceId),
        ),
      ).toEqual([]);
      await c.revoke(spec('channel:CPRIVATE', email), granted.handle);
    });

    it('extend changes nothing: Slack memberships have no expiry of their own', async () => {
      const email = await person();
      const s = spec('channel:CCONFORM', email);
      const granted = await c.grant(s);
      const mark = f.standIn.mark();
      await c.extend(s, granted.handle, new Date(Date.now() + 7_200_000));
      expect(f.standIn.calls().filter((call) => call.index >= mark)).toHaveLength(0);
      expect(await c.check(s, granted.handle)).toBe(true);
      await c.revoke(s, granted.handle);
    });
  });
});
