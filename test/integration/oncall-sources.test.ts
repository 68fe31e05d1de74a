/**
 * On-call context sources (docs/ARCHITECTURE.md, "Context sources", on-call sources): PagerDuty and
 * Jira Service Management Operations rotas synced through the admin use-cases, against local
 * stand-ins that page, rate-limit and fail as the real APIs do, and read through the directory
 * with Latch's clock: a person is in `<source>:<schedule>` only while one of their shifts covers now.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ContextDirectory } from '../../src/context/directory.js';
import { admin, createFixture, type Fixture } from '../support/fixture.js';
import { startJsmOpsStandIn, type JsmOpsStandIn } from '../support/jsm-ops-stand-in.js';
import { startPagerDutyStandIn, type PagerDutyStandIn } from '../support/pagerduty-stand-in.js';

const H = 3_600_000;
const PD_TOKEN = 'u+pagerduty-test-key-0123';
const JSM = { cloudId: 'a436116f-02ce-4520-8fbb-7301462a1674', email: 'latch-bot@example.com' };
const JSM_TOKEN = 'ATATT3xjsm-test-token-0123456789';

let fx: Fixture;
let dir: ContextDirectory;
let start: Date;

// Backoffs after 5xx are cut short; waits for a rate limit still last until the API allows more.
const quickSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 20)));
/** `h` hours from the start of the test file, by Latch's clock. */
const at = (h: number) => new Date(start.getTime() + h * H);
/** Sets Latch's clock (syncs read the rota from there, the directory answers for then). */
const setClock = (h: number) => {
  fx.clock.current = at(h);
};

async function sync(name: string) {
  return fx.latch.admin.syncContextSource(admin, name);
}

async function status(name: string) {
  return (await fx.latch.queries.contextSources(admin)).find((s) => s.name === name)!;
}

async function members(group: string) {
  return ((await dir.membersOf(group)) ?? []).sort();
}

async function groups(email: string) {
  return (await dir.groupsOf(email)).groups;
}

beforeAll(async () => {
  fx = await createFixture('oncall', { contextSleep: quickSleep });
  dir = new ContextDirectory(fx.db, fx.clock.now);
  start = fx.clock.now();
});

afterAll(async () => {
  await fx?.close();
});

