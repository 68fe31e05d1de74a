/**
 * Asking for someone else through Slack (docs/ARCHITECTURE.md, "Asking for someone else"): the
 * admin sets "Who may be asked for" in the flow modal (and a flow saved with only the required
 * fields stays "only themselves"), Alice picks Bob in the request modal, Bob gets a DM with
 * Decline, the approver's card says Alice asks for Bob, Bob declines and Alice is told.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK } from '../../blocks/slack/ids.js';
import { addPgIntegration, createPgDatabase } from '../support/fixture.js';
import {
  formState,
  multiExternalSelected,
  plainInput,
  userSelected,
  usersSelected,
  optionOf,
} from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import type { SlackView } from '../support/slack-stand-in.js';

const admin = { id: 'U0ADMIN', name: 'admin' };
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const carol = { id: 'U0CAROL', name: 'carol' };
const dave = { id: 'U0DAVE', name: 'dave' };
type User = typeof admin;

let h: SlackHarness;
let dropDb: () => Promise<void>;
let database: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_on_behalf');
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  h.standIn.addUser({ id: carol.id, email: 'carol@example.com', realName: 'Carol' });
  h.standIn.addUser({ id: dave.id, email: 'dave@example.com', realName: 'Dave' });
  const pg = await createPgDatabase('slob');
  dropDb = pg.drop;
  database = pg.database;
  await addPgIntegration(h.latch, 'pg', { databases: [database] });
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

async function makeFlow(name: string, filled: Record<string, Record<string, unknown>> = {}): Promise<void> {
  const modal = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
  const res = await h.driver.viewSubmission(
    admin,
    modal,
    formState(modal, {
      name: plainInput(name),
      grantees_users: usersSelected([alice.id, bob.id]),
      integration: { type: 'static_select', selected_option: optionOf(modal, 'integration', 'pg') },
      resources: plainInput(`${database}.billing`),
      permissions: {
        type: 'multi_static_select',
        selected_options: [optionOf(modal, 'permissions', 'read')],
      },
      approvers_users: usersSelected([carol.id]),
      ...filled,
    }),
  );
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: '' });
}

/** Alice's request modal for billing, drawn with the resource chosen. */
async function openForm(): Promise<{ viewId: string; form: SlackView }> {
  const mark = h.standIn.mark();
  await h.driver.command(alice, '/access', 'billing');
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
  const redraw = h.standIn.mark();
  await h.driver.blockActions(alice, [{ action_id: ACTION.resources, block_id: BLOCK.resources }], {
    view: {
      ...modal,
      state: {
        values: formState(
          modal,
          {
            [BLOCK.resources]: multiExternalSelected([
              { value: chosen[0]!.value, text: chosen[0]!.text.text },
            ]),
          },
          'action',
        ),
      },
    },
  });
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: redraw });
  return { viewId, form: h.standIn.view(viewId)! };
}

function submitFor(form: SlackView, user: User) {
  return h.driver.viewSubmission(
    alice,
    form,
    formState(form, {
      [BLOCK.permission]: {
        type: 'static_select',
        selected_option: optionOf(form, BLOCK.permission, 'read'),
      },
      [BLOCK.justification]: plainInput('Bob starts on billing today'),
      [BLOCK.onBehalfOf]: userSelected(user.id),
    }),
  );
}

async function dmWithButton(user: User, actionId: string, id: string) {
  await h.standIn.waitForCall(
    'chat.postMessage',
    (a) =>
      a.channel === 'D' + user.id &&
      buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === actionId && b.value === id),
  );
  return h.standIn
    .messagesTo(user.id)
    .findLast((m) => buttonsOf(m.blocks).some((b) => b.action_id === actionId && b.value === id))!;
}

