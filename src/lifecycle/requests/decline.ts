/**
 * Declining access someone else asked for you (docs/ARCHITECTURE.md, "Asking for someone else"):
 * only the person it is for may, at any stage. Waiting, it ends cancelled; approved or active, it
 * is revoked through the usual path. Either way the asker is told (`request.declined`).
 */
import type { Identity } from '../../domain/identity.js';
import { formatRequestId } from '../../domain/human-id.js';
import { STATE_LABELS } from '../../domain/request.js';
import type { LifecycleContext } from '../context.js';
import { conflict, forbidden } from '../errors.js';
import { loadRequest } from '../load.js';
import { toView, type RequestView } from '../request-view.js';
import { requestRevoke } from './revoke.js';
import { auditRefusal } from './shared.js';

export const DECLINED_TEXT = 'declined by the person it was for';

export class DeclineUseCase {
  constructor(private readonly ctx: LifecycleContext) {}

  async decline(who: Identity, ref: string): Promise<RequestView> {
    const ctx = this.ctx;
    const doc = await loadRequest(ctx, ref);
    const id = formatRequestId(doc.number);
    if (doc.requester.id !== who.id || !doc.askedBy?.id) {
      const why = doc.requester.id === who.id ? 'asked by themselves' : 'not the person it is for';
      await auditRefusal(ctx, who, id, 'decline', why);
      throw forbidden(
        doc.requester.id === who.id
          ? `You asked for ${id} yourself: cancel or revoke it instead.`
          : `Only the person ${id} is for can decline it.`,
      );
    }
    const now = ctx.now();
    const told = () => ctx.outbox.entry('request.declined', { by: who.id });
    const updated =
      doc.state === 'pending'
        ? await ctx.moves.move(
            { _id: doc._id, state: 'pending' },
            {
              $set: {
                state: 'cancelled',
                endedBy: who.id,
                endedAt: now,
                endReasonText: DECLINED_TEXT,
                declinedAt: now,
              },
              $unset: { openKey: 1, remindAt: 1, decideBy: 1, escalateAt: 1 },
            },
            told(),
          )
        : await requestRevoke(ctx, doc, { by: who.id, reason: DECLINED_TEXT, now, declined: true }, told());
    if (!updated) {
      const fresh = await loadRequest(ctx, ref);
      throw conflict(`${id} is ${STATE_LABELS[fresh.state]}; there is nothing left to decline.`);
    }
    const view = toView(updated);
    await ctx.record(
      {
        actor: { type: 'user', id: who.id },
        action: 'request.declined',
        subject: { type: 'request', id },
        details: { askedBy: doc.askedBy.id, was: doc.state },
        at: now,
      },
      { type: 'request.declined', request: view, by: who.id },
    );
    ctx.kick();
    return view;
  }
}
