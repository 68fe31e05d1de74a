/**
 * The Teams tab's API over HTTP, as the page calls it, with Entra tokens the stand-in signed: each
 * action is decided by the core as the person the token names (requester, approver, admin), never
 * by which buttons the page shows; bad input is a 400 with the reason, a refusal of the core its
 * status and message.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import type { WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  schemaId,
  type Fixture,
} from '../support/fixture.js';
import { startTabServer, tabRequest, type Json } from '../support/teams-tab-server.js';

const APP_ID = '2c1b0a9f-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ada = person('ada');
const PEOPLE = {
  ada: { username: 'ada@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000a1' },
  bob: { username: 'bob@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000b1' },
  admin: { username: 'admin@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000c1' },
};

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let web: WebServer;
let dropDb: () => Promise<void>;
let billing: string;
let tokens: Record<keyof typeof PEOPLE, string>;

beforeAll(async () => {
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  fx = await createFixture('teams_tab_api');
  let database: string;
  ({ database, drop: dropDb } = await createPgDatabase('tabapi'));
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
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing write (auto)',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['write'] }],
      duration: { choicesMinutes: [30, 60] },
      extension: { mode: 'direct', maxCount: 1 },
    }),
  );
  web = await startTabServer(fx.latch, {
    appId: APP_ID,
    tenantId: TENANT_ID,
    authority: standIn.entraAuthority,
  });
  tokens = {
    ada: await standIn.signUserToken(PEOPLE.ada),
    bob: await standIn.signUserToken(PEOPLE.bob),
    admin: await standIn.signUserToken(PEOPLE.admin),
  };
}, 60_000);

afterAll(async () => {
  await web?.close(1_000);
  await standIn?.close();
  await fx?.close();
  await dropDb?.();
});

async function call(who: keyof typeof PEOPLE, method: 'GET' | 'POST', path: string, body?: unknown) {
  // A string is sent as it is: what the page could never send.
  return tabRequest(web, tokens[who], method, path, body, { raw: true });
}

const billingKey = () => `pg|${billing}`;

async function activeGrant(): Promise<RequestView> {
  const r = await fx.latch.requests.submit(ada, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
    durationMinutes: 30,
    justification: 'month end',
    source: 'api',
  });
  await fx.latch.sweeps.tickUrgent();
  const active = (await fx.latch.queries.myAccess(ada)).active.find((a) => a.request.id === r.id);
  expect(active?.request.state).toBe('active');
  return active!.request;
}

describe('the request form', () => {
  it("offers what the core offers the person, and the form for a choice from the core's options", async () => {
    const offers = await call('ada', 'GET', '/offers');
    expect(offers.status).toBe(200);
    expect(offers.body.offers).toContainEqual({
      key: billingKey(),
      label: expect.stringMatching(/billing · pg$/),
    });
    const form = await call('ada', 'POST', '/options', { selected: [billingKey()] });
    expect(form.body.flows.map((f: Json) => f.name)).toEqual(expect.arrayContaining(['Billing read']));
    expect(form.body.shown).toEqual(expect.arrayContaining(['targets', 'flow', 'permission', 'duration']));
    const read = await call('ada', 'POST', '/options', {
      selected: [billingKey()],
      flowId: form.body.flows.find((f: Json) => f.name === 'Billing read').id,
    });
    expect(read.body.permissions).toEqual(['read']);
    expect(read.body.notes).toEqual(['Billing read: approved by admin@example.com.']);
  });

  it('refuses an incomplete form with the same words as Slack, on the field concerned', async () => {
    expect(await call('ada', 'POST', '/requests', { selected: [] })).toEqual({
      status: 400,
      body: {
        error: 'Choose at least one resource or a bundle.',
        fields: { targets: 'Choose at least one resource or a bundle.' },
      },
    });
    const noPermission = await call('ada', 'POST', '/requests', { selected: [billingKey()], duration: 60 });
    expect(noPermission.body.fields).toEqual({ permission: 'Choose a permission.' });
    const gone = await call('ada', 'POST', '/requests', {
      selected: ['pg|db:nowhere/schema:x'],
      permission: 'read',
      duration: 60,
    });
    expect(gone.body.fields).toEqual({ targets: 'One of these is no longer offered to you; choose again.' });
  });

  it("puts the core's refusal of a submission next to its field", async () => {
    const form = await call('ada', 'POST', '/options', { selected: [billingKey()] });
    const readFlow = form.body.flows.find((f: Json) => f.name === 'Billing read').id;
    const tooLong = await call('ada', 'POST', '/requests', {
      selected: [billingKey()],
      flowId: readFlow,
      permission: 'read',
      duration: 60,
      justification: 'x'.repeat(2001),
    });
    expect(tooLong.status).toBe(400);
    expect(tooLong.body.fields).toEqual({
      justification: 'The justification is too long: 2001 characters, at most 2000.',
    });
  });

  it('refuses input that is not what the API takes, with the reason', async () => {
    const bad = await call('ada', 'POST', '/requests', { selected: 'billing' });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/^selected: /);
    expect(await call('ada', 'POST', '/requests/AR-1/extend', '{not json')).toEqual({
      status: 400,
      body: { error: 'body is not JSON' },
    });
    expect((await call('ada', 'POST', '/requests/AR-1/extend', { minutes: 'ten' })).body.error).toMatch(
      /^minutes: /,
    );
  });
});

describe('requests and approvals', () => {
  it('lets the approver see and decide what waits on them, and no one else', async () => {
    const form = await call('ada', 'POST', '/options', { selected: [billingKey()] });
    const readFlow = form.body.flows.find((f: Json) => f.name === 'Billing read').id;
    const made = await call('ada', 'POST', '/requests', {
      selected: [billingKey()],
      flowId: readFlow,
      permission: 'read',
      duration: 60,
      justification: 'audit',
    });
    expect(made.status).toBe(200);
    expect(made.body).toMatchObject({ waitingOn: 'admin@example.com', auto: false });
    const id = made.body.request.id as string;

    const adminSees = await call('admin', 'GET', '/me');
    expect(adminSees.body.waitingOnMe.map((r: Json) => r.id)).toContain(id);
    expect((await call('bob', 'GET', '/me')).body.waitingOnMe).toEqual([]);

    // Bob is no approver: refused by the core whatever the page shows.
    const bobApproves = await call('bob', 'POST', `/requests/${id}/approve`, {});
    expect(bobApproves).toEqual({
      status: 403,
      body: { error: `You cannot approve ${id}: you are not one of its approvers.` },
    });
    const noReason = await call('admin', 'POST', `/requests/${id}/deny`, { reason: '' });
    expect(noReason.status).toBe(400);
    expect(noReason.body.field).toBe('reason');
    const denied = await call('admin', 'POST', `/requests/${id}/deny`, { reason: 'use the replica' });
    expect(denied.body.request).toMatchObject({ id, state: 'rejected' });
  });

  it('lets the requester cancel their request, and only them', async () => {
    const r = await fx.latch.requests.submit(ada, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      justification: 'later',
      source: 'api',
    });
    expect((await call('bob', 'POST', `/requests/${r.id}/cancel`)).status).toBe(403);
    const mine = await call('ada', 'GET', '/me');
    expect(mine.body.mine.pending).toContainEqual(
      expect.objectContaining({ id: r.id, stateLabel: 'waiting for approval' }),
    );
    expect((await call('ada', 'POST', `/requests/${r.id}/cancel`)).body.request.state).toBe('cancelled');
  });

  it('extends and revokes a grant for its requester, and refuses a stranger', async () => {
    const grant = await activeGrant();
    const mine = await call('ada', 'GET', '/me');
    const listed = mine.body.mine.active.find((a: Json) => a.request.id === grant.id);
    expect(listed.extension).toEqual({ allowed: true, needsApproval: false, choicesMinutes: [30, 60] });
    const extended = await call('ada', 'POST', `/requests/${grant.id}/extend`, { minutes: 30 });
    expect(new Date(extended.body.request.expiresAt).getTime()).toBe(
      new Date(grant.expiresAt!).getTime() + 30 * 60_000,
    );

    const stranger = await call('bob', 'POST', `/requests/${grant.id}/revoke`, {});
    expect(stranger).toEqual({
      status: 403,
      body: { error: `Only the requester, an approver of ${grant.id} or an admin can revoke it.` },
    });
    const revoked = await call('ada', 'POST', `/requests/${grant.id}/revoke`, {});
    expect(revoked.body.request.state).toBe('revoking');
    await fx.latch.sweeps.tickUrgent();
    expect((await call('ada', 'GET', '/me')).body.mine.active).toEqual([]);
  });
});

describe('the admin console', () => {
  it('is refused to someone who is not an admin, at every call', async () => {
    for (const path of [
      '/admin/flows',
      '/admin/integrations',
      '/admin/active',
      '/admin/settings',
      '/admin/audit',
    ]) {
      const res = await call('ada', 'GET', path);
      expect([path, res.status]).toEqual([path, 403]);
      expect(Object.keys(res.body)).toEqual(['error']);
    }
    expect(
      (await call('ada', 'POST', '/admin/revoke-all', { reason: 'x', confirm: 'REVOKE ALL' })).status,
    ).toBe(403);
    expect((await call('ada', 'GET', '/me')).body.isAdmin).toBe(false);
  });

  it('shows admins the flows, integrations with health, settings and the audit log', async () => {
    expect((await call('admin', 'GET', '/me')).body.isAdmin).toBe(true);
    const flows = await call('admin', 'GET', '/admin/flows');
    expect(flows.body.flows).toContainEqual({
      id: expect.any(String),
      name: 'Billing read',
      enabled: true,
      summary: 'read on 1 selected in pg · approval: admin@example.com · up to 4 hours',
    });
    const integrations = await call('admin', 'GET', '/admin/integrations');
    expect(integrations.body.integrations).toEqual([
      expect.objectContaining({ name: 'pg', type: 'postgresql', healthy: true }),
    ]);
    const settings = await call('admin', 'GET', '/admin/settings');
    expect(settings.body.settings).toMatchObject({ fallback: { enabled: true }, selfExtension: 'flow' });
    const audit = await call('admin', 'GET', '/admin/audit');
    expect(audit.body.entries.map((e: Json) => e.action)).toContain('request.submitted');
  });

  it('lets an admin turn a flow off and on', async () => {
    const { body } = await call('admin', 'GET', '/admin/flows');
    const id = body.flows.find((f: Json) => f.name === 'Billing read').id;
    const off = await call('admin', 'POST', `/admin/flows/${id}/enabled`, { enabled: false });
    expect(off.body.flows.find((f: Json) => f.id === id).enabled).toBe(false);
    const on = await call('admin', 'POST', `/admin/flows/${id}/enabled`, { enabled: true });
    expect(on.body.flows.find((f: Json) => f.id === id).enabled).toBe(true);
  });

  it('revokes everything only with a reason and REVOKE ALL typed out', async () => {
    const grant = await activeGrant();
    const active = await call('admin', 'GET', '/admin/active');
    expect(active.body.active.map((r: Json) => r.id)).toContain(grant.id);
    expect(active.body.revocable).toBeGreaterThan(0);
    expect(await call('admin', 'POST', '/admin/revoke-all', { reason: '', confirm: 'revoke all' })).toEqual({
      status: 400,
      body: {
        error: 'Revoke everything was not confirmed.',
        fields: {
          reason: 'Give a reason; everyone affected will see it.',
          confirm: 'Type REVOKE ALL, in capitals, to confirm.',
        },
      },
    });
    const all = await call('admin', 'POST', '/admin/revoke-all', {
      reason: 'incident 9',
      confirm: 'REVOKE ALL',
    });
    expect(all.status).toBe(200);
    expect(all.body.revoking).toBeGreaterThan(0);
    expect(
      (await fx.latch.queries.myAccess(ada)).active.find((a) => a.request.id === grant.id)?.request.state,
    ).toBe('revoking');
  });
});
