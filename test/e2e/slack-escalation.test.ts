/**
 * Approvals that never stall, through Slack: an unanswered request is reminded, then escalated; the
 * escalation approver could not approve before, gets the card then, approves from it, and the
 * requester hears both. Many reminders due for one approver arrive as one digest DM, whose buttons
 * decide, and a digest for someone Slack does not know is not reported as an unreached approver.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION } from '../../blocks/slack/ids.js';
import { addPgIntegration, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import { checkboxes, formState, plainInput, selectedValue, usersSelected } from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import type { SlackView } from '../support/slack-stand-in.js';

const MIN = 60_000;
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const esme = { id: 'U0ESME', name: 'esme' };
const askers = ['dave', 'frank', 'gail'].map((n) => ({ id: `U0${n.toUpperCase()}`, name: n }));

let h: SlackHarness;
let dropDb: () => Promise<void>;
let billing: string;
const flows: Record<string, string> = {};

beforeAll(async () => {
  h = await startSlackHarness('slack_escalation');
  for (const p of [alice, bob, esme, ...askers])
    h.standIn.addUser({ id: p.id, email: `${p.name}@example.com`, realName: p.name });
  h.standIn.addUser({ id: 'U0ADMIN', email: 'admin@example.com', realName: 'Ada Admin' });
  const pg = await createPgDatabase('slesc');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  const save = async (name: string, permission: string, approval: Record<string, unknown>) => {
    const targets = [{ integration: 'pg', include: [{ id: billing }], permissions: [permission] }];
    flows[name] = (await h.latch.admin.saveFlow('config-file', flow({ name, targets, approval }))).id;
  };
  await save('Escalating', 'read', {
    steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }],
    timeoutMinutes: 240,
    reminderMinutes: 30,
    escalation: { afterMinutes: 90, to: [{ type: 'user', id: 'esme@example.com' }] },
  });
  await save("Bob's queue", 'write', {
    steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }],
    reminderMinutes: 30,
  });
  await save('Ghost decides', 'admin', {
    steps: [{ approvers: [{ type: 'user', id: 'ghost@example.com' }] }],
    reminderMinutes: 30,
  });
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

async function ask(who: { id: string }, flowName: string, permission: string) {
  const identity = await h.slack.deps.directory.identity('T0LATCH', who.id);
  return h.latch.requests.submit(identity, {
    targets: [{ integration: 'pg', resourceId: billing, permission }],
    flowId: flows[flowName],
    durationMinutes: 60,
    source: 'slack',
  });
}

async function stateOf(id: string) {
  return (await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state;
}

/** Until every event waiting in the outbox is delivered (this process delivers in the background too). */
async function settle() {
  await h.latch.outbox.deliverDue();
  await h.latch.outbox.drain(10_000);
}

/** The DMs `user` got since `mark`. */
function dmsSince(user: { id: string }, mark: number) {
  return h.standIn
    .calls('chat.postMessage')
    .filter((c) => c.index >= mark && c.args.channel === 'D' + user.id);
}

describe('an unanswered request', () => {
  it('is reminded, then escalated: the escalation approver gets the card and approves, the requester is told', async () => {
    let mark = h.standIn.mark();
    const r = await ask(alice, 'Escalating', 'read');
    const bobCard = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + bob.id && String(a.text).startsWith(r.id),
      { after: mark },
    );

    // Before the escalation, Esme is nobody to this request: a click learns nothing and changes nothing.
    mark = h.standIn.mark();
    await h.driver.blockActions(esme, [{ action_id: ACTION.approve, value: r.id }], {
      message: { ts: bobCard.response.ts as string, channel: 'D' + esme.id },
    });
    const refused = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(refused.args.text)).toContain('not one of its approvers');
    expect(await stateOf(r.id)).toBe('pending');

    // 31 minutes: Bob is reminded.
    mark = h.standIn.mark();
    h.clock.advance(31 * MIN);
    await h.latch.sweeps.tickRelaxed();
    const reminder = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bob.id, {
      after: mark,
    });
    expect(textOf(reminder.args.blocks as unknown[])).toContain('Reminder');

    // 91 minutes: escalated to Esme, who gets the card; Alice is told.
    mark = h.standIn.mark();
    h.clock.advance(60 * MIN);
    await h.latch.sweeps.tickRelaxed();
    const esmeCard = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + esme.id && String(a.text).startsWith(r.id),
      { after: mark },
    );
    expect(textOf(esmeCard.args.blocks as unknown[])).toContain('Escalated to you');
    const told = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && String(a.text).includes('escalated'),
      { after: mark },
    );
    expect(textOf(told.args.blocks as unknown[])).toContain(`escalated to <@${esme.id}>`);
    expect((await h.latch.audit.latest(20)).some((e) => e.action === 'request.escalated')).toBe(true);
    // Bob's reminders stop with the escalation.
    mark = h.standIn.mark();
    h.clock.advance(60 * MIN);
    await h.latch.sweeps.tickRelaxed();
    await settle();
    expect(dmsSince(bob, mark)).toHaveLength(0);

    mark = h.standIn.mark();
    await h.driver.blockActions(esme, [{ action_id: ACTION.approve, value: r.id }], {
      message: { ts: esmeCard.response.ts as string, channel: 'D' + esme.id },
    });
    const approved = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && String(a.text).includes('approved'),
      { after: mark },
    );
    expect(await stateOf(r.id)).not.toBe('pending');
    expect(textOf(approved.args.blocks as unknown[])).toContain(`approved by <@${esme.id}>`);
    // Every copy of the card (Bob's and Esme's) loses its buttons.
    await h.standIn.waitForCall('chat.update', (a) => a.ts === bobCard.response.ts, { after: mark });
    expect(buttonsOf(h.standIn.message('D' + bob.id, bobCard.response.ts as string)!.blocks)).toEqual([]);
  });
});

