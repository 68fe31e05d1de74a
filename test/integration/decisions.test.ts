/**
 * Decisions under pressure and from the wrong people: simultaneous approvals of an all-of step all
 * count, a bystander learns nothing about a request, refusals are audited once, reasons are asked
 * for when the flow says so, and every text and number a person or admin sends is bounded.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TEXT_LIMITS } from '../../src/domain/limits.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  schemaId,
  refusalOf as refused,
  type Fixture,
} from '../support/fixture.js';

const MIN = 60_000;
const alice = person('alice');
const bob = person('bob', ['sre']);
const carol = person('carol', ['sre']);
const eve = person('eve');
const twenty = Array.from({ length: 20 }, (_, i) => person(`approver${i}`));

let fx: Fixture;
let dropDb: () => Promise<void>;
let billing: string;
let wholeDb: string;

async function submit(who = alice, resourceId = billing, durationMinutes = 60) {
  return fx.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId, permission: 'read' }],
    durationMinutes,
    source: 'api',
  });
}

async function refusals(id: string) {
  return fx.latch.audit.latest(100, { subjectId: id, action: 'action.refused' });
}

beforeAll(async () => {
  fx = await createFixture('decisions');
  const pg = await createPgDatabase('dec');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  wholeDb = `db:${pg.database}`;
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Twenty keys',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: {
        steps: [
          { approvers: twenty.map((p) => ({ type: 'user' as const, id: p.id })), rule: { type: 'all' } },
        ],
      },
    }),
  );
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Reasoned',
      targets: [{ integration: 'pg', include: [{ id: wholeDb }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'group', id: 'sre' }] }], requireReason: true },
      duration: { choicesMinutes: [15, 60] },
    }),
  );
});

afterAll(async () => {
  await fx?.close();
  await dropDb?.();
});

describe('simultaneous approvals', () => {
  it('all count when a step needs every one of 20 approvers', async () => {
    const req = await submit();
    const results = await Promise.allSettled(twenty.map((p) => fx.latch.requests.approve(p, req.id)));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(doc!.approvals).toHaveLength(20);
    expect(doc!.state).toBe('approved');
    expect(fx.notifier.of('request.approved', req.id)).toHaveLength(1);
    const approved = await fx.latch.audit.latest(50, { subjectId: req.id, action: 'request.approved' });
    const recorded = await fx.latch.audit.latest(50, {
      subjectId: req.id,
      action: 'request.approval_recorded',
    });
    expect(approved.length + recorded.length).toBe(20);
    expect(approved).toHaveLength(1);
    await fx.latch.sweeps.tickUrgent();
    expect(fx.notifier.of('access.granted', req.id)).toHaveLength(1);
    await fx.latch.requests.revoke(alice, req.id);
    await fx.latch.sweeps.tickUrgent();
  });
});

describe('a bystander', () => {
  it('learns nothing about a request from Approve, Deny or Extend, and each refusal is audited once', async () => {
    const req = await submit();
    await Promise.all(twenty.map((p) => fx.latch.requests.approve(p, req.id)));
    await fx.latch.sweeps.tickUrgent();
    const before = (await refusals(req.id)).length;
    const answers = [
      await refused(fx.latch.requests.approve(eve, req.id)),
      await refused(fx.latch.requests.prepareDecision(eve, req.id, 'reject')),
      await refused(fx.latch.requests.reject(eve, req.id, 'no')),
      await refused(fx.latch.requests.extend(eve, req.id, 60)),
      await refused(fx.latch.requests.approveExtension(eve, req.id)),
      await refused(fx.latch.requests.cancel(eve, req.id)),
    ];
    for (const a of answers) {
      expect(a.code).toBe('forbidden');
      // Neither the state, nor who approved, nor who asked.
      expect(a.message).not.toMatch(/active|approved by|approver0|alice/);
    }
    expect((await refusals(req.id)).length - before).toBe(answers.length);
    // The requester and the approvers are told what happened.
    expect((await refused(fx.latch.requests.approve(twenty[0]!, req.id))).message).toMatch(
      /already approved/,
    );
    expect((await refused(fx.latch.requests.prepareDecision(alice, req.id, 'reject'))).message).toMatch(
      /already approved/,
    );
    await fx.latch.requests.revoke(alice, req.id);
    await fx.latch.sweeps.tickUrgent();
  });
});

describe('a flow that requires an approval reason', () => {
  it('says so before the decision, and takes the reason with the approval', async () => {
    const req = await submit(alice, wholeDb, 60);
    expect(await fx.latch.requests.prepareDecision(bob, req.id, 'approve')).toEqual({
      id: req.id,
      reasonRequired: true,
    });
    expect((await refused(fx.latch.requests.approve(bob, req.id))).field).toBe('reason');
    const approved = await fx.latch.requests.approve(bob, req.id, 'INC-7, checked with the team');
    expect(approved.state).toBe('approved');
    expect(approved.approvals[0]!.reason).toBe('INC-7, checked with the team');
    await fx.latch.sweeps.tickUrgent();
    await fx.latch.requests.revoke(alice, approved.id);
    await fx.latch.sweeps.tickUrgent();
  });
});

describe('the expiry warning', () => {
  it('comes for a 15-minute grant under the default 15-minute lead, a third of the way before its end', async () => {
    const req = await submit(alice, wholeDb, 15);
    await fx.latch.requests.approve(bob, req.id, 'ok');
    await fx.latch.sweeps.tickUrgent();
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(doc!.state).toBe('active');
    expect(doc!.warnAt!.getTime()).toBe(doc!.expiresAt!.getTime() - 5 * MIN);
    fx.clock.advance(10 * MIN + 1);
    await fx.latch.sweeps.tickRelaxed();
    expect(fx.notifier.of('access.expiring', req.id)).toHaveLength(1);
    await fx.latch.requests.revoke(alice, req.id);
    await fx.latch.sweeps.tickUrgent();
  });
});

describe('bounds', () => {
  it('refuse an over-long justification or reason without storing it', async () => {
    const long = 'x'.repeat(TEXT_LIMITS.justification + 1);
    const err = await refused(
      fx.latch.requests.submit(alice, {
        targets: [{ integration: 'pg', resourceId: wholeDb, permission: 'read' }],
        durationMinutes: 60,
        justification: long,
        source: 'api',
      }),
    );
    expect(err.field).toBe('justification');
    expect(await fx.db.models.Request.countDocuments({ justification: long })).toBe(0);
    const req = await submit(alice, wholeDb, 60);
    expect(
      (await refused(fx.latch.requests.reject(bob, req.id, 'y'.repeat(TEXT_LIMITS.reason + 1)))).field,
    ).toBe('reason');
    await fx.latch.requests.cancel(alice, req.id);
  });

  it('refuse flows with impossible durations or quorums when they are saved', async () => {
    const base = {
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
    };
    const huge = await refused(
      fx.latch.admin.saveFlow(admin, flow({ name: 'Forever-ish', ...base, duration: { maxMinutes: 1e15 } })),
    );
    expect(huge.code).toBe('invalid');
    expect(huge.message).toMatch(/duration/);
    const quorum = await refused(
      fx.latch.admin.saveFlow(
        admin,
        flow({
          name: 'Quorum of three',
          ...base,
          approval: {
            steps: [
              {
                approvers: [
                  { type: 'user', id: bob.id },
                  { type: 'user', id: carol.id },
                ],
                rule: { type: 'quorum', count: 3 },
              },
            ],
          },
        }),
      ),
    );
    expect(quorum.code).toBe('invalid');
    expect(quorum.message).toMatch(/quorum|approvers/);
    const tooMany = await refused(
      fx.latch.admin.saveFlow(
        admin,
        flow({
          name: 'Crowd',
          ...base,
          approval: {
            steps: [
              {
                approvers: Array.from({ length: 10_000 }, (_, i) => ({
                  type: 'user' as const,
                  id: `u${i}@example.com`,
                })),
              },
            ],
          },
        }),
      ),
    );
    expect(tooMany.code).toBe('invalid');
    const names = (await fx.latch.ctx.flows()).map((f) => f.name);
    expect(names).not.toContain('Forever-ish');
    expect(names).not.toContain('Quorum of three');
    expect(names).not.toContain('Crowd');
  });
});
