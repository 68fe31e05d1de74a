/**
 * The whole access story through Slack, end to end: the real Bolt app over HTTP, requests signed as
 * Slack signs them, a recording stand-in of the Web API, and PostgreSQL where access really appears
 * and disappears.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import {
  checkOptionsResponse,
  checkViewSubmissionResponse,
} from '../support/slack-views/block-kit-limits.js';
import { addPgIntegration, createPgDatabase, flow, roleExists, schemaId } from '../support/fixture.js';
import { multiExternalSelected, plainInput, selectedValue } from '../support/slack-driver.js';
import { buttonsOf, startSlackHarness, textOf, type SlackHarness } from '../support/slack-harness.js';

const MIN = 60_000;
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const carol = { id: 'U0CAROL', name: 'carol' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_story');
  h.standIn.addUser({
    id: alice.id,
    email: 'alice@example.com',
    realName: 'Alice Liddell',
    tz: 'Europe/Paris',
  });
  h.standIn.addUser({
    id: bob.id,
    email: 'bob@example.com',
    realName: 'Bob Approver',
    tz: 'America/New_York',
  });
  h.standIn.addUser({ id: carol.id, email: 'carol@example.com', realName: 'Carol Approver' });
  h.standIn.addUserGroup({ id: 'S0DBA', handle: 'dba', users: [bob.id, carol.id] });
  const pg = await createPgDatabase('slk');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'group', id: 'dba' }] }] },
      duration: { choicesMinutes: [60, 120], maxMinutes: 120 },
      extension: { mode: 'direct', maxCount: 1 },
    }),
  );
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

async function openRequestModal(user: typeof alice, text = '') {
  const mark = h.standIn.mark();
  const res = await h.driver.command(user, '/access', text);
  expect(res.status).toBe(200);
  const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
  const viewId = (opened.response.view as { id: string }).id;
  await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
  const view = h.standIn.view(viewId)!;
  expect(view.callback_id).toBe(VIEW.request);
  return view;
}

describe('the whole story in Slack', () => {
  it('goes from /access to a role on PostgreSQL, an extension, and an on-time revoke', async () => {
    // /access billing: the modal opens at once and is filled in with the matching resource chosen.
    const view = await openRequestModal(alice, 'billing');
    const resources = (
      view.blocks as Array<{ block_id?: string; element?: { initial_options?: unknown } }>
    ).find((b) => b.block_id === BLOCK.resources)!;
    const chosen = resources.element!.initial_options as Array<{ value: string; text: { text: string } }>;
    expect(chosen.map((o) => o.text.text)).toEqual([expect.stringContaining('billing')]);

    // The search offers only what a flow lets Alice ask for.
    const search = await h.driver.blockSuggestion(alice, {
      action_id: ACTION.resources,
      block_id: BLOCK.resources,
      value: 'bill',
      view,
    });
    expect(checkOptionsResponse(search.json)).toEqual([]);
    expect((search.json as { options: Array<{ value: string }> }).options.map((o) => o.value)).toEqual([
      chosen[0]!.value,
    ]);

    // Submit: the modal turns into a confirmation; the request is waiting for @dba.
    const submit = await h.driver.viewSubmission(alice, view, {
      [BLOCK.resources]: {
        [ACTION.resources]: multiExternalSelected([{ value: chosen[0]!.value, text: chosen[0]!.text.text }]),
      },
      [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
      [BLOCK.duration]: { [ACTION.duration]: selectedValue('60', '1 hour') },
      [BLOCK.justification]: { [ACTION.justification]: plainInput('INC-42: invoices look wrong') },
    });
    expect(submit.status).toBe(200);
    expect(checkViewSubmissionResponse(submit.json)).toEqual([]);
    const ack = submit.json as { response_action: string; view: { blocks: unknown[] } };
    expect(ack.response_action).toBe('update');
    expect(textOf(ack.view.blocks)).toContain('AR-1001');

    // Both members of @dba get a card with the context an approver needs; Alice is told who approves.
    const bobCard = (await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bob.id)).args;
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + carol.id);
    const cardText = textOf(bobCard.blocks as unknown[]);
    expect(cardText).toContain('<@U0ALICE>');
    expect(cardText).toContain('INC-42');
    expect(cardText).toContain('Europe/Paris');
    expect(cardText).toContain('first request');
    expect(buttonsOf(bobCard.blocks as unknown[]).map((b) => b.action_id)).toEqual([
      ACTION.approve,
      ACTION.deny,
    ]);
    const submitted = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + alice.id);
    expect(textOf(submitted.args.blocks as unknown[])).toContain('@dba');

    // Bob approves from his DM; every approver's copy now says who decided.
    const bobMsg = h.standIn.messagesTo(bob.id)[0]!;
    const click = await h.driver.blockActions(bob, [{ action_id: ACTION.approve, value: 'AR-1001' }], {
      message: { ts: bobMsg.ts, channel: bobMsg.channel, blocks: bobMsg.blocks },
    });
    expect(click.status).toBe(200);
    await h.standIn.waitForCall('chat.update', (a) => a.channel === 'D' + carol.id);
    await h.standIn.waitForCall('chat.update', (a) => a.channel === 'D' + bob.id);
    for (const user of [bob, carol]) {
      const card = h.standIn.messagesTo(user.id)[0]!;
      expect(textOf(card.blocks)).toContain('Approved* by <@U0BOB>');
      expect(buttonsOf(card.blocks)).toEqual([]);
    }

    // The worker grants: a login role really exists on PostgreSQL, and Alice is told, without secrets in history.
    await h.latch.sweeps.tickUrgent();
    const granted = await h.standIn.waitForCall('chat.postMessage', (a) =>
      buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.showCredentials),
    );
    const creds = h.notifier.of('access.granted', 'AR-1001')[0]!.credentials[0]!.values;
    expect(await roleExists(creds.username!)).toBe(true);
    expect(JSON.stringify(h.standIn.messagesTo(alice.id))).not.toContain(creds.password!);

    // The credentials button shows them once, in a modal.
    const show = buttonsOf(granted.args.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.showCredentials,
    )!;
    const grantedMsg = h.standIn.messagesTo(alice.id).at(-1)!;
    const mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.showCredentials, value: show.value }], {
      message: { ts: grantedMsg.ts, channel: grantedMsg.channel, blocks: grantedMsg.blocks },
    });
    const reveal = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf([reveal.args.view])).toContain(creds.password!);
    await h.driver.blockActions(alice, [{ action_id: ACTION.showCredentials, value: show.value }], {
      message: { ts: grantedMsg.ts, channel: grantedMsg.channel, blocks: grantedMsg.blocks },
    });
    const again = await h.standIn.waitForCall('response_url', undefined, { after: mark });
    expect(String(again.args.text)).toContain('already shown');

    // Fifteen minutes before the end Alice is warned, with Extend buttons from the flow.
    const expiresAt = (await h.db.models.Request.findOne({ number: 1001 }).lean())!.expiresAt!;
    h.clock.current = new Date(expiresAt.getTime() - 14 * MIN);
    await h.latch.sweeps.tickRelaxed();
    const warning = await h.standIn.waitForCall('chat.postMessage', (a) =>
      buttonsOf(a.blocks as unknown[]).some((b) => b.action_id.startsWith(ACTION.extend)),
    );
    const extend = buttonsOf(warning.args.blocks as unknown[]).filter((b) =>
      b.action_id.startsWith(ACTION.extend),
    );
    expect(extend.map((b) => b.value)).toEqual(['AR-1001:60', 'AR-1001:120']);

    // Alice extends by an hour: she is told the new end, and the role outlives the old expiry.
    const warnMsg = h.standIn.messagesTo(alice.id).at(-1)!;
    await h.driver.blockActions(alice, [{ action_id: `${ACTION.extend}:60`, value: 'AR-1001:60' }], {
      message: { ts: warnMsg.ts, channel: warnMsg.channel, blocks: warnMsg.blocks },
    });
    await h.standIn.waitForCall('chat.postMessage', (a) => String(a.text).includes('extended'));
    h.clock.current = new Date(expiresAt.getTime() + MIN);
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(creds.username!)).toBe(true);

    // At the new expiry the role is dropped and Alice is told.
    h.clock.current = new Date(expiresAt.getTime() + 61 * MIN);
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(creds.username!)).toBe(false);
    const ended = await h.standIn.waitForCall('chat.postMessage', (a) => String(a.text).includes('expired'));
    expect(ended.args.channel).toBe('D' + alice.id);
    expect(h.standIn.violations).toEqual([]);

    // An operator sees it in /metrics: the request by state, one grant, one on-time revoke measured,
    // and the messages' time in the outbox.
    const metrics = await (await fetch(`${h.baseUrl}/metrics`)).text();
    expect(metrics).toMatch(/^latch_requests\{state="expired"\} 1$/m);
    expect(metrics).toMatch(/^latch_grant_seconds_count 1$/m);
    expect(metrics).toMatch(/^latch_revoke_lag_seconds_count\{reason="expired"\} 1$/m);
    const delivered = Number(
      /^latch_notification_delay_seconds_count\{channel="slack"\} (\d+)$/m.exec(metrics)?.[1],
    );
    expect(delivered).toBeGreaterThanOrEqual(6);
  });
});
