/**
 * Slack end to end beyond the happy path: denying with a reason, stale clicks, App Home (cancel,
 * the admin console creating a flow that a user then requests under), forged admin actions, and
 * the receiver refusing badly signed, replayed or future requests and applying duplicates once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { addPgIntegration, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import {
  checkboxes,
  multiExternalSelected,
  multiStaticSelected,
  plainInput,
  selectedValue,
  sign,
  usersSelected,
} from '../support/slack-driver.js';
import {
  buttonsOf,
  SIGNING_SECRET,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';

const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const carol = { id: 'U0CAROL', name: 'carol' };
const admin = { id: 'U0ADMIN', name: 'admin' };
const mallory = { id: 'U0MALLORY', name: 'mallory' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let billing: string;
let database: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_surfaces');
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice', tz: 'Europe/Paris' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  h.standIn.addUser({ id: carol.id, email: 'carol@example.com', realName: 'Carol' });
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: mallory.id, email: 'mallory@example.com', realName: 'Mallory' });
  const pg = await createPgDatabase('slks');
  dropDb = pg.drop;
  database = pg.database;
  await addPgIntegration(h.latch, 'pg', { databases: [database] });
  billing = schemaId(database);
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: {
        steps: [
          {
            approvers: [
              { type: 'user', id: 'bob@example.com' },
              { type: 'user', id: 'carol@example.com' },
            ],
          },
        ],
      },
      duration: { choicesMinutes: [60] },
    }),
  );
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

async function openModal(user: typeof alice, text = '') {
  const mark = h.standIn.mark();
  await h.driver.command(user, '/access', text);
  const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
  const viewId = (opened.response.view as { id: string }).id;
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
  return h.standIn.view(viewId)!;
}

/** Alice asks for `resourceId` read for an hour through the modal; returns the AR id from the confirmation. */
async function request(resourceText: string, resourceId: string, user = alice): Promise<string> {
  const view = await openModal(user);
  const value = `pg|${resourceId}`;
  const res = await h.driver.viewSubmission(user, view, {
    [BLOCK.resources]: { [ACTION.resources]: multiExternalSelected([{ value, text: resourceText }]) },
    [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
    [BLOCK.duration]: { [ACTION.duration]: selectedValue('60') },
    [BLOCK.justification]: { [ACTION.justification]: plainInput('testing') },
  });
  const ack = res.json as { response_action: string; view?: { blocks: unknown[] }; errors?: unknown };
  expect(ack).toMatchObject({ response_action: 'update' });
  return /AR-\d+/.exec(textOf(ack.view!.blocks))![0];
}

function lastCardOf(user: typeof bob, id: string) {
  return h.standIn
    .messagesTo(user.id)
    .filter((m) => String(m.text).startsWith(id))
    .at(-1)!;
}

function fromMessage(m: { ts: string; channel: string; blocks?: unknown[] }) {
  return { message: { ts: m.ts, channel: m.channel, blocks: m.blocks } };
}

async function openHome(user: typeof alice) {
  const mark = h.standIn.mark();
  await h.driver.event({ type: 'app_home_opened', user: user.id, channel: 'D' + user.id, tab: 'home' });
  await h.standIn.waitForCall('views.publish', (a) => a.user_id === user.id, { after: mark });
  return h.standIn.homeOf(user.id)!;
}

describe('approvers', () => {
  it('deny asks for a reason in a modal, tells the requester, and updates every card', async () => {
    const id = await request('billing', billing);
    for (const approver of [bob, carol])
      await h.standIn.waitForCall(
        'chat.postMessage',
        (a) => a.channel === 'D' + approver.id && String(a.text).startsWith(id),
      );
    const card = lastCardOf(bob, id);

    let mark = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: ACTION.deny, value: id }], fromMessage(card));
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    const denyView = h.standIn.view((opened.response.view as { id: string }).id)!;
    expect(denyView.callback_id).toBe(VIEW.deny);

    // No reason: an inline error, nothing decided.
    const empty = await h.driver.viewSubmission(bob, denyView, { [BLOCK.reason]: { value: plainInput('') } });
    expect(empty.json).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCK.reason]: expect.any(String) },
    });
    expect(h.notifier.of('request.rejected', id)).toHaveLength(0);

    mark = h.standIn.mark();
    const ok = await h.driver.viewSubmission(bob, denyView, {
      [BLOCK.reason]: { value: plainInput('Use the read replica instead') },
    });
    expect(ok.status).toBe(200);
    const told = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && String(a.text) === `${id} denied`,
      { after: mark },
    );
    expect(textOf(told.args.blocks as unknown[])).toContain('Use the read replica instead');
    await h.standIn.waitForCall('chat.update', (a) => a.channel === 'D' + carol.id, { after: mark });
    for (const u of [bob, carol]) {
      const c = lastCardOf(u, id);
      expect(textOf(c.blocks)).toContain('Denied* by <@U0BOB>: Use the read replica instead');
      expect(buttonsOf(c.blocks)).toEqual([]);
    }

    // Carol clicks Approve on a copy she had open from before: a clear answer, nothing changes.
    mark = h.standIn.mark();
    await h.driver.blockActions(carol, [{ action_id: ACTION.approve, value: id }], fromMessage(card));
    const answer = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(answer.args.text)).toMatch(/denied/i);
    expect(answer.args.response_type).toBe('ephemeral');
    expect((await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state).toBe(
      'rejected',
    );
  });
});

