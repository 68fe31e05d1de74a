/**
 * The Teams bot in Latch, over signed HTTP against the Bot Framework stand-in: installing the app
 * records where to reach the person, and the personal-chat commands answer from the core (list,
 * revoke, help), as the person Teams says sent them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AdaptiveCard } from '../../blocks/teams/cards.js';
import type { TeamsChannel } from '../../src/channels/teams/index.js';
import type { WebServer } from '../../src/web/server.js';
import type { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';
import { admin, flow, type Fixture } from '../support/fixture.js';
import { startTeamsHarness, type TeamsHarness, type TeamsUser } from '../support/teams-harness.js';

const ADA = {
  id: '29:1user-ada',
  name: 'Ada Lovelace',
  aadObjectId: '6f1b2c3d-0000-4000-8000-000000000001',
  email: 'Ada@Example.com',
};
const BOB = {
  id: '29:1user-bob',
  name: 'Bob Approver',
  aadObjectId: '6f1b2c3d-0000-4000-8000-000000000003',
  email: 'bob@example.com',
};
const NOMAIL = {
  id: '29:1user-nomail',
  name: 'No Mail',
  aadObjectId: '6f1b2c3d-0000-4000-8000-000000000002',
};

let h: TeamsHarness;
let fx: Fixture;
let standIn: BotFrameworkStandIn;
let teams: TeamsChannel;
let web: WebServer;
let billing: string;

beforeAll(async () => {
  h = await startTeamsHarness('teams_bot');
  ({ fx, standIn, teams, web, billing } = h);
  for (const u of [ADA, NOMAIL, BOB]) h.addUser(u);
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
  await h?.close();
});

const activity = (from: TeamsUser, fields: Record<string, unknown>, personal = true) =>
  h.activity(from, fields, personal);

/** Posts a signed message and returns the text of the bot's reply to it. */
async function say(from: TeamsUser, text: string, personal = true): Promise<string> {
  return String((await h.say(from, text, personal)).body.text);
}

/** Posts a signed Action.Execute invoke and returns the invoke response's body. */
const invoke = (from: TeamsUser, verb: string, data: Record<string, unknown>) => h.invoke(from, verb, data);

const post = (a: object) => h.post(a);

