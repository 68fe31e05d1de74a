/**
 * Decisions and secrets through Slack, including from the wrong people: a flow that requires an
 * approval reason is approvable from the DM card and App Home, a bystander who clicks Approve or
 * Deny learns nothing, one-time credentials survive a failed views.open, and every refusal
 * (someone else's credentials, forged admin forms) is audited exactly once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { createPgDatabase, addPgIntegration, flow, roleExists, schemaId } from '../support/fixture.js';
import { formState, plainInput } from '../support/slack-driver.js';
import { buttonsOf, startSlackHarness, textOf, type SlackHarness } from '../support/slack-harness.js';
import type { SlackView } from '../support/slack-stand-in.js';

const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const eve = { id: 'U0EVE', name: 'eve' };
const admin = { id: 'U0ADMIN', name: 'admin' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_decisions');
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  h.standIn.addUser({ id: eve.id, email: 'eve@example.com', realName: 'Eve' });
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  const pg = await createPgDatabase('sldc');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing, with reasons',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }], requireReason: true },
    }),
  );
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

/** A fresh request by Alice; whatever she still has open for it is ended first. */
async function ask(): Promise<string> {
  const who = await h.slack.deps.directory.identity('T0LATCH', alice.id);
  for (const open of await h.db.models.Request.find({ openKey: { $exists: true } }).lean()) {
    const ref = `AR-${open.number}`;
    if (open.state === 'pending') await h.latch.requests.cancel(who, ref);
    else await h.latch.requests.revoke(who, ref);
  }
  await h.latch.sweeps.tickUrgent();
  const r = await h.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
    durationMinutes: 60,
    source: 'slack',
  });
  return r.id;
}

async function refusals(): Promise<Array<{ action: string; details: Record<string, unknown> }>> {
  const all = await h.latch.audit.latest(500);
  return all.filter((e) => e.action === 'action.refused' || e.action === 'admin.denied');
}

async function cardOf(user: typeof bob, id: string) {
  await h.standIn.waitForCall(
    'chat.postMessage',
    (a) => a.channel === 'D' + user.id && String(a.text).includes(id),
  );
  return h.standIn.messagesTo(user.id).findLast((m) => String(m.text).includes(id))!;
}

async function clickOnMessage(
  user: typeof bob,
  message: { ts: string; channel: string; blocks?: unknown[] },
  actionId: string,
  value: string,
) {
  return h.driver.blockActions(user, [{ action_id: actionId, value }], {
    message: { ts: message.ts, channel: message.channel, blocks: message.blocks ?? [] },
  });
}

describe('a flow whose approvers must give a reason', () => {
  it('opens a reason modal from the DM card, and the requester is told who is asked', async () => {
    const id = await ask();
    // The requester's DM names the approver as a real mention, escaped once, not twice.
    const submitted = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && String(a.text).includes(id),
    );
    const said = textOf(submitted.args.blocks as unknown[]);
    expect(said).toContain('Waiting for <@U0BOB>');
    expect(said).not.toContain('&lt;');

    const card = await cardOf(bob, id);
    const mark = h.standIn.mark();
    await clickOnMessage(bob, card, ACTION.approve, id);
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    const modal = h.standIn.view((opened.response.view as { id: string }).id)!;
    expect(modal.callback_id).toBe(VIEW.approve);
    expect((await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state).toBe(
      'pending',
    );

    const approved = await h.driver.viewSubmission(
      bob,
      modal,
      formState(modal, { [BLOCK.reason]: plainInput('Checked with finance: INC-9') }),
    );
    expect(approved.status).toBe(200);
    const doc = await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean();
    expect(doc!.state).toBe('approved');
    expect(doc!.approvals[0]!.reason).toBe('Checked with finance: INC-9');
    await h.standIn.waitForCall(
      'chat.update',
      (a) => a.channel === 'D' + bob.id && String(a.text).includes(id),
    );
  });

  it('opens the same modal from App Home', async () => {
    const id = await ask();
    let mark = h.standIn.mark();
    await h.driver.event({ type: 'app_home_opened', user: bob.id, channel: 'D' + bob.id, tab: 'home' });
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === bob.id, { after: mark });
    mark = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: `${ACTION.section}:approvals`, value: 'approvals' }], {
      view: h.standIn.homeOf(bob.id)!,
    });
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === bob.id, { after: mark });
    const home = h.standIn.homeOf(bob.id)!;
    const approve = buttonsOf(home.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.approve && b.value === id,
    );
    expect(approve).toBeDefined();
    mark = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: ACTION.approve, value: id }], { view: home });
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    const modal = h.standIn.view((opened.response.view as { id: string }).id)!;
    expect(modal.callback_id).toBe(VIEW.approve);
    // Slack itself will not submit an empty required reason; a forged one is refused on the server.
    const empty = await h.driver.viewSubmission(bob, modal, {
      [BLOCK.reason]: { value: { type: 'plain_text_input', value: '' } },
    });
    expect(empty.json).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCK.reason]: expect.any(String) },
    });
    await h.driver.viewSubmission(bob, modal, formState(modal, { [BLOCK.reason]: plainInput('fine') }));
    expect((await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state).toBe(
      'approved',
    );
  });
});