describe('approvals in steps', () => {
  it('shows progress on the first step, then sends the second step its own cards, and reminds', async () => {
    const f = await h.latch.admin.saveFlow(
      'config-file',
      flow({
        name: 'Two-step write',
        targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['write'] }],
        approval: {
          steps: [
            { approvers: [{ type: 'user', id: 'bob@example.com' }] },
            { approvers: [{ type: 'user', id: 'carol@example.com' }] },
          ],
          reminderMinutes: 30,
        },
        duration: { choicesMinutes: [60] },
      }),
    );
    const aliceId = await h.slack.deps.directory.identity('T0LATCH', alice.id);
    let mark = h.standIn.mark();
    const r = await h.latch.requests.submit(aliceId, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
      flowId: f.id,
      durationMinutes: 60,
      source: 'slack',
    });
    const bobCard = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + bob.id && String(a.text).startsWith(r.id),
      { after: mark },
    );
    expect(textOf(bobCard.args.blocks as unknown[])).toContain('step 1 of 2');
    expect(
      h.standIn.calls('chat.postMessage').some((c) => c.index >= mark && c.args.channel === 'D' + carol.id),
    ).toBe(false);

    // Nobody decided in 30 minutes: Bob is reminded.
    mark = h.standIn.mark();
    h.clock.advance(31 * 60_000);
    await h.latch.sweeps.tickRelaxed();
    const reminder = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bob.id, {
      after: mark,
    });
    expect(textOf(reminder.args.blocks as unknown[])).toContain('Reminder');

    mark = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: ACTION.approve, value: r.id }], {
      message: { ts: bobCard.response.ts as string, channel: 'D' + bob.id },
    });
    const carolCard = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + carol.id && String(a.text).startsWith(r.id),
      { after: mark },
    );
    expect(textOf(carolCard.args.blocks as unknown[])).toContain('step 2 of 2');
    // Bob's copies (the card and the reminder) now say his step is done, without buttons.
    await h.standIn.waitForCall('chat.update', (a) => a.ts === reminder.response.ts, { after: mark });
    for (const ts of [bobCard.response.ts, reminder.response.ts] as string[]) {
      const copy = h.standIn.message('D' + bob.id, ts)!;
      expect(textOf(copy.blocks)).toContain('Step 1 of 2 *approved* by <@U0BOB>');
      expect(buttonsOf(copy.blocks)).toEqual([]);
    }
    expect(
      buttonsOf(h.standIn.message('D' + carol.id, carolCard.response.ts as string)!.blocks),
    ).toHaveLength(2);
    await h.latch.requests.cancel(aliceId, r.id);
  });
});