describe('many requests waiting on one approver', () => {
  it('arrive as one digest DM whose buttons decide', async () => {
    const asked = [];
    for (const p of askers) asked.push(await ask(p, "Bob's queue", 'write'));
    await settle();
    const mark = h.standIn.mark();
    h.clock.advance(31 * MIN);
    await h.latch.sweeps.tickRelaxed();
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bob.id, { after: mark });
    await settle();
    const dms = dmsSince(bob, mark);
    expect(dms).toHaveLength(1);
    const digest = dms[0]!;
    const text = textOf(digest.args.blocks as unknown[]);
    expect(text).toContain('3 requests are waiting for your decision');
    for (const r of asked) expect(text).toContain(r.id);
    // Each with how long it has waited (from its creation time, which the test clock does not set).
    for (const r of asked) expect(text).toMatch(new RegExp(`${r.id}\\* · .* · waiting \\d+ (minute|hour)`));
    expect(text).not.toContain('Reminder');
    const approve = buttonsOf(digest.args.blocks as unknown[]).filter((b) => b.action_id === ACTION.approve);
    expect(approve.map((b) => b.value).sort()).toEqual(asked.map((r) => r.id).sort());

    const clicked = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: ACTION.approve, value: asked[1]!.id }], {
      message: { ts: digest.response.ts as string, channel: 'D' + bob.id },
    });
    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + askers[1]!.id && String(a.text).includes('approved'),
      { after: clicked },
    );
    expect(await stateOf(asked[1]!.id)).not.toBe('pending');
    expect(await stateOf(asked[0]!.id)).toBe('pending');
  });

  it('for someone Slack does not know, is not reported as an unreached approver', async () => {
    const unreached = async () =>
      (await h.latch.audit.latest(200)).filter((e) => e.action === 'approvers.unreached').length;
    for (const p of askers) await ask(p, 'Ghost decides', 'admin');
    await settle();
    // The first ask is reported, once per request, as always.
    const asked = await unreached();
    expect(asked).toBeGreaterThanOrEqual(3);
    h.clock.advance(31 * MIN);
    await h.latch.sweeps.tickRelaxed();
    await settle();
    const digests = await h.db.models.Request.countDocuments({ 'outbox.type': 'approvals.digest' });
    expect(digests).toBe(0);
    expect(await unreached()).toBe(asked);
  });
});

describe("the flow modal's escalation", () => {
  const admin = { id: 'U0ADMIN', name: 'admin' };

  /** The option of a select in `view` whose label is `text`. */
  function optionOf(view: SlackView, blockId: string, text: string) {
    const block = (
      view.blocks as Array<{ block_id?: string; element?: { options?: Array<{ text: { text: string } }> } }>
    ).find((b) => b.block_id === blockId);
    return block!.element!.options!.find((o) => o.text.text === text)!;
  }

  async function newFlowModal() {
    return clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
  }

  const required = (view: SlackView, name: string) => ({
    name: plainInput(name),
    grantees_everyone: checkboxes(['everyone']),
    integration: selectedValue('pg'),
    permissions: { type: 'multi_static_select', selected_options: [optionOf(view, 'permissions', 'read')] },
    approvers_users: usersSelected([bob.id]),
  });

  it('saves none when left empty, and the escalation an admin sets, shown again on edit', async () => {
    let modal = await newFlowModal();
    let res = await h.driver.viewSubmission(admin, modal, formState(modal, required(modal, 'No escalation')));
    expect(res.body).toBe('');
    const plain = (await h.latch.ctx.flows()).find((f) => f.name === 'No escalation')!;
    expect(plain.approval.escalation).toBeUndefined();

    modal = await newFlowModal();
    // After the time-out (24 hours): refused on its field, nothing saved.
    res = await h.driver.viewSubmission(
      admin,
      modal,
      formState(modal, { ...required(modal, 'Escalates'), escalate_after: plainInput('24') }),
    );
    expect(res.json).toMatchObject({
      response_action: 'errors',
      errors: { escalate_after: expect.stringContaining('before the time-out') },
    });
    expect((await h.latch.ctx.flows()).some((f) => f.name === 'Escalates')).toBe(false);

    res = await h.driver.viewSubmission(
      admin,
      modal,
      formState(modal, {
        ...required(modal, 'Escalates'),
        escalate_after: plainInput('1.5'),
        escalate_users: usersSelected([esme.id]),
      }),
    );
    expect(res.body).toBe('');
    const saved = (await h.latch.ctx.flows()).find((f) => f.name === 'Escalates')!;
    expect(saved.approval.escalation).toEqual({
      afterMinutes: 90,
      to: [{ type: 'user', id: 'esme@example.com' }],
    });

    const edit = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowEdit, saved.id);
    const block = (id: string) =>
      (edit.blocks as Array<{ block_id?: string; element?: Record<string, unknown> }>).find(
        (b) => b.block_id === id,
      )!.element!;
    expect(block('escalate_after').initial_value).toBe('1.5');
    expect(block('escalate_users').initial_users).toEqual([esme.id]);
    // Saved unchanged, it keeps the escalation.
    res = await h.driver.viewSubmission(admin, edit, formState(edit));
    expect(res.body).toBe('');
    expect((await h.latch.ctx.flows()).find((f) => f.name === 'Escalates')!.approval.escalation).toEqual(
      saved.approval.escalation,
    );
  });
});
