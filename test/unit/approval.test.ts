import { describe, it, expect } from '@jest/globals';
import {
  canApprove,
  evaluateStep,
  stepAudience,
  unsatisfiableStep,
  type ApprovalContext,
  type ApprovalRecord,
} from '../../src/domain/approval.js';
import { approvalStepSchema, type ApprovalStep } from '../../src/domain/flow.js';
import type { Identity } from '../../src/domain/identity.js';

function person(id: string, groups: string[] = []): Identity {
  return { id, email: id, groups };
}
function approval(by: string, byGroups: string[] = []): ApprovalRecord {
  return { by, byGroups, at: new Date('2025-01-06T10:00:00Z') };
}
function step(input: unknown): ApprovalStep {
  return approvalStepSchema.parse(input);
}

const ctx: ApprovalContext = {
  requesterId: 'rita@example.com',
  resourceOwners: [],
  allowSelfApproval: false,
};
const selfOk: ApprovalContext = { ...ctx, allowSelfApproval: true };

const dbaAny = step({ approvers: [{ type: 'group', id: 'dba' }] });

describe('canApprove', () => {
  it('lets listed users, group members and resource owners approve', () => {
    const s = step({
      approvers: [
        { type: 'user', id: 'Alice@Example.com' },
        { type: 'group', id: 'dba' },
        { type: 'resource_owner' },
      ],
    });
    const withOwner = { ...ctx, resourceOwners: ['olga@example.com'] };
    expect(canApprove(s, person('alice@example.com'), withOwner)).toEqual({ ok: true });
    expect(canApprove(s, person('dave@example.com', ['dba']), withOwner)).toEqual({ ok: true });
    expect(canApprove(s, person('olga@example.com'), withOwner)).toEqual({ ok: true });
  });

  it('refuses anyone else and says who can approve', () => {
    const s = step({
      approvers: [
        { type: 'user', id: 'alice@example.com' },
        { type: 'group', id: 'dba' },
      ],
    });
    expect(canApprove(s, person('mallory@example.com', ['sre']), ctx)).toEqual({
      ok: false,
      reason: 'You are not an approver for this step (approvers: alice@example.com or group dba)',
    });
  });

  it('refuses the requester unless self-approval is allowed', () => {
    const rita = person('Rita@example.com', ['dba']);
    expect(canApprove(dbaAny, rita, ctx)).toEqual({
      ok: false,
      reason: 'You cannot approve your own request',
    });
    expect(canApprove(dbaAny, rita, selfOk)).toEqual({ ok: true });
  });

  it('does not let self-approval make a non-approver an approver', () => {
    expect(canApprove(dbaAny, person('rita@example.com', ['sre']), selfOk).ok).toBe(false);
  });
});

describe('evaluateStep: any', () => {
  it('is done after one approval', () => {
    expect(evaluateStep(dbaAny, [], ctx)).toEqual({ done: false, remaining: '1 more approval' });
    expect(evaluateStep(dbaAny, [approval('dave@example.com', ['dba'])], ctx)).toEqual({ done: true });
  });

  it('does not count the requester unless self-approval is allowed', () => {
    const own = [approval('rita@example.com', ['dba'])];
    expect(evaluateStep(dbaAny, own, ctx).done).toBe(false);
    expect(evaluateStep(dbaAny, own, selfOk).done).toBe(true);
  });

  it('does not count people who are not approvers', () => {
    expect(evaluateStep(dbaAny, [approval('mallory@example.com', ['sre'])], ctx).done).toBe(false);
  });
});

