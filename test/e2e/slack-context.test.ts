/**
 * Okta groups in flows, through Slack end to end: the worker's Agenda job syncs the Okta stand-in,
 * a member of the Okta group asks with /access and the Okta approver group's members get the card
 * in Slack (found by email); once she is removed from the group in Okta, the next sync takes the
 * flow away, and /access has nothing left to offer her.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { startJobs, type RunningJobs } from '../../src/jobs/agenda.js';
import { silentLogger } from '../../src/logger.js';
import { addPgIntegration, admin, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import { startOktaStandIn, type OktaStandIn } from '../support/okta-stand-in.js';
import { multiExternalSelected, plainInput, selectedValue } from '../support/slack-driver.js';
import {
  buttonsOf,
  openRequestModal,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import { until } from '../support/wait.js';

const TOKEN = '00b-okta-e2e-token-9876543210';
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const ada = { id: 'U0ADMIN', name: 'admin' };

let h: SlackHarness;
let okta: OktaStandIn;
let jobs: RunningJobs | undefined;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_context');
  okta = await startOktaStandIn({ token: TOKEN, rateLimit: { limit: 50, windowMs: 1000 } });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice Liddell' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob Approver' });
  h.standIn.addUser({ id: ada.id, email: 'admin@example.com', realName: 'Ada Admin' });
  okta.addGroup('Engineering', ['alice@example.com']);
  okta.addGroup('DBA', ['bob@example.com']);
  const pg = await createPgDatabase('sctx');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.updateSettings(admin, { fallback: { enabled: false, approvers: [], maxMinutes: 240 } });
  await h.latch.admin.saveContextSource(admin, {
    name: 'okta',
    type: 'okta',
    config: { orgUrl: okta.url },
    secrets: { apiToken: TOKEN },
  });
  await h.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Engineering billing',
      grantees: { include: [{ type: 'group', id: 'okta:Engineering' }] },
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'group', id: 'okta:DBA' }] }] },
    }),
  );
});

afterAll(async () => {
  await jobs?.stop();
  await h?.close();
  await okta?.close();
  await dropDb?.();
});

describe('Okta groups through Slack', () => {
  it('lets an Okta group member ask until she is removed from the group, and asks the Okta approvers', async () => {
    // The worker's schedule job creates the source's sync job, which syncs it at once.
    jobs = await startJobs(
      h.db,
      h.latch.loop,
      silentLogger,
      { processEveryMs: 200, lockLifetimeMs: 5_000 },
      h.latch.contextSync,
    );
    const synced = await until('the first sync', async () => {
      const s = (await h.latch.queries.contextSources(admin)).find((x) => x.name === 'okta');
      return s?.lastSuccessAt ? s : undefined;
    });
    expect(synced).toMatchObject({ groups: 2, memberships: 2, stale: false });

    const view = await openRequestModal(h, alice);
    expect(view.callback_id).toBe(VIEW.request);
    const search = await h.driver.blockSuggestion(alice, {
      action_id: ACTION.resources,
      block_id: BLOCK.resources,
      value: 'billing',
      view,
    });
    const options = (search.json as { options: Array<{ value: string; text: { text: string } }> }).options;
    expect(options).toHaveLength(1);
    const submit = await h.driver.viewSubmission(alice, view, {
      [BLOCK.resources]: {
        [ACTION.resources]: multiExternalSelected([
          { value: options[0]!.value, text: options[0]!.text.text },
        ]),
      },
      [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
      [BLOCK.duration]: { [ACTION.duration]: selectedValue('60', '1 hour') },
      [BLOCK.justification]: { [ACTION.justification]: plainInput('INC-7') },
    });
    expect(textOf((submit.json as { view: { blocks: unknown[] } }).view.blocks)).toContain('AR-1001');
    // Bob is in Okta's DBA group: Latch finds him in Slack by his email and sends him the card.
    const card = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bob.id);
    expect(buttonsOf(card.args.blocks as unknown[]).map((b) => b.action_id)).toContain(ACTION.approve);
    expect(textOf(card.args.blocks as unknown[])).toContain('okta:Engineering');

    // Alice leaves Engineering in Okta; the next sync (on demand here) takes the flow away.
    okta.removeMember('Engineering', 'alice@example.com');
    expect(await h.latch.admin.syncContextSource(admin, 'okta')).toMatchObject({ ok: true, memberships: 1 });
    const after = await openRequestModal(h, alice);
    expect(after.callback_id).toBe(VIEW.notice);
    expect(textOf(after.blocks as unknown[])).toContain('There is nothing you can ask for right now');
    expect(h.standIn.violations).toEqual([]);
  });

  it('shows admins each source in the App Home, with its counts and errors, and syncs it on demand', async () => {
    const home = await openHome(h, ada, 'integrations');
    const text = textOf(home.blocks as unknown[]);
    expect(text).toContain('Context sources');
    expect(text).toMatch(/\*okta\* · okta · 2 groups, 1 memberships/);
    expect(text).toContain('in sync');

    // Okta refuses the token: the home shows the error after Sync now, and the groups are kept.
    okta.failNext(401, 1);
    let mark = h.standIn.mark();
    await h.driver.blockActions(ada, [{ action_id: ACTION.contextSync, value: 'okta' }], { view: home });
    const started = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf((started.args.view as { blocks: unknown[] }).blocks)).toContain('Syncing okta now');
    const homeText = (a: Record<string, unknown>) => textOf((a.view as { blocks: unknown[] }).blocks);
    const failed = await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === ada.id && homeText(a).includes(':warning:'),
      { after: mark },
    );
    expect(homeText(failed.args)).toMatch(/:warning: .*401/);
    expect(homeText(failed.args)).toMatch(/2 groups, 1 memberships/);

    // Synced again: the error gives way to the counts.
    mark = h.standIn.mark();
    await h.driver.blockActions(ada, [{ action_id: ACTION.contextSync, value: 'okta' }], {
      view: h.standIn.homeOf(ada.id)!,
    });
    await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === ada.id && !homeText(a).includes(':warning:') && homeText(a).includes('in sync'),
      { after: mark },
    );

    // Someone who is not an admin is refused, whatever the payload says.
    mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.contextSync, value: 'okta' }], { view: home });
    const refused = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf((refused.args.view as { blocks: unknown[] }).blocks)).toMatch(/admin/i);
  });
});
