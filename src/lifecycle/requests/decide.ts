/**
 * Deciding a request: approving (one atomic push per approval, so simultaneous approvals all
 * count), denying, and the requester cancelling. Who may act is checked before anything is said.
 */
import type { Identity } from '../../domain/identity.js';
import { canApprove, evaluateStep } from '../../domain/approval.js';
import { formatRequestId } from '../../domain/human-id.js';
import { STATE_LABELS } from '../../domain/request.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import { conflict, forbidden, invalid } from '../errors.js';
import { boundedText } from '../input.js';
import { loadRequest } from '../load.js';
import { toView, type RequestView } from '../request-view.js';
import {
  EPOCH,
  approvalContext,
  assertPending,
  audienceOf,
  auditRefusal,
  hasPartIn,
  stepTimers,
} from './shared.js';

export class DecideUseCases {
  constructor(private readonly ctx: LifecycleContext) {}

  /**
   * What a decision on `ref` needs before it is made (a reason?), for the channels' Approve and Deny
   * buttons. Nothing about the request is said to someone who may not decide it.
   */
  async prepareDecision(
    who: Identity,
    ref: string,
    action: 'approve' | 'reject',
  ): Promise<{ id: string; reasonRequired: boolean }> {
    const doc = await loadRequest(this.ctx, ref);
    const id = formatRequestId(doc.number);
    await this.assertMayDecide(who, doc, id, action);
    const flow = doc.flow;
    return { id, reasonRequired: action === 'reject' || flow.approval.requireReason };
  }

  /**
   * Records an approval with one atomic update that cannot lose a concurrent one (the approval is
   * pushed under a guard on state and step, not on the version). When this approval alone completes
   * the step (the first of an any-of step, the last of a quorum as read), the same update moves the
   * request on; otherwise a second guarded update does, if concurrent approvals completed it.
   */
  async approve(who: Identity, ref: string, reason?: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    await this.assertMayDecide(who, doc, id, 'approve');
    const flow = doc.flow;
    const text = boundedText(reason, 'reason');
    if (flow.approval.requireReason && !text) throw invalid('A reason is required to approve.', 'reason');
    const now = ctx.now();
    const record = { step: doc.step, by: who.id, byGroups: who.groups, at: now, reason: text || undefined };
    const step = flow.approval.steps[doc.step]!;
    // What this approval makes of the step with those read; concurrent approvals can only complete
    // it sooner, and one that completes it moves `step`, which the guard below checks.
    const predicted = evaluateStep(
      step,
      [...doc.approvals.filter((a) => a.step === doc.step), record].map((a) => ({
        by: a.by,
        byGroups: a.byGroups ?? [],
        at: a.at,
      })),
      approvalContext(doc),
    );
    const completion = predicted.done ? await this.completion(doc, who, now) : undefined;
    const progress = predicted.done
      ? undefined
      : ctx.outbox.entry('approval.recorded', { by: who.id, remaining: predicted.remaining, step: doc.step });
    const push = { $push: { approvals: record } };
    const recorded = await ctx.moves.move(
      {
        _id: doc._id,
        state: 'pending',
        step: doc.step,
        // Where any one approval decides, the first wins and later clicks are told who decided.
        approvals:
          step.rule.type === 'any'
            ? { $not: { $elemMatch: { step: doc.step } } }
            : { $not: { $elemMatch: { step: doc.step, by: who.id } } },
      },
      completion ? { ...completion.update, ...push } : push,
      ...(completion ? completion.events : [progress]),
    );
    if (!recorded) {
      const fresh = await loadRequest(ctx, ref);
      if (fresh.approvals.some((a) => a.step === doc.step && a.by === who.id))
        throw conflict(`You have already approved ${id}.`);
      if (fresh.state === 'pending' && fresh.step === doc.step) {
        const first = fresh.approvals.find((a) => a.step === doc.step);
        throw conflict(`${id} was already approved by ${first?.by ?? 'another approver'} a moment ago.`);
      }
      // Decided meanwhile: answer as if the click had come a moment later.
      if (fresh.state !== 'pending') await this.assertMayDecide(who, fresh, id, 'approve');
      // The step was completed by others meanwhile; this click was for that step, not the next.
      throw conflict(
        `Step ${doc.step + 1} of ${id} was completed meanwhile; it now waits for step ${fresh.step + 1}.`,
      );
    }
    if (completion) return this.completed(recorded, who, now, doc.step, record.reason);
    return this.advance(recorded, who, now, record.reason);
  }

