/**
 * Request use-cases started by people: submit, approve, reject, cancel, revoke, revoke everything,
 * extend. Each checks on the server who may act, then moves state with one guarded update.
 */
import type { ApprovalStep, Flow } from '../domain/flow.js';
import type { Identity } from '../domain/identity.js';
import {
  canApprove,
  evaluateStep,
  stepAudience,
  unsatisfiableStep,
  type ApprovalContext,
} from '../domain/approval.js';
import {
  checkExtension,
  effectiveExtension,
  checkRequestedDuration,
  extendedExpiry,
} from '../domain/duration.js';
import { formatRequestId } from '../domain/human-id.js';
import {
  FALLBACK_FLOW_ID,
  bundleTargets,
  matchBundleFlow,
  matchFlow,
  type TargetRef,
} from '../domain/policy.js';
import { STATE_LABELS, type RequestSource, type RequestState } from '../domain/request.js';
import type { Resource } from '../domain/resource.js';
import type { RequestDoc } from '../store/models.js';
import type { LifecycleContext } from './context.js';
import { conflict, forbidden, invalid } from './errors.js';
import { boundedText } from './input.js';
import { loadRequest, nextRequestNumber } from './load.js';
import { toView, type RequestView } from './views.js';

export interface SubmitInput {
  targets?: TargetRef[];
  bundle?: string;
  flowId?: string;
  /** null asks for indefinite access. */
  durationMinutes: number | null;
  justification?: string;
  source: RequestSource;
}

const EPOCH = new Date(0);
const MAX_GUARD_RETRIES = 8;

export class RequestUseCases {
  constructor(private readonly ctx: LifecycleContext) {}

