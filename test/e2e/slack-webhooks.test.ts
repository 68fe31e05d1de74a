/**
 * Lifecycle webhooks from the App Home (docs/ARCHITECTURE.md, "Lifecycle webhooks"): an admin adds
 * one with only a name and a URL (the default path), sees the generated secret once, a request's
 * events reach the HTTPS receiver signed with it, and the Webhooks section and the Deliveries modal
 * show how each went. Bad input is shown on its field and saves nothing; editing with the secret
 * left empty keeps it; rotating shows the new one once; deleting removes it. A non-admin's clicks
 * and forged submissions are refused and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, VIEW } from '../../blocks/slack/ids.js';
import { addPgIntegration, admin, createPgDatabase, flow, person, schemaId } from '../support/fixture.js';
import { formState, multiStaticSelected, plainInput } from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import { checkView, checkViewSubmissionResponse } from '../support/slack-views/block-kit-limits.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/lifecycle-webhook-receiver.js';
import { until } from '../support/wait.js';

const ada = { id: 'U0ADMIN', name: 'admin' };
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };

let h: SlackHarness;
let receiver: WebhookReceiver;
let dropDb: () => Promise<void>;
let billing: string;
let webhookId: string;
let firstRequest: string;
let addModal: Awaited<ReturnType<typeof clickToOpen>>;

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  h = await startSlackHarness('slack_webhooks', { webhooks: { ca: receiver.ca, retryBaseMs: 1_000 } });
  h.standIn.addUser({ id: ada.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice Liddell' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob Approver' });
  const pg = await createPgDatabase('swh');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
    }),
  );
}, 120_000);

afterAll(async () => {
  await h?.close();
  await receiver?.close();
  await dropDb?.();
});

const homeText = async (user = ada) => textOf((await openHome(h, user, 'webhooks')).blocks as unknown[]);

describe('webhooks in the App Home', () => {
  it('shows bad input on its field and saves nothing', async () => {
    const home = await openHome(h, ada, 'webhooks');
    expect(textOf(home.blocks as unknown[])).toContain('No webhooks yet.');
    addModal = await clickToOpen(h, ada, home, ACTION.webhookNew, 'new');
    expect(addModal.callback_id).toBe(VIEW.webhook);
    const bad = await h.driver.viewSubmission(
      ada,
      addModal,
      formState(addModal, {
        name: plainInput('SIEM'),
        url: plainInput('http://siem.example.com/latch'),
        secret: plainInput('too-short'),
      }),
    );
    expect(bad.json).toMatchObject({ response_action: 'errors' });
    const errors = (bad.json as { errors: Record<string, string> }).errors;
    expect(errors.url).toContain('Use https');
    expect(errors.secret).toContain('At least 16 characters');
    expect(await h.latch.queries.webhooks(admin)).toEqual([]);
  });

  it('adds one with only a name and a URL, and shows the secret Latch generated once', async () => {
    const res = await h.driver.viewSubmission(
      ada,
      addModal,
      formState(addModal, {
        name: plainInput('SIEM'),
        url: plainInput(receiver.url),
      }),
    );
    expect(res.status).toBe(200);
    expect(checkViewSubmissionResponse(res.json)).toEqual([]);
    const ack = res.json as { response_action: string; view: { blocks: unknown[] } };
    expect(ack.response_action).toBe('update');
    expect(checkView(ack.view)).toEqual([]);
    const secret = /whsec_[A-Za-z0-9_-]+/.exec(textOf(ack.view.blocks))?.[0];
    expect(secret).toBeDefined();
    receiver.secret = secret!;
    const [webhook] = await h.latch.queries.webhooks(admin);
    expect(webhook).toMatchObject({ name: 'SIEM', url: receiver.url, events: [], enabled: true });
    webhookId = webhook!.id;
    // Never again: not in the App Home, not in the edit modal.
    const home = await openHome(h, ada, 'webhooks');
    expect(JSON.stringify(home)).not.toContain(secret);
    expect(textOf(home.blocks as unknown[])).toContain('every event');
    const edit = await clickToOpen(h, ada, home, ACTION.webhookEdit, webhookId);
    expect(JSON.stringify(edit)).not.toContain(secret);
    expect(JSON.stringify(h.standIn.calls())).not.toContain(secret);
  });

  it('sends a request’s events to it, signed, and shows how each delivery went', async () => {
    receiver.answerNext({ status: 500 });
    const req = await h.latch.requests.submit(person('alice'), {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    firstRequest = req.id;
    await h.latch.requests.approve(person('bob'), req.id);
    // The first try got a 500: the App Home says so, with the next try.
    await until('the failed first try', async () => {
      await h.latch.webhooks!.deliverDue();
      return receiver.received.length >= 1 ? true : undefined;
    });
    expect(await homeText()).toMatch(
      /request\.created\* AR-\d+ · :hourglass_flowing_sand: HTTP 500, next try/,
    );
    h.clock.advance(1_000);
    const hooks = await until('both events', async () => {
      await h.latch.outbox.deliverDue();
      await h.latch.webhooks!.deliverDue();
      const got = receiver.accepted().filter((r) => r.json.request.id === req.id && r.status === 200);
      return got.length >= 2 ? got : undefined;
    });
    expect(hooks.map((r) => r.json.type)).toEqual(['request.created', 'request.approved']);
    const text = await homeText();
    expect(text).toContain('*request.created* ' + req.id + ' · :white_check_mark: 200 · 2 attempts');
    expect(text).toContain('*request.approved* ' + req.id + ' · :white_check_mark: 200 · 1 attempt');

    const deliveries = await clickToOpen(
      h,
      ada,
      await openHome(h, ada, 'webhooks'),
      ACTION.webhookDeliveries,
      webhookId,
    );
    expect(deliveries.callback_id).toBe(VIEW.webhookDeliveries);
    expect(textOf(deliveries.blocks as unknown[])).toContain('The last 2 deliveries');
  });

  it('edits it: events narrowed, the secret left empty is kept', async () => {
    const edit = await clickToOpen(h, ada, await openHome(h, ada, 'webhooks'), ACTION.webhookEdit, webhookId);
    const res = await h.driver.viewSubmission(
      ada,
      edit,
      formState(edit, {
        events: multiStaticSelected([{ value: 'access.revoked', text: 'access.revoked' }]),
      }),
    );
    expect(res.json).toBeUndefined();
    const [webhook] = await h.latch.queries.webhooks(admin);
    expect(webhook).toMatchObject({ name: 'SIEM', events: ['access.revoked'], enabled: true });
    expect(await h.latch.audit.latest(1, { action: 'webhook.updated' })).toEqual([
      expect.objectContaining({ details: expect.objectContaining({ signingKey: 'kept' }) }),
    ]);
    // Granted (not subscribed any more: nothing sent), then revoked.
    const before = receiver.received.length;
    await h.latch.sweeps.tickUrgent();
    await h.latch.requests.revoke(admin, firstRequest, 'done');
    await h.latch.sweeps.tickUrgent();
    const revoked = await until('the revoke', async () => {
      await h.latch.outbox.deliverDue();
      await h.latch.webhooks!.deliverDue();
      return receiver.received.length > before ? receiver.received.slice(before) : undefined;
    });
    // Only the subscribed event, still signed with the kept secret.
    expect(revoked.map((r) => [r.json.type, r.signature])).toEqual([['access.revoked', null]]);
  });

  it('rotates the secret, shown once, and deletes it', async () => {
    const home = await openHome(h, ada, 'webhooks');
    const rotated = await clickToOpen(h, ada, home, ACTION.webhookRotate, webhookId);
    expect(rotated.callback_id).toBe(VIEW.webhookSecret);
    const fresh = /whsec_[A-Za-z0-9_-]+/.exec(textOf(rotated.blocks as unknown[]))?.[0];
    expect(fresh).toBeDefined();
    expect(fresh).not.toBe(receiver.secret);

    const mark = h.standIn.mark();
    await h.driver.blockActions(ada, [{ action_id: ACTION.webhookDelete, value: webhookId }], {
      view: h.standIn.homeOf(ada.id)!,
    });
    await h.standIn.waitForCall(
      'views.publish',
      (a) =>
        a.user_id === ada.id && textOf((a.view as { blocks: unknown[] }).blocks).includes('No webhooks yet.'),
      { after: mark },
    );
    expect(await h.latch.queries.webhooks(admin)).toEqual([]);
  });

  it("refuses a non-admin's clicks and forged submissions, and audits them", async () => {
    const home = await openHome(h, alice);
    expect(buttonsOf(home.blocks as unknown[]).map((b) => b.action_id)).not.toContain(
      `${ACTION.section}:webhooks`,
    );
    const forged = await h.driver.viewSubmission(
      alice,
      addModal,
      formState(addModal, {
        name: plainInput('Exfiltrate'),
        url: plainInput('https://attacker.example.com/'),
      }),
    );
    expect(forged.json).toMatchObject({ response_action: 'errors' });
    expect(JSON.stringify(forged.json)).toMatch(/admin/i);
    const mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.webhookNew, value: 'new' }], { view: home });
    const refused = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf((refused.args.view as { blocks: unknown[] }).blocks)).toMatch(/admin/i);
    expect(await h.latch.queries.webhooks(admin)).toEqual([]);
    const denied = await h.latch.audit.latest(20, { action: 'admin.denied' });
    expect(denied.map((d) => (d.details as { attempted: string }).attempted)).toEqual(
      expect.arrayContaining(['webhook.save', 'webhook.create']),
    );
  });
});