describe('extensions that need an approver', () => {
  it('sends the approvers a card, and extends when one approves', async () => {
    const f = await h.latch.admin.saveFlow(
      'config-file',
      flow({
        name: 'Whole db read, extensions approved',
        targets: [{ integration: 'pg', include: [{ id: `db:${database}` }], permissions: ['read'] }],
        approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
        duration: { choicesMinutes: [60] },
        extension: { mode: 'approval', maxCount: 1 },
      }),
    );
    const aliceId = await h.slack.deps.directory.identity('T0LATCH', alice.id);
    const bobId = await h.slack.deps.directory.identity('T0LATCH', bob.id);
    const r = await h.latch.requests.submit(aliceId, {
      targets: [{ integration: 'pg', resourceId: `db:${database}`, permission: 'read' }],
      flowId: f.id,
      durationMinutes: 60,
      source: 'slack',
    });
    await h.latch.requests.approve(bobId, r.id);
    await h.latch.sweeps.tickUrgent();
    const before = (await h.db.models.Request.findOne({ number: r.number }).lean())!.expiresAt!;

    let mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: `${ACTION.extend}:60`, value: `${r.id}:60` }], {
      message: { ts: '1.1', channel: 'D' + alice.id },
    });
    const card = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) =>
        a.channel === 'D' + bob.id &&
        buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.approveExtension),
      { after: mark },
    );
    expect((await h.db.models.Request.findOne({ number: r.number }).lean())!.expiresAt).toEqual(before);

    mark = h.standIn.mark();
    await h.driver.blockActions(bob, [{ action_id: ACTION.approveExtension, value: r.id }], {
      message: { ts: card.response.ts as string, channel: 'D' + bob.id },
    });
    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && String(a.text).includes('extended'),
      { after: mark },
    );
    const after = (await h.db.models.Request.findOne({ number: r.number }).lean())!.expiresAt!;
    expect(after.getTime() - before.getTime()).toBe(60 * 60_000);
    await h.standIn.waitForCall('chat.update', (a) => a.channel === 'D' + bob.id, { after: mark });
    expect(buttonsOf(h.standIn.message('D' + bob.id, card.response.ts as string)!.blocks)).toEqual([]);
    await h.latch.requests.revoke(aliceId, r.id);
    await h.latch.sweeps.tickUrgent();
  });
});