  async submit(who: Identity, input: SubmitInput): Promise<RequestView> {
    const ctx = this.ctx;
    const now = ctx.now();
    const [flows, stored] = await Promise.all([ctx.flows(), ctx.settings()]);
    // The fallback flow's default approvers are all admins, including those from LATCH_ADMINS.
    const settings = { ...stored, admins: await ctx.admins(stored) };

    let refs: TargetRef[] = input.targets ?? [];
    if (input.bundle) {
      const bundle = await ctx.bundle(input.bundle);
      if (!bundle) throw invalid(`There is no bundle called ${input.bundle}.`, 'bundle');
      refs = bundleTargets(bundle);
    }
    if (refs.length === 0) throw invalid('Choose at least one resource.', 'targets');
    const uniqueKeys = new Set(refs.map(targetKey));
    if (uniqueKeys.size !== refs.length)
      throw invalid('The same resource and permission is listed twice.', 'targets');

    const catalog = await ctx.catalog([...new Set(refs.map((r) => r.integration))]);
    const resources = refs.map((ref) => {
      const r = catalog.find((c) => c.integration === ref.integration && c.id === ref.resourceId);
      if (!r) throw invalid(`${ref.resourceId} is not a known resource of ${ref.integration}.`, 'targets');
      if (r.permissions.length > 0 && !r.permissions.includes(ref.permission)) {
        throw invalid(`${r.name} has no ${ref.permission} permission.`, 'targets');
      }
      return r;
    });

    const flow = this.pickFlow(flows, settings, who, refs, catalog, now, input);
    const viaFallback = flow.id === FALLBACK_FLOW_ID;
    const probe = {
      requesterId: who.id,
      resourceOwners: [...new Set(resources.flatMap((r) => r.owners))],
      allowSelfApproval: flow.approval.allowSelfApproval,
    };
    for (const step of flow.approval.steps) {
      const why = unsatisfiableStep(step, probe);
      if (why)
        throw forbidden(
          `${flow.name} could never approve this request: ${why}. Ask an admin to fix the flow.`,
        );
    }

    const duration = checkRequestedDuration(flow.duration, input.durationMinutes);
    if (!duration.ok) throw invalid(duration.reason, 'duration');
    const justification = boundedText(input.justification, 'justification');
    if (flow.requireJustification && !justification) {
      throw invalid(`${flow.name} asks for a justification.`, 'justification');
    }

    const autoApproved = flow.approval.steps.length === 0;
    const state: RequestState = autoApproved ? 'approved' : 'pending';
    const number = await nextRequestNumber(ctx);
    const openKey = `${who.id}|${[...uniqueKeys].sort().join(',')}`;
    const owners = [...new Set(resources.flatMap((r) => r.owners))];
    const audience = autoApproved ? { users: [], groups: [] } : stepAudience(flow.approval.steps[0]!, owners);
    const events = [
      ctx.outbox.entry('request.submitted', { approvers: audience }),
      autoApproved
        ? undefined
        : ctx.outbox.entry('approval.needed', { approvers: audience, reminder: false }),
    ].filter((e) => e !== undefined);
    let doc: RequestDoc;
    try {
      const created = await ctx.db.models.Request.create({
        number,
        requester: {
          id: who.id,
          email: who.email,
          displayName: who.displayName,
          groups: who.groups,
          timeZone: who.timeZone,
        },
        flowId: flow.id,
        flowName: flow.name,
        flow,
        viaFallback,
        bundle: input.bundle,
        targets: refs.map((ref, i) => ({
          integration: ref.integration,
          resourceId: ref.resourceId,
          resourceName: resources[i]!.name,
          resourceKind: resources[i]!.kind,
          permission: ref.permission,
          owners: resources[i]!.owners,
        })),
        durationMinutes: duration.minutes,
        justification,
        source: input.source,
        state,
        decideBy: autoApproved ? undefined : addMinutes(now, flow.approval.timeoutMinutes),
        remindAt:
          autoApproved || flow.approval.reminderMinutes === 0
            ? undefined
            : addMinutes(now, flow.approval.reminderMinutes),
        decidedAt: autoApproved ? now : undefined,
        decidedBy: autoApproved ? 'auto' : undefined,
        nextAttemptAt: now,
        lease: { until: EPOCH },
        openKey,
        // Written with the request itself: its first messages cannot be lost.
        ...(events.length ? { outbox: events, notifyAt: now } : {}),
      });
      doc = created.toObject() as RequestDoc;
    } catch (err) {
      if (isDuplicateKey(err)) {
        const existing = await ctx.db.models.Request.findOne({ openKey }).lean<RequestDoc>();
        const id = existing ? formatRequestId(existing.number) : 'another request';
        throw conflict(
          `You already have ${id} open for this access (${existing ? STATE_LABELS[existing.state as RequestState] : 'open'}).`,
        );
      }
      throw err;
    }

    const view = toView(doc);
    await ctx.audit.append([
      {
        actor: { type: 'user', id: who.id },
        action: 'request.submitted',
        subject: { type: 'request', id: view.id },
        details: {
          flow: flow.name,
          viaFallback,
          targets: view.targets.map((t) => `${t.integration}:${t.resourceName}:${t.permission}`),
          durationMinutes: duration.minutes,
          justification,
          source: input.source,
        },
        at: now,
      },
      ...(autoApproved
        ? [
            {
              actor: { type: 'system' as const, id: 'latch' },
              action: 'request.approved',
              subject: { type: 'request', id: view.id },
              details: { auto: true, flow: flow.name },
              at: now,
            },
          ]
        : []),
    ]);
    await ctx.notify({ type: 'request.submitted', request: view, approvers: audience });
    if (autoApproved) ctx.kick();
    else await ctx.notify({ type: 'approval.needed', request: view, approvers: audience, reminder: false });
    return view;
  }

  private pickFlow(
    flows: Flow[],
    settings: Parameters<typeof matchFlow>[1],
    who: Identity,
    refs: TargetRef[],
    catalog: Resource[],
    now: Date,
    input: SubmitInput,
  ): Flow {
    if (input.bundle) {
      const match = matchBundleFlow(flows, settings, who, input.bundle, now, input.flowId);
      if (!match.ok) throw forbidden(refusal(match.reasons));
      return match.flow;
    }
    const first = matchFlow(flows, settings, who, refs[0]!, catalog, now, input.flowId);
    if (!first.ok) throw forbidden(refusal(first.reasons));
    for (const ref of refs.slice(1)) {
      const next = matchFlow(flows, settings, who, ref, catalog, now, first.flow.id);
      if (!next.ok) throw forbidden(refusal(next.reasons));
    }
    return first.flow;
  }

