/**
 * Lifecycle webhooks in the Teams tab's console over HTTP (docs/ARCHITECTURE.md, "Lifecycle
 * webhooks", "Personal tab"), as the page calls it: added with only a name and a URL, the generated
 * secret in that one answer, a request's events reaching the HTTPS receiver signed with it, each
 * delivery's status (a 500 and its retry) in the list and on the subscription's page; bad input a
 * 400 on its field; edit keeps the secret left empty; rotate and delete; non-admins get 403 at
 * every route and no answer ever carries a secret after the one that shows it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
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
import { until } from '../support/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/lifecycle-webhook-receiver.js';

const APP_ID = '4d3c2b1a-6a55-4a3c-9d1e-2f3a4b5c6d7f';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db48';
const PEOPLE = {
  ada: { username: 'ada@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000001a2' },
  admin: { username: 'admin@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000001e2' },
};
type Who = keyof typeof PEOPLE;

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let web: WebServer;
let receiver: WebhookReceiver;
let tokens: Record<Who, string>;
let dropDb: () => Promise<void>;
let billing: string;
let id: string;
/** Every answer after the one that showed the secret. */
const later: string[] = [];
let record = false;

beforeAll(async () => {
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  receiver = await startWebhookReceiver();
  fx = await createFixture('teams_tab_webhooks', { webhooks: { ca: receiver.ca, retryBaseMs: 1_000 } });
  const pg = await createPgDatabase('twh');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'admin@example.com' }] }] },
    }),
  );
  web = await startTabServer(fx.latch, {
    appId: APP_ID,
    tenantId: TENANT_ID,
    authority: standIn.entraAuthority,
  });
  tokens = {
    ada: await standIn.signUserToken(PEOPLE.ada),
    admin: await standIn.signUserToken(PEOPLE.admin),
  };
}, 120_000);

afterAll(async () => {
  await web?.close(1_000);
  await standIn?.close();
  await fx?.close();
  await receiver?.close();
  await dropDb?.();
});

async function call(who: Who, method: 'GET' | 'POST', path: string, body?: unknown) {
  return tabRequest(web, tokens[who], method, path, body, {
    seen: (text) => void (record && later.push(text)),
  });
}

describe('webhooks in the tab console', () => {
  it('refuses bad input with a 400 on each field, saving nothing', async () => {
    const bad = await call('admin', 'POST', '/admin/webhooks', {
      name: '',
      url: 'http://siem.example.com/latch',
      events: ['request.created', 'nonsense'],
      secret: 'short',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual({
      name: 'Give the subscription a name.',
      url: expect.stringContaining('Use https'),
      events: expect.stringContaining('Known events'),
      secret: expect.stringContaining('At least 16 characters'),
    });
    const list = await call('admin', 'GET', '/admin/webhooks');
    expect(list.status).toBe(200);
    expect(list.body.webhooks).toEqual([]);
    expect(list.body.events).toContain('access.drift');
  });

  it('adds one from only a name and a URL; the secret Latch generated is in that answer only', async () => {
    const saved = await call('admin', 'POST', '/admin/webhooks', { name: 'SIEM', url: receiver.url });
    expect([saved.status, saved.body.error]).toEqual([200, undefined]);
    expect(saved.body.secret).toMatch(/^whsec_/);
    receiver.secret = saved.body.secret;
    const listed = saved.body.webhooks as Json[];
    expect(listed).toEqual([
      expect.objectContaining({ name: 'SIEM', url: receiver.url, events: [], enabled: true, recent: [] }),
    ]);
    id = listed[0].id;
    record = true;
    const again = await call('admin', 'GET', `/admin/webhooks/${id}`);
    expect(again.body.webhook).toMatchObject({ name: 'SIEM' });
    expect(again.body.webhook.secret).toBeUndefined();
  });

  it("sends a request's events, signed, and shows each delivery's status", async () => {
    receiver.answerNext({ status: 500 });
    const req = await fx.latch.requests.submit(person('ada'), {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'teams',
    });
    await fx.latch.requests.approve(admin, req.id);
    const retrying = await until('the first try', async () => {
      await fx.latch.outbox.deliverDue();
      await fx.latch.webhooks!.deliverDue();
      const w = (await call('admin', 'GET', '/admin/webhooks')).body.webhooks[0];
      return w.recent.some((d: Json) => d.attempts === 1 && d.lastStatus === 500) ? w : undefined;
    });
    expect(retrying.pending).toBeGreaterThanOrEqual(1);
    expect(retrying.recent).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          event: 'request.created',
          requestId: req.id,
          state: 'pending',
          lastError: 'HTTP 500',
          nextAttemptAt: expect.any(String),
        }),
      ]),
    );
    fx.clock.advance(1_000);
    const hooks = await until('both events', async () => {
      await fx.latch.outbox.deliverDue();
      await fx.latch.webhooks!.deliverDue();
      const ok = receiver.accepted().filter((h) => h.status === 200 && h.json.request.id === req.id);
      return ok.length >= 2 ? ok : undefined;
    });
    expect(hooks.map((h) => h.json.type)).toEqual(['request.created', 'request.approved']);
    const page = await call('admin', 'GET', `/admin/webhooks/${id}`);
    expect(
      (page.body.webhook.recent as Json[]).map((d) => [d.event, d.state, d.attempts, d.lastStatus]),
    ).toEqual([
      ['request.approved', 'delivered', 1, 200],
      ['request.created', 'delivered', 2, 200],
    ]);
    await fx.latch.requests.revoke(admin, req.id);
  });

  it('edits it keeping the secret left empty, rotates it (shown once), and deletes it', async () => {
    const edited = await call('admin', 'POST', `/admin/webhooks/${id}`, {
      name: 'SIEM',
      url: receiver.url,
      events: ['access.granted'],
      secret: '',
      enabled: true,
    });
    expect(edited.status).toBe(200);
    expect(edited.body.secret).toBeUndefined();
    expect(edited.body.webhooks[0]).toMatchObject({ events: ['access.granted'] });
    const rotated = await call('admin', 'POST', `/admin/webhooks/${id}/rotate`, {});
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(receiver.secret);
    const secrets = [receiver.secret, rotated.body.secret as string];
    record = false;
    const deleted = await call('admin', 'POST', `/admin/webhooks/${id}/delete`, {});
    expect(deleted.body.webhooks).toEqual([]);
    // No answer since the creation carried a secret, except the rotation's own.
    for (const text of later.filter((t) => !t.includes('"secret":"whsec_')))
      for (const s of secrets) expect(text).not.toContain(s);
  });

  it('answers a non-admin 403 at every route, saving nothing', async () => {
    const fake = '6650f0c2a1b2c3d4e5f60718';
    const routes: Array<['GET' | 'POST', string, unknown?]> = [
      ['GET', '/admin/webhooks'],
      ['GET', `/admin/webhooks/${fake}`],
      ['POST', '/admin/webhooks', { name: 'x', url: 'https://attacker.example.com/' }],
      ['POST', `/admin/webhooks/${fake}`, { name: 'x', url: 'https://attacker.example.com/' }],
      ['POST', `/admin/webhooks/${fake}/rotate`, {}],
      ['POST', `/admin/webhooks/${fake}/delete`, {}],
    ];
    for (const [method, path, body] of routes) {
      const res = await call('ada', method, path, body);
      expect([path, res.status]).toEqual([path, 403]);
    }
    expect(await fx.latch.queries.webhooks(admin)).toEqual([]);
  });
});
