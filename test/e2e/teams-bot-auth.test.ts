/**
 * The Teams adapter (botbuilder's CloudAdapter) against a local Bot Framework stand-in: a signed
 * message gets a reply through the connector with a token from the (stand-in) Entra token
 * endpoint, and botbuilder's channel-token checks refuse what they should.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { createTeamsAdapter, type TeamsAdapter, type TeamsTurn } from '../../src/channels/teams/adapter.js';
import { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';

const APP_ID = '8c0f1f8e-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const APP_PASSWORD = 'stand-in-secret';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

let standIn: BotFrameworkStandIn;
let adapter: TeamsAdapter;
let bot: http.Server;
let botUrl: string;
const turns: TeamsTurn[] = [];
let errorSpy: ReturnType<typeof jest.spyOn>;

beforeAll(async () => {
  // CloudAdapter console.error()s every refused request; keep the output readable.
  errorSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  standIn = await BotFrameworkStandIn.start({
    appId: APP_ID,
    appPassword: APP_PASSWORD,
    tenantId: TENANT_ID,
  });
  adapter = createTeamsAdapter({
    MicrosoftAppId: APP_ID,
    MicrosoftAppPassword: APP_PASSWORD,
    MicrosoftAppType: 'SingleTenant',
    MicrosoftAppTenantId: TENANT_ID,
    endpoints: standIn.endpoints,
  });
  bot = http.createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/api/messages') {
      adapter
        .process(req, res, async (turn) => {
          turns.push(turn);
          if (turn.activity.type === 'message' && turn.activity.text?.trim() === 'help')
            await turn.sendActivity('Latch grants short-lived access. Try `request`.');
        })
        .catch(() => {
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => bot.listen(0, '127.0.0.1', resolve));
  botUrl = `http://127.0.0.1:${(bot.address() as AddressInfo).port}/api/messages`;
});

afterAll(async () => {
  bot.closeAllConnections();
  await new Promise((resolve) => bot.close(resolve));
  await standIn.close();
  errorSpy.mockRestore();
});

let nextId = 1;
function message(text: string, overrides: Record<string, unknown> = {}) {
  const id = `17000000000${nextId++}`;
  return {
    type: 'message',
    id,
    timestamp: new Date().toISOString(),
    serviceUrl: standIn.serviceUrl,
    channelId: 'msteams',
    from: { id: '29:1user-ada', name: 'Ada Lovelace', aadObjectId: '6f1b2c3d-0000-4000-8000-000000000001' },
    conversation: { id: `a:1personal-chat-${id}`, conversationType: 'personal', tenantId: TENANT_ID },
    recipient: { id: `28:${APP_ID}`, name: 'Latch' },
    text,
    textFormat: 'plain',
    channelData: { tenant: { id: TENANT_ID } },
    ...overrides,
  };
}

async function post(activity: object, token?: string): Promise<{ status: number; body: string }> {
  const response = await fetch(botUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(activity),
  });
  return { status: response.status, body: await response.text() };
}

/** Posts `activity` and expects botbuilder to refuse it before any turn runs. */
async function expectRefused(activity: ReturnType<typeof message>, token: string | undefined, status = 401) {
  const before = turns.length;
  const callsBefore = standIn.calls.length;
  const answer = await post(activity, token);
  expect(answer.status).toBe(status);
  expect(turns.length).toBe(before);
  expect(standIn.calls.length).toBe(callsBefore);
  return answer;
}

