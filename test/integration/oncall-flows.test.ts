/**
 * Flows that use on-call rotas and working hours (docs/ARCHITECTURE.md, "Flows that use context"
 * and "Automatic grants"), through the core as every channel uses it. The rota comes from a
 * source of type `pagerduty` whose reads are replaced by a rota the test sets, so each test says
 * exactly who is on call when; the PagerDuty API itself is tested in oncall-sources.test.ts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { CONTEXT_TYPES } from '../../src/context/index.js';
import type { Identity } from '../../src/domain/identity.js';
import type { ContextSourceType, Shift } from '../../src/context/types.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  refusalOf,
  roleExists,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const alice = { ...person('alice'), timeZone: 'Asia/Tokyo' };
const bob = person('bob');
const carol = person('carol');
const dave = person('dave');
const erin = person('erin');

/** Who is on call when, per schedule name, as the next sync will read it. */
let rota: Record<string, Shift[]> = {};
const rotaType: ContextSourceType = {
  validate: () => [],
  sync: async () => ({
    groups: Object.entries(rota).map(([name, shifts]) => ({
      id: `P${name}`,
      name,
      members: [...new Set(shifts.map((s) => s.email))],
      shifts,
    })),
    state: {},
    mode: 'full',
  }),
};

let fx: Fixture;
let dropDb: () => Promise<void>;
let billing: string;
let wholeDb: string;

function shift(who: { email: string }, fromMs: number, toMs?: number): Shift {
  const now = fx.clock.now().getTime();
  return {
    email: who.email,
    start: new Date(now + fromMs),
    ...(toMs === undefined ? {} : { end: new Date(now + toMs) }),
  };
}

async function setRota(next: Record<string, Shift[]>): Promise<void> {
  rota = next;
  const report = await fx.latch.admin.syncContextSource(admin, 'pd');
  expect(report).toMatchObject({ ok: true });
}

function ask(who: Identity, resourceId = billing) {
  return fx.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId, permission: 'read' }],
    durationMinutes: 60,
    source: 'api',
  });
}

beforeAll(async () => {
  fx = await createFixture('oncall', { contextTypes: { ...CONTEXT_TYPES, pagerduty: rotaType } });
  const pg = await createPgDatabase('oncall');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  wholeDb = `db:${pg.database}`;
  await fx.latch.admin.updateSettings(admin, {
    fallback: { enabled: false, approvers: [], maxMinutes: 240 },
  });
  await fx.latch.admin.saveContextSource(admin, {
    name: 'pd',
    type: 'pagerduty',
    syncEveryMinutes: 5,
    maxAgeMinutes: 60,
  });
});

afterAll(async () => {
  await fx?.close();
  await dropDb?.();
});

async function onlyFlow(input: Parameters<typeof flow>[0]): Promise<void> {
  for (const f of await fx.latch.queries.flows(admin)) await fx.latch.admin.deleteFlow(admin, f.id);
  await fx.latch.admin.saveFlow(admin, flow(input));
}

async function endAll(): Promise<void> {
  const mine = await fx.latch.db.models.Request.find({
    state: { $in: ['pending', 'approved', 'active'] },
  }).lean();
  for (const r of mine) {
    const id = `AR-${r.number}`;
    if (r.state === 'pending')
      await fx.latch.requests.cancel({ id: r.requester.id, email: r.requester.email, groups: [] }, id);
    else await fx.latch.requests.revoke(admin, id);
  }
  for (let i = 0; i < 3; i++) await fx.latch.sweeps.tickUrgent();
}

