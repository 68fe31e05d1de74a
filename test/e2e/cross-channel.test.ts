/**
 * One person in Slack and Teams is one identity (their email), so a request can be approved in the
 * other channel: the Slack and Teams apps run on one Latch, each against its stand-in, and every
 * copy of the approval card, in both channels, ends up saying who decided.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ACTION } from '../../blocks/slack/ids.js';
import type { AdaptiveCard } from '../../blocks/teams/cards.js';
import { createTeamsCore, startTeamsBot, type TeamsCore } from '../../src/channels/teams/index.js';
import { silentLogger } from '../../src/logger.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';
import { addPgIntegration, admin, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import { buttonsOf, startSlackHarness, textOf, type SlackHarness } from '../support/slack-harness.js';

const APP_ID = '8c0f1f8e-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
// In Slack: Alice asks, Bob approves. In Teams: Bob and Ada.
const alice = { id: 'U0ALICE', name: 'alice' };
const bobSlack = { id: 'U0BOB', name: 'bob' };
const BOB = { id: '29:1user-bob', name: 'Bob Approver', aadObjectId: '6f1b2c3d-0000-4000-8000-0000000000b0' };
const ADA = { id: '29:1user-ada', name: 'Ada Lovelace', aadObjectId: '6f1b2c3d-0000-4000-8000-0000000000a0' };

let h: SlackHarness;
let standIn: BotFrameworkStandIn;
let teamsCore: TeamsCore;
let teamsWeb: WebServer;
let dropDb: () => Promise<void>;
let billing: string;
let errorSpy: ReturnType<typeof jest.spyOn>;

beforeAll(async () => {
  errorSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'secret', tenantId: TENANT_ID });
  standIn.members.set(BOB.id, { ...BOB, email: 'bob@example.com', tenantId: TENANT_ID });
  standIn.members.set(ADA.id, { ...ADA, email: 'ada@example.com', tenantId: TENANT_ID });
  h = await startSlackHarness('cross_channel', {
    channels: async (db) => {
      teamsCore = await createTeamsCore({
        config: { appId: APP_ID, appPassword: 'secret', appType: 'SingleTenant', tenantId: TENANT_ID },
        conn: db.conn,
        encryptionKey: randomBytes(32),
        log: silentLogger,
        endpoints: standIn.endpoints,
      });
      return { teams: teamsCore.notifier };
    },
  });
  const teams = startTeamsBot(teamsCore, h.latch, silentLogger);
  teamsWeb = await startWebServer(h.latch, { port: 0, routes: [teams.routes] });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice Liddell' });
  h.standIn.addUser({ id: bobSlack.id, email: 'bob@example.com', realName: 'Bob Approver' });
  let database: string;
  ({ database, drop: dropDb } = await createPgDatabase('xchan'));
  await addPgIntegration(h.latch, 'pg', { databases: [database] });
  billing = schemaId(database);
  await h.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
    }),
  );
  // Bob and Ada have Latch in Teams.
  for (const who of [BOB, ADA]) {
    const install = activity(who, { type: 'installationUpdate', action: 'add' });
    expect((await post(install)).status).toBe(200);
    await standIn.waitForCall((c) => c.activityId === install.id);
  }
});

afterAll(async () => {
  await teamsWeb?.close(1_000);
  await h?.close();
  await standIn?.close();
  await dropDb?.();
  errorSpy.mockRestore();
});

let nextId = 1;
function activity(from: typeof BOB, fields: Record<string, unknown>) {
  return {
    id: `19000000000${nextId++}`,
    timestamp: new Date().toISOString(),
    serviceUrl: standIn.serviceUrl,
    channelId: 'msteams',
    from,
    conversation: {
      id: `a:1personal-${from.aadObjectId}`,
      conversationType: 'personal',
      tenantId: TENANT_ID,
    },
    recipient: { id: `28:${APP_ID}`, name: 'Latch' },
    channelData: { tenant: { id: TENANT_ID } },
    ...fields,
  };
}

async function post(a: object): Promise<Response> {
  const token = await standIn.signChannelToken({ audience: APP_ID });
  return fetch(`http://127.0.0.1:${teamsWeb.port}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(a),
  });
}

const submit = (email: string, why: string) =>
  h.latch.requests.submit(
    { id: email, email, groups: [] },
    {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      justification: why,
      source: 'api',
    },
  );

describe('one identity across Slack and Teams', () => {
  it('a Slack request is approved in Teams: Slack cards and the Slack requester hear who decided', async () => {
    const r = await submit('alice@example.com', 'month end');
    // Bob's card arrives in both places.
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bobSlack.id);
    await standIn.waitForCall(
      (c) => c.conversationId === `a:1personal-${BOB.aadObjectId}` && JSON.stringify(c.body).includes(r.id),
    );
    const approve = activity(BOB, {
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: {
        action: {
          type: 'Action.Execute',
          verb: 'latch.approve',
          data: { request: r.id, version: r.version },
        },
      },
    });
    const res = await post(approve);
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('Approved by you.');
    // Slack: Bob's card loses its buttons and names him; Alice is told in her DM.
    await h.standIn.waitForCall('chat.update', (a) => a.channel === 'D' + bobSlack.id);
    const card = h.standIn.messagesTo(bobSlack.id)[0]!;
    expect(textOf(card.blocks)).toContain('Approved* by <@U0BOB>');
    expect(buttonsOf(card.blocks)).toEqual([]);
    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && textOf(a.blocks as unknown[]).includes(`${r.id}* is approved`),
    );
  });

  it('a request made from the Teams form is approved in Slack: the Teams card is rewritten and the requester told in Teams', async () => {
    // Ada asks from the card form, leaving every default.
    const ask = activity(ADA, { type: 'message', text: 'request billing' });
    expect((await post(ask)).status).toBe(200);
    const form = (
      (await standIn.waitForCall((c) => c.operation === 'replyToActivity' && c.activityId === ask.id)).body
        .attachments as Array<{ content: AdaptiveCard }>
    )[0]!.content;
    const submitAction = form.actions!.find((a) => a.verb === 'latch.requestSubmit')!;
    const inputs = Object.fromEntries(
      form.body.filter((e) => e.type.startsWith('Input.')).map((e) => [e.id, String(e.value ?? '')]),
    );
    const sent = activity(ADA, {
      type: 'invoke',
      name: 'adaptiveCard/action',
      value: {
        action: {
          type: 'Action.Execute',
          verb: 'latch.requestSubmit',
          data: { ...(submitAction.data as object), ...inputs, justification: 'audit' },
        },
      },
    });
    const answer = (await (await post(sent)).json()) as { value: unknown };
    const id = /AR-\d+/.exec(JSON.stringify(answer.value))![0];
    const r = (
      await h.latch.queries.myAccess({ id: 'ada@example.com', email: 'ada@example.com', groups: [] })
    ).pending.find((x) => x.id === id)!;
    expect(r).toMatchObject({ source: 'teams', justification: 'audit' });
    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + bobSlack.id && textOf(a.blocks as unknown[]).includes(r.id),
    );
    await standIn.waitForCall(
      (c) => c.conversationId === `a:1personal-${BOB.aadObjectId}` && JSON.stringify(c.body).includes(r.id),
    );
    const msg = h.standIn.messagesTo(bobSlack.id).find((m) => textOf(m.blocks).includes(r.id))!;
    const click = await h.driver.blockActions(bobSlack, [{ action_id: ACTION.approve, value: r.id }], {
      message: { ts: msg.ts, channel: msg.channel, blocks: msg.blocks },
    });
    expect(click.status).toBe(200);
    await standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' &&
        c.conversationId === `a:1personal-${BOB.aadObjectId}` &&
        JSON.stringify(c.body).includes(`Approved by bob@example.com`),
    );
    await standIn.waitForCall(
      (c) =>
        c.conversationId === `a:1personal-${ADA.aadObjectId}` &&
        String(c.body.text).startsWith(`${r.id} is approved by bob@example.com`),
    );
  });
});
