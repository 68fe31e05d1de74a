/**
 * The guarded transitions of the sweeps (docs/ARCHITECTURE.md, "Time-driven work"): claiming a
 * bounded batch of due requests with one update that sets a lease (expiry and claim in one write),
 * keeping the lease while work runs, marking notices sent, and scheduling a retry. A worker that
 * dies leaves leases that run out, and the next sweep (any worker) takes over.
 */
import { randomUUID } from 'node:crypto';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import { EPOCH, backoff, type SweepOptions } from '../sweeps/shared.js';

export class RequestClaims {
  private nextExpiryAt: Date | null = null;

  constructor(
    private readonly ctx: LifecycleContext,
    private readonly opts: SweepOptions,
  ) {}

  /**
   * active and past expiresAt -> revoking (reason: expired), claimed by this worker in the same
   * write: on the slow store every write per revoke counts against on-time revocation.
   */
  async claimExpired(): Promise<RequestDoc[]> {
    const now = this.ctx.now();
    const { Request } = this.ctx.db.models;
    const due = { state: 'active', expiresAt: { $lte: now } };
    // Looking a little ahead in the same query tells the loop when the next expiry falls, so it can
    // wake for it instead of at the next fixed tick.
    const horizon = new Date(now.getTime() + this.opts.lookaheadMs);
    const rows = await Request.find({ state: 'active', expiresAt: { $lte: horizon } })
      .sort({ expiresAt: 1 })
      .limit(this.opts.batchSize)
      .select({ _id: 1, expiresAt: 1 })
      .lean();
    this.nextExpiryAt = rows.find((r) => r.expiresAt! > now)?.expiresAt ?? null;
    const ids = rows.filter((r) => r.expiresAt! <= now);
    if (ids.length === 0) return [];
    const token = this.newToken();
    await Request.updateMany(
      { _id: { $in: ids.map((d) => d._id) }, ...due },
      {
        $set: {
          state: 'revoking',
          endReason: 'expired',
          endedBy: 'latch',
          nextAttemptAt: now,
          attempts: 0,
          'lease.owner': token,
          'lease.until': new Date(now.getTime() + this.opts.leaseMs),
        },
        $inc: { version: 1 },
      },
    );
    return Request.find({ _id: { $in: ids.map((d) => d._id) }, 'lease.owner': token }).lean<RequestDoc[]>();
  }

  /** How long until the next expiry this worker knows of (within the look-ahead), if any. */
  msUntilNextExpiry(): number | undefined {
    return this.nextExpiryAt
      ? Math.max(0, this.nextExpiryAt.getTime() - this.ctx.now().getTime())
      : undefined;
  }

  /** The update that records a failed attempt, releases the lease and schedules the next try. */
  retryLater(targets: RequestDoc['targets'], attempts: number, error: string, now: Date) {
    return {
      $set: {
        targets,
        attempts,
        lastError: error,
        nextAttemptAt: new Date(
          now.getTime() + backoff(attempts, this.opts.retryBaseMs, this.opts.retryMaxMs),
        ),
        'lease.until': EPOCH,
      },
      $inc: { version: 1 },
    };
  }

  newToken(): string {
    return `${this.opts.owner}:${randomUUID()}`;
  }

  /** Claims due documents in `states` by setting a lease; returns the ones this call won. */
  async claim(states: string[], setState?: string): Promise<RequestDoc[]> {
    const now = this.ctx.now();
    const { Request } = this.ctx.db.models;
    const due = { state: { $in: states }, nextAttemptAt: { $lte: now }, 'lease.until': { $lte: now } };
    const ids = await Request.find(due)
      .sort({ nextAttemptAt: 1 })
      .limit(this.opts.batchSize)
      .select('_id')
      .lean();
    if (ids.length === 0) return [];
    const token = this.newToken();
    await Request.updateMany(
      { _id: { $in: ids.map((d) => d._id) }, ...due },
      {
        $set: {
          'lease.owner': token,
          'lease.until': new Date(now.getTime() + this.opts.leaseMs),
          ...(setState ? { state: setState } : {}),
        },
        $inc: { version: 1 },
      },
    );
    // Read back by _id (indexed) and keep the ones whose lease is ours: others won the race for the rest.
    return Request.find({ _id: { $in: ids.map((d) => d._id) }, 'lease.owner': token }).lean<RequestDoc[]>();
  }

  /**
   * Runs `work` on claimed requests while renewing their leases every half lease, so the claims
   * outlive slow work but not this worker. A renewal rewrites every claimed request (hundreds of
   * writes on a slow store), so work that finishes within half a lease, the usual tick, renews
   * nothing. Released leases (set to the epoch by the work's final writes) are not renewed.
   */
  async whileLeased<T>(claimed: RequestDoc[], work: () => Promise<T>): Promise<T> {
    const { Request } = this.ctx.db.models;
    const byToken = new Map<string, RequestDoc['_id'][]>();
    for (const d of claimed) {
      const token = d.lease!.owner!;
      byToken.set(token, [...(byToken.get(token) ?? []), d._id]);
    }
    let renewing: Promise<unknown> | null = null;
    const renew = () =>
      Promise.all(
        [...byToken].map(([token, ids]) =>
          Request.updateMany(
            { _id: { $in: ids }, 'lease.owner': token, 'lease.until': { $gt: EPOCH } },
            { $set: { 'lease.until': new Date(this.ctx.now().getTime() + this.opts.leaseMs) } },
          ),
        ),
      ).catch((err: unknown) => this.ctx.log.warn({ err }, 'could not renew leases'));
    const timer = setInterval(
      () => {
        if (!renewing) renewing = renew().finally(() => (renewing = null));
      },
      Math.max(50, Math.floor(this.opts.leaseMs / 2)),
    );
    try {
      return await work();
    } finally {
      clearInterval(timer);
      await renewing;
    }
  }

  /** One guarded update marks a batch as handled (so two workers never both notify), then reads it back. */
  async claimMarker(
    due: Record<string, unknown>,
    update: Record<string, Record<string, unknown>>,
    marker: string,
  ): Promise<RequestDoc[]> {
    const { Request } = this.ctx.db.models;
    const ids = await Request.find(due).limit(this.opts.batchSize).select('_id').lean();
    if (ids.length === 0) return [];
    const token = `${this.opts.owner}:${randomUUID()}`;
    await Request.updateMany(
      { _id: { $in: ids.map((d) => d._id) }, ...due },
      { ...update, $set: { ...(update.$set ?? {}), [`markers.${marker}`]: token }, $inc: { version: 1 } },
    );
    return Request.find({ _id: { $in: ids.map((d) => d._id) }, [`markers.${marker}`]: token }).lean<
      RequestDoc[]
    >();
  }
}