describe('App Home', () => {
  it('lets a requester cancel a pending request, and the approvers see it', async () => {
    const id = await request('billing', billing);
    const home = await openHome(alice);
    const cancel = buttonsOf(home.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.cancel && b.value === id,
    );
    expect(cancel).toBeDefined();

    const mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.cancel, value: id }], { view: home });
    await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === alice.id && !JSON.stringify(a.view).includes(`"${id}"`),
      { after: mark },
    );
    expect((await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state).toBe(
      'cancelled',
    );
    await h.standIn.waitForCall('chat.update', (a) => a.channel === 'D' + bob.id, { after: mark });
    expect(textOf(lastCardOf(bob, id).blocks)).toContain('Cancelled');
  });

  it('lets an admin create a flow in a modal, and a user can then request under it', async () => {
    const home = await openHome(admin);
    let mark = h.standIn.mark();
    await h.driver.blockActions(admin, [{ action_id: `${ACTION.section}:flows`, value: 'flows' }], {
      view: home,
    });
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === admin.id, { after: mark });
    const flowsHome = h.standIn.homeOf(admin.id)!;
    expect(textOf(flowsHome.blocks as unknown[])).toContain('Billing read');

    mark = h.standIn.mark();
    await h.driver.blockActions(admin, [{ action_id: ACTION.flowNew, value: 'new' }], { view: flowsHome });
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    const modal = h.standIn.view((opened.response.view as { id: string }).id)!;
    expect(modal.callback_id).toBe(VIEW.flow);

    const values = (over: Record<string, unknown> = {}) => ({
      name: { value: plainInput('Whole database write') },
      description: { value: plainInput('') },
      grantees_everyone: { value: checkboxes([]) },
      grantees_users: { value: usersSelected([alice.id]) },
      grantees_groups: { value: multiStaticSelected([]) },
      integration: { value: selectedValue('pg') },
      resources: { value: plainInput(database) },
      permissions: { value: multiStaticSelected(['write']) },
      bundles: { value: multiStaticSelected([]) },
      approvers_users: { value: usersSelected([bob.id]) },
      approvers_groups: { value: multiStaticSelected([]) },
      approvers_owners: { value: checkboxes([]) },
      rule: { value: selectedValue('any') },
      timeout: { value: plainInput('24') },
      max_duration: { value: selectedValue('120') },
      extension: { value: selectedValue('none') },
      extension_count: { value: plainInput('1') },
      options: { value: checkboxes([]) },
      ...over,
    });

    // Invalid input comes back inline and saves nothing.
    const bad = await h.driver.viewSubmission(
      admin,
      modal,
      values({ grantees_users: { value: usersSelected([]) }, timeout: { value: plainInput('soon') } }),
    );
    expect(bad.json).toMatchObject({
      response_action: 'errors',
      errors: { grantees_users: expect.any(String), timeout: expect.any(String) },
    });
    expect(await h.db.models.Flow.countDocuments({ name: 'Whole database write' })).toBe(0);

    const good = await h.driver.viewSubmission(admin, modal, values());
    expect(good.status).toBe(200);
    expect(good.body === '' || JSON.parse(good.body).response_action === undefined).toBe(true);
    const saved = (await h.latch.ctx.flows()).find((f) => f.name === 'Whole database write')!;
    expect(saved.grantees.include).toEqual([{ type: 'user', id: 'alice@example.com' }]);
    expect(saved.approval.steps[0]!.approvers).toEqual([{ type: 'user', id: 'bob@example.com' }]);

    // Alice now finds the database in the search and can ask for write under the new flow.
    const view = await openModal(alice);
    const search = await h.driver.blockSuggestion(alice, {
      action_id: ACTION.resources,
      block_id: BLOCK.resources,
      value: database,
      view,
    });
    const options = (search.json as { options: Array<{ value: string; text: { text: string } }> }).options;
    const whole = options.find((o) => o.value === `pg|db:${database}`)!;
    expect(whole).toBeDefined();
    const submit = await h.driver.viewSubmission(alice, view, {
      [BLOCK.resources]: {
        [ACTION.resources]: multiExternalSelected([{ value: whole.value, text: whole.text.text }]),
      },
      [BLOCK.permission]: { [ACTION.permission]: selectedValue('write') },
      [BLOCK.duration]: { [ACTION.duration]: selectedValue('120') },
      [BLOCK.justification]: { [ACTION.justification]: plainInput('migration') },
    });
    expect(submit.json).toMatchObject({ response_action: 'update' });
    const id = /AR-\d+/.exec(textOf((submit.json as { view: { blocks: unknown[] } }).view.blocks))![0];
    const doc = (await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!;
    expect(doc.flowName).toBe('Whole database write');
  });

  it('lets an admin disable, enable and delete a flow from the list', async () => {
    const created = await h.latch.admin.saveFlow(
      'config-file',
      flow({
        name: 'Short-lived test flow',
        targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['admin'] }],
        duration: { maxMinutes: 30 },
      }),
    );
    const home = await openHome(admin);
    let mark = h.standIn.mark();
    await h.driver.blockActions(admin, [{ action_id: `${ACTION.section}:flows`, value: 'flows' }], {
      view: home,
    });
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === admin.id, { after: mark });
    const list = h.standIn.homeOf(admin.id)!;
    const toggle = buttonsOf(list.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.flowToggle && b.value === `${created.id}:off`,
    )!;
    expect(toggle.text).toBe('Disable');

    mark = h.standIn.mark();
    await h.driver.blockActions(admin, [{ action_id: ACTION.flowToggle, value: toggle.value }], {
      view: list,
    });
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === admin.id, { after: mark });
    expect((await h.latch.ctx.flows()).find((f) => f.id === created.id)!.enabled).toBe(false);
    const disabled = h.standIn.homeOf(admin.id)!;
    expect(textOf(disabled.blocks as unknown[])).toContain('(disabled)');

    mark = h.standIn.mark();
    await h.driver.blockActions(admin, [{ action_id: ACTION.flowDelete, value: created.id }], {
      view: disabled,
    });
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === admin.id, { after: mark });
    expect((await h.latch.ctx.flows()).some((f) => f.id === created.id)).toBe(false);
    expect(textOf(h.standIn.homeOf(admin.id)!.blocks as unknown[])).not.toContain('Short-lived test flow');
    const audited = await h.latch.audit.latest(5);
    expect(audited.map((e) => e.action)).toEqual(expect.arrayContaining(['flow.disabled', 'flow.deleted']));
  });

  it('refuses and audits a non-admin forging admin actions', async () => {
    const home = await openHome(mallory);
    // Mallory's home has no console...
    expect(buttonsOf(home.blocks as unknown[]).some((b) => b.action_id === ACTION.flowNew)).toBe(false);
    // ...so she forges the click, and the submission of the flow modal.
    const mark = h.standIn.mark();
    await h.driver.blockActions(mallory, [{ action_id: ACTION.flowNew, value: 'new' }], { view: home });
    const refusal = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf([refusal.args.view])).toContain('Only Latch admins');
    const forged = await h.driver.viewSubmission(
      mallory,
      { id: 'V0FORGED', callback_id: VIEW.flow, private_metadata: '{}' },
      {
        name: { value: plainInput('Everything for Mallory') },
        grantees_everyone: { value: checkboxes(['everyone']) },
        integration: { value: selectedValue('pg') },
        permissions: { value: multiStaticSelected(['admin']) },
        timeout: { value: plainInput('1') },
        max_duration: { value: selectedValue('240') },
        extension_count: { value: plainInput('0') },
      },
    );
    expect(forged.json).toMatchObject({ response_action: 'errors' });
    expect(JSON.stringify(forged.json)).toContain('Only Latch admins');
    const revokeAll = await h.driver.viewSubmission(
      mallory,
      { id: 'V0FORGED2', callback_id: VIEW.revokeAll, private_metadata: '{}' },
      { [BLOCK.reason]: { value: plainInput('oops') }, [BLOCK.confirm]: { value: plainInput('REVOKE ALL') } },
    );
    expect(revokeAll.json).toMatchObject({ response_action: 'errors' });
    expect(await h.db.models.Flow.countDocuments({ name: 'Everything for Mallory' })).toBe(0);
    const denied = await h.latch.audit.latest(20, { action: 'admin.denied' });
    expect(denied.filter((e) => e.actor.id === 'mallory@example.com').length).toBeGreaterThanOrEqual(2);
  });
});

