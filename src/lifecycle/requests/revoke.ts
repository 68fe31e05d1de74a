/** Ending access before its time: one request, or everything (the panic button). */
import type { Identity } from '../../domain/identity.js';
import { formatRequestId } from '../../domain/human-id.js';
import { STATE_LABELS } from '../../domain/request.js';
import type { OutboxEntry } from '../../domain/outbox-entry.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import { conflict, forbidden, invalid } from '../errors.js';
import { boundedText } from '../input.js';
import { loadRequest } from '../load.js';
import { toView, type RequestView } from '../request-view.js';
import { EPOCH, auditRefusal } from './shared.js';

export class RevokeUseCases {
  constructor(private readonly ctx: LifecycleContext) {}

  /** Revoke by the requester, by someone who approved this request, or by an admin. */
  async revoke(who: Identity, ref: string, reason?: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    const isRequester = doc.requester.id === who.id;
    const isApprover = doc.approvals.some((a) => a.by === who.id);
    if (!isRequester && !isApprover && !(await ctx.isAdmin(who))) {
      await auditRefusal(this.ctx, who, id, 'revoke', 'not the requester, an approver of it, or an admin');
      throw forbidden(`Only the requester, an approver of ${id} or an admin can revoke it.`);
    }
    const now = ctx.now();
    const text = boundedText(reason, 'reason') || undefined;
    const updated = await requestRevoke(ctx, doc, { by: who.id, reason: text, now });
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      throw conflict(`${id} is ${STATE_LABELS[fresh.state]}; there is no access to revoke.`);
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
      await auditRefusal(this.ctx, who, '*', 'revoke_all', 'not an admin');
      throw forbidden('Only admins can revoke all access.');
    }
    const text = boundedText(reason, 'reason');
    if (!text) throw invalid('Give a reason for revoking all access.', 'reason');
    const now = ctx.now();
    const endFields = { endReason: 'revoked', endedBy: who.id, endReasonText: text };
    const [active, approved, granting] = await Promise.all([
      ctx.moves.moveMany(
        { state: 'active' },
        { $set: { state: 'revoking', ...endFields, nextAttemptAt: now, 'lease.until': EPOCH, attempts: 0 } },
      ),
      ctx.moves.moveMany(
        { state: 'approved' },
        { $set: { state: 'revoked', ...endFields, endedAt: now }, $unset: { openKey: 1 } },
      ),
      ctx.moves.moveMany({ state: 'granting' }, { $set: { revokeRequested: true, ...endFields } }),
    ]);
    const count = active + granting;
    await ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'access.revoke_all',
      subject: { type: 'organisation', id: '*' },
      details: {
        reason: text,
        active,
        granting,
        approvedStopped: approved,
      },
      at: now,
    });
    ctx.kick();
    return { revoking: count };
  }
}

/** Moves a request toward revocation, whatever stage it is in. Returns null if it holds no access. */
export async function requestRevoke(
  ctx: LifecycleContext,
  doc: RequestDoc,
  opts: { by: string; reason?: string; now: Date; declined?: boolean },
  /** Outbox entries written with the move (e.g. a decline's); the revoke sweep tells the rest. */
  ...events: Array<OutboxEntry | undefined>
): Promise<RequestDoc | null> {
  const endFields = {
    endReason: 'revoked',
    endedBy: opts.by,
    endReasonText: opts.reason,
    ...(opts.declined ? { declinedAt: opts.now } : {}),
  };
  if (doc.state === 'active') {
    return ctx.moves.move(
      { _id: doc._id, state: 'active' },
      {
        $set: { state: 'revoking', ...endFields, nextAttemptAt: opts.now, 'lease.until': EPOCH, attempts: 0 },
      },
      ...events,
    );
  }
  if (doc.state === 'approved') {
    const r = await ctx.moves.move(
      { _id: doc._id, state: 'approved' },
      { $set: { state: 'revoked', ...endFields, endedAt: opts.now }, $unset: { openKey: 1 } },
      ...events,
    );
    if (r) return r;
  }
  if (doc.state === 'granting' || doc.state === 'approved') {
    return ctx.moves.move(
      { _id: doc._id, state: 'granting' },
      { $set: { revokeRequested: true, ...endFields } },
      ...events,
    );
  }
  return null;
}