describe('a bystander', () => {
  it('who clicks Approve or Deny is refused without learning anything, each time audited once', async () => {
    const id = await ask();
    const card = await cardOf(bob, id);
    const before = (await refusals()).length;
    for (const action of [ACTION.approve, ACTION.deny]) {
      const mark = h.standIn.mark();
      await clickOnMessage(eve, card, action, id);
      const reply = await h.standIn.waitForCall('response_url', undefined, { after: mark });
      expect(String(reply.args.text)).toMatch(/not one of its approvers/);
      expect(String(reply.args.text)).not.toMatch(/pending|waiting|bob|alice/i);
      expect(h.standIn.calls('views.open').filter((c) => c.index >= mark)).toEqual([]);
    }
    expect((await refusals()).length - before).toBe(2);
    expect((await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state).toBe(
      'pending',
    );
  });
});

describe('one-time credentials', () => {
  it('survive a failed views.open, are shown once, and only to their owner', async () => {
    const id = await ask();
    await h.latch.requests.approve(await h.slack.deps.directory.identity('T0LATCH', bob.id), id, 'ok');
    await h.latch.sweeps.tickUrgent();
    const granted = await h.standIn.waitForCall('chat.postMessage', (a) =>
      buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.showCredentials),
    );
    const show = buttonsOf(granted.args.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.showCredentials,
    )!;
    const message = h.standIn.messagesTo(alice.id).at(-1)!;
    const password = h.notifier.of('access.granted', id)[0]!.credentials[0]!.values.password!;

    // Someone else's click is refused and audited, and uses nothing up.
    const before = (await refusals()).length;
    let mark = h.standIn.mark();
    await clickOnMessage(eve, message, ACTION.showCredentials, show.value!);
    expect(
      String((await h.standIn.waitForCall('response_url', undefined, { after: mark })).args.text),
    ).toMatch(/not yours/);
    expect(await refusals()).toHaveLength(before + 1);

    // Slack fails to open the window: the credentials are kept.
    h.standIn.failNext('views.open', 'expired_trigger_id');
    mark = h.standIn.mark();
    await clickOnMessage(alice, message, ACTION.showCredentials, show.value!);
    const kept = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(kept.args.text)).toMatch(/kept/);
    expect(String(kept.args.text)).not.toContain(password);

    mark = h.standIn.mark();
    await clickOnMessage(alice, message, ACTION.showCredentials, show.value!);
    const shown = await h.standIn.waitForCall('views.open', (a) => textOf([a.view]).includes(password), {
      after: mark,
    });
    expect(shown).toBeDefined();
    mark = h.standIn.mark();
    await clickOnMessage(alice, message, ACTION.showCredentials, show.value!);
    expect(
      String((await h.standIn.waitForCall('response_url', undefined, { after: mark })).args.text),
    ).toMatch(/already shown/);
    // Audited once, when it was really shown (the audit write may trail the click's reply).
    let revealed: unknown[] = [];
    for (let i = 0; i < 50 && revealed.length === 0; i++) {
      revealed = await h.latch.audit.latest(10, { subjectId: id, action: 'credentials.revealed' });
      if (revealed.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(revealed).toHaveLength(1);
    expect(await roleExists(h.notifier.of('access.granted', id)[0]!.credentials[0]!.values.username!)).toBe(
      true,
    );
  });
});

describe('forged admin forms', () => {
  it('from a non-admin are refused before they are validated, and audited once each', async () => {
    const forms: Array<{ callback_id: string; values: Record<string, Record<string, unknown>> }> = [
      { callback_id: VIEW.settings, values: { warning: { value: plainInput('not a number') } } },
      { callback_id: VIEW.flow, values: {} },
      { callback_id: VIEW.integration, values: { name: { value: plainInput('!!') } } },
      { callback_id: VIEW.revokeAll, values: {} },
      { callback_id: VIEW.revoke, values: {} },
    ];
    const before = await refusals();
    for (const form of forms) {
      const view: SlackView = {
        id: `V0FORGED${form.callback_id.length}`,
        type: 'modal',
        callback_id: form.callback_id,
        private_metadata: form.callback_id === VIEW.revoke ? JSON.stringify({ id: 'AR-1001' }) : '{}',
        blocks: [],
      } as unknown as SlackView;
      const res = await h.driver.viewSubmission(eve, view, form.values);
      expect(res.json).toMatchObject({ response_action: 'errors' });
      expect(JSON.stringify(res.json)).toMatch(/Only Latch admins/);
    }
    const after = await refusals();
    const added = after.slice(0, after.length - before.length);
    expect(added).toHaveLength(forms.length);
    expect(added.every((e) => e.action === 'admin.denied')).toBe(true);
    const settings = await h.latch.ctx.settings();
    expect(settings.expiryWarningMinutes).toBe(15);
  });
});
