/**
 * Break-glass through Slack (docs/ARCHITECTURE.md, "Break-glass"): an admin allows it in the flow
 * modal; a requester breaks the glass from /access (refused in the modal without a reason); every
 * admin, from LATCH_ADMINS and from Settings, gets a DM with a Close review button; the access is
 * granted; the review shows in App Home until an admin other than the requester closes it with a
 * note, once. A non-admin's forged click is refused and audited.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { addPgIntegration, createPgDatabase, roleExists } from '../support/fixture.js';
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
import type { SlackView } from '../support/slack-stand-in.js';

const admin = { id: 'U0ADMIN', name: 'admin' };
const boss = { id: 'U0BOSS', name: 'boss' };
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const eve = { id: 'U0EVE', name: 'eve' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let database: string;

beforeAll(async () => {
  // admin@ is an admin through LATCH_ADMINS; boss@ is made one in Settings below.
  h = await startSlackHarness('slack_break_glass', { envAdmins: ['admin@example.com'] });
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: boss.id, email: 'boss@example.com', realName: 'Boss' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  h.standIn.addUser({ id: eve.id, email: 'eve@example.com', realName: 'Eve' });
  const pg = await createPgDatabase('slbg');
  dropDb = pg.drop;
  database = pg.database;
  await addPgIntegration(h.latch, 'pg', { databases: [database] });
  await h.latch.admin.updateSettings('config-file', { admins: ['boss@example.com'] });
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

/** A flow made in the Slack modal by the admin: Bob approves, everyone may ask. */
async function makeFlow(name: string, breakGlass: boolean): Promise<void> {
  const modal = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
  const res = await h.driver.viewSubmission(
    admin,
    modal,
    formState(modal, {
      name: plainInput(name),
      grantees_users: usersSelected([alice.id]),
      integration: { type: 'static_select', selected_option: optionOf(modal, 'integration', 'pg') },
      resources: plainInput(`${database}.billing`),
      permissions: {
        type: 'multi_static_select',
        selected_options: [optionOf(modal, 'permissions', 'read')],
      },
      approvers_users: usersSelected([bob.id]),
      ...(breakGlass
        ? {
            options: {
              type: 'checkboxes',
              selected_options: [
                optionOf(modal, 'options', 'Allow break-glass: approve own request in an emergency'),
              ],
            },
          }
        : {}),
    }),
  );
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: '' });
}

/** Alice's /access modal for the billing schema, redrawn for it as Slack does after a pick. */
async function requestForm(): Promise<{ form: SlackView; resource: { value: string; text: string } }> {
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
  expect(chosen).toHaveLength(1);
  const resource = { value: chosen[0]!.value, text: chosen[0]!.text.text };
  const redraw = h.standIn.mark();
  await h.driver.blockActions(alice, [{ action_id: ACTION.resources, block_id: BLOCK.resources }], {
    view: {
      ...modal,
      state: {
        values: formState(modal, { [BLOCK.resources]: multiExternalSelected([resource]) }, 'action'),
      },
    },
  });
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: redraw });
  return { form: h.standIn.view(viewId)!, resource };
}

async function breakGlassDm(user: typeof admin, id: string) {
  await h.standIn.waitForCall(
    'chat.postMessage',
    (a) =>
      a.channel === 'D' + user.id &&
      buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.reviewClose && b.value === id),
  );
  return h.standIn
    .messagesTo(user.id)
    .findLast((m) => buttonsOf(m.blocks).some((b) => b.action_id === ACTION.reviewClose && b.value === id))!;
}

