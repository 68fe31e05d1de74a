/**
 * Break-glass reviews (docs/ARCHITECTURE.md, "Break-glass"): a request its requester approved
 * themselves in an emergency opens a review, which stays open until an admin closes it with a
 * note. This is the only code that writes the `reviews` collection (a lint rule keeps it so).
 */
import { formatRequestId, parseRequestId } from '../domain/human-id.js';
import type { Identity } from '../domain/identity.js';
import type { LifecycleContext } from './context.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import { boundedText } from './input.js';

export interface ReviewView {
  /** The request's id (`AR-12`): one review per break-glass request. */
  id: string;
  requester: { id: string; email?: string; displayName?: string };
  flowName: string;
  /** `integration:resource:permission`. */
  targets: string[];
  reason: string;
  openedAt: Date;
  state: 'open' | 'closed';
  closedBy?: string;
  closedAt?: Date;
  note?: string;
}

/** What opening a review needs to know of its request. */
export interface ReviewOpening {
  number: number;
  requester: { id: string; email?: string; displayName?: string };
  flowName: string;
  targets: string[];
  reason: string;
}

/** At most this many open reviews are listed; more than that is a process problem, not a page. */
const LIST_LIMIT = 200;

interface ReviewDoc {
  _id: string;
  requester: { id: string; email?: string; displayName?: string };
  flowName: string;
  targets?: string[];
  reason: string;
  openedAt: Date;
  state: 'open' | 'closed';
  closedBy?: string;
  closedAt?: Date;
  note?: string;
}

function toReview(d: ReviewDoc): ReviewView {
  return {
    id: d._id,
    requester: {
      id: d.requester.id,
      email: d.requester.email ?? undefined,
      displayName: d.requester.displayName ?? undefined,
    },
    flowName: d.flowName,
    targets: [...(d.targets ?? [])],
    reason: d.reason,
    openedAt: d.openedAt,
    state: d.state,
    closedBy: d.closedBy ?? undefined,
    closedAt: d.closedAt ?? undefined,
    note: d.note ?? undefined,
  };
}

export class Reviews {
  constructor(private readonly ctx: LifecycleContext) {}

  /**
   * Opens the review of request `number` before the request is stored (SubmitUseCase): a crash in
   * between leaves a review of a request that never existed, which an admin closes, rather than
   * self-approved access nobody reviews. Opening twice is a no-op.
   */
  async open(o: ReviewOpening): Promise<string> {
    const id = formatRequestId(o.number);
    await this.ctx.db.models.Review.updateOne(
      { _id: id },
      {
        $setOnInsert: {
          requestNumber: o.number,
          requester: o.requester,
          flowName: o.flowName,
          targets: o.targets,
          reason: o.reason,
          openedAt: this.ctx.now(),
          state: 'open',
        },
      },
      { upsert: true },
    );
    return id;
  }

  /** The request was not stored after all (a duplicate): its review goes with it. */
  async withdraw(number: number): Promise<void> {
    await this.ctx.db.models.Review.deleteOne({ _id: formatRequestId(number), state: 'open' });
  }

  async list(state: 'open' | 'closed' = 'open'): Promise<ReviewView[]> {
    const docs = await this.ctx.db.models.Review.find({ state })
      .sort({ openedAt: state === 'open' ? 1 : -1 })
      .limit(LIST_LIMIT)
      .lean<ReviewDoc[]>();
    return docs.map(toReview);
  }

  async get(ref: string): Promise<ReviewView | null> {
    const n = parseRequestId(ref);
    if (n === undefined) return null;
    const doc = await this.ctx.db.models.Review.findById(formatRequestId(n)).lean<ReviewDoc>();
    return doc ? toReview(doc) : null;
  }

  /**
   * Closes a review with the admin's note. The caller has checked that `who` is an admin
   * (AdminUseCases.closeReview). The person who broke the glass never reviews themselves, admin
   * or not. One guarded update: of two admins closing at once, one wins and the other is told it
   * is closed already; nothing changes for a second close.
   */
  async close(who: Identity, ref: string, note: string): Promise<ReviewView> {
    const text = boundedText(note, 'note');
    if (!text) throw invalid('Write a note: what you checked, and what follows from it.', 'note');
    const review = await this.get(ref);
    if (!review) throw notFound(`There is no break-glass review for ${ref}.`);
    if (review.state === 'closed') throw this.alreadyClosed(review);
    const mine = [who.id, who.email, ...(who.aliases ?? [])].map((n) => n?.toLowerCase());
    if (
      mine.includes(review.requester.id.toLowerCase()) ||
      (review.requester.email !== undefined && mine.includes(review.requester.email.toLowerCase()))
    ) {
      await this.ctx.audit.append({
        actor: { type: 'user', id: who.id },
        action: 'action.refused',
        subject: { type: 'request', id: review.id },
        details: { attempted: 'review.close', why: 'own break-glass request' },
        at: this.ctx.now(),
      });
      throw forbidden(`You broke the glass on ${review.id}; another admin must review it.`);
    }
    const now = this.ctx.now();
    const closed = await this.ctx.db.models.Review.findOneAndUpdate(
      { _id: review.id, state: 'open' },
      { $set: { state: 'closed', closedBy: who.id, closedAt: now, note: text } },
      { returnDocument: 'after' },
    ).lean<ReviewDoc>();
    if (!closed) {
      const now = await this.get(review.id);
      throw now ? this.alreadyClosed(now) : notFound(`There is no break-glass review for ${ref}.`);
    }
    await this.ctx.record({
      actor: { type: 'user', id: who.id },
      action: 'review.closed',
      subject: { type: 'request', id: review.id },
      details: { note: text, requester: review.requester.id },
      at: now,
    });
    return toReview(closed);
  }

  private alreadyClosed(r: ReviewView) {
    return conflict(
      `The review of ${r.id} is already closed${r.closedBy ? ` by ${r.closedBy}` : ''}${r.note ? `: “${r.note}”` : ''}.`,
    );
  }
}
