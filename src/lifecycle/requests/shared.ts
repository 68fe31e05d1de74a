/**
 * What the request use-cases share: guarded-update constants, who has a part in a request, the
 * refusal audit, and the grant spec a connector is called with.
 */
import type { ApprovalStep, Flow } from '../../domain/flow.js';
import { nextReminderAt } from '../../domain/reminders.js';
import type { Identity } from '../../domain/identity.js';
import { canApprove, type ApprovalContext } from '../../domain/approval.js';
import { formatRequestId } from '../../domain/human-id.js';
import { STATE_LABELS } from '../../domain/request.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import { conflict } from '../errors.js';

export const EPOCH = new Date(0);
export const MAX_GUARD_RETRIES = 8;

/** The people and groups asked to approve `step` of `doc` (identity-provider groups as their members). */
export function audienceOf(ctx: LifecycleContext, step: ApprovalStep, doc: RequestDoc) {
  return ctx.audience(step, owners(doc), doc.requester.manager);
}

/** Says why a request that is not pending cannot be decided (to those who have a part in it). */
export function assertPending(doc: RequestDoc, id: string): void {
  if (doc.state === 'pending') return;
  const who = doc.decidedBy && doc.decidedBy !== 'auto' ? ` by ${doc.decidedBy}` : '';
  const label = STATE_LABELS[doc.state];
  const decided = ['approved', 'granting', 'active', 'revoking', 'revoked', 'expired', 'failed'].includes(
    doc.state,
  );
  throw conflict(
    decided
      ? `${id} was already approved${who}; it is ${label}.`
      : `${id} is ${label}${doc.state === 'rejected' ? who : ''}; nothing to decide.`,
  );
}

/** Every refusal is audited once, by the use-case that refused. */
export async function auditRefusal(
  ctx: LifecycleContext,
  who: Identity,
  id: string,
  action: string,
  reason: string,
): Promise<void> {
  await ctx.audit.append({
    actor: { type: 'user', id: who.id },
    action: 'action.refused',
    subject: { type: 'request', id },
    details: { action, reason },
    at: ctx.now(),
  });
}

/** The requester, an approver of any step (or one who approved), or an admin. */
export async function hasPartIn(ctx: LifecycleContext, who: Identity, doc: RequestDoc): Promise<boolean> {
  if (doc.requester.id === who.id || doc.askedBy?.id === who.id) return true;
  if (doc.approvals.some((a) => a.by === who.id)) return true;
  const flow = doc.flow;
  const anyone = { ...approvalContext(doc), allowSelfApproval: true };
  if (flow.approval.steps.some((step) => canApprove(step, who, anyone).ok)) return true;
  const escalated = (doc.escalations ?? []).flatMap((e) => e.to);
  if (
    escalated.length > 0 &&
    canApprove({ approvers: [], rule: { type: 'any' } }, who, { ...anyone, escalatedTo: escalated }).ok
  )
    return true;
  return ctx.isAdmin(who);
}

export function grantSpec(doc: RequestDoc, index: number) {
  const t = doc.targets[index]!;
  return {
    // The ObjectId, not the AR number: numbers repeat across installs that share a target system.
    grantId: `${String(doc._id)}-${index}`,
    requestId: formatRequestId(doc.number),
    requesterEmail: doc.requester.email,
    resource: { id: t.resourceId, name: t.resourceName, kind: t.resourceKind },
    permission: t.permission,
    expiresAt: doc.expiresAt ?? null,
  };
}

/** The rules of `doc`'s current step: who asked, the owners, and whom the step was escalated to. */
export function approvalContext(doc: RequestDoc): ApprovalContext {
  const flow = doc.flow;
  const escalatedTo = (doc.escalations ?? []).filter((e) => e.step === doc.step).flatMap((e) => e.to);
  return {
    requesterId: doc.requester.id,
    resourceOwners: owners(doc),
    ...(doc.requester.manager ? { requesterManager: doc.requester.manager } : {}),
    allowSelfApproval: flow.approval.allowSelfApproval,
    ...(escalatedTo.length > 0 ? { escalatedTo } : {}),
    ...(doc.askedBy?.id ? { askedBy: doc.askedBy.id } : {}),
  };
}

/**
 * The timers of a step that opens at `now` (docs/ARCHITECTURE.md, "Reminders, escalation and
 * digests"): its first reminder and its escalation, each only when it comes before the time-out.
 * `$set` and `$unset` never name the same field.
 */
export function stepTimers(flow: Flow, now: Date, decideBy?: Date) {
  const remindAt = nextReminderAt(now, flow.approval.reminderMinutes, 0, decideBy);
  const after = flow.approval.escalation?.afterMinutes;
  const escalateAt = after !== undefined ? addMinutes(now, after) : undefined;
  const escalates = escalateAt && (!decideBy || escalateAt < decideBy);
  return {
    $set: { reminders: 0, ...(remindAt ? { remindAt } : {}), ...(escalates ? { escalateAt } : {}) },
    $unset: { ...(remindAt ? {} : { remindAt: 1 }), ...(escalates ? {} : { escalateAt: 1 }) },
  };
}

export function owners(doc: RequestDoc): string[] {
  return [...new Set(doc.targets.flatMap((t) => t.owners ?? []))];
}

export function addMinutes(d: Date, minutes: number): Date {
  return new Date(d.getTime() + minutes * 60_000);
}

/**
 * When to warn before `expiresAt`: the configured lead, but never more than a third of the time
 * left, so a 15-minute grant under the default 15-minute lead is warned 5 minutes before its end
 * instead of never. Grants too short for a warning of at least a minute get none.
 */
export function warnTime(expiresAt: Date, leadMinutes: number, now: Date): Date | null {
  if (leadMinutes <= 0) return null;
  const left = expiresAt.getTime() - now.getTime();
  const lead = Math.min(leadMinutes * 60_000, Math.floor(left / 3));
  if (lead < 60_000) return null;
  return new Date(expiresAt.getTime() - lead);
}

export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}