describe('/access', () => {
  it('lists my requests, revokes one by id, and explains itself', async () => {
    const id = await request('billing', billing);
    let mark = h.standIn.mark();
    await h.driver.command(alice, '/access', 'list');
    const list = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(list.args.response_type).toBe('ephemeral');
    expect(textOf(list.args.blocks as unknown[])).toContain(id);

    mark = h.standIn.mark();
    await h.driver.command(mallory, '/access', `revoke ${id}`);
    const refused = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(refused.args.text)).toContain(':warning:');
    // Pending access cannot be revoked (only cancelled): a readable refusal.
    mark = h.standIn.mark();
    await h.driver.command(alice, '/access', `revoke ${id}`);
    const pending = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(pending.args.text)).toContain('waiting for approval');

    const bobIdentity = await h.slack.deps.directory.identity('T0LATCH', bob.id);
    await h.latch.requests.approve(bobIdentity, id);
    await h.latch.sweeps.tickUrgent();
    mark = h.standIn.mark();
    await h.driver.command(alice, '/access', `revoke ${id}`);
    const done = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(done.args.text)).toContain('is being revoked');
    await h.latch.sweeps.tickUrgent();
    expect((await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!.state).toBe(
      'revoked',
    );

    mark = h.standIn.mark();
    await h.driver.command(alice, '/access', 'help');
    const help = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(textOf(help.args.blocks as unknown[])).toContain('/access list');
  });

  it('refuses someone whose Slack email is not confirmed', async () => {
    h.standIn.addUser({ id: 'U0UNCONF', email: 'ghost@example.com', emailConfirmed: false });
    const mark = h.standIn.mark();
    await h.driver.command({ id: 'U0UNCONF', name: 'ghost' }, '/access', '');
    const filled = await h.standIn.waitForCall('views.update', undefined, { after: mark });
    expect(textOf([filled.args.view])).toContain('not confirmed');
  });
});

