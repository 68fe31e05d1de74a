/**
 * On-call rotas and working hours in flows, through Slack end to end (docs/ARCHITECTURE.md,
 * "Flows that use context" and "Automatic grants"), with the rota read from the PagerDuty
 * stand-in by the worker's Agenda jobs or an admin's sync:
 * - a request approved by itself because the requester is on call, and the same request asking
 *   the approver once they are not, whose card says they are not on call and why it came to them;
 * - a request outside the requester's working hours refused with the reason;
 * - an automatic grant that starts when a shift starts and ends when it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { startJobs, type RunningJobs } from '../../src/jobs/agenda.js';
import { silentLogger } from '../../src/logger.js';
import { addPgIntegration, admin, createPgDatabase, flow, roleExists, schemaId } from '../support/fixture.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../support/pagerduty-stand-in.js';
import { multiExternalSelected, plainInput, selectedValue } from '../support/slack-driver.js';
import { openRequestModal, startSlackHarness, textOf, type SlackHarness } from '../support/slack-harness.js';
import { until } from '../support/wait.js';

const PD_TOKEN = 'u+pagerduty-e2e-token-4242';
const MIN = 60_000;
const HOUR = 60 * MIN;
const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };
const carol = { id: 'U0CAROL', name: 'carol' };
const kenji = { id: 'U0KENJI', name: 'kenji' };
// Monday 7 December 2026, 12:00 UTC: noon in London, 21:00 in Tokyo.
const MONDAY_NOON_UTC = new Date('2026-12-07T12:00:00Z');

let h: SlackHarness;
let pd: PagerDutyStandIn;
let jobs: RunningJobs | undefined;
let dropDb: () => Promise<void>;
let billing: string;
let wholeDb: string;

const at = (offsetMs: number) => new Date(h.clock.now().getTime() + offsetMs);

beforeAll(async () => {
  h = await startSlackHarness('slack_oncall');
  h.clock.current = MONDAY_NOON_UTC;
  pd = await startPagerDutyStandIn({ token: PD_TOKEN });
  h.standIn.addUser({
    id: alice.id,
    email: 'alice@example.com',
    realName: 'Alice Liddell',
    tz: 'Europe/London',
  });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob Approver', tz: 'Europe/London' });
  h.standIn.addUser({
    id: carol.id,
    email: 'carol@example.com',
    realName: 'Carol Oncall',
    tz: 'Europe/London',
  });
  h.standIn.addUser({ id: kenji.id, email: 'kenji@example.com', realName: 'Kenji Tokyo', tz: 'Asia/Tokyo' });
  pd.addSchedule('Primary');
  // PagerDuty computes on-calls only for schedules an escalation policy uses.
  pd.addEscalationPolicy('Payments', [{ schedules: ['Primary'] }]);
  pd.setRota('Primary', [{ email: 'alice@example.com', start: at(-HOUR), end: at(HOUR) }]);
  const pg = await createPgDatabase('soncall');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  wholeDb = `db:${pg.database}`;
  await h.latch.admin.updateSettings(admin, { fallback: { enabled: false, approvers: [], maxMinutes: 240 } });
  await h.latch.admin.saveContextSource(admin, {
    name: 'pd',
    type: 'pagerduty',
    config: { apiUrl: pd.url },
    secrets: { apiToken: PD_TOKEN },
  });
  await h.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Prod read',
      grantees: { include: [{ type: 'user', id: 'alice@example.com' }] },
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: {
        steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }],
        autoApproveWhenOnCall: ['pd:Primary'],
      },
    }),
  );
  await h.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Office hours',
      grantees: { include: [{ type: 'user', id: 'kenji@example.com' }] },
      targets: [{ integration: 'pg', include: [{ id: wholeDb }], permissions: ['read'] }],
      workingHours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' },
    }),
  );
});

afterAll(async () => {
  await jobs?.stop();
  await h?.close();
  await pd?.close();
  await dropDb?.();
});

/** /access, pick billing, read, an hour: the text of the modal Latch answers with. */
async function askForBilling(user: typeof alice): Promise<string> {
  const view = await openRequestModal(h, user);
  expect(view.callback_id).toBe(VIEW.request);
  const search = await h.driver.blockSuggestion(user, {
    action_id: ACTION.resources,
    block_id: BLOCK.resources,
    value: 'billing',
    view,
  });
  const [option] = (search.json as { options: Array<{ value: string; text: { text: string } }> }).options;
  const submit = await h.driver.viewSubmission(user, view, {
    [BLOCK.resources]: {
      [ACTION.resources]: multiExternalSelected([{ value: option!.value, text: option!.text.text }]),
    },
    [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
    [BLOCK.duration]: { [ACTION.duration]: selectedValue('60', '1 hour') },
    [BLOCK.justification]: { [ACTION.justification]: plainInput('INC-42') },
  });
  return textOf((submit.json as { view: { blocks: unknown[] } }).view.blocks);
}

async function sync(): Promise<void> {
  expect(await h.latch.admin.syncContextSource(admin, 'pd')).toMatchObject({ ok: true });
}

describe('on call, through Slack', () => {
  it('approves a request by itself while the requester is on call, and asks the approver once she is not', async () => {
    await sync();
    const auto = await askForBilling(alice);
    expect(auto).toContain('is approved automatically');
    expect(auto).toContain('Policy: on call for pd:Primary, so approved automatically');
    await h.latch.sweeps.tickUrgent();
    const first = (
      await h.latch.queries.myAccess({ id: 'alice@example.com', email: 'alice@example.com', groups: [] })
    ).active[0]!;
    await h.latch.requests.revoke(admin, first.request.id);
    await h.latch.sweeps.tickUrgent();

    // Carol takes over the rota; after the next sync Alice is no longer on call.
    pd.setRota('Primary', [
      { email: 'alice@example.com', start: at(-HOUR), end: at(-MIN) },
      { email: 'carol@example.com', start: at(-MIN), end: at(8 * HOUR) },
    ]);
    await sync();
    const mark = h.standIn.mark();
    const asked = await askForBilling(alice);
    expect(asked).toContain('is submitted');
    expect(asked).toContain(
      'Policy: not on call for pd:Primary, so Prod read asks bob@example.com to approve',
    );
    const card = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + bob.id, {
      after: mark,
    });
    const text = textOf(card.args.blocks as unknown[]);
    expect(text).toContain('*On call*\nno');
    expect(text).toContain('Policy: not on call for pd:Primary');
    expect(h.standIn.violations).toEqual([]);
  });

  it('refuses a request outside the requester’s working hours, and says why', async () => {
    // 21:00 in Tokyo on a Monday.
    const view = await openRequestModal(h, kenji);
    expect(view.callback_id).toBe(VIEW.notice);
    expect(textOf(view.blocks as unknown[])).toContain(
      'Flow Office hours is only open within your working hours (Mon–Fri 09:00–18:00, in your time zone Asia/Tokyo); it is Mon 21:00 there now.',
    );
    // Asking anyway (an old form, the API) is refused by the core with the same reason.
    const refused = await h.latch.requests
      .submit(
        { id: 'kenji@example.com', email: 'kenji@example.com', groups: [], timeZone: 'Asia/Tokyo' },
        {
          targets: [{ integration: 'pg', resourceId: wholeDb, permission: 'read' }],
          durationMinutes: 60,
          source: 'api',
        },
      )
      .catch((err: Error) => err);
    expect(String(refused)).toContain('it is Mon 21:00 there now');
  });

  it('grants automatically when a shift starts and takes it away when the shift ends', async () => {
    await h.latch.admin.saveFlow(
      admin,
      flow({
        name: 'On-call write',
        grantees: { include: [{ type: 'group', id: 'pd:Primary' }] },
        targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['write'] }],
        automatic: {
          whileOnCall: ['pd:Primary'],
          targets: [{ integration: 'pg', resource: billing, permission: 'write' }],
        },
      }),
    );
    // Carol's shift runs 8 hours from now; the worker's sync job reads it, then checks the rota.
    const mark = h.standIn.mark();
    jobs = await startJobs(
      h.db,
      h.latch.loop,
      silentLogger,
      { processEveryMs: 200, lockLifetimeMs: 5_000 },
      h.latch.contextSync,
      h.latch.automatic,
    );
    const grant = await until('the automatic grant', async () => {
      const doc = await h.db.models.Request.findOne({
        origin: 'automatic',
        'requester.id': 'carol@example.com',
      }).lean();
      return doc ?? undefined;
    });
    await h.latch.sweeps.tickUrgent();
    const dm = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + carol.id, {
      after: mark,
    });
    const granted = textOf(dm.args.blocks as unknown[]);
    expect(granted).toContain('you have *write* on');
    expect(granted).toContain('Policy: on call for pd:Primary, so granted automatically while that lasts');
    const role = (await h.db.models.Request.findById(grant._id).lean())!.targets[0]!.handle!.role as string;
    expect(await roleExists(role)).toBe(true);

    // The shift ends: so does the access, with no sync in between.
    await jobs.stop();
    jobs = undefined;
    h.clock.advance(8 * HOUR + MIN);
    const ending = h.standIn.mark();
    await h.latch.sweeps.tickUrgent();
    await h.latch.sweeps.tickUrgent();
    expect((await h.db.models.Request.findById(grant._id).lean())!.state).toBe('expired');
    expect(await roleExists(role)).toBe(false);
    const ended = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + carol.id, {
      after: ending,
    });
    expect(textOf(ended.args.blocks as unknown[])).toMatch(/ended|expired|revoked/i);
    expect(h.standIn.violations).toEqual([]);
  });
});
