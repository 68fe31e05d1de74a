/**
 * Admins are told when a context source goes stale, and when it recovers (docs/ARCHITECTURE.md,
 * "Admin notices"): through Slack, once per stale spell, even when a delivery fails first.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { person } from '../support/fixture.js';
import { startOktaStandIn, type OktaStandIn } from '../support/okta-stand-in.js';
import { startSlackHarness, textOf, type SlackHarness } from '../support/slack-harness.js';
import { until } from '../support/wait.js';

const TOKEN = '00c-okta-notice-token-1234567890';
const ada = { id: 'U0ADA', name: 'ada' };
const max = { id: 'U0MAX', name: 'max' };
const admin = person('ada');

let h: SlackHarness;
let okta: OktaStandIn;

beforeAll(async () => {
  h = await startSlackHarness('slack_notices', { envAdmins: ['ada@example.com', 'max@example.com'] });
  okta = await startOktaStandIn({ token: TOKEN });
  h.standIn.addUser({ id: ada.id, email: 'ada@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: max.id, email: 'max@example.com', realName: 'Max Admin' });
  okta.addGroup('Engineering', ['eve@example.com']);
  await h.latch.admin.saveContextSource(admin, {
    name: 'okta',
    type: 'okta',
    config: { orgUrl: okta.url },
    secrets: { apiToken: TOKEN },
    syncEveryMinutes: 15,
    maxAgeMinutes: 60,
  });
  expect(await h.latch.admin.syncContextSource(admin, 'okta')).toMatchObject({ ok: true });
});

afterAll(async () => {
  await h?.close();
  await okta?.close();
});

const dmsTo = (user: { id: string }, after: number) =>
  h.standIn
    .calls('chat.postMessage')
    // Posted, not refused: failed tries are recorded too.
    .filter((c) => c.index >= after && c.args.channel === 'D' + user.id && c.response.ok === true)
    .map((c) => textOf(c.args.blocks as unknown[]));

describe('admin notices through Slack', () => {
  it('tells every admin once when a source turns stale, and again when it is fresh', async () => {
    const mark = h.standIn.mark();
    // Okta is down for longer than the source's maximum age.
    okta.failNext(401, 1000);
    h.clock.advance(2 * 60 * 60_000);
    expect(await h.latch.admin.syncContextSource(admin, 'okta')).toMatchObject({ ok: false });
    await h.latch.sweeps.tickRelaxed();
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + max.id, { after: mark });
    const toAda = dmsTo(ada, mark);
    expect(toAda).toHaveLength(1);
    expect(toAda[0]).toContain('Context source okta is stale');
    expect(toAda[0]).toContain('no longer approve anything automatically');
    expect(dmsTo(max, mark)).toHaveLength(1);

    // Later checks in the same stale spell tell nobody again.
    await h.latch.contextSync.checkStale();
    await h.latch.sweeps.tickRelaxed();
    expect(dmsTo(ada, mark)).toHaveLength(1);

    const back = h.standIn.mark();
    okta.clearFailures();
    expect(await h.latch.admin.syncContextSource(admin, 'okta')).toMatchObject({ ok: true });
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + ada.id, { after: back });
    expect(dmsTo(ada, back)[0]).toContain('Context source okta synced again');
    expect(h.standIn.violations).toEqual([]);
  });

  it('keeps a notice Slack refused, and delivers it on a later round', async () => {
    await h.db.models.AdminNotice.deleteMany({});
    const mark = h.standIn.mark();
    // Slack is down: it answers 500 to every try, the client's own retries included.
    for (let i = 0; i < 30; i++) h.standIn.failNext('chat.postMessage', 'internal_error', { status: 500 });
    await h.latch.ctx.notices!.post('test:retry', 'test', 'A notice that has to wait.');
    // The first round failed; the notice waits for its next attempt, still owed to Slack.
    const waiting = await until('the failed round', async () => {
      const doc = await h.db.models.AdminNotice.findById('test:retry').lean();
      return doc && doc.attempts >= 1 ? doc : undefined;
    });
    expect(waiting.pending).toEqual(['slack']);
    expect(waiting.lastError).toContain('slack');
    h.standIn.clearFailures('chat.postMessage');
    h.clock.advance(60 * 60_000);
    await h.latch.ctx.notices!.deliverDue();
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + max.id, { after: mark });
    expect(dmsTo(ada, mark).filter((t) => t.includes('A notice that has to wait.'))).toHaveLength(1);
    expect(dmsTo(max, mark).filter((t) => t.includes('A notice that has to wait.'))).toHaveLength(1);
    expect((await h.db.models.AdminNotice.findById('test:retry').lean())!.pending).toEqual([]);
  });
});