describe('auto-approval while on call', () => {
  beforeAll(async () => {
    await onlyFlow({
      name: 'Prod read',
      targets: [{ integration: 'pg', include: [{ id: billing }, { id: wholeDb }], permissions: ['read'] }],
      approval: {
        steps: [{ approvers: [{ type: 'user', id: bob.email }] }],
        autoApproveWhenOnCall: ['pd:Primary'],
      },
    });
  });
  beforeEach(endAll);

  it('approves a request by itself while the requester is on call, and says why', async () => {
    await setRota({ Primary: [shift(alice, -HOUR, HOUR)] });
    const r = await ask(alice);
    expect(r.state).toBe('approved');
    expect(r.routing).toBe('on call for pd:Primary, so approved automatically');
    expect(r.requester.onCallFor).toEqual(['pd:Primary']);
    expect(fx.notifier.of('approval.needed', r.id)).toHaveLength(0);
  });

  it('asks the approvers once the shift is over, and tells them the requester is not on call', async () => {
    await setRota({ Primary: [shift(alice, -2 * HOUR, -MIN), shift(carol, -MIN, HOUR)] });
    const r = await ask(alice, wholeDb);
    expect(r.state).toBe('pending');
    expect(r.routing).toBe('not on call for pd:Primary, so Prod read asks bob@example.com to approve');
    const context = await fx.latch.queries.requesterContext(r);
    expect(context.onCall).toEqual([]);
    expect(context.routing).toContain('not on call');
    expect(fx.notifier.of('approval.needed', r.id)[0]!.approvers.users).toEqual([bob.email]);
  });

  it('does not approve by itself from a rota that has not synced for longer than its maximum age', async () => {
    await setRota({ Primary: [shift(alice, -HOUR)] });
    fx.clock.advance(2 * HOUR);
    const r = await ask(alice);
    expect(r.state).toBe('pending');
    expect(r.routing).toContain('that rota has not synced recently');
    fx.clock.advance(-2 * HOUR);
  });
});

describe('the on-call person approves', () => {
  beforeAll(async () => {
    await onlyFlow({
      name: 'Prod read by on-call',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'on_call', schedule: 'pd:Primary' }] }] },
    });
  });
  beforeEach(endAll);

  it('asks whoever is on call, lets them approve, and refuses someone whose shift is over', async () => {
    await setRota({ Primary: [shift(carol, -HOUR, HOUR), shift(dave, -2 * HOUR, -HOUR)] });
    const r = await ask(erin);
    expect(fx.notifier.of('approval.needed', r.id)[0]!.approvers.users).toEqual([carol.email]);
    expect(r.routing).toBe('Prod read by on-call asks whoever is on call for pd:Primary to approve');
    const refused = await refusalOf(fx.latch.requests.approve(dave, r.id));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toContain('you are not one of its approvers');
    expect((await fx.latch.requests.approve(carol, r.id)).state).toBe('approved');
  });
});

describe('working hours in the requester’s own time zone', () => {
  // Monday 7 December 2026, 03:00 UTC: noon in Tokyo; 12:00 UTC is 21:00 there.
  const mondayNoonTokyo = new Date('2026-12-07T03:00:00Z');
  const mondayNightTokyo = new Date('2026-12-07T12:00:00Z');
  let saved: Date;
  beforeAll(async () => {
    saved = fx.clock.current;
    await onlyFlow({
      name: 'Office hours',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      workingHours: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '09:00', end: '18:00' },
    });
  });
  afterAll(() => {
    fx.clock.current = saved;
  });
  beforeEach(endAll);

  it('lets someone ask within their working hours', async () => {
    fx.clock.current = mondayNoonTokyo;
    expect((await ask(alice)).state).toBe('approved');
  });

  it('refuses outside them with the reason, and the form says why nothing is offered', async () => {
    fx.clock.current = mondayNightTokyo;
    const refused = await refusalOf(ask(alice));
    expect(refused.code).toBe('forbidden');
    const why =
      'Flow Office hours is only open within your working hours (Mon–Fri 09:00–18:00, in your time zone Asia/Tokyo); it is Mon 21:00 there now';
    expect(refused.message).toContain(why);
    const offers = await fx.latch.queries.offers(alice);
    expect(offers.offers).toHaveLength(0);
    expect(offers.closed).toEqual([`${why}.`]);
    // Someone in London is at work at that moment.
    expect((await ask({ ...bob, timeZone: 'Europe/London' })).state).toBe('approved');
  });

  it('refuses someone whose time zone is unknown, and says how to fix it', async () => {
    fx.clock.current = mondayNoonTokyo;
    const refused = await refusalOf(ask(carol));
    expect(refused.message).toContain('your time zone is not known: set it in your chat profile');
  });
});

