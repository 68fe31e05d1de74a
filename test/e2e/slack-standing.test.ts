/**
 * Standing access in the App Home (docs/ARCHITECTURE.md, "Reconciliation", "Slack channel"): a
 * login given privileges on a schema by hand on the test PostgreSQL is found by a reconciliation
 * started from the home, listed, and converted with the modal's defaults (a new flow, its name
 * prefilled, the person's email typed in): the privileges are gone, the flow exists, and the person
 * then asks for the schema with /access and gets it. Mistakes are shown in the modal and change
 * nothing; a non-admin is refused at the button and at the submission.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { STANDING_BLOCK } from '../../blocks/slack/standing.js';
import { addPgIntegration, admin, createPgDatabase, roleExists, withDatabase } from '../support/fixture.js';
import { formState, multiExternalSelected, optionOf, plainInput } from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import type { SlackView } from '../support/slack-stand-in.js';

const ada = { id: 'U0ADMIN', name: 'admin' };
const dora = { id: 'U0DORA', name: 'dora' };
const alice = { id: 'U0ALICE', name: 'alice' };
const ident = pg.escapeIdentifier;

let h: SlackHarness;
let database: string;
let dropDb: () => Promise<void>;
const s = randomBytes(3).toString('hex');
/** Logins made by hand in this file, dropped at the end. */
const logins: string[] = [];