  private audience(step: ApprovalStep, doc: RequestDoc) {
    return stepAudience(step, owners(doc));
  }

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
    const flow = doc.flow as Flow;
    return { id, reasonRequired: action === 'reject' || flow.approval.requireReason };
  }

  /**
   * Records an approval with one atomic update that cannot lose a concurrent one (the approval is
   * pushed under a guard on state and step, not on the version), then, if the step is complete,
   * moves the request on with a second guarded update that only one approver can win.
   */
  async approve(who: Identity, ref: string, reason?: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    await this.assertMayDecide(who, doc, id, 'approve');
    const flow = doc.flow as Flow;
    const text = boundedText(reason, 'reason');
    if (flow.approval.requireReason && !text) throw invalid('A reason is required to approve.', 'reason');
    const now = ctx.now();
    const record = { step: doc.step, by: who.id, byGroups: who.groups, at: now, reason: text || undefined };
    const { Request } = ctx.db.models;
    const step = flow.approval.steps[doc.step]!;
    // What this approval alone makes of the step; if it does not complete it, the progress event is
    // written with the approval (concurrent approvals can only complete it sooner).
    const predicted = evaluateStep(
      step,
      [...doc.approvals.filter((a) => a.step === doc.step), record].map((a) => ({
        by: a.by,
        byGroups: a.byGroups ?? [],
        at: a.at,
      })),
      approvalContext(doc),
    );
    const progress = predicted.done
      ? undefined
      : ctx.outbox.entry('approval.recorded', { by: who.id, remaining: predicted.remaining, step: doc.step });
    const recorded = await Request.findOneAndUpdate(
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
      ctx.outbox.withEvents({ $push: { approvals: record }, $inc: { version: 1 } }, progress),
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
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
    return this.advance(recorded, who, now, record.reason);
  }

  /**
   * After an approval is recorded: completes the step (and the request) when its approvals now
   * suffice. One audit entry per approval: `request.approved` for the one that decided the request,
   * `request.approval_recorded` for the others.
   */
  private async advance(doc: RequestDoc, who: Identity, now: Date, reason?: string): Promise<RequestView> {
    const ctx = this.ctx;
    const id = formatRequestId(doc.number);
    const flow = doc.flow as Flow;
    const step = flow.approval.steps[doc.step]!;
    const outcome = evaluateStep(
      step,
      doc.approvals
        .filter((a) => a.step === doc.step)
        .map((a) => ({ by: a.by, byGroups: a.byGroups ?? [], at: a.at })),
      approvalContext(doc),
    );
    const recorded = (remaining?: string) =>
      ctx.audit.append({
        actor: { type: 'user', id: who.id },
        action: 'request.approval_recorded',
        subject: { type: 'request', id },
        details: { step: doc.step, reason, remaining },
        at: now,
      });
    if (!outcome.done) {
      await recorded(outcome.remaining);
      const view = toView(doc);
      await ctx.notify({
        type: 'approval.recorded',
        request: view,
        by: who.id,
        remaining: outcome.remaining,
      });
      return view;
    }
    const lastStep = doc.step >= flow.approval.steps.length - 1;
    const nextStep = lastStep ? undefined : flow.approval.steps[doc.step + 1]!;
    const events = nextStep
      ? [
          ctx.outbox.entry('approval.recorded', { by: who.id, step: doc.step }),
          ctx.outbox.entry('approval.needed', { approvers: this.audience(nextStep, doc), reminder: false }),
        ]
      : [ctx.outbox.entry('request.approved', { by: who.id })];
    const update = lastStep
      ? {
          $set: {
            state: 'approved',
            decidedBy: who.id,
            decidedAt: now,
            nextAttemptAt: now,
            'lease.until': EPOCH,
          },
          $unset: { remindAt: 1, decideBy: 1 },
          $inc: { version: 1 },
        }
      : {
          $set: {
            step: doc.step + 1,
            ...(flow.approval.reminderMinutes > 0
              ? { remindAt: addMinutes(now, flow.approval.reminderMinutes) }
              : {}),
          },
          $inc: { version: 1 },
        };
    const moved = await ctx.db.models.Request.findOneAndUpdate(
      { _id: doc._id, state: 'pending', step: doc.step },
      ctx.outbox.withEvents(update, ...events),
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
    if (!moved) {
      // Another approval completed the step a moment earlier; this one is recorded all the same.
      await recorded();
      return toView(await loadRequest(ctx, id));
    }
    const view = toView(moved);
    if (lastStep) {
      await ctx.audit.append({
        actor: { type: 'user', id: who.id },
        action: 'request.approved',
        subject: { type: 'request', id },
        details: { step: doc.step, reason },
        at: now,
      });
      await ctx.notify({ type: 'request.approved', request: view, by: who.id });
      ctx.kick();
      return view;
    }
    await recorded();
    await ctx.notify({ type: 'approval.recorded', request: view, by: who.id });
    await ctx.notify({
      type: 'approval.needed',
      request: view,
      approvers: this.audience(flow.approval.steps[moved.step]!, moved),
      reminder: false,
    });
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
    const updated = await ctx.db.models.Request.findOneAndUpdate(
      { _id: doc._id, state: 'pending', step: doc.step },
      ctx.outbox.withEvents(
        {
          $set: { state: 'rejected', decidedBy: who.id, decisionReason: text, decidedAt: now },
          $unset: { openKey: 1, remindAt: 1, decideBy: 1 },
          $inc: { version: 1 },
        },
        ctx.outbox.entry('request.rejected', { by: who.id, reason: text }),
      ),
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      if (fresh.state !== 'pending') await this.assertMayDecide(who, fresh, id, 'reject');
      throw conflict(
        `Step ${doc.step + 1} of ${id} was completed meanwhile; it now waits for step ${fresh.step + 1}.`,
      );
    }
    const view = toView(updated);
    await ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'request.rejected',
      subject: { type: 'request', id },
      details: { reason: text, step: doc.step },
      at: now,
    });
    await ctx.notify({ type: 'request.rejected', request: view, by: who.id, reason: text });
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
    const flow = doc.flow as Flow;
    const actx = approvalContext(doc);
    const step = doc.state === 'pending' ? flow.approval.steps[doc.step] : undefined;
    const may = step ? canApprove(step, who, actx) : undefined;
    if (may?.ok) return;
    if (!(await this.hasPartIn(who, doc))) {
      await this.auditRefusal(who, id, action, 'not an approver of this request');
      throw forbidden(`You cannot ${verb} ${id}: you are not one of its approvers.`);
    }
    if (doc.state !== 'pending') this.assertPending(doc, id);
    const reason = may && !may.ok ? may.reason : 'not an approver of the current step';
    await this.auditRefusal(who, id, action, reason);
    throw forbidden(may && !may.ok ? reason.replace('approve', verb) + '.' : `You cannot ${verb} ${id} now.`);
  }

  /** The requester, an approver of any step (or one who approved), or an admin. */
  private async hasPartIn(who: Identity, doc: RequestDoc): Promise<boolean> {
    if (doc.requester.id === who.id) return true;
    if (doc.approvals.some((a) => a.by === who.id)) return true;
    const flow = doc.flow as Flow;
    const anyone = { ...approvalContext(doc), allowSelfApproval: true };
    if (flow.approval.steps.some((step) => canApprove(step, who, anyone).ok)) return true;
    return this.ctx.isAdmin(who);
  }

  async cancel(who: Identity, ref: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    if (doc.requester.id !== who.id) {
      await this.auditRefusal(who, id, 'cancel', 'not the requester');
      throw forbidden(`Only the requester can cancel ${id}.`);
    }
    this.assertPending(doc, id);
    const now = ctx.now();
    const updated = await this.ctx.db.models.Request.findOneAndUpdate(
      { _id: doc._id, state: 'pending' },
      ctx.outbox.withEvents(
        {
          $set: { state: 'cancelled', endedBy: who.id, endedAt: now },
          $unset: { openKey: 1, remindAt: 1, decideBy: 1 },
          $inc: { version: 1 },
        },
        ctx.outbox.entry('request.cancelled'),
      ),
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      throw conflict(`${id} is ${STATE_LABELS[fresh.state as RequestState]} and can no longer be cancelled.`);
    }
    const view = toView(updated);
    await ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'request.cancelled',
      subject: { type: 'request', id },
      at: now,
    });
    await ctx.notify({ type: 'request.cancelled', request: view });
    return view;
  }

  /** Revoke by the requester, by someone who approved this request, or by an admin. */
  async revoke(who: Identity, ref: string, reason?: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    const isRequester = doc.requester.id === who.id;
    const isApprover = doc.approvals.some((a) => a.by === who.id);
    if (!isRequester && !isApprover && !(await ctx.isAdmin(who))) {
      await this.auditRefusal(who, id, 'revoke', 'not the requester, an approver of it, or an admin');
      throw forbidden(`Only the requester, an approver of ${id} or an admin can revoke it.`);
    }
    const now = ctx.now();
    const text = boundedText(reason, 'reason') || undefined;
    const updated = await requestRevoke(ctx, doc, { by: who.id, reason: text, now });
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      throw conflict(`${id} is ${STATE_LABELS[fresh.state as RequestState]}; there is no access to revoke.`);
    }
    await ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'request.revoke_requested',
      subject: { type: 'request', id },
      details: { reason: text, as: isRequester ? 'requester' : isApprover ? 'approver' : 'admin' },
      at: now,
    });
    ctx.kick();
    return toView(updated);
  }

  /** The panic button: every active grant is revoked, and approved ones never start. Admins only. */
  async revokeAll(who: Identity, reason: string): Promise<{ revoking: number }> {
    const ctx = this.ctx;
    if (!(await ctx.isAdmin(who))) {
      await this.auditRefusal(who, '*', 'revoke_all', 'not an admin');
      throw forbidden('Only admins can revoke all access.');
    }
    const text = boundedText(reason, 'reason');
    if (!text) throw invalid('Give a reason for revoking all access.', 'reason');
    const now = ctx.now();
    const { Request } = ctx.db.models;
    const endFields = { endReason: 'revoked', endedBy: who.id, endReasonText: text };
    const [active, approved, granting] = await Promise.all([
      Request.updateMany(
        { state: 'active' },
        {
          $set: { state: 'revoking', ...endFields, nextAttemptAt: now, 'lease.until': EPOCH, attempts: 0 },
          $inc: { version: 1 },
        },
      ),
      Request.updateMany(
        { state: 'approved' },
        {
          $set: { state: 'revoked', ...endFields, endedAt: now },
          $unset: { openKey: 1 },
          $inc: { version: 1 },
        },
      ),
      Request.updateMany(
        { state: 'granting' },
        { $set: { revokeRequested: true, ...endFields }, $inc: { version: 1 } },
      ),
    ]);
    const count = active.modifiedCount + granting.modifiedCount;
    await ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'access.revoke_all',
      subject: { type: 'organisation', id: '*' },
      details: {
        reason: text,
        active: active.modifiedCount,
        granting: granting.modifiedCount,
        approvedStopped: approved.modifiedCount,
      },
      at: now,
    });
    ctx.kick();
    return { revoking: count };
  }

  async extend(who: Identity, ref: string, minutes: number): Promise<RequestView> {
    const ctx = this.ctx;
    for (let attempt = 0; attempt < MAX_GUARD_RETRIES; attempt++) {
      const doc = await loadRequest(ctx, ref);
      const id = formatRequestId(doc.number);
      const isAdmin = await ctx.isAdmin(who);
      if (doc.requester.id !== who.id && !isAdmin) {
        await this.auditRefusal(who, id, 'extend', 'not the requester or an admin');
        throw forbidden(`Only the requester or an admin can extend ${id}.`);
      }
      if (doc.state !== 'active')
        throw conflict(
          `${id} is ${STATE_LABELS[doc.state as RequestState]}; only active access can be extended.`,
        );
      if (!doc.expiresAt) throw conflict(`${id} does not expire; there is nothing to extend.`);
      const flow = doc.flow as Flow;
      const policy = effectiveExtension(flow.extension, (await ctx.settings()).selfExtension);
      const ext = checkExtension(policy, doc.extensionCount ?? 0);
      if (!ext.ok) throw forbidden(ext.reason);
      const dur = checkRequestedDuration(flow.duration, minutes);
      if (!dur.ok || dur.minutes === null)
        throw invalid(dur.ok ? 'An extension needs a duration.' : dur.reason, 'duration');
      const now = ctx.now();
      if (ext.needsApproval && !isAdmin) {
        if (doc.pendingExtension) throw conflict(`An extension of ${id} is already waiting for approval.`);
        const step = flow.approval.steps[0];
        const approvers = step ? this.audience(step, doc) : { users: await ctx.admins(), groups: [] };
        const updated = await ctx.db.models.Request.findOneAndUpdate(
          { _id: doc._id, state: 'active', version: doc.version },
          ctx.outbox.withEvents(
            {
              $set: { pendingExtension: { minutes: dur.minutes, requestedBy: who.id, at: now } },
              $inc: { version: 1 },
            },
            ctx.outbox.entry('extension.requested', { minutes: dur.minutes, approvers }),
          ),
          { returnDocument: 'after' },
        ).lean<RequestDoc>();
        if (!updated) continue;
        const view = toView(updated);
        await ctx.audit.append({
          actor: { type: 'user', id: who.id },
          action: 'extension.requested',
          subject: { type: 'request', id },
          details: { minutes: dur.minutes },
          at: now,
        });
        await ctx.notify({ type: 'extension.requested', request: view, minutes: dur.minutes, approvers });
        return view;
      }
      const updated = await this.applyExtension(doc, dur.minutes, who.id, now);
      if (!updated) continue;
      return updated;
    }
    throw conflict('The request kept changing; please try again.');
  }

  /** Approves an extension that is waiting for approval. */
  async approveExtension(who: Identity, ref: string): Promise<RequestView> {
    const ctx = this.ctx;
    for (let attempt = 0; attempt < MAX_GUARD_RETRIES; attempt++) {
      const doc = await loadRequest(ctx, ref);
      const id = formatRequestId(doc.number);
      const pending = doc.pendingExtension as { minutes: number } | null;
      const flow = doc.flow as Flow;
      const step = flow.approval.steps[0];
      // Who may decide is checked before anything about the request's state is said.
      const may = step
        ? canApprove(step, who, approvalContext(doc))
        : (await ctx.isAdmin(who))
          ? { ok: true as const }
          : { ok: false as const, reason: 'Only admins can approve this extension' };
      if (!may.ok) {
        await this.auditRefusal(who, id, 'approve_extension', may.reason);
        throw forbidden(
          (await this.hasPartIn(who, doc))
            ? `${may.reason}.`
            : `You cannot approve an extension of ${id}: you are not one of its approvers.`,
        );
      }
      if (doc.state !== 'active' || !pending) throw conflict(`${id} has no extension waiting for approval.`);
      const updated = await this.applyExtension(doc, pending.minutes, who.id, ctx.now());
      if (updated) return updated;
    }
    throw conflict('The request kept changing; please try again.');
  }

  private async applyExtension(
    doc: RequestDoc,
    minutes: number,
    by: string,
    now: Date,
  ): Promise<RequestView | null> {
    const ctx = this.ctx;
    const settings = await ctx.settings();
    const expiresAt = extendedExpiry(doc.expiresAt!, now, minutes);
    const warnAt = warnTime(expiresAt, settings.expiryWarningMinutes, now);
    const updated = await ctx.db.models.Request.findOneAndUpdate(
      { _id: doc._id, state: 'active', version: doc.version },
      ctx.outbox.withEvents(
        {
          $set: { expiresAt, pendingExtension: null, ...(warnAt ? { warnAt } : {}) },
          $unset: { warnedAt: 1, ...(warnAt ? {} : { warnAt: 1 }) },
          $inc: { version: 1, extensionCount: 1 },
          $push: { extensions: { at: now, by, minutes, previousExpiresAt: doc.expiresAt } },
        },
        ctx.outbox.entry('access.extended', { by }),
      ),
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
    if (!updated) return null;
    const id = formatRequestId(doc.number);
    // The system's own expiry (e.g. VALID UNTIL) follows; revoke at expiresAt stays the real guarantee.
    await Promise.all(
      updated.targets.map(async (t, i) => {
        if (t.grantState !== 'active' || !t.handle) return;
        try {
          const connector = await ctx.connectors.get(t.integration);
          await connector.extend(grantSpec(updated, i), t.handle as never, expiresAt);
        } catch (err) {
          ctx.log.warn({ err, request: id }, 'could not move the expiry on the target system');
        }
      }),
    );
    const view = toView(updated);
    await ctx.audit.append({
      actor: { type: 'user', id: by },
      action: 'access.extended',
      subject: { type: 'request', id },
      details: {
        minutes,
        expiresAt: expiresAt.toISOString(),
        previousExpiresAt: doc.expiresAt?.toISOString(),
      },
      at: now,
    });
    await ctx.notify({ type: 'access.extended', request: view, by });
    return view;
  }

  private assertPending(doc: RequestDoc, id: string): void {
    if (doc.state === 'pending') return;
    const who = doc.decidedBy && doc.decidedBy !== 'auto' ? ` by ${doc.decidedBy}` : '';
    const label = STATE_LABELS[doc.state as RequestState];
    const decided = ['approved', 'granting', 'active', 'revoking', 'revoked', 'expired', 'failed'].includes(
      doc.state,
    );
    throw conflict(
      decided
        ? `${id} was already approved${who}; it is ${label}.`
        : `${id} is ${label}${doc.state === 'rejected' ? who : ''}; nothing to decide.`,
    );
  }

  /** The requester saw the one-time credentials of `requestId` (a channel showed them). */
  async credentialsShown(who: Identity, requestId: string): Promise<void> {
    await this.ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'credentials.revealed',
      subject: { type: 'request', id: requestId },
      at: this.ctx.now(),
    });
  }

  /** Someone tried to open credentials that are not theirs. */
  async refuseCredentials(who: Identity, requestId: string, reason: string): Promise<void> {
    await this.auditRefusal(who, requestId, 'credentials.reveal', reason);
  }

  private async auditRefusal(who: Identity, id: string, action: string, reason: string): Promise<void> {
    await this.ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'action.refused',
      subject: { type: 'request', id },
      details: { action, reason },
      at: this.ctx.now(),
    });
  }
}

