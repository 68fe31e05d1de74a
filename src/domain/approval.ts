import type { Approver, ApprovalStep } from './flow.js';
import { normalizeEmail, type Identity } from './identity.js';

export interface ApprovalRecord {
  /** Approver identity id. */
  by: string;
  /** The approver's groups when they approved, so a later group change does not undo the approval. */
  byGroups: string[];
  at: Date;
}
export interface ApprovalContext {
  requesterId: string;
  resourceOwners: string[];
  /**
   * The requester's manager's email, resolved when they asked (docs/ARCHITECTURE.md, "Flows that
   * use context"); absent when no context source names one, so a manager approver matches nobody.
   */
  requesterManager?: string;
  allowSelfApproval: boolean;
  /**
   * Approvers the step was escalated to (docs/ARCHITECTURE.md, "Reminders, escalation and
   * digests"): they may decide it besides its own approvers, and one approval of theirs completes it.
   */
  escalatedTo?: readonly Approver[];
  /**
   * Who asked, when the request is for someone else (docs/ARCHITECTURE.md, "Asking for someone
   * else"): they may not approve it either, unless self-approval is allowed.
   */
  askedBy?: string;
}
export type CanApprove = { ok: true } | { ok: false; reason: string };
export type StepOutcome = { done: true } | { done: false; remaining: string };

function sameId(a: string, b: string): boolean {
  return normalizeEmail(a) === normalizeEmail(b);
}

/** The people approver entries resolve to for one request. */
type Resolved = Pick<ApprovalContext, 'resourceOwners' | 'requesterManager'>;

function satisfies(entry: Approver, by: string, byGroups: readonly string[], people: Resolved): boolean {
  switch (entry.type) {
    case 'user':
      return sameId(entry.id, by);
    case 'group':
      return byGroups.includes(entry.id);
    case 'resource_owner':
      return people.resourceOwners.some((o) => sameId(o, by));
    case 'manager':
      return people.requesterManager !== undefined && sameId(people.requesterManager, by);
    case 'on_call':
      // Synced on-call groups list a person only while their shift covers the present.
      return byGroups.includes(entry.schedule);
  }
}

function describeEntry(entry: Approver): string {
  switch (entry.type) {
    case 'user':
      return entry.id;
    case 'group':
      return `group ${entry.id}`;
    case 'resource_owner':
      return 'a resource owner';
    case 'on_call':
      return `whoever is on call for ${entry.schedule}`;
    case 'manager':
      return "the requester's manager";
  }
}