async function sql(text: string, db = 'postgres') {
  const c = new pg.Client({ connectionString: withDatabase(process.env.PG_URL!, db) });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

/** A login given read on billing by hand, as a DBA would, outside Latch. */
async function standingLogin(n: number): Promise<string> {
  const login = `standing_${s}_${n}`;
  logins.push(login);
  await sql(`CREATE ROLE ${ident(login)} LOGIN`);
  await sql(
    `GRANT USAGE ON SCHEMA billing TO ${ident(login)}; GRANT SELECT ON ALL TABLES IN SCHEMA billing TO ${ident(login)}`,
    database,
  );
  return login;
}

async function canRead(login: string): Promise<boolean> {
  const { rows } = await sql(
    `SELECT has_schema_privilege(${pg.escapeLiteral(login)}, 'billing', 'USAGE') AS ok`,
    database,
  );
  return rows[0].ok === true;
}

const homeText = (a: Record<string, unknown>) => textOf((a.view as { blocks: unknown[] }).blocks);
const standing = async () => h.latch.queries.standingAccess(admin, { integration: 'pg' });

/** The admin's Standing access section once a reconciliation started from it has listed `login`. */
async function reconcileFromHome(login: string): Promise<SlackView> {
  const home = await openHome(h, ada, 'standing');
  expect(buttonsOf(home.blocks as unknown[]).find((b) => b.value === 'pg')?.text).toBe('Reconcile now');
  const mark = h.standIn.mark();
  await h.driver.blockActions(ada, [{ action_id: ACTION.reconcileNow, value: 'pg' }], { view: home });
  await h.standIn.waitForCall('views.publish', (a) => a.user_id === ada.id && homeText(a).includes(login), {
    after: mark,
  });
  return h.standIn.homeOf(ada.id)!;
}

/** The Convert… button's value for `login`'s entry in the home. */
const refOf = (view: SlackView, login: string) =>
  buttonsOf(view.blocks as unknown[]).find(
    (b) => b.action_id === ACTION.standingConvert && b.value?.includes(`:${login}:`),
  )?.value;

beforeAll(async () => {
  h = await startSlackHarness('slack_standing');
  h.standIn.addUser({ id: ada.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: dora.id, email: 'dora@example.com', realName: 'Dora' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  ({ database, drop: dropDb } = await createPgDatabase('slst'));
  // A prefix of its own: Latch's logins of other test files on the cluster are not this one's.
  await addPgIntegration(h.latch, 'pg', { databases: [database], rolePrefix: `st${s}_` });
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
  for (const login of logins) await sql(`DROP ROLE IF EXISTS ${ident(login)}`).catch(() => undefined);
});

describe('standing access in the App Home', () => {
  let firstFlow = '';

  it('lists what a reconciliation from the home found, with each integration’s last run', async () => {
    const login = await standingLogin(1);
    const home = await reconcileFromHome(login);
    const text = textOf(home.blocks as unknown[]);
    expect(text).toContain('Standing access (1)');
    expect(text).toMatch(
      new RegExp(`\\*${login}\\* · _owner unknown_\\nread on \\*${database}\\.billing\\* · pg`),
    );
    expect(text).toMatch(
      /\*pg\* · :large_green_circle: reconciled .*\n\d+ listed · 0 held through Latch · 1 standing/,
    );
    expect(buttonsOf(home.blocks as unknown[]).map((b) => b.text)).toEqual(
      expect.arrayContaining(['Convert…', 'Reconcile all now', 'Standing access (1)']),
    );
    expect(h.standIn.violations).toEqual([]);
  });

  it('converts it with the modal’s defaults and the email: the privileges are gone, and the person asks for it with /access', async () => {
    const [item] = (await standing()).items;
    const login = item!.account;
    expect(await canRead(login)).toBe(true);
    const home = await openHome(h, ada, 'standing');
    const modal = await clickToOpen(h, ada, home, ACTION.standingConvert, refOf(home, login)!);
    expect(modal.callback_id).toBe(VIEW.standingConvert);
    expect(textOf(modal.blocks as unknown[])).toContain('is removed now');

    // Only the required field: the email (the system does not know whose login it is).
    const res = await h.driver.viewSubmission(
      ada,
      modal,
      formState(modal, { [STANDING_BLOCK.person]: plainInput('Dora@Example.com') }),
    );
    expect(res.json).toMatchObject({ response_action: 'update' });
    expect(textOf((res.json as { view: SlackView }).view.blocks as unknown[])).toContain(
      `Flow *${database}.billing read* now covers it`,
    );
    expect(await canRead(login)).toBe(false);
    expect((await standing()).total).toBe(0);
    const flow = (await h.latch.queries.flows(admin)).find((f) => f.name === `${database}.billing read`);
    expect(flow).toMatchObject({
      grantees: { include: [{ type: 'user', id: 'dora@example.com' }] },
      targets: [{ integration: 'pg', include: [{ id: item!.resourceId }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'admin@example.com' }] }] },
      reapplyOnDrift: false,
    });
    firstFlow = flow!.id;
    await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === ada.id && homeText(a).includes('Standing access (0)'),
    );

    // Dora asks for it as anyone would, and the admin who converted it approves.
    const mark = h.standIn.mark();
    await h.driver.command(dora, '/access', 'billing');
    const loading = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    const viewId = (loading.response.view as { id: string }).id;
    await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
    const picked = h.standIn.view(viewId)!;
    const chosen = (
      picked.blocks as Array<{
        block_id?: string;
        element?: { initial_options?: Array<{ value: string; text: { text: string } }> };
      }>
    ).find((b) => b.block_id === BLOCK.resources)!.element!.initial_options!;
    expect(chosen.map((o) => o.text.text)).toEqual([expect.stringContaining(`${database}.billing`)]);
    const redraw = h.standIn.mark();
    await h.driver.blockActions(dora, [{ action_id: ACTION.resources, block_id: BLOCK.resources }], {
      view: {
        ...picked,
        state: {
          values: formState(
            picked,
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
    const form = h.standIn.view(viewId)!;
    const submitted = await h.driver.viewSubmission(
      dora,
      form,
      formState(form, {
        [BLOCK.permission]: {
          type: 'static_select',
          selected_option: optionOf(form, BLOCK.permission, 'read'),
        },
      }),
    );
    const id = /AR-\d+/.exec(textOf((submitted.json as { view: { blocks: unknown[] } }).view.blocks))?.[0];
    expect(id).toBeDefined();
    const request = await h.db.models.Request.findOne({ number: Number(id!.slice(3)) }).lean();
    expect(request!.flowId).toBe(firstFlow);

    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + ada.id && buttonsOf(a.blocks as unknown[]).some((b) => b.value === id),
    );
    const card = h.standIn
      .messagesTo(ada.id)
      .findLast((m) => buttonsOf(m.blocks).some((b) => b.value === id))!;
    await h.driver.blockActions(ada, [{ action_id: ACTION.approve, value: id! }], {
      message: { ts: card.ts, channel: card.channel, blocks: card.blocks ?? [] },
    });
    for (let i = 0; i < 200; i++) {
      await h.latch.sweeps.tickUrgent();
      const doc = await h.db.models.Request.findOne({ number: Number(id!.slice(3)) }).lean();
      if (doc!.state === 'active') break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const granted = await h.db.models.Request.findOne({ number: Number(id!.slice(3)) }).lean();
    expect(granted!.state).toBe('active');
    const role = String(granted!.targets[0]!.handle!.role);
    expect(await roleExists(role)).toBe(true);
    // What Latch granted is Latch's: the next reconciliation does not list it as standing.
    await h.latch.admin.reconcileNow(admin, 'pg');
    expect((await standing()).total).toBe(0);
    await h.latch.requests.revoke(admin, id!);
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(role)).toBe(false);
  });

  it('shows mistakes in the modal and changes nothing', async () => {
    const login = await standingLogin(2);
    const home = await reconcileFromHome(login);
    const modal = await clickToOpen(h, ada, home, ACTION.standingConvert, refOf(home, login)!);
    // The suggested name is taken by the first conversion's flow: another is offered.
    const name = (modal.blocks as Array<{ block_id?: string; element?: { initial_value?: string } }>).find(
      (b) => b.block_id === STANDING_BLOCK.name,
    )!.element!.initial_value;
    expect(name).toBe(`${database}.billing read (${login})`);
    const flowsBefore = await h.db.models.Flow.countDocuments();

    const notAnEmail = await h.driver.viewSubmission(
      ada,
      modal,
      formState(modal, { [STANDING_BLOCK.person]: plainInput('dora at example') }),
    );
    expect(notAnEmail.json).toEqual({
      response_action: 'errors',
      errors: { [STANDING_BLOCK.person]: 'not an email address' },
    });

    const taken = await h.driver.viewSubmission(
      ada,
      modal,
      formState(modal, {
        [STANDING_BLOCK.person]: plainInput('dora@example.com'),
        [STANDING_BLOCK.name]: plainInput(`${database}.billing read`),
      }),
    );
    expect(taken.json).toMatchObject({
      response_action: 'errors',
      errors: { [STANDING_BLOCK.name]: expect.stringContaining('already exists') },
    });

    const noFlowChosen = await h.driver.viewSubmission(
      ada,
      modal,
      formState(modal, {
        [STANDING_BLOCK.person]: plainInput('dora@example.com'),
        [STANDING_BLOCK.mode]: {
          type: 'radio_buttons',
          selected_option: optionOf(modal, STANDING_BLOCK.mode, 'Add to an existing flow'),
        },
      }),
    );
    expect(noFlowChosen.json).toMatchObject({
      response_action: 'errors',
      errors: { [STANDING_BLOCK.flow]: 'Choose the flow to add it to.' },
    });

    expect(await canRead(login)).toBe(true);
    expect(await h.db.models.Flow.countDocuments()).toBe(flowsBefore);
    expect((await standing()).items.map((i) => i.account)).toEqual([login]);
  });

  it('adds it to an existing flow when the admin chooses so', async () => {
    const [item] = (await standing()).items;
    const home = await openHome(h, ada, 'standing');
    const modal = await clickToOpen(h, ada, home, ACTION.standingConvert, refOf(home, item!.account)!);
    const res = await h.driver.viewSubmission(
      ada,
      modal,
      formState(modal, {
        [STANDING_BLOCK.person]: plainInput('erin@example.com'),
        [STANDING_BLOCK.mode]: {
          type: 'radio_buttons',
          selected_option: optionOf(modal, STANDING_BLOCK.mode, 'Add to an existing flow'),
        },
        [STANDING_BLOCK.flow]: {
          type: 'static_select',
          selected_option: optionOf(modal, STANDING_BLOCK.flow, `${database}.billing read`),
        },
      }),
    );
    expect(res.json).toMatchObject({ response_action: 'update' });
    expect(await canRead(item!.account)).toBe(false);
    const flow = (await h.latch.queries.flows(admin)).find((f) => f.id === firstFlow)!;
    expect(flow.grantees.include).toEqual([
      { type: 'user', id: 'dora@example.com' },
      { type: 'user', id: 'erin@example.com' },
    ]);
    // It already covered billing read: no second target.
    expect(flow.targets).toHaveLength(1);
  });

  it('refuses a non-admin at the button and at the submission, and audits it', async () => {
    const login = await standingLogin(3);
    const home = await reconcileFromHome(login);
    const ref = refOf(home, login)!;
    const modal = await clickToOpen(h, ada, home, ACTION.standingConvert, ref);

    // Alice's home has no such section, but a forged click reaches the handler.
    const aliceHome = await openHome(h, alice);
    expect(textOf(aliceHome.blocks as unknown[])).not.toContain('Standing access');
    const mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.standingConvert, value: ref }], { view: home });
    const refused = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf((refused.args.view as { blocks: unknown[] }).blocks)).toContain('Only Latch admins');

    const forged = await h.driver.viewSubmission(
      alice,
      modal,
      formState(modal, { [STANDING_BLOCK.person]: plainInput('alice@example.com') }),
    );
    expect(forged.json).toEqual({
      response_action: 'errors',
      errors: { [STANDING_BLOCK.mode]: 'Only Latch admins can do that.' },
    });
    expect(await canRead(login)).toBe(true);
    expect((await standing()).items.map((i) => i.account)).toEqual([login]);
    const denied = await h.latch.audit.latest(20, { action: 'admin.denied' });
    expect(denied.map((d) => (d.details as { attempted: string }).attempted)).toEqual(
      expect.arrayContaining(['standing.convert']),
    );
    expect(h.standIn.violations).toEqual([]);
  });
});