describe('the Teams bot', () => {
  it('records where to reach a person who installs the app, and greets them', async () => {
    const install = activity(ADA, { type: 'installationUpdate', action: 'add' });
    expect((await post(install)).status).toBe(200);
    const greeting = await standIn.waitForCall((c) => c.activityId === install.id);
    expect(String(greeting.body.text)).toMatch(/^Hello Ada Lovelace\. Latch gives you access/);
    expect(await teams.people.reach('ada@example.com')).toEqual({
      userId: ADA.id,
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

  it('sends the approver a card, takes Approve and Deny from it (Universal Actions), and tells everyone', async () => {
    await fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Billing write',
        targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['write'] }],
        approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
        extension: { mode: 'direct', maxCount: 1 },
      }),
    );
    const install = activity(BOB, { type: 'installationUpdate', action: 'add' });
    expect((await post(install)).status).toBe(200);
    await standIn.waitForCall((c) => c.activityId === install.id);
    const ada = { id: 'ada@example.com', email: 'ada@example.com', displayName: 'Ada', groups: [] };
    const submit = (why: string, who: typeof ada = ada) =>
      fx.latch.requests.submit(who, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
        durationMinutes: 30,
        justification: why,
        source: 'api',
      });

    // The card reaches Bob's personal chat through the outbox.
    const first = await submit('fix the ledger');
    const card = await standIn.waitForCall(
      (c) =>
        c.conversationId === `a:1personal-${BOB.aadObjectId}` &&
        JSON.stringify(c.body.attachments ?? []).includes(first.id),
    );
    const content = (card.body.attachments as Array<{ contentType: string; content: AdaptiveCard }>)[0]!;
    expect(content.contentType).toBe('application/vnd.microsoft.card.adaptive');
    expect(content.content.actions!.map((a) => a.verb)).toEqual(['latch.approve', 'latch.deny']);
    expect(content.content.refresh!.userIds).toEqual([BOB.id]);

    // Approve, as Teams sends an Action.Execute: the answer is the card as Bob now sees it.
    const approve = await invoke(BOB, 'latch.approve', { request: first.id, version: first.version });
    expect(approve.statusCode).toBe(200);
    expect(JSON.stringify(approve.value)).toContain('Approved by you.');
    expect(approve.value.actions).toBeUndefined();
    // Every copy of the card is rewritten, and Ada hears of it.
    const rewritten = await standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' && JSON.stringify(c.body).includes(`Approved by bob@example.com`),
    );
    expect(rewritten.conversationId).toBe(`a:1personal-${BOB.aadObjectId}`);
    await standIn.waitForCall(
      (c) =>
        c.conversationId === `a:1personal-${ADA.aadObjectId}` &&
        String(c.body.text).startsWith(`${first.id} is approved by bob@example.com`),
    );

    // Deny needs a reason; the refusal comes back as a message, and nothing changes.
    // Others ask too (one open request per person and access).
    const cy = { ...ada, id: 'cy@example.com', email: 'cy@example.com', displayName: 'Cy' };
    const dee = { ...ada, id: 'dee@example.com', email: 'dee@example.com', displayName: 'Dee' };
    const second = await submit('again', cy);
    await standIn.waitForCall((c) => JSON.stringify(c.body.attachments ?? []).includes(second.id));
    const bare = await invoke(BOB, 'latch.deny', { request: second.id, version: second.version });
    expect(bare).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.activity.message' });
    expect(String(bare.value)).toMatch(/reason/i);
    const denied = await invoke(BOB, 'latch.deny', {
      request: second.id,
      version: second.version,
      reason: 'not this week',
    });
    expect(JSON.stringify(denied.value)).toContain('Denied by you: not this week');
    // Someone who is not an approver of it is refused by the core, whatever the card says.
    const third = await submit('once more', dee);
    const forged = await invoke(ADA, 'latch.approve', { request: third.id, version: third.version });
    expect(String(forged.value)).not.toMatch(/approved/i);
    expect((await fx.latch.queries.myAccess(dee)).pending.find((r) => r.id === third.id)?.state).toBe(
      'pending',
    );
  });

  it('tells the requester in cards: granted with Revoke, then expiring with Extend buttons that work', async () => {
    const ada = { id: 'ada@example.com', email: 'ada@example.com', groups: [] };
    const mine = await fx.latch.queries.myAccess(ada);
    const approved = mine.pending.find((r) => r.state === 'approved')!;
    await fx.latch.sweeps.tickUrgent(); // the worker grants it on PostgreSQL
    const cardTo = (id: string, verbs: string[]) =>
      standIn.waitForCall((c) => {
        if (c.conversationId !== `a:1personal-${ADA.aadObjectId}`) return false;
        const card = (c.body.attachments as Array<{ content: AdaptiveCard }> | undefined)?.[0]?.content;
        return (
          JSON.stringify(card ?? {}).includes(id) &&
          verbs.every((v) => card!.actions?.some((a) => a.verb === v))
        );
      });
    const granted = await cardTo(approved.id, ['latch.revoke', 'latch.showCredentials']);
    expect(JSON.stringify(granted.body)).not.toMatch(/password/i);
    const show = (granted.body.attachments as Array<{ content: AdaptiveCard }>)[0]!.content.actions!.find(
      (a) => a.verb === 'latch.showCredentials',
    )!;
    // Someone else clicking gets nothing (and it is audited); the requester sees them once, for them alone.
    const stranger = await invoke(BOB, 'latch.showCredentials', show.data as Record<string, unknown>);
    expect(stranger.value).toBe('Only the requester can see these credentials.');
    const shown = await invoke(ADA, 'latch.showCredentials', show.data as Record<string, unknown>);
    expect(shown.type).toBe('application/vnd.microsoft.card.adaptive');
    expect(JSON.stringify(shown.value)).toMatch(/password: /);
    expect(shown.value.refresh).toEqual({
      action: { type: 'Action.Execute', verb: 'latch.hideCredentials', data: { request: approved.id } },
      userIds: [ADA.id],
    });
    const again = await invoke(ADA, 'latch.showCredentials', show.data as Record<string, unknown>);
    expect(String(again.value)).toMatch(/shown already/);
    const hidden = await invoke(ADA, 'latch.hideCredentials', { request: approved.id });
    expect(JSON.stringify(hidden.value)).not.toMatch(/password: /);
    const audit = await fx.latch.queries.auditPage(admin, 50);
    expect(audit.map((e) => e.action)).toEqual(
      expect.arrayContaining(['credentials.revealed', 'action.refused']),
    );

    fx.clock.advance(21 * 60_000); // 30-minute grant: warned 10 minutes before its end
    await fx.latch.sweeps.tickRelaxed();
    const expiring = await cardTo(approved.id, ['latch.extend']);
    const buttons = (expiring.body.attachments as Array<{ content: AdaptiveCard }>)[0]!.content.actions!;
    const extend = buttons.find((a) => a.verb === 'latch.extend')!;
    expect(extend.title).toMatch(/^Extend by /);

    const answer = await invoke(ADA, 'latch.extend', extend.data as Record<string, unknown>);
    expect(String(answer.value)).toContain(`${approved.id}: asked`);
    await standIn.waitForCall(
      (c) =>
        c.conversationId === `a:1personal-${ADA.aadObjectId}` &&
        String(c.body.text).startsWith(`${approved.id} is extended`),
    );
    const after = (await fx.latch.queries.myAccess(ada)).active.find((x) => x.request.id === approved.id)!;
    expect(after.request.extensionCount).toBe(1);
  });

  it('sends an extension the flow makes approvers decide to them as a card, and approves it from there', async () => {
    await fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Billing admin',
        targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['admin'] }],
        approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
        extension: { mode: 'approval', maxCount: 1 },
      }),
    );
    const ada = { id: 'ada@example.com', email: 'ada@example.com', displayName: 'Ada', groups: [] };
    const r = await fx.latch.requests.submit(ada, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'admin' }],
      durationMinutes: 30,
      justification: 'migration',
      source: 'api',
    });
    await standIn.waitForCall((c) => JSON.stringify(c.body.attachments ?? []).includes(r.id));
    await invoke(BOB, 'latch.approve', { request: r.id, version: r.version });
    await fx.latch.sweeps.tickUrgent();
    fx.clock.advance(21 * 60_000);
    await fx.latch.sweeps.tickRelaxed();
    const expiring = await standIn.waitForCall((c) => {
      const card = (c.body.attachments as Array<{ content: AdaptiveCard }> | undefined)?.[0]?.content;
      return (
        JSON.stringify(card ?? {}).includes(r.id) &&
        Boolean(card!.actions?.some((a) => a.verb === 'latch.extend'))
      );
    });
    const ask = (expiring.body.attachments as Array<{ content: AdaptiveCard }>)[0]!.content.actions!.find(
      (a) => a.verb === 'latch.extend',
    )!;
    expect(ask.title).toMatch(/^Ask for /);
    await invoke(ADA, 'latch.extend', ask.data as Record<string, unknown>);

    // Bob gets the extension card and approves from it; Ada hears, and his card says so.
    const card = await standIn.waitForCall((c) => {
      const content = (c.body.attachments as Array<{ content: AdaptiveCard }> | undefined)?.[0]?.content;
      return Boolean(content?.actions?.some((a) => a.verb === 'latch.approveExtension'));
    });
    expect(card.conversationId).toBe(`a:1personal-${BOB.aadObjectId}`);
    const approve = (card.body.attachments as Array<{ content: AdaptiveCard }>)[0]!.content.actions![0]!;
    const answer = await invoke(BOB, 'latch.approveExtension', approve.data as Record<string, unknown>);
    expect(JSON.stringify(answer.value)).toContain('Extension approved by you.');
    await standIn.waitForCall(
      (c) =>
        c.conversationId === `a:1personal-${ADA.aadObjectId}` &&
        String(c.body.text).startsWith(`${r.id} is extended`),
    );
    await standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' && JSON.stringify(c.body).includes('Extended by bob@example.com'),
    );
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