async function stateOf(id: string) {
  return (await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!;
}

async function reaches(id: string, state: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await stateOf(id)).state === state) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${id} did not become ${state}; it is ${(await stateOf(id)).state}`);
}

describe('who may be asked for, set in the flow modal', () => {
  it('is "only themselves" for a flow saved with only the required fields', async () => {
    await makeFlow('Defaults');
    const saved = (
      await h.latch.queries.flows({ id: 'admin@example.com', email: 'admin@example.com', groups: [] })
    ).find((f) => f.name === 'Defaults')!;
    expect(saved.requestFor).toBe('self');
    // The request form then has no "For someone else" field.
    const { form } = await openForm();
    expect((form.blocks as Array<{ block_id?: string }>).some((b) => b.block_id === BLOCK.onBehalfOf)).toBe(
      false,
    );
    await h.latch.admin.deleteFlow('config-file', saved.id);
  });
});

describe('Alice asks for Bob', () => {
  beforeAll(async () => {
    const modal = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
    await makeFlow('Billing for others', {
      // Alice approves this flow too, but never what she asked for herself.
      approvers_users: usersSelected([carol.id, alice.id]),
      request_for: {
        type: 'static_select',
        selected_option: optionOf(modal, 'request_for', 'Anyone who may have it'),
      },
    });
  });

  it('refuses someone the flow does not grant, in the modal', async () => {
    const { form } = await openForm();
    const res = await submitFor(form, dave);
    expect(res.json).toEqual({
      response_action: 'errors',
      errors: {
        [BLOCK.onBehalfOf]:
          'dave@example.com may not have access under Billing for others: they are not one of its grantees (judged by their email and synced groups).',
      },
    });
  });

  it('tells Bob, shows the approver who asked, and tells Alice when Bob declines', async () => {
    const { form } = await openForm();
    const field = (form.blocks as Array<{ block_id?: string; element?: { type: string } }>).find(
      (b) => b.block_id === BLOCK.onBehalfOf,
    );
    expect(field?.element?.type).toBe('users_select');
    const res = await submitFor(form, bob);
    expect(res.json).toMatchObject({ response_action: 'update' });
    const confirmation = textOf((res.json as { view: { blocks: unknown[] } }).view.blocks);
    expect(confirmation).toContain('submitted for bob@example.com');
    const id = /AR-\d+/.exec(confirmation)![0];
    const doc = await stateOf(id);
    expect(doc.requester.id).toBe('bob@example.com');
    expect(doc.askedBy?.id).toBe('alice@example.com');

    // Bob is told who asked, what and why, and may decline.
    const forBob = await dmWithButton(bob, ACTION.decline, id);
    const said = textOf(forBob.blocks);
    expect(said).toContain('<@U0ALICE> asked for access for you');
    expect(said).toContain('Bob starts on billing today');
    // Alice follows it, and may cancel it.
    await dmWithButton(alice, ACTION.cancel, id);
    // Carol's card says who asks for whom; Alice, an approver of the flow, gets no card.
    const card = await dmWithButton(carol, ACTION.approve, id);
    expect(textOf(card.blocks)).toContain('<@U0ALICE> asks for <@U0BOB>:');
    expect(
      h.standIn
        .messagesTo(alice.id)
        .some((m) => buttonsOf(m.blocks).some((b) => b.action_id === ACTION.approve)),
    ).toBe(false);
    // Nor may she approve it with a forged click.
    const approving = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.approve, value: id }], {
      message: { ts: card.ts, channel: card.channel, blocks: card.blocks ?? [] },
    });
    const noApproval = await h.standIn.waitForCall('response_url', undefined, { after: approving });
    expect(noApproval.args.text).toBe(':warning: You cannot approve a request you asked for.');
    expect((await stateOf(id)).approvals).toEqual([]);

    // Only Bob may decline: Alice's forged click is refused.
    const forged = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.decline, value: id }], {
      message: { ts: forBob.ts, channel: forBob.channel, blocks: forBob.blocks ?? [] },
    });
    const refused = await h.standIn.waitForCall('response_url', undefined, { after: forged });
    expect(refused.args.text).toBe(`:warning: Only the person ${id} is for can decline it.`);
    expect((await stateOf(id)).state).toBe('pending');

    const mark = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: ACTION.decline, value: id }], {
      message: { ts: forBob.ts, channel: forBob.channel, blocks: forBob.blocks ?? [] },
    });
    await reaches(id, 'cancelled');
    const toldAlice = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && textOf(a.blocks as unknown[]).includes('declined'),
      { after: mark },
    );
    expect(textOf(toldAlice.args.blocks as unknown[])).toContain(`<@U0BOB> declined *${id}*`);
    const rewritten = await h.standIn.waitForCall(
      'chat.update',
      (a) => a.channel === 'D' + carol.id && textOf(a.blocks as unknown[]).includes('Declined'),
      { after: mark },
    );
    expect(buttonsOf(rewritten.args.blocks as unknown[])).toHaveLength(0);
    // By now every card went out: still none reached Alice.
    expect(h.standIn.messagesTo(alice.id).some((m) => String(m.text).includes('asks for'))).toBe(false);
  });
});
