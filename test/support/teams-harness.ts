/**
 * Latch with its Teams bot on a real HTTP port, against the Bot Framework stand-in, with a
 * PostgreSQL integration: what the Teams end-to-end tests share. People are Teams accounts the
 * stand-in's member lookup knows; activities are signed as the channel signs them.
 */
import { expect, jest } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { AdaptiveCard } from '../../blocks/teams/cards.js';
import {
  createTeamsCore,
  startTeamsBot,
  type TeamsChannel,
  type TeamsCore,
} from '../../src/channels/teams/index.js';
import { silentLogger } from '../../src/logger.js';
import { connectDatabase, type Database } from '../../src/store/db.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn, type ConnectorCall } from './bot-framework-stand-in.js';
import { addPgIntegration, createFixture, createPgDatabase, schemaId, type Fixture } from './fixture.js';

export const APP_ID = '8c0f1f8e-6a55-4a3c-9d1e-2f3a4b5c6d7e';
export const APP_PASSWORD = 'stand-in-secret';
export const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';

export interface TeamsUser {
  id: string;
  name: string;
  aadObjectId: string;
  email?: string;
}

/** A Teams account whose email is `<handle>@example.com`. */
export function teamsUser(handle: string, n: number, name = handle): TeamsUser {
  return {
    id: `29:1user-${handle}`,
    name,
    aadObjectId: `6f1b2c3d-0000-4000-8000-${String(n).padStart(12, '0')}`,
    email: `${handle}@example.com`,
  };
}

export type CardCall = ConnectorCall & { card?: AdaptiveCard };

export interface TeamsHarness {
  fx: Fixture;
  standIn: BotFrameworkStandIn;
  teams: TeamsChannel;
  /** The outbox's Teams channel. */
  notifier: TeamsCore['notifier'];
  web: WebServer;
  /** The PostgreSQL database of the `pg` integration. */
  database: string;
  /** The `billing` schema's resource id. */
  billing: string;
  /** Makes the account known to Teams' member lookup. */
  addUser(u: TeamsUser): void;
  activity(
    from: TeamsUser,
    fields: Record<string, unknown>,
    personal?: boolean,
  ): Record<string, unknown> & { id: string };
  post(a: object): Promise<Response>;
  /** Installs the app for the person and waits for the greeting. */
  install(u: TeamsUser): Promise<void>;
  /** Writes in the personal chat (or a group chat); resolves with the bot's reply. */
  say(from: TeamsUser, text: string, personal?: boolean): Promise<CardCall>;
  /** An Action.Execute invoke; resolves with the invoke response's body. */
  invoke(from: TeamsUser, verb: string, data: Record<string, unknown>): Promise<InvokeAnswer>;
  /** The next message or update carrying a card to the person's personal chat that matches. */
  cardTo(u: TeamsUser, match: (card: AdaptiveCard, call: ConnectorCall) => boolean): Promise<CardCall>;
  personalChat(u: TeamsUser): string;
  close(): Promise<void>;
}

export interface InvokeAnswer {
  statusCode: number;
  type: string;
  // Card JSON is read field by field in the tests.
  value: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

export function cardOf(call: ConnectorCall): AdaptiveCard | undefined {
  return (call.body.attachments as Array<{ content: AdaptiveCard }> | undefined)?.[0]?.content;
}

export async function startTeamsHarness(
  name: string,
  opts: { envAdmins?: string[] } = {},
): Promise<TeamsHarness> {
  const errorSpy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
  const standIn = await BotFrameworkStandIn.start({
    appId: APP_ID,
    appPassword: APP_PASSWORD,
    tenantId: TENANT_ID,
  });
  const dbName = `t_${name}_${randomBytes(4).toString('hex')}`;
  const teamsDb: Database = await connectDatabase(process.env.MONGODB_URI!, { dbName });
  const teamsCore = await createTeamsCore({
    config: { appId: APP_ID, appPassword: APP_PASSWORD, appType: 'SingleTenant', tenantId: TENANT_ID },
    conn: teamsDb.conn,
    encryptionKey: randomBytes(32),
    log: silentLogger,
    endpoints: standIn.endpoints,
  });
  const fx = await createFixture(name, {
    dbName,
    channels: { teams: teamsCore.notifier },
    ...(opts.envAdmins ? { envAdmins: opts.envAdmins } : {}),
  });
  const teams = startTeamsBot(teamsCore, fx.latch, silentLogger);
  const web = await startWebServer(fx.latch, { port: 0, routes: [teams.routes] });
  const { database, drop } = await createPgDatabase(name.slice(0, 20));
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });

  let nextId = 1;
  const personalChat = (u: TeamsUser) => `a:1personal-${u.aadObjectId}`;
  const activity = (from: TeamsUser, fields: Record<string, unknown>, personal = true) => ({
    id: `18000000000${nextId++}`,
    timestamp: new Date().toISOString(),
    serviceUrl: standIn.serviceUrl,
    channelId: 'msteams',
    from: { id: from.id, name: from.name, aadObjectId: from.aadObjectId },
    conversation: personal
      ? { id: personalChat(from), conversationType: 'personal', tenantId: TENANT_ID }
      : { id: '19:group-chat@thread.v2', conversationType: 'groupChat', isGroup: true, tenantId: TENANT_ID },
    recipient: { id: `28:${APP_ID}`, name: 'Latch' },
    channelData: { tenant: { id: TENANT_ID } },
    ...fields,
  });
  const post = async (a: object) => {
    const token = await standIn.signChannelToken({ audience: APP_ID });
    return fetch(`http://127.0.0.1:${web.port}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(a),
    });
  };
  const withCard = (call: ConnectorCall): CardCall => ({ ...call, card: cardOf(call) });
  return {
    fx,
    standIn,
    teams,
    notifier: teamsCore.notifier,
    web,
    database,
    billing: schemaId(database),
    personalChat,
    addUser(u) {
      standIn.members.set(u.id, { ...u, userPrincipalName: u.email, tenantId: TENANT_ID });
    },
    activity,
    post,
    async install(u) {
      const a = activity(u, { type: 'installationUpdate', action: 'add' });
      expect((await post(a)).status).toBe(200);
      await standIn.waitForCall((c) => c.activityId === a.id);
    },
    async say(from, text, personal = true) {
      const a = activity(
        from,
        { type: 'message', text, textFormat: 'plain', localTimezone: 'Europe/London' },
        personal,
      );
      const res = await post(a);
      expect(res.status).toBe(200);
      return withCard(
        await standIn.waitForCall((c) => c.operation === 'replyToActivity' && c.activityId === a.id),
      );
    },
    async invoke(from, verb, data) {
      const a = activity(from, {
        type: 'invoke',
        name: 'adaptiveCard/action',
        value: { action: { type: 'Action.Execute', verb, data }, trigger: 'manual' },
      });
      const res = await post(a);
      expect(res.status).toBe(200);
      return (await res.json()) as InvokeAnswer;
    },
    async cardTo(u, match) {
      return withCard(
        await standIn.waitForCall((c) => {
          if (c.conversationId !== personalChat(u)) return false;
          const card = cardOf(c);
          return card !== undefined && match(card, c);
        }),
      );
    },
    async close() {
      await web.close(1_000);
      await standIn.close();
      await fx.close();
      await teamsDb.conn.dropDatabase();
      await teamsDb.close();
      await drop();
      errorSpy.mockRestore();
    },
  };
}