describe('evaluateStep: quorum', () => {
  const two = step({ approvers: [{ type: 'group', id: 'dba' }], rule: { type: 'quorum', count: 2 } });

  it('needs N distinct approvers', () => {
    expect(evaluateStep(two, [approval('a@example.com', ['dba'])], ctx)).toEqual({
      done: false,
      remaining: '1 more approval',
    });
    expect(evaluateStep(two, [], ctx)).toEqual({ done: false, remaining: '2 more approvals' });
    expect(
      evaluateStep(two, [approval('a@example.com', ['dba']), approval('b@example.com', ['dba'])], ctx),
    ).toEqual({ done: true });
  });

  it('does not count the same person twice', () => {
    const twice = [approval('a@example.com', ['dba']), approval('A@example.com', ['dba'])];
    expect(evaluateStep(two, twice, ctx)).toEqual({ done: false, remaining: '1 more approval' });
  });

  it('does not count the requester', () => {
    const withRequester = [approval('a@example.com', ['dba']), approval('rita@example.com', ['dba'])];
    expect(evaluateStep(two, withRequester, ctx).done).toBe(false);
    expect(evaluateStep(two, withRequester, selfOk).done).toBe(true);
  });
});

describe('evaluateStep: all', () => {
  const dbaAndSre = step({
    approvers: [
      { type: 'group', id: 'dba' },
      { type: 'group', id: 'sre' },
    ],
    rule: { type: 'all' },
  });

  it('needs every entry satisfied and says which are missing', () => {
    expect(evaluateStep(dbaAndSre, [], ctx)).toEqual({
      done: false,
      remaining: 'approval from group dba and approval from group sre',
    });
    expect(evaluateStep(dbaAndSre, [approval('d@example.com', ['dba'])], ctx)).toEqual({
      done: false,
      remaining: 'approval from group sre',
    });
    expect(
      evaluateStep(dbaAndSre, [approval('d@example.com', ['dba']), approval('s@example.com', ['sre'])], ctx),
    ).toEqual({ done: true });
  });

  it('needs distinct people: one member of both groups satisfies only one entry', () => {
    const both = approval('b@example.com', ['dba', 'sre']);
    expect(evaluateStep(dbaAndSre, [both], ctx).done).toBe(false);
    expect(evaluateStep(dbaAndSre, [both, both], ctx).done).toBe(false);
    // Assigned so both entries are covered, whatever order the approvals came in.
    expect(evaluateStep(dbaAndSre, [both, approval('d@example.com', ['dba'])], ctx)).toEqual({ done: true });
  });

  it('counts a resource owner for the resource_owner entry, but not the requester as owner', () => {
    const s = step({
      approvers: [{ type: 'user', id: 'alice@example.com' }, { type: 'resource_owner' }],
      rule: { type: 'all' },
    });
    const owned = { ...ctx, resourceOwners: ['olga@example.com', 'rita@example.com'] };
    expect(evaluateStep(s, [approval('alice@example.com')], owned)).toEqual({
      done: false,
      remaining: 'approval from a resource owner',
    });
    expect(evaluateStep(s, [approval('alice@example.com'), approval('rita@example.com')], owned).done).toBe(
      false,
    );
    expect(evaluateStep(s, [approval('alice@example.com'), approval('olga@example.com')], owned)).toEqual({
      done: true,
    });
  });

  it('never treats a step without approvers as approved', () => {
    const empty: ApprovalStep = { approvers: [], rule: { type: 'all' } };
    expect(evaluateStep(empty, [approval('a@example.com')], ctx).done).toBe(false);
  });
});

describe('unsatisfiableStep', () => {
  it('spots steps nobody but the requester could approve', () => {
    const onlyRita = step({ approvers: [{ type: 'user', id: 'rita@example.com' }] });
    expect(unsatisfiableStep(onlyRita, ctx)).toBe('rita@example.com cannot approve their own request');
    expect(unsatisfiableStep(onlyRita, selfOk)).toBeUndefined();
    const owners = step({ approvers: [{ type: 'resource_owner' }] });
    expect(unsatisfiableStep(owners, ctx)).toBe('there is no resource owner who could approve');
    expect(unsatisfiableStep(dbaAny, ctx)).toBeUndefined();
  });

  it('spots a quorum larger than the people who could approve', () => {
    const s = step({
      approvers: [
        { type: 'user', id: 'a@example.com' },
        { type: 'user', id: 'rita@example.com' },
      ],
      rule: { type: 'quorum', count: 2 },
    });
    expect(unsatisfiableStep(s, ctx)).toBe('2 approvals are needed but only 1 person can approve');
  });
});

