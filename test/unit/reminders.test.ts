import { describe, expect, it } from '@jest/globals';
import { flowSchema } from '../../src/domain/flow.js';
import {
  DIGEST_THRESHOLD,
  REMINDER_GAP_CAP_MINUTES,
  nextReminderAt,
  planReminders,
  reminderGapMinutes,
} from '../../src/domain/reminders.js';
import { canApprove, evaluateStep, type ApprovalContext } from '../../src/domain/approval.js';
import { flow } from '../support/fixture.js';

const MIN = 60_000;
const t0 = new Date('2025-03-03T09:00:00Z');

/** The minutes after the step opened at which each reminder comes, until none is scheduled. */
function schedule(reminderMinutes: number, timeoutMinutes: number): number[] {
  const decideBy = new Date(t0.getTime() + timeoutMinutes * MIN);
  const at: number[] = [];
  let from = t0;
  for (let sent = 0; sent < 100; sent++) {
    const next = nextReminderAt(from, reminderMinutes, sent, decideBy);
    if (!next) break;
    at.push((next.getTime() - t0.getTime()) / MIN);
    from = next;
  }
  return at;
}

describe('reminder backoff', () => {
  it('doubles each gap from the first, and stops before the time-out', () => {
    expect(schedule(30, 240)).toEqual([30, 90, 210]);
  });

  it('reminds a flow saved with the defaults at 1, 3, 7 and 15 hours', () => {
    const defaults = flowSchema.parse(
      flow({ name: 'Defaults', targets: [{ integration: 'pg', permissions: ['read'] }] }),
    );
    expect(defaults.approval.reminderMinutes).toBe(60);
    expect(defaults.approval.escalation).toBeUndefined();
    expect(schedule(defaults.approval.reminderMinutes, defaults.approval.timeoutMinutes)).toEqual([
      60, 180, 420, 900,
    ]);
  });

  it('never waits more than a day between reminders, however long the time-out', () => {
    const week = schedule(6 * 60, 7 * 24 * 60);
    const gaps = week.map((m, i) => m - (week[i - 1] ?? 0));
    expect(gaps.slice(0, 3)).toEqual([360, 720, 1440]);
    expect(Math.max(...gaps)).toBe(REMINDER_GAP_CAP_MINUTES);
    expect(week.length).toBeGreaterThan(6);
    expect(reminderGapMinutes(60, 1000)).toBe(REMINDER_GAP_CAP_MINUTES);
  });

  it('sends none when reminders are off', () => {
    expect(schedule(0, 240)).toEqual([]);
  });
});

describe('digests', () => {
  it(`gives a person with ${DIGEST_THRESHOLD} or more due reminders one digest, and the others their reminders`, () => {
    const plan = planReminders([
      { key: 'r1', users: ['gina@example.com', 'hal@example.com'], groups: [] },
      { key: 'r2', users: ['Gina@Example.com'], groups: ['dba'] },
      { key: 'r3', users: ['gina@example.com', 'hal@example.com'], groups: [] },
    ]);
    expect([...plan.digests]).toEqual([['gina@example.com', ['r1', 'r2', 'r3']]]);
    expect(plan.individual.get('r1')).toEqual({ users: ['hal@example.com'], groups: [] });
    // Groups are left to the request's own reminder: their members are the channel's to find.
    expect(plan.individual.get('r2')).toEqual({ users: [], groups: ['dba'] });
  });

  it('keeps separate reminders below the threshold', () => {
    const plan = planReminders([
      { key: 'r1', users: ['gina@example.com'], groups: [] },
      { key: 'r2', users: ['gina@example.com'], groups: [] },
    ]);
    expect(plan.digests.size).toBe(0);
    expect(plan.individual.get('r2')).toEqual({ users: ['gina@example.com'], groups: [] });
  });
});

describe('escalation in the flow schema', () => {
  const base = flow({ name: 'E', targets: [{ integration: 'pg', permissions: ['read'] }] });

  it('accepts an escalation before the time-out; `to` defaults to empty (the admins)', () => {
    const f = flowSchema.parse({
      ...base,
      approval: {
        steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }],
        escalation: { afterMinutes: 120 },
      },
    });
    expect(f.approval.escalation).toEqual({ afterMinutes: 120, to: [] });
  });

  it('refuses an escalation at or after the time-out, on its field', () => {
    const r = flowSchema.safeParse({
      ...base,
      approval: { timeoutMinutes: 60, escalation: { afterMinutes: 60, to: [] } },
    });
    expect(r.success).toBe(false);
    const issue = r.error!.issues[0]!;
    expect(issue.path).toEqual(['approval', 'escalation', 'afterMinutes']);
    expect(issue.message).toContain('before the time-out');
  });
});

describe('approving an escalated step', () => {
  const step = {
    approvers: [
      { type: 'user' as const, id: 'bob@example.com' },
      { type: 'user' as const, id: 'carol@example.com' },
    ],
    rule: { type: 'all' as const },
  };
  const ctx: ApprovalContext = {
    requesterId: 'rita@example.com',
    resourceOwners: [],
    allowSelfApproval: false,
  };
  const escalated = {
    ...ctx,
    escalatedTo: [
      { type: 'group' as const, id: 'oncall' },
      { type: 'user' as const, id: 'rita@example.com' },
    ],
  };
  const esme = { id: 'esme@example.com', email: 'esme@example.com', groups: ['oncall'] };
  const at = new Date();

  it('lets an escalation approver approve only once the step is escalated, and decide it alone', () => {
    expect(canApprove(step, esme, ctx).ok).toBe(false);
    expect(canApprove(step, esme, escalated).ok).toBe(true);
    expect(evaluateStep(step, [{ by: esme.id, byGroups: ['oncall'], at }], ctx).done).toBe(false);
    expect(evaluateStep(step, [{ by: esme.id, byGroups: ['oncall'], at }], escalated).done).toBe(true);
    // The step's own approvers still need each other.
    expect(evaluateStep(step, [{ by: 'bob@example.com', byGroups: [], at }], escalated).done).toBe(false);
  });

  it('still refuses the requester, even when the escalation names them', () => {
    const rita = { id: 'rita@example.com', email: 'rita@example.com', groups: [] };
    expect(canApprove(step, rita, escalated)).toEqual({
      ok: false,
      reason: 'You cannot approve your own request',
    });
    expect(evaluateStep(step, [{ by: rita.id, byGroups: [], at }], escalated).done).toBe(false);
  });
});