/** Moves a request toward revocation, whatever stage it is in. Returns null if it holds no access. */
export async function requestRevoke(
  ctx: LifecycleContext,
  doc: RequestDoc,
  opts: { by: string; reason?: string; now: Date },
): Promise<RequestDoc | null> {
  const { Request } = ctx.db.models;
  const endFields = { endReason: 'revoked', endedBy: opts.by, endReasonText: opts.reason };
  if (doc.state === 'active') {
    return Request.findOneAndUpdate(
      { _id: doc._id, state: 'active' },
      {
        $set: { state: 'revoking', ...endFields, nextAttemptAt: opts.now, 'lease.until': EPOCH, attempts: 0 },
        $inc: { version: 1 },
      },
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
  }
  if (doc.state === 'approved') {
    const r = await Request.findOneAndUpdate(
      { _id: doc._id, state: 'approved' },
      {
        $set: { state: 'revoked', ...endFields, endedAt: opts.now },
        $unset: { openKey: 1 },
        $inc: { version: 1 },
      },
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
    if (r) return r;
  }
  if (doc.state === 'granting' || doc.state === 'approved') {
    return Request.findOneAndUpdate(
      { _id: doc._id, state: 'granting' },
      { $set: { revokeRequested: true, ...endFields }, $inc: { version: 1 } },
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
  }
  return null;
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

export function approvalContext(doc: RequestDoc): ApprovalContext {
  const flow = doc.flow as Flow;
  return {
    requesterId: doc.requester.id,
    resourceOwners: owners(doc),
    allowSelfApproval: flow.approval.allowSelfApproval,
  };
}

function owners(doc: RequestDoc): string[] {
  return [...new Set(doc.targets.flatMap((t) => t.owners ?? []))];
}

function refusal(reasons: string[]): string {
  const lines = [...new Set(reasons)];
  return lines.length === 1
    ? `${lines[0]}.`
    : `No flow lets you ask for this:\n${lines.map((r) => `• ${r}`).join('\n')}`;
}

export function targetKey(r: TargetRef): string {
  return `${r.integration}/${r.resourceId}/${r.permission}`;
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

function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: number }).code === 11000;
}