describe('the flow option "Re-apply access removed outside Latch"', () => {
  const optionsOf = (view: SlackView) =>
    (
      (
        view.blocks as Array<{ block_id?: string; element?: { initial_options?: Array<{ value: string }> } }>
      ).find((b) => b.block_id === 'options')!.element!.initial_options ?? []
    ).map((o) => o.value);
  const reapplyOf = async (name: string) =>
    (await h.latch.queries.flows(admin)).find((f) => f.name === name)?.reapplyOnDrift;

  it('is off by default, saved when ticked, kept by an untouched edit, and re-applies dropped access', async () => {
    const flowsHome = await openHome(h, ada, 'flows');
    const modal = await clickToOpen(h, ada, flowsHome, ACTION.flowNew, 'new');
    expect(optionsOf(modal)).toEqual([]);
    const ticked = await h.driver.viewSubmission(
      ada,
      modal,
      formState(modal, {
        name: plainInput('Billing for Alice'),
        grantees_users: { type: 'multi_users_select', selected_users: [alice.id] },
        integration: { type: 'static_select', selected_option: optionOf(modal, 'integration', 'pg') },
        resources: plainInput(`${database}.billing`),
        permissions: {
          type: 'multi_static_select',
          selected_options: [optionOf(modal, 'permissions', 'read')],
        },
        options: {
          type: 'checkboxes',
          selected_options: [optionOf(modal, 'options', 'Re-apply access removed outside Latch')],
        },
      }),
    );
    expect({ status: ticked.status, body: ticked.body }).toEqual({ status: 200, body: '' });
    expect(await reapplyOf('Billing for Alice')).toBe(true);

    const flow = (await h.latch.queries.flows(admin)).find((f) => f.name === 'Billing for Alice')!;
    const edit = await clickToOpen(h, ada, await openHome(h, ada, 'flows'), ACTION.flowEdit, flow.id);
    expect(optionsOf(edit)).toEqual(['reapply_on_drift']);
    const untouched = await h.driver.viewSubmission(ada, edit, formState(edit));
    expect(untouched.status).toBe(200);
    expect(await reapplyOf('Billing for Alice')).toBe(true);

    // Alice's login is dropped behind Latch's back; Reconcile now in the home grants it again.
    const who = await h.slack.deps.directory.identity('T0LATCH', alice.id);
    const r = await h.latch.requests.submit(who, {
      targets: [{ integration: 'pg', resourceId: `db:${database}/schema:billing`, permission: 'read' }],
      durationMinutes: 60,
      flowId: flow.id,
      source: 'slack',
    });
    await h.latch.sweeps.tickUrgent();
    const doc = await h.db.models.Request.findOne({ number: r.number }).lean();
    expect(doc!.state).toBe('active');
    const role = String(doc!.targets[0]!.handle!.role);
    await sql(`DROP ROLE ${ident(role)}`);
    const home = await openHome(h, ada, 'standing');
    const mark = h.standIn.mark();
    await h.driver.blockActions(ada, [{ action_id: ACTION.reconcileNow, value: 'pg' }], { view: home });
    await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === ada.id && /1 missing \(1 re-applied\)/.test(homeText(a)),
      { after: mark },
    );
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(role)).toBe(true);
    await h.latch.requests.revoke(admin, r.id);
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(role)).toBe(false);

    // Unticked, it is off again.
    const again = await clickToOpen(h, ada, await openHome(h, ada, 'flows'), ACTION.flowEdit, flow.id);
    const off = await h.driver.viewSubmission(
      ada,
      again,
      formState(again, { options: { type: 'checkboxes', selected_options: [] } }),
    );
    expect(off.status).toBe(200);
    expect(await reapplyOf('Billing for Alice')).toBe(false);
  });
});