describe('automatic grants that follow the rota', () => {
  beforeAll(async () => {
    await onlyFlow({
      name: 'On-call read',
      grantees: { include: [{ type: 'group', id: 'pd:Primary' }] },
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      automatic: {
        whileOnCall: ['pd:Primary'],
        targets: [{ integration: 'pg', resource: billing, permission: 'read' }],
      },
    });
  });
  beforeEach(endAll);

  async function automaticFor(who: { email: string }) {
    return fx.latch.db.models.Request.find({ origin: 'automatic', 'requester.id': who.email })
      .sort({ number: 1 })
      .lean();
  }

  it('grants when a shift starts, ends the grant with the shift, and does nothing twice', async () => {
    await setRota({ Primary: [shift(erin, -MIN, 30 * MIN)] });
    expect(await fx.latch.automatic.check()).toMatchObject({ started: 1, ended: 0 });
    expect(await fx.latch.automatic.check()).toMatchObject({ started: 0, ended: 0 });
    await fx.latch.sweeps.tickUrgent();
    const [granted] = await automaticFor(erin);
    expect(granted!.state).toBe('active');
    expect(granted!.routing).toBe('on call for pd:Primary, so granted automatically while that lasts');
    const role = granted!.targets[0]!.handle!.role as string;
    expect(await roleExists(role)).toBe(true);
    // It ends when the shift does, even with no further sync or check.
    expect(Math.abs(granted!.expiresAt!.getTime() - (fx.clock.now().getTime() + 30 * MIN))).toBeLessThan(MIN);
    fx.clock.advance(31 * MIN);
    await fx.latch.sweeps.tickUrgent();
    await fx.latch.sweeps.tickUrgent();
    const [ended] = await automaticFor(erin);
    expect(ended!.state).toBe('expired');
    expect(await roleExists(role)).toBe(false);
    const actions = (await fx.latch.audit.latest(50, { subjectId: `AR-${ended!.number}` })).map(
      (e) => e.action,
    );
    expect(actions).toEqual(
      expect.arrayContaining(['request.submitted', 'request.approved', 'access.granted', 'access.expired']),
    );
  });

  it('revokes at once when someone is taken off the rota early, and extends for a shift that follows on', async () => {
    await setRota({ Primary: [shift(erin, -MIN, 30 * MIN), shift(dave, -MIN, 30 * MIN)] });
    await fx.latch.automatic.check();
    await fx.latch.sweeps.tickUrgent();
    // Erin's next shift follows her first; Dave is replaced by an override.
    await setRota({ Primary: [shift(erin, -MIN, 30 * MIN), shift(erin, 30 * MIN, 90 * MIN)] });
    expect(await fx.latch.automatic.check()).toMatchObject({ started: 0, ended: 1, extended: 1 });
    await fx.latch.sweeps.tickUrgent();
    const [daves] = await automaticFor(dave);
    expect(daves!.state).toBe('revoked');
    expect(daves!.endReasonText).toBe('no longer on call for pd:Primary');
    const erins = (await automaticFor(erin)).filter((r) => r.state === 'active');
    expect(erins).toHaveLength(1);
    expect(Math.abs(erins[0]!.expiresAt!.getTime() - (fx.clock.now().getTime() + 90 * MIN))).toBeLessThan(
      MIN,
    );
    // Dave is told, as for any revocation.
    expect(fx.notifier.of('access.revoked', `AR-${daves!.number}`)).toHaveLength(1);
  });

  it('ends what it granted when the flow is switched off', async () => {
    await setRota({ Primary: [shift(erin, -MIN)] });
    expect(await fx.latch.automatic.check()).toMatchObject({ started: 1 });
    await fx.latch.sweeps.tickUrgent();
    const [f] = await fx.latch.queries.flows(admin);
    await fx.latch.admin.setFlowEnabled(admin, f!.id, false);
    expect(await fx.latch.automatic.check()).toMatchObject({ started: 0, ended: 1 });
    await fx.latch.sweeps.tickUrgent();
    const [last] = (await automaticFor(erin)).slice(-1);
    expect(last!.state).toBe('revoked');
    expect(last!.endReasonText).toBe('flow On-call read no longer grants this automatically');
    await fx.latch.admin.setFlowEnabled(admin, f!.id, true);
  });

  it('starts nothing from a rota that has not synced recently', async () => {
    await setRota({ Primary: [shift(carol, -MIN)] });
    fx.clock.advance(2 * HOUR);
    const report = await fx.latch.automatic.check();
    expect(report.started).toBe(0);
    expect(report.problems).toEqual(['On-call read: pd:Primary has not synced recently']);
    fx.clock.advance(-2 * HOUR);
  });
});
