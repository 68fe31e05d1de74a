/**
 * The requester's manager as an approver, through Slack end to end (docs/ARCHITECTURE.md, "Flows
 * that use context"): an admin ticks "The requester's manager approves" in the flow modal (shown
 * ticked when the flow is opened again); Okta names Bob as Alice's manager; Alice asks with
 * /access and Bob, found in Slack by his email, gets the card and approves. Dave, whom Okta gives
 * no manager, is told why he cannot ask. A flow saved with only the required fields has no manager.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK } from '../../blocks/slack/ids.js';
import { addPgIntegration, createPgDatabase } from '../support/fixture.js';
import { startOktaStandIn, type OktaStandIn } from '../support/okta-stand-in.js';
import {
  checkboxes,
  formState,
  multiExternalSelected,
  plainInput,
  usersSelected,
  optionOf,
  blockOf,
} from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';

const TOKEN = '00c-okta-managers-token-5555';
const admin = { id: 'U0ADMIN', name: 'admin' };
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const dave = { id: 'U0DAVE', name: 'dave' };
type User = typeof admin;

let h: SlackHarness;
let okta: OktaStandIn;
let dropDb: () => Promise<void>;
let database: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_managers', { envAdmins: ['admin@example.com'] });
  okta = await startOktaStandIn({ token: TOKEN });
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  h.standIn.addUser({ id: dave.id, email: 'dave@example.com', realName: 'Dave' });
  okta.addGroup('Staff', ['alice@example.com', 'bob@example.com', 'dave@example.com']);
  okta.setManager('alice@example.com', 'bob@example.com');
  const pg = await createPgDatabase('slmg');
  dropDb = pg.drop;
  database = pg.database;
  await addPgIntegration(h.latch, 'pg', { databases: [database] });
  await h.latch.admin.updateSettings('config-file', {
    fallback: { enabled: false, approvers: [], maxMinutes: 240 },
  });
  await h.latch.admin.saveContextSource('config-file', {
    name: 'okta',
    type: 'okta',
    config: { orgUrl: okta.url },
    secrets: { apiToken: TOKEN },
  });
  expect(await h.latch.admin.syncContextSource('config-file', 'okta')).toMatchObject({ ok: true });
});

afterAll(async () => {
  await h?.close();
  await okta?.close();
  await dropDb?.();
});

const MANAGER_OPTION = "The requester's manager approves (from the identity provider)";

/** A flow made in the Slack modal: Alice and Dave may ask for the billing schema. */
async function makeFlow(name: string, managerApproves: boolean): Promise<void> {
  const modal = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
  const res = await h.driver.viewSubmission(
    admin,
    modal,
    formState(modal, {
      name: plainInput(name),
      grantees_users: usersSelected([alice.id, dave.id]),
      integration: { type: 'static_select', selected_option: optionOf(modal, 'integration', 'pg') },
      resources: plainInput(`${database}.billing`),
      permissions: {
        type: 'multi_static_select',
        selected_options: [optionOf(modal, 'permissions', 'read')],
      },
      ...(managerApproves
        ? { approvers_manager: checkboxes([{ value: 'manager', text: MANAGER_OPTION }]) }
        : {}),
    }),
  );
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: '' });
}

async function storedFlow(name: string) {
  const who = await h.slack.deps.directory.identity('T0LATCH', admin.id);
  return (await h.latch.queries.flows(who)).find((f) => f.name === name)!;
}

/** The requester's /access modal for the billing schema, submitted; returns Slack's answer. */
async function ask(user: User) {
  const mark = h.standIn.mark();
  await h.driver.command(user, '/access', 'billing');
  const loading = await h.standIn.waitForCall('views.open', undefined, { after: mark });
  const viewId = (loading.response.view as { id: string }).id;
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
  const modal = h.standIn.view(viewId)!;
  const chosen = (
    modal.blocks as Array<{
      block_id?: string;
      element?: { initial_options?: Array<{ value: string; text: { text: string } }> };
    }>
  ).find((b) => b.block_id === BLOCK.resources)!.element!.initial_options!;
  const resource = { value: chosen[0]!.value, text: chosen[0]!.text.text };
  const redraw = h.standIn.mark();
  await h.driver.blockActions(user, [{ action_id: ACTION.resources, block_id: BLOCK.resources }], {
    view: {
      ...modal,
      state: {
        values: formState(modal, { [BLOCK.resources]: multiExternalSelected([resource]) }, 'action'),
      },
    },
  });
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: redraw });
  const form = h.standIn.view(viewId)!;
  return h.driver.viewSubmission(
    user,
    form,
    formState(form, {
      [BLOCK.permission]: {
        type: 'static_select',
        selected_option: optionOf(form, BLOCK.permission, 'read'),
      },
    }),
  );
}

async function stateOf(id: string) {
  return (await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!;
}

describe("the requester's manager approves, through Slack", () => {
  it('is not set on a flow saved with only the required fields', async () => {
    await makeFlow('Billing plain', false);
    const plain = await storedFlow('Billing plain');
    expect(plain.approval.steps).toEqual([]);
    const edit = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowEdit, plain.id);
    const box = blockOf(edit, 'approvers_manager') as { element: { initial_options?: unknown[] } };
    expect(box.element.initial_options).toBeUndefined();
    await h.latch.admin.deleteFlow('config-file', plain.id);
  });

  it('is kept ticked on reopen; the manager gets the card and approves; someone with no manager is told why', async () => {
    await makeFlow('Billing by manager', true);
    const saved = await storedFlow('Billing by manager');
    expect(saved.approval.steps[0]!.approvers).toEqual([{ type: 'manager' }]);
    const edit = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowEdit, saved.id);
    const box = blockOf(edit, 'approvers_manager') as {
      element: { initial_options?: Array<{ value: string }> };
    };
    expect(box.element.initial_options?.map((o) => o.value)).toEqual(['manager']);

    const res = await ask(alice);
    expect(res.json).toMatchObject({ response_action: 'update' });
    const id = /AR-\d+/.exec(textOf((res.json as { view: { blocks: unknown[] } }).view.blocks))![0];
    // Okta names Bob as Alice's manager: he gets the card, found in Slack by his email.
    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + bob.id && buttonsOf(a.blocks as unknown[]).some((b) => b.value === id),
    );
    expect(h.standIn.messagesTo(dave.id).some((m) => buttonsOf(m.blocks).some((b) => b.value === id))).toBe(
      false,
    );
    const card = h.standIn
      .messagesTo(bob.id)
      .findLast((m) => buttonsOf(m.blocks).some((b) => b.value === id))!;
    expect(textOf(card.blocks ?? [])).toContain("the requester's manager");
    await h.driver.blockActions(bob, [{ action_id: ACTION.approve, value: id }], {
      message: { ts: card.ts, channel: card.channel, blocks: card.blocks ?? [] },
    });
    for (let i = 0; i < 200 && (await stateOf(id)).state === 'pending'; i++)
      await new Promise((r) => setTimeout(r, 25));
    expect((await stateOf(id)).state).toBe('approved');
    expect((await stateOf(id)).decidedBy).toBe('bob@example.com');

    const before = await h.db.models.Request.countDocuments();
    const refused = await ask(dave);
    expect(JSON.stringify(refused.json)).toContain(
      "Billing by manager needs your manager's approval, and your identity provider names no manager for you",
    );
    expect(await h.db.models.Request.countDocuments()).toBe(before);
    expect(h.standIn.violations).toEqual([]);
  });
});
