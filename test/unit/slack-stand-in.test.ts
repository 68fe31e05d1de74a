import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { verifySlackRequest } from '@slack/bolt';
import { WebClient } from '@slack/web-api';
import { startSlackStandIn, type SlackStandIn } from '../support/slack-stand-in.js';
import { SlackDriver, plainInput, selectedValue } from '../support/slack-driver.js';

/** The Slack error code of a failed WebClient call. */
async function slackError(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { data?: { error?: string } }).data?.error;
  }
  throw new Error('expected the call to fail');
}

describe('Slack stand-in', () => {
  let standIn: SlackStandIn;
  let client: WebClient;

  beforeAll(async () => {
    standIn = await startSlackStandIn({
      // A stand-in for real Block Kit checks: section text must not be empty.
      validate: (_method, args) =>
        Array.isArray(args.blocks) &&
        args.blocks.some((b) => (b as { text?: { text?: string } }).text?.text === '')
          ? ['must be more than 0 characters [json-pointer:/blocks/0/text/text]']
          : [],
    });
    standIn.addUser({ id: 'U1', email: 'rita@example.com', realName: 'Rita Requester', tz: 'Europe/Berlin' });
    client = new WebClient('xoxb-test', { slackApiUrl: standIn.url, retryConfig: { retries: 0 } });
  });

  afterAll(async () => {
    await standIn.close();
  });

  it('answers users.info for seeded users and user_not_found otherwise', async () => {
    const res = await client.users.info({ user: 'U1' });
    expect(res.user).toMatchObject({
      id: 'U1',
      team_id: 'T0LATCH',
      name: 'rita',
      real_name: 'Rita Requester',
      tz: 'Europe/Berlin',
      is_bot: false,
      deleted: false,
      is_email_confirmed: true,
      profile: { email: 'rita@example.com', real_name: 'Rita Requester' },
    });
    expect([3600, 7200]).toContain(res.user?.tz_offset);
    expect(await slackError(client.users.info({ user: 'U404' }))).toBe('user_not_found');
    expect(standIn.calls('users.info')[0]).toMatchObject({ token: 'xoxb-test', args: { user: 'U1' } });
  });

  it('keeps the latest content of DM messages', async () => {
    const open = await client.conversations.open({ users: 'U1' });
    expect(open.channel?.id).toBe('DU1');
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: 'Pending' } }];
    const first = await client.chat.postMessage({ channel: 'DU1', text: 'Request pending', blocks });
    const second = await client.chat.postMessage({ channel: 'DU1', text: 'Second' });
    expect(first.ts).toMatch(/^\d{10}\.\d{6}$/);
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));
    expect(first.message).toMatchObject({ text: 'Request pending', blocks, user: 'UBOT' });

    const updated = [{ type: 'section', text: { type: 'mrkdwn', text: 'Approved' } }];
    await client.chat.update({ channel: 'DU1', ts: first.ts!, text: 'Request approved', blocks: updated });
    expect(await slackError(client.chat.update({ channel: 'DU1', ts: '1.000001', text: 'x' }))).toBe(
      'message_not_found',
    );

    const messages = standIn.messagesTo('U1');
    expect(messages.map((m) => m.text)).toEqual(['Request approved', 'Second']);
    expect(messages[0]).toMatchObject({ blocks: updated, updates: 1 });
  });

  it('lets a trigger open one view only and checks view hashes', async () => {
    const view = {
      type: 'modal' as const,
      callback_id: 'request',
      title: { type: 'plain_text' as const, text: 'Request' },
      blocks: [],
    };
    const opened = await client.views.open({ trigger_id: '111.222.abc', view });
    expect(opened.view).toMatchObject({ callback_id: 'request', state: { values: {} }, team_id: 'T0LATCH' });
    expect(opened.view?.id).toMatch(/^V/);
    // Slack documents `exchanged_trigger_id` for a trigger that was already used.
    expect(await slackError(client.views.open({ trigger_id: '111.222.abc', view }))).toBe(
      'exchanged_trigger_id',
    );

    const viewId = opened.view!.id!;
    expect(
      await slackError(
        client.views.update({ view_id: viewId, hash: 'stale', view: { ...view, callback_id: 'x' } }),
      ),
    ).toBe('hash_conflict');
    const updated = await client.views.update({
      view_id: viewId,
      hash: opened.view!.hash!,
      view: { ...view, callback_id: 'step2' },
    });
    expect(updated.view?.hash).not.toBe(opened.view?.hash);
    expect(standIn.view(viewId)).toMatchObject({ callback_id: 'step2', hash: updated.view?.hash });
    expect(await slackError(client.views.update({ view_id: 'VNOPE', view }))).toBe('not_found');
  });

  it('refuses what the validate hook rejects and records the violation', async () => {
    const blocks = [{ type: 'section', text: { type: 'mrkdwn', text: '' } }];
    let err: unknown;
    try {
      await client.chat.postMessage({ channel: 'U1', text: 'bad', blocks });
    } catch (e) {
      err = e;
    }
    expect((err as { data?: unknown }).data).toMatchObject({
      ok: false,
      error: 'invalid_blocks',
      response_metadata: { messages: [expect.stringContaining('more than 0 characters')] },
    });
    expect(standIn.violations).toEqual([
      { method: 'chat.postMessage', issues: [expect.any(String)], args: expect.objectContaining({ blocks }) },
    ]);
    expect(standIn.messagesTo('U1').map((m) => m.text)).not.toContain('bad');
  });

  it('waits for the next matching call, and fails on demand', async () => {
    const mark = standIn.mark();
    const pending = standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'U1' && a.text === 'later',
      2000,
    );
    setTimeout(() => void client.chat.postMessage({ channel: 'U1', text: 'later' }), 20);
    const call = await pending;
    expect(call.response).toMatchObject({ ok: true, channel: 'DU1' });
    expect(await standIn.waitForCall('chat.postMessage', undefined, { after: mark })).toBe(call);

    standIn.failNext('chat.postMessage', 'fatal_error');
    expect(await slackError(client.chat.postMessage({ channel: 'U1', text: 'lost' }))).toBe('fatal_error');
    await client.chat.postMessage({ channel: 'U1', text: 'kept' });
    expect(standIn.messagesTo('U1').map((m) => m.text)).toEqual(expect.arrayContaining(['kept']));
    expect(standIn.messagesTo('U1').map((m) => m.text)).not.toContain('lost');

    await expect(standIn.waitForCall('chat.delete', undefined, 50)).rejects.toThrow(/timed out/);
  });
});

