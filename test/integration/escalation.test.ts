/**
 * Approvals that never stall: reminders back off and stop once a step is decided or escalated;
 * an undecided step is escalated once, after the flow's time, to approvers who could not decide it
 * before and now may alone (never the requester); many reminders due for one approver become one
 * digest.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  refusalOf,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

const MIN = 60_000;
const alice = person('alice');
const bob = person('bob');
const carol = person('carol');
const esme = person('esme', ['oncall']);
const gina = person('gina');

let fx: Fixture;
let dropDb: () => Promise<void>;
let billing: string;
const flowIds: Record<string, string> = {};

async function submit(who: typeof alice, flowName: string) {
  return fx.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
    durationMinutes: 60,
    flowId: flowIds[flowName],
    source: 'api',
  });
}

async function docOf(id: string) {
  return (await fx.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean())!;
}

const reminders = (id: string) => fx.notifier.of('approval.needed', id).filter((e) => e.reminder).length;

/** Ends an approved request (granted, then revoked), so its requester may ask again. */
async function finish(id: string, who = alice) {
  await fx.latch.sweeps.tickUrgent();
  await fx.latch.requests.revoke(who, id);
  await fx.latch.sweeps.tickUrgent();
}

async function tick(minutes: number) {
  fx.clock.advance(minutes * MIN);
  await fx.latch.sweeps.tickRelaxed();
}

beforeAll(async () => {
  fx = await createFixture('escalation');
  const pg = await createPgDatabase('esc');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  const target = [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }];
  const save = async (name: string, approval: Record<string, unknown>) => {
    flowIds[name] = (await fx.latch.admin.saveFlow(admin, flow({ name, targets: target, approval }))).id;
  };
  await save('Escalating', {
    steps: [
      {
        approvers: [
          { type: 'user', id: bob.id },
          { type: 'user', id: carol.id },
        ],
        rule: { type: 'all' },
      },
    ],
    timeoutMinutes: 240,
    reminderMinutes: 30,
    escalation: { afterMinutes: 120, to: [{ type: 'group', id: 'oncall' }] },
  });
  await save('To the admins', {
    steps: [{ approvers: [{ type: 'user', id: bob.id }] }],
    timeoutMinutes: 240,
    reminderMinutes: 0,
    escalation: { afterMinutes: 60 },
  });
  await save('Gina decides', {
    steps: [{ approvers: [{ type: 'user', id: gina.id }] }],
    reminderMinutes: 30,
  });
});

afterAll(async () => {
  await fx?.close();
  await dropDb?.();
});

describe('reminders and escalation', () => {
  it('reminds with backoff, then escalates once: the escalation approver may approve only after it, and alone', async () => {
    const r = await submit(alice, 'Escalating');
    expect((await refusalOf(fx.latch.requests.approve(esme, r.id))).message).toContain(
      'not one of its approvers',
    );

    await tick(31);
    expect(reminders(r.id)).toBe(1);
    expect((await docOf(r.id)).reminders).toBe(1);
    await tick(30); // 61: the second reminder waits twice as long, until 90
    expect(reminders(r.id)).toBe(1);
    await tick(31); // 92
    expect(reminders(r.id)).toBe(2);
    expect((await docOf(r.id)).reminders).toBe(2);

    await tick(29); // 121: escalated
    const asked = fx.notifier.of('approval.needed', r.id).filter((e) => e.escalated);
    expect(asked).toHaveLength(1);
    expect(asked[0]!.approvers).toEqual({ users: [], groups: ['oncall'] });
    expect(fx.notifier.of('request.escalated', r.id)).toHaveLength(1);
    const audited = await fx.latch.audit.latest(10, { subjectId: r.id, action: 'request.escalated' });
    expect(audited).toHaveLength(1);
    expect(audited[0]!.details).toMatchObject({ step: 0, afterMinutes: 120 });

    // Once per step, and the step's reminders stop (the next was due at 210).
    await tick(100); // 221
    expect(fx.notifier.of('request.escalated', r.id)).toHaveLength(1);
    expect(reminders(r.id)).toBe(2);

    // Bob's approval alone does not decide an all-of step; Esme's (escalation) does.
    expect((await fx.latch.requests.approve(bob, r.id)).state).toBe('pending');
    expect((await fx.latch.requests.approve(esme, r.id)).state).toBe('approved');
    await finish(r.id);
  });

  it('stops reminding and never escalates once the step is decided', async () => {
    const r = await submit(alice, 'Escalating');
    await fx.latch.requests.approve(bob, r.id);
    await tick(31);
    expect(reminders(r.id)).toBe(1); // still undecided: Carol has not approved
    await fx.latch.requests.approve(carol, r.id);
    await tick(200);
    expect(reminders(r.id)).toBe(1);
    expect(fx.notifier.of('request.escalated', r.id)).toHaveLength(0);
    const doc = await docOf(r.id);
    expect(doc.remindAt).toBeUndefined();
    expect(doc.escalateAt).toBeUndefined();
    await finish(r.id);
  });

  it('escalates to the admins when the flow names nobody, and an admin who asked still cannot approve', async () => {
    const mine = await submit(admin, 'To the admins');
    const theirs = await submit(alice, 'To the admins');
    expect((await refusalOf(fx.latch.requests.approve(admin, theirs.id))).message).toMatch(
      /not an approver/i,
    );
    await tick(61);
    expect(fx.notifier.of('request.escalated', theirs.id)[0]!.approvers.users).toEqual(['admin@example.com']);
    // The requester is never asked about their own request.
    expect(fx.notifier.of('request.escalated', mine.id)[0]!.approvers.users).toEqual([]);
    expect((await refusalOf(fx.latch.requests.approve(admin, mine.id))).message).toContain(
      'cannot approve your own request',
    );
    expect((await fx.latch.requests.approve(admin, theirs.id)).state).toBe('approved');
    await fx.latch.requests.cancel(admin, mine.id);
    await finish(theirs.id);
  });
});

describe('digests', () => {
  it('gives one approver with three reminders due one digest instead of three reminders', async () => {
    const asked = await Promise.all(
      [alice, person('dave'), person('frank')].map((p) => submit(p, 'Gina decides')),
    );
    const ids = asked.map((r) => r.id);
    await tick(31);
    const digests = fx.notifier.of('approvals.digest').filter((d) => d.approver === gina.id);
    expect(digests).toHaveLength(1);
    expect(digests[0]!.waiting.map((w) => w.id).sort()).toEqual([...ids].sort());
    for (const id of ids) expect(reminders(id)).toBe(0);
    // Each request still counts its reminder: the next comes twice as late.
    for (const id of ids) expect((await docOf(id)).reminders).toBe(1);

    // Two decided, one left: the next round is an ordinary reminder.
    await fx.latch.requests.reject(gina, ids[0]!, 'no');
    await fx.latch.requests.reject(gina, ids[1]!, 'no');
    await tick(60);
    expect(fx.notifier.of('approvals.digest').filter((d) => d.approver === gina.id)).toHaveLength(1);
    expect(reminders(ids[2]!)).toBe(1);
    await fx.latch.requests.cancel(person('frank'), ids[2]!);
  });
});
