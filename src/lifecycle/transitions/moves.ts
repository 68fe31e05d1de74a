/**
 * How a request document changes (docs/ARCHITECTURE.md, "Requests and their states"): always by
 * one guarded atomic update. The guard (the filter) says what the request must still be (its
 * state, step, version or lease); the update bumps `version` and carries the outbox entries of the
 * events it causes, so an event is never written without its state change or the other way round.
 * Use-cases and sweeps decide what to change; this is the only way they change it.
 */
import type { RequestDoc } from '../../store/models.js';
import type { OutboxEntry } from '../../domain/outbox-entry.js';
import type { LifecycleContext } from '../context.js';

/** A filter that names the document(s) and the condition the change depends on. */
export type Guard = Record<string, unknown>;
/** MongoDB update operators ($set, $unset, $push, $inc...). */
export type Change = { [operator: string]: Record<string, unknown> | undefined };
type Event = OutboxEntry | undefined;

export class RequestMoves {
  constructor(private readonly ctx: LifecycleContext) {}

  /** Stores a new request with the outbox entries of its first events. */
  async create(fields: Record<string, unknown>, ...events: Event[]): Promise<RequestDoc> {
    const outbox = events.filter((e): e is OutboxEntry => e !== undefined);
    const created = await this.ctx.db.models.Request.create({
      ...fields,
      ...(outbox.length ? { outbox, notifyAt: this.ctx.now() } : {}),
    });
    return created.toObject() as unknown as RequestDoc;
  }

  /** One request: the document after the change, or null when the guard no longer holds. */
  move(guard: Guard, change: Change, ...events: Event[]): Promise<RequestDoc | null> {
    return this.ctx.db.models.Request.findOneAndUpdate(guard, this.update(change, events), {
      returnDocument: 'after',
    }).lean<RequestDoc>();
  }

  /** Every request the guard matches, with the same change; how many it matched. */
  async moveMany(
    guard: Guard,
    change: Change,
    events: Event[] = [],
    opts: { arrayFilters?: Array<Record<string, unknown>> } = {},
  ): Promise<number> {
    const r = await this.ctx.db.models.Request.updateMany(guard, this.update(change, events), opts);
    return r.matchedCount;
  }

  /** A change per request, in one round trip; how many guards held. */
  async moveEach(moves: Array<{ guard: Guard; change: Change }>): Promise<number> {
    if (moves.length === 0) return 0;
    const r = await this.ctx.db.models.Request.bulkWrite(
      moves.map((m) => ({ updateOne: { filter: m.guard, update: this.update(m.change, []) } })) as never,
      { ordered: false },
    );
    return r.matchedCount;
  }

  private update(change: Change, events: Event[]): Change {
    return this.ctx.outbox.withEvents({ ...change, $inc: { ...change.$inc, version: 1 } }, ...events);
  }
}