  /** The update and events that complete `doc`'s current step: the next step, or approved. */
  private async completion(doc: RequestDoc, who: Identity, now: Date) {
    const ctx = this.ctx;
    const flow = doc.flow;
    const lastStep = doc.step >= flow.approval.steps.length - 1;
    const nextStep = lastStep ? undefined : flow.approval.steps[doc.step + 1]!;
    const events = nextStep
      ? [
          ctx.outbox.entry('approval.recorded', { by: who.id, step: doc.step }),
          ctx.outbox.entry('approval.needed', {
            approvers: await audienceOf(ctx, nextStep, doc),
            reminder: false,
          }),
        ]
      : [ctx.outbox.entry('request.approved', { by: who.id })];
    const update: Record<string, Record<string, unknown>> = lastStep
      ? {
          $set: {
            state: 'approved',
            decidedBy: who.id,
            decidedAt: now,
            nextAttemptAt: now,
            'lease.until': EPOCH,
          },
          $unset: { remindAt: 1, decideBy: 1, escalateAt: 1 },
        }
      : (() => {
          // The next step opens now, with its own reminders and escalation.
          const timers = stepTimers(flow, now, doc.decideBy);
          return { $set: { step: doc.step + 1, ...timers.$set }, $unset: timers.$unset };
        })();
    return { update, events };
  }

  /**
   * After an approval is recorded short of completing the step as read: completes the step (and
   * the request) when concurrent approvals made it suffice. One audit entry per approval:
   * `request.approved` for the one that decided the request, `request.approval_recorded` for the
   * others.
   */
  private async advance(doc: RequestDoc, who: Identity, now: Date, reason?: string): Promise<RequestView> {
    const ctx = this.ctx;
    const id = formatRequestId(doc.number);
    const step = doc.flow.approval.steps[doc.step]!;
    const outcome = evaluateStep(
      step,
      doc.approvals
        .filter((a) => a.step === doc.step)
        .map((a) => ({ by: a.by, byGroups: a.byGroups ?? [], at: a.at })),
      approvalContext(doc),
    );
    if (!outcome.done) {
      const view = toView(doc);
      await ctx.record(
        {
          actor: { type: 'user' as const, id: who.id },
          action: 'request.approval_recorded',
          subject: { type: 'request', id },
          details: { step: doc.step, reason, remaining: outcome.remaining },
          at: now,
        },
        { type: 'approval.recorded', request: view, by: who.id, remaining: outcome.remaining },
      );
      return view;
    }
    const { update, events } = await this.completion(doc, who, now);
    const moved = await ctx.moves.move({ _id: doc._id, state: 'pending', step: doc.step }, update, ...events);
    if (!moved) {
      // Another approval completed the step a moment earlier; this one is recorded all the same.
      await ctx.audit.append({
        actor: { type: 'user' as const, id: who.id },
        action: 'request.approval_recorded',
        subject: { type: 'request', id },
        details: { step: doc.step, reason },
        at: now,
      });
      return toView(await loadRequest(ctx, id));
    }
    return this.completed(moved, who, now, doc.step, reason);
  }

  /** Audits and tells what completing step `stepIndex` did: approved, or handed to the next step. */
  private async completed(
    moved: RequestDoc,
    who: Identity,
    now: Date,
    stepIndex: number,
    reason?: string,
  ): Promise<RequestView> {
    const ctx = this.ctx;
    const id = formatRequestId(moved.number);
    const view = toView(moved);
    if (moved.state === 'approved') {
      await ctx.record(
        {
          actor: { type: 'user', id: who.id },
          action: 'request.approved',
          subject: { type: 'request', id },
          details: { step: stepIndex, reason },
          at: now,
        },
        { type: 'request.approved', request: view, by: who.id },
      );
      ctx.kick();
      return view;
    }
    await ctx.record(
      {
        actor: { type: 'user' as const, id: who.id },
        action: 'request.approval_recorded',
        subject: { type: 'request', id },
        details: { step: stepIndex, reason },
        at: now,
      },
      { type: 'approval.recorded', request: view, by: who.id },
      {
        type: 'approval.needed',
        request: view,
        approvers: await audienceOf(ctx, moved.flow.approval.steps[moved.step]!, moved),
        reminder: false,
      },
    );
    return view;
  }

