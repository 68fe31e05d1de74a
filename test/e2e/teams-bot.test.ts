/**
 * The Teams bot in Latch, over signed HTTP against the Bot Framework stand-in: installing the app
 * records where to reach the person, and the personal-chat commands answer from the core (list,
 * revoke, help), as the person Teams says sent them.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { startTeamsChannel, type TeamsChannel } from '../../src/channels/teams/index.js';
import { silentLogger } from '../../src/logger.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn, BOT_FRAMEWORK_ISSUER } from '../support/bot-framework-stand-in.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

const APP_ID = '8c0f1f8e-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const APP_PASSWORD = 'stand-in-secret';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ADA = { id: '29:1user-ada', name: 'Ada Lovelace', aadObjectId: '6f1b2c3d-0000-4000-8000-000000000001' };
const NOMAIL = {
  id: '29:1user-nomail',
  name: 'No Mail',
  aadObjectId: '6f1b2c3d-0000-4000-8000-000000000002',
};

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let teams: TeamsChannel;
let web: WebServer;
let dropDb: () => Promise<void>;
let billing: string;
let errorSpy: ReturnType<typeof jest.spyOn>;

beforeAll(async () => {
  errorSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  fx = await createFixture('teams_bot');
  standIn = await BotFrameworkStandIn.start({
    appId: APP_ID,
    appPassword: APP_PASSWORD,
    tenantId: TENANT_ID,
  });
  standIn.members.set(ADA.id, {
    ...ADA,
    email: 'Ada@Example.com',
    userPrincipalName: 'ada@example.com',
    tenantId: TENANT_ID,
  });
  standIn.members.set(NOMAIL.id, { ...NOMAIL, tenantId: TENANT_ID });
  teams = await startTeamsChannel({
    config: { appId: APP_ID, appPassword: APP_PASSWORD, appType: 'SingleTenant', tenantId: TENANT_ID },
    core: fx.latch,
    conn: fx.db.conn,
    log: silentLogger,
    endpoints: {
      ToChannelFromBotLoginUrl: standIn.loginUrl,
      ToChannelFromBotOAuthScope: 'https://api.botframework.com',
      ToBotFromChannelTokenIssuer: BOT_FRAMEWORK_ISSUER,
      OAuthUrl: standIn.url,
      ToBotFromChannelOpenIdMetadataUrl: standIn.openIdMetadataUrl,
      ToBotFromEmulatorOpenIdMetadataUrl: standIn.openIdMetadataUrl,
      CallerId: 'urn:botframework:azure',
      ValidateAuthority: true,
    },
  });
  web = await startWebServer(fx.latch, { port: 0, routes: [teams.routes] });
  let database: string;
  ({ database, drop: dropDb } = await createPgDatabase('teams'));
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });
  billing = schemaId(database);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'admin@example.com' }] }] },
    }),
  );
});

afterAll(async () => {
  await web?.close(1_000);
  await standIn?.close();
  await fx?.close();
  await dropDb?.();
  errorSpy.mockRestore();
});

let nextId = 1;
function activity(from: typeof ADA, fields: Record<string, unknown>, personal = true) {
  const id = `18000000000${nextId++}`;
  return {
    id,
    timestamp: new Date().toISOString(),
    serviceUrl: standIn.serviceUrl,
    channelId: 'msteams',
    from,
    conversation: personal
      ? { id: `a:1personal-${from.aadObjectId}`, conversationType: 'personal', tenantId: TENANT_ID }
      : { id: '19:group-chat@thread.v2', conversationType: 'groupChat', isGroup: true, tenantId: TENANT_ID },
    recipient: { id: `28:${APP_ID}`, name: 'Latch' },
    channelData: { tenant: { id: TENANT_ID } },
    ...fields,
  };
}

/** Posts a signed activity and returns the bot's reply to it. */
async function say(from: typeof ADA, text: string, personal = true): Promise<string> {
  const a = activity(
    from,
    { type: 'message', text, textFormat: 'plain', localTimezone: 'Europe/London' },
    personal,
  );
  const res = await post(a);
  expect(res.status).toBe(200);
  const reply = await standIn.waitForCall((c) => c.operation === 'replyToActivity' && c.activityId === a.id);
  return String(reply.body.text);
}

async function post(a: object): Promise<Response> {
  const token = await standIn.signChannelToken({ audience: APP_ID });
  return fetch(`http://127.0.0.1:${web.port}/api/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(a),
  });
}

describe('the Teams bot', () => {
  it('records where to reach a person who installs the app, and greets them', async () => {
    const install = activity(ADA, { type: 'installationUpdate', action: 'add' });
    expect((await post(install)).status).toBe(200);
    const greeting = await standIn.waitForCall((c) => c.activityId === install.id);
    expect(String(greeting.body.text)).toMatch(/^Hello Ada Lovelace\. Latch gives you access/);
    expect(await teams.people.reach('ada@example.com')).toEqual({
      reference: expect.objectContaining({
        serviceUrl: standIn.serviceUrl,
        conversation: expect.objectContaining({ id: `a:1personal-${ADA.aadObjectId}` }),
      }),
    });
  });

  it("lists the person's requests from the core, as the person Teams names", async () => {
    expect(await say(ADA, 'list')).toBe('You have no access and no open requests.');
    const r = await fx.latch.requests.submit(
      { id: 'ada@example.com', email: 'ada@example.com', groups: [] },
      {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 30,
        justification: 'month end',
        source: 'api',
      },
    );
    const listed = await say(ADA, 'list');
    expect(listed).toContain(r.id);
    expect(listed).toMatch(/read on teams_\w+\.billing · waiting for approval/i);
  });

  it("answers revoke with the core's refusal when there is nothing to revoke, and usage when malformed", async () => {
    const mine = await fx.latch.queries.myAccess({
      id: 'ada@example.com',
      email: 'ada@example.com',
      groups: [],
    });
    const id = mine.pending[0]!.id;
    expect(await say(ADA, `revoke ${id}`)).toMatch(new RegExp(`${id} is .*no access to revoke`));
    expect(await say(ADA, 'revoke')).toBe('Usage: `revoke AR-1234` (see `list`).');
    expect(await say(ADA, 'revoke AR-999999')).toMatch(/AR-999999/);
  });

  it('answers help and anything unknown with what it can do', async () => {
    expect(await say(ADA, 'help')).toMatch(/\*\*list\*\*.*\*\*revoke AR-1234\*\*/s);
    expect(await say(ADA, 'what?')).toMatch(/\*\*list\*\*/);
  });

  it('cannot act for someone Teams gives no email for, and says why', async () => {
    expect(await say(NOMAIL, 'list')).toMatch(/did not tell Latch who you are/);
  });

  it('works only in a personal chat', async () => {
    expect(await say(ADA, 'list', false)).toMatch(/personal chat/);
  });

  it('knows when the app is removed, and why the person cannot be reached', async () => {
    const remove = activity(ADA, { type: 'installationUpdate', action: 'remove' });
    expect((await post(remove)).status).toBe(200);
    expect(await teams.people.reach('ada@example.com')).toEqual({
      unreachable: 'they removed Latch from Teams',
    });
  });

  it('refuses an unsigned activity', async () => {
    const res = await fetch(`http://127.0.0.1:${web.port}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(activity(ADA, { type: 'message', text: 'list' })),
    });
    expect(res.status).toBe(401);
  });
});