describe('PagerDuty', () => {
  let pd: PagerDutyStandIn;
  let payments: string;
  const config = () => ({ apiUrl: pd.url, pageSize: 2, escalationPolicyIds: [payments] });

  beforeAll(async () => {
    setClock(0);
    pd = await startPagerDutyStandIn({ token: PD_TOKEN });
    pd.addSchedule('Primary');
    pd.addSchedule('Secondary');
    pd.addSchedule('Unused'); // on no escalation policy: PagerDuty has no on-calls for it
    for (let i = 0; i < 3; i++) pd.addSchedule(`Team ${i}`);
    payments = pd.addEscalationPolicy('Payments', [
      { schedules: ['Primary'] },
      { schedules: ['Secondary'], users: ['boss@example.com'] },
    ]);
    pd.addEscalationPolicy('Teams', [{ schedules: ['Team 0', 'Team 1', 'Team 2'] }]);
    pd.setRota('Primary', [
      { email: 'alice@example.com', start: at(-2), end: at(6) },
      { email: 'Bob@Example.com', start: at(6), end: at(30) },
      // Beyond the default 24-hour horizon: not read by a sync at 0 h.
      { email: 'frank@example.com', start: at(30), end: at(40) },
    ]);
    pd.setRota('Secondary', [{ email: 'carol@example.com', start: at(-1), end: at(23) }]);
    for (let i = 0; i < 3; i++)
      pd.setRota(`Team ${i}`, [
        { email: `t${i}a@example.com`, start: at(-3), end: at(9) },
        { email: `t${i}b@example.com`, start: at(9), end: at(33) },
      ]);
    await fx.latch.admin.saveContextSource(admin, {
      name: 'pd',
      type: 'pagerduty',
      config: config(),
      secrets: { apiToken: PD_TOKEN },
    });
  });

  afterAll(async () => {
    await pd?.close();
  });

  it('reads the rota page by page and waits out a rate limit for as long as ratelimit-reset says', async () => {
    pd.failNext(429, 1, { resetSeconds: 1 });
    const before = pd.requests.length;
    const report = await sync('pd');
    expect(report).toMatchObject({ ok: true, groups: 6 });
    // Waiting the whole reset means the next request is not refused again.
    expect(report.ok && report.stats.rateLimited).toBe(1);
    const pages = pd.requests.slice(before).filter((r) => r.status === 200);
    // Alice, Bob, Carol, boss, and two shifts for each team schedule: 10 on-calls, 2 a page.
    expect(pages.map((r) => new URL(r.path, pd.url).searchParams.get('offset'))).toEqual([
      '0',
      '2',
      '4',
      '6',
      '8',
    ]);
    expect(pages.every((r) => r.path.includes('include%5B%5D=users'))).toBe(true);
    const names = (await fx.db.models.ContextGroup.find({ source: 'pd' }).lean()).map((g) => g.name).sort();
    expect(names).toEqual(['Primary', 'Secondary', 'Team 0', 'Team 1', 'Team 2', 'policy:Payments']);
    expect(await status('pd')).toMatchObject({ stale: false, lastError: undefined, rateLimited: 1 });
  });

  it('puts in a schedule, and in a policy at level 1, only whoever is on call now', async () => {
    expect(await groups('alice@example.com')).toEqual(['pd:Primary', 'pd:policy:Payments']);
    expect(await groups('bob@example.com')).toEqual([]);
    expect(await members('pd:Primary')).toEqual(['alice@example.com']);
    expect(await members('pd:Secondary')).toEqual(['carol@example.com']);
    // Carol and the boss are paged at level 2 only.
    expect(await members('pd:policy:Payments')).toEqual(['alice@example.com']);
    expect(await groups('carol@example.com')).toEqual(['pd:Secondary']);
  });

  it('hands over at the shift change without another sync, and knows nothing past its horizon', async () => {
    setClock(7);
    expect(await members('pd:Primary')).toEqual(['bob@example.com']);
    expect(await groups('alice@example.com')).toEqual([]);
    expect(await groups('bob@example.com')).toEqual(['pd:Primary', 'pd:policy:Payments']);
    // Frank's shift started after the horizon of the last sync: nobody counts until a sync reads it.
    setClock(31);
    expect(await members('pd:Primary')).toEqual([]);
    setClock(0);
  });

  it('follows a changed rota at the next sync', async () => {
    pd.setRota('Primary', [{ email: 'dave@example.com', start: at(-1), end: at(12) }]);
    expect(await members('pd:Primary')).toEqual(['alice@example.com']);
    expect((await sync('pd')).ok).toBe(true);
    expect(await members('pd:Primary')).toEqual(['dave@example.com']);
    expect(await groups('alice@example.com')).toEqual([]);
    expect(await groups('dave@example.com')).toEqual(['pd:Primary', 'pd:policy:Payments']);
  });

  it('keeps the rota it had when PagerDuty fails, and reports the error', async () => {
    const before = await status('pd');
    pd.setRota('Primary', [{ email: 'erin@example.com', start: at(-1), end: at(12) }]);
    pd.failNext(502, 50);
    const report = await sync('pd');
    expect(report).toMatchObject({ ok: false, error: expect.stringContaining('502') });
    pd.clearFailures();
    expect((await status('pd')).lastSuccessAt).toEqual(before.lastSuccessAt);
    expect(await members('pd:Primary')).toEqual(['dave@example.com']);
  });

  it('reports a refused API key with PagerDuty’s message, and keeps the rota it had', async () => {
    await fx.latch.admin.saveContextSource(admin, {
      name: 'pd',
      type: 'pagerduty',
      config: config(),
      secrets: { apiToken: 'a-revoked-pagerduty-key' },
    });
    const report = await sync('pd');
    expect(report).toMatchObject({ ok: false, error: expect.stringContaining('401') });
    expect(report.ok === false && 'error' in report && report.error).toContain('Authentication failed');
    expect(JSON.stringify(await status('pd'))).not.toContain('a-revoked-pagerduty-key');
    expect(await members('pd:Primary')).toEqual(['dave@example.com']);

    await fx.latch.admin.saveContextSource(admin, {
      name: 'pd',
      type: 'pagerduty',
      config: config(),
      secrets: { apiToken: PD_TOKEN },
    });
    expect((await sync('pd')).ok).toBe(true);
    expect(await members('pd:Primary')).toEqual(['erin@example.com']);
  });

  it('syncs only the listed schedules, and no policies, when told so', async () => {
    const primary = (await fx.db.models.ContextGroup.findOne({ source: 'pd', name: 'Primary' }).lean())!;
    await fx.latch.admin.saveContextSource(admin, {
      name: 'pd-primary',
      type: 'pagerduty',
      config: { apiUrl: pd.url, scheduleIds: [primary.groupId] },
      secrets: { apiToken: PD_TOKEN },
    });
    expect(await sync('pd-primary')).toMatchObject({ ok: true, groups: 1 });
    expect(await groups('erin@example.com')).toEqual([
      'pd-primary:Primary',
      'pd:Primary',
      'pd:policy:Payments',
    ]);
  });
});