describe('break-glass through Slack', () => {
  it('is not offered under a flow saved with only the required fields', async () => {
    await makeFlow('Billing', false);
    const stored = (
      await h.latch.queries.flows(await h.slack.deps.directory.identity('T0LATCH', admin.id))
    ).find((f) => f.name === 'Billing')!;
    expect(stored.breakGlass).toBe(false);
    const { form } = await requestForm();
    expect(blockOf(form, BLOCK.breakGlass)).toBeUndefined();
    // Closed for the next case: one flow for the schema at a time.
    await h.latch.admin.deleteFlow('config-file', stored.id);
  });

  it('notifies every admin and opens a review, which an admin closes with a note', async () => {
    await makeFlow('Billing emergency', true);
    // Stored, and shown checked when the flow is edited again.
    const who = await h.slack.deps.directory.identity('T0LATCH', admin.id);
    const saved = (await h.latch.queries.flows(who)).find((f) => f.name === 'Billing emergency')!;
    expect(saved.breakGlass).toBe(true);
    const edit = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowEdit, saved.id);
    const checked = (blockOf(edit, 'options') as { element: { initial_options?: Array<{ value: string }> } })
      .element.initial_options;
    expect(checked?.map((o) => o.value)).toContain('break_glass');
    const { form, resource } = await requestForm();
    expect(blockOf(form, BLOCK.breakGlass)).toBeDefined();
    const glass = optionOf(form, BLOCK.breakGlass, 'Break glass: approve it myself now');
    const filled = {
      [BLOCK.resources]: multiExternalSelected([resource]),
      [BLOCK.breakGlass]: checkboxes([
        { value: String(glass.value), text: 'Break glass: approve it myself now' },
      ]),
    };

    // Without a reason: the modal says so on the reason field, and nothing is asked.
    const before = await h.db.models.Request.countDocuments();
    const refused = await h.driver.viewSubmission(alice, form, formState(form, filled));
    expect(refused.json).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCK.justification]: expect.stringMatching(/needs a reason/) },
    });
    expect(await h.db.models.Request.countDocuments()).toBe(before);

    // With one: approved by Alice at once, and she is told admins will review it.
    const res = await h.driver.viewSubmission(
      alice,
      form,
      formState(form, { ...filled, [BLOCK.justification]: plainInput('INC-77: invoices stopped') }),
    );
    expect(res.json).toMatchObject({ response_action: 'update' });
    const confirmation = textOf((res.json as { view: { blocks: unknown[] } }).view.blocks);
    expect(confirmation).toMatch(/break glass/);
    const id = /AR-\d+/.exec(confirmation)![0];

    // Every admin, from LATCH_ADMINS and from Settings, gets a DM with who, what, why and the review.
    const dms = [];
    for (const a of [admin, boss]) {
      const dm = await breakGlassDm(a, id);
      dms.push(dm);
      const text = textOf(dm.blocks);
      expect(text).toContain('<@U0ALICE>');
      expect(text).toContain('INC-77: invoices stopped');
      expect(text).toContain('billing');
    }
    // Bob, the flow's approver, is not asked.
    expect(h.standIn.messagesTo(bob.id).filter((m) => String(m.text).includes(id))).toEqual([]);

    // Granted as usual.
    await h.latch.sweeps.tickUrgent();
    const doc = (await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!;
    expect(doc.state).toBe('active');
    expect(await roleExists(String(doc.targets[0]!.handle!.role))).toBe(true);
    const audited = await h.latch.audit.latest(10, { subjectId: id, action: 'request.break_glass' });
    expect(audited[0]?.actor.id).toBe('alice@example.com');

    // The review shows in App Home's Reviews for admins.
    const home = await openHome(h, boss, 'reviews');
    expect(textOf(home.blocks as unknown[])).toContain('INC-77');
    expect(buttonsOf(home.blocks as unknown[]).map((b) => b.text)).toContain('Reviews (1)');
    expect(
      buttonsOf(home.blocks as unknown[]).some((b) => b.action_id === ACTION.reviewClose && b.value === id),
    ).toBe(true);

    // Eve, not an admin, forges a click: refused, audited, no modal.
    const dm = dms[0]!;
    let mark = h.standIn.mark();
    await h.driver.blockActions(eve, [{ action_id: ACTION.reviewClose, value: id }], {
      message: { ts: dm.ts, channel: dm.channel, blocks: dm.blocks ?? [] },
    });
    const reply = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(reply.args.text)).toMatch(/Only Latch admins/);
    expect(h.standIn.calls('views.open').filter((c) => c.index >= mark)).toEqual([]);
    const denied = await h.latch.audit.latest(10, { action: 'admin.denied' });
    expect(
      denied.some((e) => e.actor.id === 'eve@example.com' && e.details?.attempted === 'review.close'),
    ).toBe(true);

    // Boss closes it from App Home: a blank note is refused in the modal, a note closes it.
    const modal = await clickToOpen(h, boss, home, ACTION.reviewClose, id);
    expect(modal.callback_id).toBe(VIEW.reviewClose);
    const blank = await h.driver.viewSubmission(
      boss,
      modal,
      formState(modal, { [BLOCK.note]: plainInput('   ') }),
    );
    expect(blank.json).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCK.note]: expect.any(String) },
    });
    mark = h.standIn.mark();
    const closed = await h.driver.viewSubmission(
      boss,
      modal,
      formState(modal, { [BLOCK.note]: plainInput('Called Alice: INC-77 is real, access was needed.') }),
    );
    expect({ status: closed.status, body: closed.body }).toEqual({ status: 200, body: '' });
    // The click that opened the modal redraws the home too; the redraw after closing comes last.
    const published = await h.standIn.waitForCall(
      'views.publish',
      (a) =>
        a.user_id === boss.id && textOf((a.view as { blocks: unknown[] }).blocks).includes('No open reviews'),
      { after: mark },
    );
    const after = published.args.view as { blocks: unknown[] };
    expect(buttonsOf(after.blocks as unknown[]).some((b) => b.action_id === ACTION.reviewClose)).toBe(false);

    // Ada clicks Close on her DM afterwards: told it is closed, by whom; nothing changes.
    mark = h.standIn.mark();
    await h.driver.blockActions(admin, [{ action_id: ACTION.reviewClose, value: id }], {
      message: { ts: dm.ts, channel: dm.channel, blocks: dm.blocks ?? [] },
    });
    const already = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(already.args.text)).toMatch(/already closed by boss@example.com/);
    expect(h.standIn.calls('views.open').filter((c) => c.index >= mark)).toEqual([]);
    expect(await h.latch.audit.latest(10, { subjectId: id, action: 'review.closed' })).toHaveLength(1);
  });
});
