/** Extending active access, directly or once an approver agrees, within the flow's limits. */
import type { Identity } from '../../domain/identity.js';
import { canApprove } from '../../domain/approval.js';
import {
  checkExtension,
  effectiveExtension,
  checkRequestedDuration,
  extendedExpiry,
} from '../../domain/duration.js';
import { formatRequestId } from '../../domain/human-id.js';
import { STATE_LABELS } from '../../domain/request.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import { conflict, forbidden, invalid } from '../errors.js';
import { loadRequest } from '../load.js';
import { toView, type RequestView } from '../request-view.js';
import {
  MAX_GUARD_RETRIES,
  approvalContext,
  audienceOf,
  auditRefusal,
  grantSpec,
  hasPartIn,
  warnTime,
} from './shared.js';

export class ExtendUseCases {
  constructor(private readonly ctx: LifecycleContext) {}

  async extend(who: Identity, ref: string, minutes: number): Promise<RequestView> {
    const ctx = this.ctx;
    for (let attempt = 0; attempt < MAX_GUARD_RETRIES; attempt++) {
      const doc = await loadRequest(ctx, ref);
      const id = formatRequestId(doc.number);
      const isAdmin = await ctx.isAdmin(who);
      if (doc.requester.id !== who.id && !isAdmin) {
        await auditRefusal(this.ctx, who, id, 'extend', 'not the requester or an admin');
        throw forbidden(`Only the requester or an admin can extend ${id}.`);
      }
      if (doc.state !== 'active')
        throw conflict(`${id} is ${STATE_LABELS[doc.state]}; only active access can be extended.`);
      if (!doc.expiresAt) throw conflict(`${id} does not expire; there is nothing to extend.`);
      const flow = doc.flow;
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
        const approvers = step ? await audienceOf(ctx, step, doc) : { users: await ctx.admins(), groups: [] };
        const updated = await ctx.moves.move(
          { _id: doc._id, state: 'active', version: doc.version },
          { $set: { pendingExtension: { minutes: dur.minutes, requestedBy: who.id, at: now } } },
          ctx.outbox.entry('extension.requested', { minutes: dur.minutes, approvers }),
        );
        if (!updated) continue;
        const view = toView(updated);
        await ctx.record(
          {
            actor: { type: 'user', id: who.id },
            action: 'extension.requested',
            subject: { type: 'request', id },
            details: { minutes: dur.minutes },
            at: now,
          },
          { type: 'extension.requested', request: view, minutes: dur.minutes, approvers },
        );
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
      const flow = doc.flow;
      const step = flow.approval.steps[0];
      // Who may decide is checked before anything about the request's state is said.
      const may = step
        ? canApprove(step, who, approvalContext(doc))
        : (await ctx.isAdmin(who))
          ? { ok: true as const }
          : { ok: false as const, reason: 'Only admins can approve this extension' };
      if (!may.ok) {
        await auditRefusal(this.ctx, who, id, 'approve_extension', may.reason);
        throw forbidden(
          (await hasPartIn(this.ctx, who, doc))
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
    const updated = await ctx.moves.move(
      { _id: doc._id, state: 'active', version: doc.version },
      {
        $set: { expiresAt, pendingExtension: null, ...(warnAt ? { warnAt } : {}) },
        $unset: { warnedAt: 1, ...(warnAt ? {} : { warnAt: 1 }) },
        $inc: { extensionCount: 1 },
        $push: { extensions: { at: now, by, minutes, previousExpiresAt: doc.expiresAt } },
      },
      ctx.outbox.entry('access.extended', { by }),
    );
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
    await ctx.record(
      {
        actor: { type: 'user', id: by },
        action: 'access.extended',
        subject: { type: 'request', id },
        details: {
          minutes,
          expiresAt: expiresAt.toISOString(),
          previousExpiresAt: doc.expiresAt?.toISOString(),
        },
        at: now,
      },
      { type: 'access.extended', request: view, by },
    );
    return view;
  }
}