describe('SlackDriver', () => {
  const signingSecret = 'test-signing-secret';
  let server: http.Server;
  let received: Array<{ headers: http.IncomingHttpHeaders; body: string }>;
  let driver: SlackDriver;

  beforeAll(async () => {
    received = [];
    // A tiny app: accepts a request only when Bolt's own check accepts its signature.
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString('utf8')));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        try {
          verifySlackRequest({
            signingSecret,
            body,
            headers: {
              'x-slack-signature': String(req.headers['x-slack-signature']),
              'x-slack-request-timestamp': Number(req.headers['x-slack-request-timestamp']),
            },
          });
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
        } catch {
          res.writeHead(401).end('bad signature');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    driver = new SlackDriver({ url: `http://127.0.0.1:${port}/slack/events`, signingSecret });
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('sends signed slash commands with the documented fields', async () => {
    const res = await driver.command({ id: 'U1', name: 'rita' }, '/latch', 'request db');
    expect(res).toMatchObject({ status: 200, json: { ok: true } });
    const fields = Object.fromEntries(new URLSearchParams(received.at(-1)!.body));
    expect(fields).toMatchObject({
      team_id: 'T0LATCH',
      user_id: 'U1',
      user_name: 'rita',
      command: '/latch',
      text: 'request db',
      api_app_id: 'A0LATCH',
      is_enterprise_install: 'false',
    });
    expect(fields.trigger_id).toMatch(/^\d+\.\d+\.[0-9a-f]+$/);
    expect(fields.trigger_id).toBe(driver.lastTriggerId);
    const again = await driver.command({ id: 'U1' }, '/latch', '');
    expect(Object.fromEntries(new URLSearchParams(received.at(-1)!.body)).trigger_id).not.toBe(
      fields.trigger_id,
    );
    expect(again.status).toBe(200);
  });

  it('sends block actions and view submissions as form payloads', async () => {
    const view = { id: 'V1', callback_id: 'request', private_metadata: '{"a":1}', hash: '1.a', blocks: [] };
    await driver.blockActions({ id: 'U1' }, [{ action_id: 'approve', value: 'R-1' }], {
      message: {
        ts: '1700000000.000100',
        channel: 'DU1',
        blocks: [
          { type: 'actions', block_id: 'decide', elements: [{ type: 'button', action_id: 'approve' }] },
        ],
      },
    });
    const action = JSON.parse(new URLSearchParams(received.at(-1)!.body).get('payload')!);
    expect(action).toMatchObject({
      type: 'block_actions',
      user: { id: 'U1', username: 'u1', team_id: 'T0LATCH' },
      container: { type: 'message', message_ts: '1700000000.000100', channel_id: 'DU1', is_ephemeral: false },
      channel: { id: 'DU1' },
      message: { ts: '1700000000.000100' },
      actions: [{ action_id: 'approve', block_id: 'decide', type: 'button', value: 'R-1' }],
    });
    expect(action.actions[0].action_ts).toEqual(expect.any(String));

    const values = {
      reason: { reason_input: plainInput('because') },
      env: { env_select: selectedValue('prod') },
    };
    const res = await driver.viewSubmission({ id: 'U1' }, view, values);
    expect(res.status).toBe(200);
    const submission = JSON.parse(new URLSearchParams(received.at(-1)!.body).get('payload')!);
    expect(submission).toMatchObject({
      type: 'view_submission',
      view: { id: 'V1', callback_id: 'request', private_metadata: '{"a":1}', state: { values } },
      response_urls: [],
    });
    expect(submission.trigger_id).toEqual(expect.any(String));
  });

  it('sends events with retry headers, and bad or replayed signatures on request', async () => {
    await driver.event({ type: 'app_home_opened', user: 'U1', tab: 'home' }, { eventId: 'Ev1', retryNum: 1 });
    const { headers, body } = received.at(-1)!;
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-slack-retry-num']).toBe('1');
    expect(headers['x-slack-retry-reason']).toBe('http_timeout');
    expect(JSON.parse(body)).toMatchObject({
      type: 'event_callback',
      event_id: 'Ev1',
      event: { type: 'app_home_opened' },
    });

    const replay = await driver.resend();
    expect(replay.status).toBe(200);
    expect(received.at(-1)!.body).toBe(body);

    expect((await driver.urlVerification('chal', { secretOverride: 'wrong' })).status).toBe(401);
    const old = Math.floor(Date.now() / 1000) - 10 * 60;
    expect((await driver.command({ id: 'U1' }, '/latch', '', {}, { timestamp: old })).status).toBe(401);
    expect((await driver.raw('{}', 'application/json', { signature: 'v0=00' })).status).toBe(401);
  });
});

describe('Slack stand-in: channels and membership', () => {
  let standIn: SlackStandIn;
  let client: WebClient;

  beforeAll(async () => {
    standIn = await startSlackStandIn({ knownTokensOnly: true });
    standIn.addToken('xoxb-members', { teamId: 'T0LATCH', botUserId: 'UBOT' });
    for (const id of ['U1', 'U2', 'U3']) standIn.addUser({ id, email: `${id.toLowerCase()}@example.com` });
    standIn.addChannel({ id: 'COPS', name: 'ops', members: ['UBOT', 'U1', 'U2', 'U3'] });
    standIn.addChannel({ id: 'CSECRET', name: 'secret', isPrivate: true, members: ['U1'] });
    standIn.addUserGroup({ id: 'SOPS', handle: 'ops', users: ['U1'] });
    client = new WebClient('xoxb-members', { slackApiUrl: standIn.url, retryConfig: { retries: 0 } });
  });

  afterAll(async () => {
    await standIn.close();
  });

  it('pages reads by cursor and refuses unknown tokens', async () => {
    standIn.setPageLimit(2);
    const first = await client.conversations.members({ channel: 'COPS', limit: 100 });
    expect(first.members).toEqual(['U1', 'U2']);
    const second = await client.conversations.members({
      channel: 'COPS',
      cursor: first.response_metadata!.next_cursor!,
    });
    expect(second.members).toEqual(['U3', 'UBOT']);
    expect(second.response_metadata?.next_cursor).toBe('');
    standIn.setPageLimit(1000);
    // A private channel is invisible to a token whose user is not in it.
    expect((await client.conversations.list({ types: 'public_channel,private_channel' })).channels).toEqual([
      expect.objectContaining({ id: 'COPS', is_member: true, is_general: false }),
    ]);
    const stranger = new WebClient('xoxb-unknown', { slackApiUrl: standIn.url, retryConfig: { retries: 0 } });
    expect(await slackError(stranger.auth.test())).toBe('invalid_auth');
  });

  it("answers invites, kicks and user group updates with Slack's errors", async () => {
    expect(await slackError(client.conversations.invite({ channel: 'COPS', users: 'U1' }))).toBe(
      'already_in_channel',
    );
    expect(await slackError(client.conversations.invite({ channel: 'COPS', users: 'UBOT' }))).toBe(
      'cant_invite_self',
    );
    await client.conversations.kick({ channel: 'COPS', user: 'U3' });
    expect(await slackError(client.conversations.kick({ channel: 'COPS', user: 'U3' }))).toBe(
      'not_in_channel',
    );
    expect(standIn.channelMembers('COPS')).toEqual(['U1', 'U2', 'UBOT']);
    expect(await slackError(client.usergroups.users.update({ usergroup: 'SOPS', users: '' }))).toBe(
      'invalid_users',
    );
    await client.usergroups.users.update({ usergroup: 'SOPS', users: 'U1,U2' });
    expect(standIn.userGroupMembers('SOPS')).toEqual(['U1', 'U2']);
  });

  it('fails a call after applying it, or the second call, on request', async () => {
    standIn.failNext('conversations.invite', 'internal_error', { status: 500, applied: true });
    expect(
      await client.conversations.invite({ channel: 'COPS', users: 'U3' }).then(
        () => 'ok',
        (err: { code?: string }) => err.code,
      ),
    ).toBe('slack_webapi_http_error');
    expect(standIn.channelMembers('COPS')).toContain('U3');

    standIn.failNext('usergroups.users.list', 'fatal_error', { after: 1 });
    await client.usergroups.users.list({ usergroup: 'SOPS' });
    expect(await slackError(client.usergroups.users.list({ usergroup: 'SOPS' }))).toBe('fatal_error');
    expect((await client.usergroups.users.list({ usergroup: 'SOPS' })).users).toEqual(['U1', 'U2']);
  });
});