  async reject(who: Identity, ref: string, reason: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    await this.assertMayDecide(who, doc, id, 'reject');
    const text = boundedText(reason, 'reason');
    if (!text) throw invalid('Give a reason for denying the request.', 'reason');
    const now = ctx.now();
    // Guarded by state and step, not version: approvals recorded meanwhile do not void a denial.
    const updated = await ctx.moves.move(
      { _id: doc._id, state: 'pending', step: doc.step },
      {
        $set: { state: 'rejected', decidedBy: who.id, decisionReason: text, decidedAt: now },
        $unset: { openKey: 1, remindAt: 1, decideBy: 1, escalateAt: 1 },
      },
      ctx.outbox.entry('request.rejected', { by: who.id, reason: text }),
    );
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      if (fresh.state !== 'pending') await this.assertMayDecide(who, fresh, id, 'reject');
      throw conflict(
        `Step ${doc.step + 1} of ${id} was completed meanwhile; it now waits for step ${fresh.step + 1}.`,
      );
    }
    const view = toView(updated);
    await ctx.record(
      {
        actor: { type: 'user', id: who.id },
        action: 'request.rejected',
        subject: { type: 'request', id },
        details: { reason: text, step: doc.step },
        at: now,
      },
      { type: 'request.rejected', request: view, by: who.id, reason: text },
    );
    return view;
  }

  /**
   * May `who` decide this request now? Checked before anything about the request is said: someone
   * who has no part in it learns only that, and the refusal is audited. Those who do (the requester,
   * its approvers, admins) are told why not, e.g. that it was already approved.
   */
  private async assertMayDecide(
    who: Identity,
    doc: RequestDoc,
    id: string,
    action: 'approve' | 'reject',
  ): Promise<void> {
    const verb = action === 'approve' ? 'approve' : 'deny';
    const flow = doc.flow;
    const actx = approvalContext(doc);
    const step = doc.state === 'pending' ? flow.approval.steps[doc.step] : undefined;
    const may = step ? canApprove(step, who, actx) : undefined;
    if (may?.ok) return;
    if (!(await hasPartIn(this.ctx, who, doc))) {
      await auditRefusal(this.ctx, who, id, action, 'not an approver of this request');
      throw forbidden(`You cannot ${verb} ${id}: you are not one of its approvers.`);
    }
    if (doc.state !== 'pending') assertPending(doc, id);
    const reason = may && !may.ok ? may.reason : 'not an approver of the current step';
    await auditRefusal(this.ctx, who, id, action, reason);
    throw forbidden(may && !may.ok ? reason.replace('approve', verb) + '.' : `You cannot ${verb} ${id} now.`);
  }

  async cancel(who: Identity, ref: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    // Whoever asked for someone else may take it back while it waits (docs/ARCHITECTURE.md, "Asking for someone else").
    if (doc.requester.id !== who.id && doc.askedBy?.id !== who.id) {
      await auditRefusal(this.ctx, who, id, 'cancel', 'not the requester');
      throw forbidden(`Only the requester can cancel ${id}.`);
    }
    assertPending(doc, id);
    const now = ctx.now();
    const updated = await ctx.moves.move(
      { _id: doc._id, state: 'pending' },
      {
        $set: { state: 'cancelled', endedBy: who.id, endedAt: now },
        $unset: { openKey: 1, remindAt: 1, decideBy: 1, escalateAt: 1 },
      },
      ctx.outbox.entry('request.cancelled'),
    );
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      throw conflict(`${id} is ${STATE_LABELS[fresh.state]} and can no longer be cancelled.`);
    }
    const view = toView(updated);
    await ctx.record(
      {
        actor: { type: 'user', id: who.id },
        action: 'request.cancelled',
        subject: { type: 'request', id },
        at: now,
      },
      { type: 'request.cancelled', request: view },
    );
    return view;
  }
}