describe('Teams bot authentication (botbuilder CloudAdapter against the Bot Framework stand-in)', () => {
  it('answers a correctly signed "help" with a reply through the connector, using a token from the token endpoint', async () => {
    const activity = message('help');
    const token = await standIn.signChannelToken({ audience: APP_ID });
    const answer = await post(activity, token);
    expect(answer.status).toBe(200);

    const reply = await standIn.waitForCall(
      (c) => c.operation === 'replyToActivity' && c.activityId === activity.id,
    );
    expect(reply.method).toBe('POST');
    expect(reply.conversationId).toBe(activity.conversation.id);
    expect(reply.body).toMatchObject({
      type: 'message',
      text: 'Latch grants short-lived access. Try `request`.',
      replyToId: activity.id,
      conversation: { id: activity.conversation.id },
      recipient: { id: activity.from.id },
      from: { id: activity.recipient.id },
    });
    expect(standIn.issuedToken(reply.token)).toBe(true);

    const granted = standIn.tokenRequests.filter((t) => t.status === 200);
    expect(granted).toHaveLength(1);
    expect(granted[0]).toMatchObject({
      tenant: TENANT_ID,
      form: {
        grant_type: 'client_credentials',
        client_id: APP_ID,
        client_secret: APP_PASSWORD,
        scope: 'https://api.botframework.com/.default',
      },
      accessToken: reply.token,
    });

    // The turn saw the activity as plain JSON, stamped by botbuilder with the configured CallerId.
    const turn = turns.at(-1)!;
    expect(turn.activity).toMatchObject({
      id: activity.id,
      text: 'help',
      callerId: 'urn:botframework:azure',
    });
    expect(turn.conversationReference()).toMatchObject({
      activityId: activity.id,
      channelId: 'msteams',
      serviceUrl: standIn.serviceUrl,
      conversation: { id: activity.conversation.id },
      bot: { id: activity.recipient.id },
      user: { id: activity.from.id },
    });
  });

  it('reuses the outgoing token for the next turn', async () => {
    const activity = message('help');
    expect((await post(activity, await standIn.signChannelToken({ audience: APP_ID }))).status).toBe(200);
    await standIn.waitForCall((c) => c.activityId === activity.id);
    expect(standIn.tokenRequests.filter((t) => t.status === 200)).toHaveLength(1);
  });

  it('refuses an unsigned request (no Authorization header) with 401', async () => {
    await expectRefused(message('help'), undefined);
  });

  it('refuses a token for another app (wrong audience) with 401', async () => {
    const token = await standIn.signChannelToken({ audience: 'another-bots-app-id' });
    const answer = await expectRefused(message('help'), token);
    expect(answer.body).toMatch(/Invalid AppId passed on token: another-bots-app-id/);
  });

  it('refuses a token from another issuer with 401', async () => {
    const token = await standIn.signChannelToken({
      audience: APP_ID,
      issuer: 'https://api.botframework.example',
    });
    const answer = await expectRefused(message('help'), token);
    expect(answer.body).toMatch(/No valid identity/);
  });

  it("refuses a token whose serviceurl claim is not the activity's serviceUrl with 401", async () => {
    const elsewhere = await standIn.signChannelToken({
      audience: APP_ID,
      serviceUrl: 'https://smba.trafficmanager.net/emea/',
    });
    const answer = await expectRefused(message('help'), elsewhere);
    expect(answer.body).toMatch(/ServiceUrl claim do not match/);

    const without = await standIn.signChannelToken({ audience: APP_ID, serviceUrl: null });
    await expectRefused(message('help'), without);
  });

  it("refuses an activity from a channel the signing key is not endorsed for (the key's endorsements) with 401", async () => {
    const token = await standIn.signChannelToken({ audience: APP_ID });
    const answer = await expectRefused(message('help', { channelId: 'webchat' }), token);
    expect(answer.body).toMatch(/Could not validate endorsement/);
  });

  it('refuses an expired token with 401', async () => {
    // botbuilder allows 5 minutes of clock skew.
    const token = await standIn.signChannelToken({ audience: APP_ID, expiresIn: -600 });
    const answer = await expectRefused(message('help'), token);
    expect(answer.body).toMatch(/expired/);
  });

  it('refuses a token signed with a key the metadata does not publish, but answers 500, not 401', async () => {
    // jsonwebtoken's "invalid signature" is not an AuthenticationError, and CloudAdapter.process
    // maps every other error to 500. Refused all the same: no turn runs.
    const token = await standIn.signChannelToken({ audience: APP_ID, forged: true });
    const answer = await expectRefused(message('help'), token, 500);
    expect(answer.body).toMatch(/invalid signature/);
  });

  it('sends proactively to a stored conversation reference and updates what it sent', async () => {
    const activity = message('hello');
    expect((await post(activity, await standIn.signChannelToken({ audience: APP_ID }))).status).toBe(200);
    const ref = turns.at(-1)!.conversationReference();

    let sentId: string | undefined;
    await adapter.continue(ref, async (turn) => {
      sentId = (await turn.sendActivity({ text: 'Request #12 was approved.' })).id;
    });
    // A new message in the chat (POST .../activities), not a reply to the made-up id botbuilder
    // gives its continuation event.
    const sent = await standIn.waitForCall(
      (c) => c.operation === 'sendToConversation' && c.conversationId === activity.conversation.id,
    );
    expect(sent.body.replyToId).toBeUndefined();
    expect(sent.body).toMatchObject({ type: 'message', text: 'Request #12 was approved.' });
    expect(sentId).toBe(sent.response.id);

    await adapter.continue(ref, async (turn) => {
      await turn.updateActivity({ id: sentId!, text: 'Request #12 was approved (expired).' });
    });
    const updated = await standIn.waitForCall(
      (c) => c.operation === 'updateActivity' && c.activityId === sentId,
    );
    expect(updated.method).toBe('PUT');
    expect(updated.body).toMatchObject({ id: sentId, text: 'Request #12 was approved (expired).' });
  });

  it('creates a 1:1 conversation with a user and talks in it', async () => {
    let conversationId: string | undefined;
    await adapter.createConversation(
      {
        serviceUrl: standIn.serviceUrl,
        tenantId: TENANT_ID,
        members: [{ id: '29:1user-grace' }],
      },
      async (turn) => {
        conversationId = turn.activity.conversation?.id;
        await turn.sendActivity('Grace, a request waits for your approval.');
      },
    );
    const created = await standIn.waitForCall((c) => c.operation === 'createConversation');
    expect(created.body).toMatchObject({
      isGroup: false,
      bot: { id: APP_ID },
      members: [{ id: '29:1user-grace' }],
      tenantId: TENANT_ID,
    });
    expect(conversationId).toBe(created.response.id);
    // botbuilder gives the turn of a new conversation an activity whose id is the conversation's
    // id, so the first message goes out as a reply to that id (POST .../activities/{conversationId}).
    const first = await standIn.waitForCall(
      (c) => c.operation === 'replyToActivity' && c.conversationId === conversationId,
    );
    expect(first.activityId).toBe(conversationId);
    expect(first.body).toMatchObject({ text: 'Grace, a request waits for your approval.' });
    expect(standIn.issuedToken(first.token)).toBe(true);
  });
});