/** "alice@example.com, group dba or a resource owner". */
export function describeApprovers(step: ApprovalStep): string {
  const names = step.approvers.map(describeEntry);
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** Is `by` among the approvers the step was escalated to? */
function byEscalation(by: string, byGroups: readonly string[], ctx: ApprovalContext): boolean {
  return (ctx.escalatedTo ?? []).some((e) => satisfies(e, by, byGroups, ctx));
}

/** "alice@example.com or group dba" for a list of approvers. */
export function describeApproverList(approvers: readonly Approver[]): string {
  const names = approvers.map(describeEntry);
  if (names.length <= 1) return names.join('');
  return `${names.slice(0, -1).join(', ')} or ${names[names.length - 1]}`;
}

/** May `who` approve this step? */
export function canApprove(step: ApprovalStep, who: Identity, ctx: ApprovalContext): CanApprove {
  if (sameId(who.id, ctx.requesterId) && !ctx.allowSelfApproval) {
    return { ok: false, reason: 'You cannot approve your own request' };
  }
  if (ctx.askedBy && sameId(who.id, ctx.askedBy) && !ctx.allowSelfApproval) {
    return { ok: false, reason: 'You cannot approve a request you asked for' };
  }
  if (
    !step.approvers.some((e) => satisfies(e, who.id, who.groups, ctx)) &&
    !byEscalation(who.id, who.groups, ctx)
  ) {
    return {
      ok: false,
      reason: `You are not an approver for this step (approvers: ${describeApprovers(step)})`,
    };
  }
  return { ok: true };
}

/**
 * Approvals that count: by an approver of this step, never the requester unless self-approval is
 * allowed, one per person. Re-checked here so a stale or replayed record cannot tip a step over.
 */
function countedApprovals(
  step: ApprovalStep,
  approvals: ApprovalRecord[],
  ctx: ApprovalContext,
): ApprovalRecord[] {
  const seen = new Set<string>();
  const counted: ApprovalRecord[] = [];
  for (const a of approvals) {
    const id = normalizeEmail(a.by);
    if (seen.has(id)) continue;
    if (!ctx.allowSelfApproval && sameId(id, ctx.requesterId)) continue;
    if (!ctx.allowSelfApproval && ctx.askedBy && sameId(id, ctx.askedBy)) continue;
    if (
      !step.approvers.some((e) => satisfies(e, a.by, a.byGroups, ctx)) &&
      !byEscalation(a.by, a.byGroups, ctx)
    )
      continue;
    seen.add(id);
    counted.push(a);
  }
  return counted;
}

function approvalsText(n: number): string {
  return `${n} more approval${n === 1 ? '' : 's'}`;
}

/**
 * Entries of an `all` step left unsatisfied by the best assignment of distinct approvals to
 * entries (bipartite matching: one person approving cannot satisfy both "group dba" and
 * "group sre" even when in both).
 */
function unmatchedEntries(step: ApprovalStep, approvals: ApprovalRecord[], people: Resolved): Approver[] {
  const entries = step.approvers;
  const fits = entries.map((e) =>
    approvals.map((a, j) => (satisfies(e, a.by, a.byGroups, people) ? j : -1)).filter((j) => j >= 0),
  );
  const approvalOwner = new Array<number>(approvals.length).fill(-1);
  const augment = (i: number, visited: Set<number>): boolean => {
    for (const j of fits[i] ?? []) {
      if (visited.has(j)) continue;
      visited.add(j);
      const current = approvalOwner[j] ?? -1;
      if (current === -1 || augment(current, visited)) {
        approvalOwner[j] = i;
        return true;
      }
    }
    return false;
  };
  const matched = new Set<number>();
  entries.forEach((_, i) => {
    if (augment(i, new Set())) matched.add(i);
  });
  // Entries that lost their approval to a later augmenting path stay matched: augmenting never unmatches an entry.
  return entries.filter((_, i) => !matched.has(i));
}

/** Given the approvals recorded for this step, is it satisfied? */
export function evaluateStep(
  step: ApprovalStep,
  approvals: ApprovalRecord[],
  ctx: ApprovalContext,
): StepOutcome {
  // An empty `all` would otherwise be vacuously satisfied; no approvers must never mean approved.
  if (step.approvers.length === 0) return { done: false, remaining: 'an approver (none is configured)' };
  const counted = countedApprovals(step, approvals, ctx);
  // Escalation exists because the step's own approvers did not decide: waiting for the rest of
  // an all-of or quorum step would stall it again.
  if (counted.some((a) => byEscalation(a.by, a.byGroups, ctx))) return { done: true };
  switch (step.rule.type) {
    case 'any':
      return counted.length >= 1 ? { done: true } : { done: false, remaining: approvalsText(1) };
    case 'quorum': {
      const missing = step.rule.count - counted.length;
      return missing <= 0 ? { done: true } : { done: false, remaining: approvalsText(missing) };
    }
    case 'all': {
      const open = unmatchedEntries(step, counted, ctx);
      if (open.length === 0) return { done: true };
      return { done: false, remaining: open.map((e) => `approval from ${describeEntry(e)}`).join(' and ') };
    }
  }
}

/** Why a manager step cannot be decided: the sync names no manager for the requester. */
export const NO_MANAGER = 'your identity provider names no manager for you';

/**
 * Why this step can never be satisfied, when that is knowable without group membership: e.g. the
 * only approver is the requester, or resource owners must approve and there are none. Lets the
 * caller fail or reroute a request instead of letting it wait for its time-out.
 */
export function unsatisfiableStep(step: ApprovalStep, ctx: ApprovalContext): string | undefined {
  if (step.approvers.length === 0) return 'this step has no approvers';
  const eligible = (ids: string[]) =>
    ids
      .map(normalizeEmail)
      .filter(
        (id) =>
          ctx.allowSelfApproval ||
          (!sameId(id, ctx.requesterId) && !(ctx.askedBy && sameId(id, ctx.askedBy))),
      );
  const candidates = (e: Approver): string[] | 'group' => {
    if (e.type === 'group' || e.type === 'on_call') return 'group';
    if (e.type === 'manager') return eligible(ctx.requesterManager ? [ctx.requesterManager] : []);
    return eligible(e.type === 'user' ? [e.id] : ctx.resourceOwners);
  };
  const describe = (e: Approver) =>
    e.type === 'resource_owner'
      ? 'there is no resource owner who could approve'
      : e.type === 'manager' && !ctx.requesterManager
        ? NO_MANAGER
        : e.type === 'manager'
          ? `${ctx.requesterManager} cannot approve their own request`
          : `${e.type === 'user' ? e.id : describeEntry(e)} cannot approve their own request`;
  const blocked = step.approvers.filter((e) => candidates(e).length === 0);
  if (step.rule.type === 'all') return blocked.length > 0 ? blocked.map(describe).join('; ') : undefined;
  if (blocked.length === step.approvers.length) return blocked.map(describe).join('; ');
  if (step.rule.type === 'quorum') {
    const people = step.approvers.map(candidates);
    if (people.includes('group')) return undefined;
    const distinct = new Set(people.flatMap((p) => (p === 'group' ? [] : p)));
    if (distinct.size < step.rule.count) {
      return `${step.rule.count} approvals are needed but only ${distinct.size === 1 ? '1 person' : `${distinct.size} people`} can approve`;
    }
  }
  return undefined;
}

/**
 * Identity ids of the users explicitly listed plus resource owners and the requester's manager,
 * and the group names, to notify for a step.
 */
export function stepAudience(
  step: ApprovalStep,
  resourceOwners: string[],
  requesterManager?: string,
): { users: string[]; groups: string[] } {
  const users: string[] = [];
  const groups: string[] = [];
  const addUser = (id: string) => {
    const n = normalizeEmail(id);
    if (!users.includes(n)) users.push(n);
  };
  for (const e of step.approvers) {
    if (e.type === 'user') addUser(e.id);
    else if (e.type === 'group' || e.type === 'on_call') {
      const g = e.type === 'group' ? e.id : e.schedule;
      if (!groups.includes(g)) groups.push(g);
    } else if (e.type === 'manager') {
      if (requesterManager) addUser(requesterManager);
    } else resourceOwners.forEach(addUser);
  }
  return { users, groups };
}