describe('stepAudience', () => {
  it('lists users, resource owners and groups once each', () => {
    const s = step({
      approvers: [
        { type: 'user', id: 'Alice@example.com' },
        { type: 'group', id: 'dba' },
        { type: 'resource_owner' },
        { type: 'group', id: 'dba' },
      ],
    });
    expect(stepAudience(s, ['olga@example.com', 'alice@example.com'])).toEqual({
      users: ['alice@example.com', 'olga@example.com'],
      groups: ['dba'],
    });
    expect(stepAudience(dbaAny, ['olga@example.com'])).toEqual({ users: [], groups: ['dba'] });
  });
});

describe("the requester's manager", () => {
  const byManager = step({ approvers: [{ type: 'manager' }] });
  const withManager: ApprovalContext = { ...ctx, requesterManager: 'Mona@Example.com' };

  it('is a valid approver in a flow', () => {
    expect(approvalStepSchema.safeParse({ approvers: [{ type: 'manager' }] }).success).toBe(true);
    expect(approvalStepSchema.safeParse({ approvers: [{ type: 'boss' }] }).success).toBe(false);
  });

  it('lets only the manager known for the request approve', () => {
    expect(canApprove(byManager, person('mona@example.com'), withManager)).toEqual({ ok: true });
    const other = canApprove(byManager, person('olga@example.com'), withManager);
    expect(other.ok).toBe(false);
    expect(!other.ok && other.reason).toContain("the requester's manager");
    expect(canApprove(byManager, person('mona@example.com'), ctx).ok).toBe(false);
  });

  it('counts the manager once in an all-of step with another approver', () => {
    const s = step({ approvers: [{ type: 'manager' }, { type: 'group', id: 'dba' }], rule: { type: 'all' } });
    expect(evaluateStep(s, [approval('mona@example.com', ['dba'])], withManager)).toEqual({
      done: false,
      remaining: 'approval from group dba',
    });
    expect(evaluateStep(s, [approval('dan@example.com', ['dba'])], withManager)).toEqual({
      done: false,
      remaining: "approval from the requester's manager",
    });
    expect(
      evaluateStep(s, [approval('dan@example.com', ['dba']), approval('mona@example.com')], withManager),
    ).toEqual({ done: true });
  });

  it('cannot be satisfied when no manager is known, unless someone else in the step can approve', () => {
    expect(unsatisfiableStep(byManager, ctx)).toBe('your identity provider names no manager for you');
    expect(unsatisfiableStep(byManager, withManager)).toBeUndefined();
    const orDba = step({ approvers: [{ type: 'manager' }, { type: 'group', id: 'dba' }] });
    expect(unsatisfiableStep(orDba, ctx)).toBeUndefined();
    const andDba = step({
      approvers: [{ type: 'manager' }, { type: 'group', id: 'dba' }],
      rule: { type: 'all' },
    });
    expect(unsatisfiableStep(andDba, ctx)).toBe('your identity provider names no manager for you');
  });

  it('is asked by email, and only when known', () => {
    expect(stepAudience(byManager, [], 'Mona@Example.com')).toEqual({
      users: ['mona@example.com'],
      groups: [],
    });
    expect(stepAudience(byManager, [])).toEqual({ users: [], groups: [] });
  });

  it('does not let a requester approve as their own manager', () => {
    const self: ApprovalContext = { ...ctx, requesterManager: ctx.requesterId };
    expect(canApprove(byManager, person(ctx.requesterId), self).ok).toBe(false);
    expect(unsatisfiableStep(byManager, self)).toBe('rita@example.com cannot approve their own request');
  });
});
