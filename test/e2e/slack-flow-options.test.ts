/**
 * Every option of the flow editor, as an admin sets it in the modal, carried through a request made
 * with /access and decided in Slack: a flow option that no test exercised once made requests
 * unapprovable. Each case builds its flow in the modal (only the fields it is about are touched),
 * asks as Alice, decides as the approvers would, and checks the access on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK } from '../../blocks/slack/ids.js';
import { addPgIntegration, createPgDatabase, roleExists } from '../support/fixture.js';
import {
  checkboxes,
  formState,
  multiExternalSelected,
  plainInput,
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
type User = typeof admin;

let h: SlackHarness;
let dropDb: () => Promise<void>;
let database: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_flow_options');
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  h.standIn.addUser({ id: carol.id, email: 'carol@example.com', realName: 'Carol' });
  h.standIn.addUserGroup({ id: 'S0DBA', handle: 'dba', users: [bob.id, carol.id] });
  const pg = await createPgDatabase('slfo');
  dropDb = pg.drop;
  database = pg.database;
  await addPgIntegration(h.latch, 'pg', { databases: [database] });
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

/** A flow made in the modal; `fill` gets the modal to pick options from. */
async function makeFlow(
  name: string,
  fill: (modal: SlackView) => Record<string, Record<string, unknown>>,
): Promise<void> {
  const modal = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
  const res = await h.driver.viewSubmission(
    admin,
    modal,
    formState(modal, {
      name: plainInput(name),
      grantees_users: usersSelected([alice.id]),
      integration: { type: 'static_select', selected_option: optionOf(modal, 'integration', 'pg') },
      // Resource names are `<database>.<schema>`; each case has a schema named after its flow.
      resources: plainInput(`${database}.${name.toLowerCase()}`),
      permissions: {
        type: 'multi_static_select',
        selected_options: [optionOf(modal, 'permissions', 'read')],
      },
      ...fill(modal),
    }),
  );
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: '' });
}

/** Alice asks through /access for the schema the flow covers; returns the request id. */
async function ask(
  schema: string,
  opts: { justification?: string; duration?: string } = {},
): Promise<string> {
  const mark = h.standIn.mark();
  await h.driver.command(alice, '/access', schema);
  const loading = await h.standIn.waitForCall('views.open', undefined, { after: mark });
  const viewId = (loading.response.view as { id: string }).id;
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
  // `/access <schema>` pre-selects the match, with the flow's permission and durations.
  const modal = h.standIn.view(viewId)!;
  const chosen = (
    modal.blocks as Array<{
      block_id?: string;
      element?: { initial_options?: Array<{ value: string; text: { text: string } }> };
    }>
  ).find((b) => b.block_id === BLOCK.resources)!.element!.initial_options!;
  expect(chosen).toHaveLength(1);
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
  const form = h.standIn.view(viewId)!;
  const res = await h.driver.viewSubmission(
    alice,
    form,
    formState(form, {
      // The fallback flow also offers write and admin on everything: the permission is a choice.
      [BLOCK.permission]: {
        type: 'static_select',
        selected_option: optionOf(form, BLOCK.permission, 'read'),
      },
      ...(opts.justification ? { [BLOCK.justification]: plainInput(opts.justification) } : {}),
      ...(opts.duration
        ? {
            [BLOCK.duration]: {
              type: 'static_select',
              selected_option: optionOf(form, BLOCK.duration, opts.duration),
            },
          }
        : {}),
    }),
  );
  expect(res.json).toMatchObject({ response_action: 'update' });
  const id = /AR-\d+/.exec(textOf((res.json as { view: { blocks: unknown[] } }).view.blocks))?.[0];
  expect(id).toBeDefined();
  return id!;
}

async function approveFromCard(user: User, id: string): Promise<void> {
  await h.standIn.waitForCall(
    'chat.postMessage',
    (a) => a.channel === 'D' + user.id && buttonsOf(a.blocks as unknown[]).some((b) => b.value === id),
  );
  const card = h.standIn
    .messagesTo(user.id)
    .findLast((m) => buttonsOf(m.blocks).some((b) => b.value === id))!;
  const res = await h.driver.blockActions(user, [{ action_id: ACTION.approve, value: id }], {
    message: { ts: card.ts, channel: card.channel, blocks: card.blocks ?? [] },
  });
  expect(res.status).toBe(200);
}