describe('Jira Service Management Operations', () => {
  let jsm: JsmOpsStandIn;
  const config = () => ({ ...JSM, siteUrl: jsm.url, apiUrl: jsm.url, pageSize: 2 });

  beforeAll(async () => {
    setClock(0);
    jsm = await startJsmOpsStandIn({ ...JSM, apiToken: JSM_TOKEN, maxUsersPage: 2 });
    jsm.addSchedule('Ops primary');
    jsm.addSchedule('Ops secondary');
    jsm.addSchedule('Retired', { enabled: false });
    for (let i = 0; i < 2; i++) jsm.addSchedule(`Rota ${i}`);
    jsm.addUser('hidden@example.com', { hidden: true });
    jsm.setRota('Ops primary', [
      { email: 'grace@example.com', start: at(-4), end: at(8) },
      { email: 'Heidi@Example.com', start: at(8), end: at(20) },
      { email: 'hidden@example.com', start: at(20), end: at(44) },
    ]);
    jsm.setRota('Ops secondary', [{ email: 'ivan@example.com', start: at(-1), end: at(47) }]);
    jsm.setRota('Retired', [{ email: 'judy@example.com', start: at(-1), end: at(47) }]);
    for (let i = 0; i < 2; i++)
      jsm.setRota(`Rota ${i}`, [{ email: `r${i}@example.com`, start: at(-1), end: at(47) }]);
    await fx.latch.admin.saveContextSource(admin, {
      name: 'jsm',
      type: 'jsm_ops',
      config: config(),
      secrets: { apiToken: JSM_TOKEN },
    });
  });

  afterAll(async () => {
    await jsm?.close();
  });

  it('reads schedules and users page by page, and waits out a 429 for as long as Retry-After says', async () => {
    jsm.failNext(429, 1, { path: /\/user\/bulk$/, retryAfter: 1 });
    const before = jsm.requests.length;
    const report = await sync('jsm');
    // Enabled schedules only; the hidden responder is left out and the sync says so.
    expect(report).toMatchObject({ ok: true, groups: 4 });
    expect(report.ok && report.stats.rateLimited).toBe(1);
    const ok = jsm.requests.slice(before).filter((r) => r.status === 200);
    const schedulePages = ok.filter((r) => r.path.includes('/v1/schedules?'));
    expect(schedulePages.map((r) => new URL(r.path, jsm.url).searchParams.get('offset'))).toEqual([
      '0',
      '2',
      '4',
    ]);
    // Six people with shifts in the horizon, two a page.
    const userPages = ok.filter((r) => r.path.startsWith('/rest/api/3/user/bulk'));
    expect(userPages.map((r) => new URL(r.path, jsm.url).searchParams.get('startAt'))).toEqual([
      '0',
      '2',
      '4',
    ]);
    // The console shows the admin that someone was left out.
    expect(await status('jsm')).toMatchObject({
      stale: false,
      rateLimited: 1,
      warnings: [expect.stringContaining('1 on-call person has no email Latch can see')],
    });
  });

  it('puts in a schedule only whoever is on call now, and hands over without another sync', async () => {
    expect(await groups('grace@example.com')).toEqual(['jsm:Ops primary']);
    expect(await members('jsm:Ops primary')).toEqual(['grace@example.com']);
    expect(await members('jsm:Ops secondary')).toEqual(['ivan@example.com']);
    expect(await dir.membersOf('jsm:Retired')).toEqual([]);
    expect(await groups('judy@example.com')).toEqual([]);
    setClock(9);
    expect(await members('jsm:Ops primary')).toEqual(['heidi@example.com']);
    expect(await groups('grace@example.com')).toEqual([]);
    setClock(21);
    expect(await members('jsm:Ops primary')).toEqual([]);
    setClock(0);
  });

  it('follows a changed rota at the next sync', async () => {
    jsm.setRota('Ops primary', [{ email: 'ken@example.com', start: at(-1), end: at(5) }]);
    expect((await sync('jsm')).ok).toBe(true);
    expect(await members('jsm:Ops primary')).toEqual(['ken@example.com']);
    expect(await groups('grace@example.com')).toEqual([]);
  });

  it('keeps the rota it had when the API fails or refuses the token, and reports the error', async () => {
    jsm.setRota('Ops primary', [{ email: 'leo@example.com', start: at(-1), end: at(5) }]);
    jsm.failNext(503, 50, { path: /\/timeline$/ });
    const failed = await sync('jsm');
    expect(failed).toMatchObject({ ok: false, error: expect.stringContaining('503') });
    jsm.clearFailures();
    expect(await members('jsm:Ops primary')).toEqual(['ken@example.com']);

    await fx.latch.admin.saveContextSource(admin, {
      name: 'jsm',
      type: 'jsm_ops',
      config: config(),
      secrets: { apiToken: 'a-revoked-atlassian-token' },
    });
    const refused = await sync('jsm');
    expect(refused).toMatchObject({ ok: false, error: expect.stringContaining('401') });
    expect(refused.ok === false && 'error' in refused && refused.error).toContain('Unauthorized');
    expect((await status('jsm')).lastError).toContain('401');
    expect(await members('jsm:Ops primary')).toEqual(['ken@example.com']);
  });
});