describe('the receiver', () => {
  it('refuses a bad signature, a replayed old request and a future one, and applies nothing', async () => {
    const before = await h.db.models.Request.countDocuments();
    const bad = await h.driver.command(alice, '/access', 'list', undefined, {
      secretOverride: 'not-the-secret',
    });
    expect(bad.status).toBe(401);
    const now = Math.floor(Date.now() / 1000);
    const old = await h.driver.command(alice, '/access', 'list', undefined, { timestamp: now - 6 * 60 });
    expect(old.status).toBe(401);
    const future = await h.driver.command(alice, '/access', 'list', undefined, { timestamp: now + 6 * 60 });
    expect(future.status).toBe(401);
    // A correctly signed body replayed with a fresh timestamp but the old signature fails too.
    const body = 'command=%2Faccess&text=list&user_id=U0ALICE&team_id=T0LATCH&trigger_id=1.2.3';
    const forged = await h.driver.raw(body, 'application/x-www-form-urlencoded', {
      timestamp: now,
      signature: sign(SIGNING_SECRET, now - 10, body),
    });
    expect(forged.status).toBe(401);
    expect(await h.db.models.Request.countDocuments()).toBe(before);
    const ok = await h.driver.command(alice, '/access', 'help');
    expect(ok.status).toBe(200);
  });

  it('applies a duplicate delivery once', async () => {
    const view = await openModal(alice);
    const before = await h.db.models.Request.countDocuments();
    const values = {
      [BLOCK.resources]: {
        [ACTION.resources]: multiExternalSelected([{ value: `pg|${billing}`, text: 'billing' }]),
      },
      [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
      [BLOCK.duration]: { [ACTION.duration]: selectedValue('60') },
      [BLOCK.justification]: { [ACTION.justification]: plainInput('twice?') },
    };
    const first = await h.driver.viewSubmission(alice, view, values);
    expect(first.json).toMatchObject({ response_action: 'update' });
    const again = await h.driver.resend();
    expect(again.status).toBe(200);
    expect(await h.db.models.Request.countDocuments()).toBe(before + 1);

    // An Events API retry of app_home_opened publishes the home once (Carol has nothing else going on).
    const mark = h.standIn.mark();
    const event = { type: 'app_home_opened', user: carol.id, channel: 'D' + carol.id, tab: 'home' };
    const delivered = await h.driver.event(event, { eventId: 'Ev0DUPLICATE' });
    const retried = await h.driver.event(event, { eventId: 'Ev0DUPLICATE', retryNum: 1 });
    expect([delivered.status, retried.status]).toEqual([200, 200]);
    await h.standIn.waitForCall('views.publish', (a) => a.user_id === carol.id, { after: mark });
    await new Promise((r) => setTimeout(r, 300));
    const publishes = h.standIn
      .calls('views.publish')
      .filter((c) => c.index >= mark && c.args.user_id === carol.id);
    expect(publishes).toHaveLength(1);
    expect(h.standIn.violations).toEqual([]);
  });
});