async function stateOf(id: string) {
  return (await h.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!;
}

/** A click is acknowledged before it is handled: wait for what it does. */
async function reaches(
  id: string,
  check: (doc: Awaited<ReturnType<typeof stateOf>>) => boolean,
): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check(await stateOf(id))) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${id} did not get there; it is ${(await stateOf(id)).state}`);
}

/** Grants, checks the login exists, then revokes so the next case starts clean. */
async function grantedThenRevoked(id: string): Promise<void> {
  await h.latch.sweeps.tickUrgent();
  const doc = await stateOf(id);
  expect(doc.state).toBe('active');
  const role = String(doc.targets[0]!.handle!.role);
  expect(await roleExists(role)).toBe(true);
  await h.latch.requests.revoke(await h.slack.deps.directory.identity('T0LATCH', alice.id), id);
  await h.latch.sweeps.tickUrgent();
  expect(await roleExists(role)).toBe(false);
}

async function schema(name: string): Promise<string> {
  const { default: pg } = await import('pg');
  const u = new URL(process.env.PG_URL!);
  u.pathname = `/${database}`;
  const c = new pg.Client({ connectionString: u.toString() });
  await c.connect();
  await c.query(`CREATE SCHEMA ${pg.escapeIdentifier(name)}`);
  await c.end();
  await h.latch.admin.discover('config-file', 'pg');
  return name;
}

describe('flow editor options, each through a request in Slack', () => {
  it('approver group, any one of them', async () => {
    await makeFlow((await schema('groupany')) && 'GroupAny', (m) => ({
      approvers_groups: {
        type: 'multi_static_select',
        selected_options: [optionOf(m, 'approvers_groups', '@dba')],
      },
    }));
    const id = await ask('groupany');
    await approveFromCard(carol, id);
    await reaches(id, (d) => d.state === 'approved');
    await grantedThenRevoked(id);
  });

  it('named approvers, all of them', async () => {
    await makeFlow((await schema('allof')) && 'AllOf', (m) => ({
      approvers_users: usersSelected([bob.id, carol.id]),
      rule: { type: 'static_select', selected_option: optionOf(m, 'rule', 'All of them') },
    }));
    const id = await ask('allof');
    await approveFromCard(bob, id);
    await reaches(id, (d) => d.approvals.length === 1);
    expect((await stateOf(id)).state).toBe('pending');
    await approveFromCard(carol, id);
    await reaches(id, (d) => d.state === 'approved');
    await grantedThenRevoked(id);
  });

  it('resource owners approve too (with no owner set, the named approver decides)', async () => {
    await makeFlow((await schema('owners')) && 'Owners', () => ({
      approvers_users: usersSelected([bob.id]),
      approvers_owners: checkboxes(['owners']),
    }));
    const id = await ask('owners');
    await approveFromCard(bob, id);
    await reaches(id, (d) => d.state === 'approved');
    await grantedThenRevoked(id);
  });

  it('requesters may approve their own requests, from App Home', async () => {
    await makeFlow((await schema('selfok')) && 'SelfOk', (m) => ({
      approvers_users: usersSelected([alice.id, bob.id]),
      options: {
        type: 'checkboxes',
        selected_options: [optionOf(m, 'options', 'Requesters may approve their own requests')],
      },
    }));
    const id = await ask('selfok');
    const approvals = await openHome(h, alice, 'approvals');
    const approve = buttonsOf(approvals.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.approve && b.value === id,
    );
    expect(approve).toBeDefined();
    await h.driver.blockActions(alice, [{ action_id: ACTION.approve, value: id }], { view: approvals });
    await reaches(id, (d) => d.state === 'approved');
    await grantedThenRevoked(id);
  });

  it('requesters must justify, and indefinite access may be asked for', async () => {
    await makeFlow((await schema('justified')) && 'Justified', (m) => ({
      options: {
        type: 'checkboxes',
        selected_options: [
          optionOf(m, 'options', 'Requesters must justify'),
          optionOf(m, 'options', 'Indefinite access may be asked for'),
        ],
      },
    }));
    // No approvers chosen: approved automatically.
    const id = await ask('justified', {
      justification: 'INC-77: reconcile invoices',
      duration: 'indefinitely',
    });
    const doc = await stateOf(id);
    expect(doc.justification).toBe('INC-77: reconcile invoices');
    expect(doc.durationMinutes).toBeNull();
    await grantedThenRevoked(id);
  });

  it('extensions need an approver, who approves one from the card', async () => {
    await makeFlow((await schema('extend')) && 'Extend', (m) => ({
      approvers_users: usersSelected([bob.id]),
      extension: {
        type: 'static_select',
        selected_option: optionOf(m, 'extension', 'An approver must agree'),
      },
    }));
    const id = await ask('extend');
    await approveFromCard(bob, id);
    await reaches(id, (d) => d.state === 'approved');
    await h.latch.sweeps.tickUrgent();
    const before = (await stateOf(id)).expiresAt!;
    // App Home is also redrawn by the grant's own notification; wait for the one with the grant in it.
    let mine = await openHome(h, alice, 'me');
    const extendButton = (view: SlackView) =>
      buttonsOf(view.blocks as unknown[]).find(
        (b) => b.action_id.startsWith(ACTION.extend) && b.value?.startsWith(id),
      );
    for (let i = 0; i < 20 && !extendButton(mine); i++) {
      await new Promise((r) => setTimeout(r, 50));
      mine = await openHome(h, alice, 'me');
    }
    const extend = extendButton(mine);
    expect(extend).toBeDefined();
    await h.driver.blockActions(alice, [{ action_id: extend!.action_id, value: extend!.value }], {
      view: mine,
    });
    const card = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) =>
        a.channel === 'D' + bob.id &&
        buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.approveExtension),
    );
    const message = h.standIn.messagesTo(bob.id).find((m) => m.ts === card.response.ts)!;
    await h.driver.blockActions(bob, [{ action_id: ACTION.approveExtension, value: id }], {
      message: { ts: message.ts, channel: message.channel, blocks: message.blocks ?? [] },
    });
    await reaches(id, (d) => d.expiresAt!.getTime() > before.getTime());
    await h.latch.requests.revoke(await h.slack.deps.directory.identity('T0LATCH', alice.id), id);
    await h.latch.sweeps.tickUrgent();
    expect(h.standIn.violations).toEqual([]);
  });
});
