/**
 * Time-driven state changes (docs/ARCHITECTURE.md, "Time-driven work"). Each sweep claims a bounded batch of due
 * requests with one guarded update that sets a lease, does the work, and records the outcome in one
 * bulk write. A worker that dies leaves leases that run out; the next sweep (any worker) takes over.
 */
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import type { Flow } from '../domain/flow.js';
import { stepAudience } from '../domain/approval.js';
import { formatRequestId } from '../domain/human-id.js';

import type { RequestDoc } from '../store/models.js';
import type { LifecycleContext } from './context.js';
import type { GrantedCredentials } from './notifier.js';
import { addMinutes, grantSpec, warnTime } from './requests/index.js';
import { extensionOfferFor, toView } from './views.js';
import type { AuditEvent } from '../audit/audit-log.js';
import { PartialGrantError, type GrantHandle } from '../connectors/types.js';

const EPOCH = new Date(0);

export interface SweepOptions {
  /** Identifies this worker in leases (host:pid:random). */
  owner: string;
  leaseMs: number;
  batchSize: number;
  /** Connector calls in flight at once. */
  concurrency: number;
  /** Grant attempts before the request fails (and what was granted is taken back). */
  maxGrantAttempts: number;
  /** Revoke retries back off from retryBaseMs doubling up to retryMaxMs; admins hear after alertAfter failures. */
  retryBaseMs: number;
  retryMaxMs: number;
  alertAfter: number;
  /** How far ahead the expiry sweep looks to learn when the next expiry falls. */
  lookaheadMs: number;
}

export const DEFAULT_SWEEP_OPTIONS: Omit<SweepOptions, 'owner'> = {
  // Short, and renewed every half of it while the work runs: a worker that dies mid-revoke holds
  // its claims for seconds, not a minute, while a slow revoke by a live worker is never taken over.
  leaseMs: 6_000,
  batchSize: 200,
  concurrency: 16,
  maxGrantAttempts: 3,
  retryBaseMs: 2_000,
  retryMaxMs: 5 * 60_000,
  alertAfter: 3,
  lookaheadMs: 1_000,
};

interface RevokeOutcome {
  targets: RequestDoc['targets'];
  errors: string[];
  /** Targets this attempt revoked on the system (not ones kept because another grant shares them). */
  revokedNow: number[];
}

export interface TickStats {
  expired: number;
  revoked: number;
  revokeFailures: number;
  granted: number;
  grantFailures: number;
  warned: number;
  reminded: number;
  timedOut: number;
}

export class Sweeps {
  readonly opts: SweepOptions;
  private nextExpiryAt: Date | null = null;
  constructor(
    private readonly ctx: LifecycleContext,
    opts: Partial<SweepOptions> = {},
  ) {
    this.opts = { ...DEFAULT_SWEEP_OPTIONS, owner: `worker-${randomUUID().slice(0, 8)}`, ...opts };
  }

  /**
   * The urgent sweeps: revocations and grants. Cheap when nothing is due. Events due to channels are
   * delivered in the background (outbox.kick), so a slow or hung Slack never holds up a revoke.
   */
  async tickUrgent(): Promise<
    Pick<TickStats, 'expired' | 'revoked' | 'revokeFailures' | 'granted' | 'grantFailures'>
  > {
    this.ctx.outbox.kick();
    const [rev, gr] = await Promise.all([this.processRevokes(), this.processGrants()]);
    return { ...rev, ...gr };
  }

  /** Sweeps where a second of delay does not matter: warnings, reminders, time-outs. */
  async tickRelaxed(): Promise<Pick<TickStats, 'warned' | 'reminded' | 'timedOut'>> {
    const [warned, reminded, timedOut] = await Promise.all([
      this.warnDue(),
      this.remindDue(),
      this.timeOutDue(),
    ]);
    return { warned, reminded, timedOut };
  }

  /**
   * active and past expiresAt -> revoking (reason: expired), claimed by this worker in the same
   * write: on the slow store every write per revoke counts against on-time revocation.
   */
  private async claimExpired(): Promise<RequestDoc[]> {
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
  private retryLater(targets: RequestDoc['targets'], attempts: number, error: string, now: Date) {
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

  private newToken(): string {
    return `${this.opts.owner}:${randomUUID()}`;
  }

  /** Claims due documents in `states` by setting a lease; returns the ones this call won. */
  private async claim(states: string[], setState?: string): Promise<RequestDoc[]> {
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

  async processRevokes(): Promise<{ expired: number; revoked: number; revokeFailures: number }> {
    const expired = await this.claimExpired();
    const retried = await this.claim(['revoking']);
    const claimed = [...expired, ...retried];
    if (claimed.length === 0) return { expired: 0, revoked: 0, revokeFailures: 0 };
    return this.whileLeased(claimed, () => this.revokeClaimed(claimed, expired.length));
  }

  /**
   * Runs `work` on claimed requests while renewing their leases every half lease, so the claims
   * outlive slow work but not this worker. A renewal rewrites every claimed request (hundreds of
   * writes on a slow store), so work that finishes within half a lease, the usual tick, renews
   * nothing. Released leases (set to the epoch by the work's final writes) are not renewed.
   */
  private async whileLeased<T>(claimed: RequestDoc[], work: () => Promise<T>): Promise<T> {
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

  private async revokeClaimed(
    claimed: RequestDoc[],
    expiredCount: number,
  ): Promise<{ expired: number; revoked: number; revokeFailures: number }> {
    const outcomes = await mapLimit(claimed, this.opts.concurrency, (doc) => this.revokeTargets(doc));
    await this.verifyRevoked(claimed, outcomes);
    const now = this.ctx.now();
    const { Request } = this.ctx.db.models;
    const done: RequestDoc[] = [];
    const failed: Array<{ doc: RequestDoc; error: string }> = [];
    // Successes are written in one update per claim and final state; failures each need their own.
    const finished = new Map<string, { token: string; state: string; ids: RequestDoc['_id'][] }>();
    const failOps: unknown[] = [];
    claimed.forEach((doc, i) => {
      const o = outcomes[i]!;
      const token = doc.lease!.owner!;
      if (o.errors.length === 0) {
        done.push(doc);
        const state = finalStateOf(doc);
        const key = `${token}|${state}`;
        const group = finished.get(key) ?? { token, state, ids: [] };
        group.ids.push(doc._id);
        finished.set(key, group);
        return;
      }
      const error = o.errors.join('; ');
      failed.push({ doc, error });
      const attempts = (doc.attempts ?? 0) + 1;
      failOps.push({
        updateOne: {
          filter: { _id: doc._id, state: 'revoking', 'lease.owner': token },
          update: this.retryLater(o.targets, attempts, error, now),
        },
      });
    });
    const writes = await Promise.all([
      ...[...finished.values()].map((g) =>
        Request.updateMany(
          { _id: { $in: g.ids }, state: 'revoking', 'lease.owner': g.token },
          this.ctx.outbox.withEvents(
            {
              $set: {
                state: g.state,
                endedAt: now,
                'lease.until': EPOCH,
                // A failed request keeps the error that failed it, for the message that says so.
                ...(g.state === 'failed' ? {} : { lastError: null }),
                'targets.$[t].grantState': 'revoked',
              },
              $unset: { openKey: 1, warnAt: 1, nextAttemptAt: 1 },
              $inc: { version: 1 },
            },
            this.ctx.outbox.entry(g.state === 'failed' ? 'request.failed' : 'access.revoked'),
          ),
          { arrayFilters: [{ 't.grantState': { $in: ['active', 'partial'] } }] },
        ).then((r) => r.matchedCount),
      ),
      failOps.length
        ? Request.bulkWrite(failOps as never, { ordered: false }).then((r) => r.matchedCount)
        : 0,
    ]);
    let recordedDone = done;
    let recordedFailed = failed;
    if (writes.reduce((a, b) => a + b, 0) < claimed.length) {
      // Some leases ran out while we worked and another worker took those requests: their outcome
      // is that worker's to record and report, not ours.
      const rows = await Request.find({ _id: { $in: claimed.map((d) => d._id) } })
        .select({ _id: 1, 'lease.owner': 1 })
        .lean();
      const ownerNow = new Map(rows.map((r) => [String(r._id), r.lease?.owner]));
      const ours = (d: RequestDoc) => ownerNow.get(String(d._id)) === d.lease!.owner;
      recordedDone = done.filter(ours);
      recordedFailed = failed.filter((f) => ours(f.doc));
    }
    for (const doc of recordedDone) {
      // How late the access really went: from the promised end to the confirmed revoke.
      if (doc.endReason === 'expired' && doc.expiresAt)
        this.ctx.metrics.revokeLag.observe(
          { reason: 'expired' },
          Math.max(0, now.getTime() - doc.expiresAt.getTime()) / 1000,
        );
    }
    await this.reportRevokes(recordedDone, recordedFailed, now);
    return { expired: expiredCount, revoked: recordedDone.length, revokeFailures: recordedFailed.length };
  }

  private async revokeTargets(doc: RequestDoc): Promise<RevokeOutcome> {
    const targets = doc.targets.map((t) => ({ ...t }));
    const errors: string[] = [];
    const revokedNow: number[] = [];
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (!holdsSomething(t)) continue;
      try {
        const shareKey = t.handle.shareKey;
        const stillHeld =
          typeof shareKey === 'string' && (await this.heldElsewhere(doc, t.integration, shareKey));
        if (!stillHeld) {
          const connector = await this.ctx.connectors.get(t.integration);
          await connector.revoke(grantSpec(doc, i), t.handle as never);
          revokedNow.push(i);
        }
        t.grantState = 'revoked';
        t.revokedAt = this.ctx.now();
      } catch (err) {
        errors.push(`${t.resourceName}: ${errorText(err)}`);
      }
    }
    return { targets, errors, revokedNow };
  }

  /**
   * Confirms on the systems themselves that what was just revoked is gone (one checkMany per
   * integration where the connector has it). A revoke that reported success but left access
   * behind, or that cannot be confirmed, becomes a failure to retry.
   */
  private async verifyRevoked(claimed: RequestDoc[], outcomes: RevokeOutcome[]): Promise<void> {
    const byIntegration = new Map<string, Array<{ doc: number; target: number }>>();
    outcomes.forEach((o, d) =>
      o.revokedNow.forEach((t) => {
        const integration = o.targets[t]!.integration;
        byIntegration.set(integration, [...(byIntegration.get(integration) ?? []), { doc: d, target: t }]);
      }),
    );
    await Promise.all(
      [...byIntegration].map(async ([integration, refs]) => {
        const items = refs.map((r) => ({
          spec: grantSpec(claimed[r.doc]!, r.target),
          handle: claimed[r.doc]!.targets[r.target]!.handle as never,
        }));
        let present: boolean[];
        let reason = 'access is still present on the system after the revoke';
        try {
          const connector = await this.ctx.connectors.get(integration);
          present = connector.checkMany
            ? await connector.checkMany(items)
            : await mapLimit(items, this.opts.concurrency, (it) => connector.check(it.spec, it.handle));
        } catch (err) {
          present = items.map(() => true);
          reason = `the revoke could not be confirmed: ${errorText(err)}`;
        }
        refs.forEach((r, k) => {
          if (!present[k]) return;
          const o = outcomes[r.doc]!;
          const t = o.targets[r.target]!;
          t.grantState = 'active';
          t.revokedAt = undefined;
          o.errors.push(`${t.resourceName}: ${reason}`);
        });
      }),
    );
  }

  /** Does another live request of the same person hold the same shared grant (see GrantHandle.shareKey)? */
  private async heldElsewhere(doc: RequestDoc, integration: string, shareKey: string): Promise<boolean> {
    const other = await this.ctx.db.models.Request.exists({
      _id: { $ne: doc._id },
      'requester.id': doc.requester.id,
      state: { $in: ['active', 'granting'] },
      targets: { $elemMatch: { integration, 'handle.shareKey': shareKey, grantState: 'active' } },
    });
    return other !== null;
  }

  private async reportRevokes(
    done: RequestDoc[],
    failed: Array<{ doc: RequestDoc; error: string }>,
    now: Date,
  ): Promise<void> {
    const ctx = this.ctx;
    const events: AuditEvent[] = done.map((doc) => ({
      actor:
        doc.endReason === 'expired'
          ? { type: 'system', id: 'latch' }
          : { type: 'user', id: doc.endedBy ?? 'latch' },
      action:
        doc.endReason === 'expired'
          ? 'access.expired'
          : doc.endReason === 'failed'
            ? 'request.failed'
            : 'access.revoked',
      subject: { type: 'request', id: formatRequestId(doc.number) },
      details: {
        targets: doc.targets.map((t) => `${t.integration}:${t.resourceName}:${t.permission}`),
        reason: doc.endReasonText ?? undefined,
        lastError: doc.endReason === 'failed' ? doc.lastError : undefined,
      },
      at: now,
    }));
    const alerts = failed.filter(
      ({ doc }) => (doc.attempts ?? 0) + 1 >= this.opts.alertAfter && !doc.adminsAlertedAt,
    );
    for (const { doc, error } of failed) {
      events.push({
        actor: { type: 'system', id: 'latch' },
        action: 'revoke.attempt_failed',
        subject: { type: 'request', id: formatRequestId(doc.number) },
        details: { attempt: (doc.attempts ?? 0) + 1, error },
        at: now,
      });
    }
    if (events.length) await ctx.audit.append(events);
    if (alerts.length) {
      await ctx.db.models.Request.updateMany(
        { _id: { $in: alerts.map((a) => a.doc._id) } },
        ctx.outbox.withEvents({ $set: { adminsAlertedAt: now } }, ctx.outbox.entry('revoke.failing')),
      );
      const admins = await ctx.admins();
      for (const { doc, error } of alerts) {
        await ctx.notify({
          type: 'revoke.failing',
          request: toView(doc),
          error,
          attempts: (doc.attempts ?? 0) + 1,
          admins,
        });
      }
    }
    await mapLimit(done, this.opts.concurrency, async (doc) => {
      const fresh = {
        ...doc,
        state: finalStateOf(doc),
      } as RequestDoc;
      if (doc.endReason === 'failed')
        await ctx.notify({
          type: 'request.failed',
          request: toView(fresh),
          error: doc.lastError ?? 'grant failed',
        });
      else await ctx.notify({ type: 'access.revoked', request: toView(fresh) });
    });
  }

  async processGrants(): Promise<{ granted: number; grantFailures: number }> {
    const claimed = await this.claim(['approved', 'granting'], 'granting');
    if (claimed.length === 0) return { granted: 0, grantFailures: 0 };
    return this.whileLeased(claimed, async () => {
      const settings = await this.ctx.settings();
      let granted = 0;
      let failures = 0;
      await mapLimit(claimed, this.opts.concurrency, async (doc) => {
        const ok = await this.grantOne(doc, settings.expiryWarningMinutes);
        if (ok) granted++;
        else failures++;
      });
      return { granted, grantFailures: failures };
    });
  }

  private async grantOne(doc: RequestDoc, warningMinutes: number): Promise<boolean> {
    const ctx = this.ctx;
    const { Request } = ctx.db.models;
    const id = formatRequestId(doc.number);
    const now = ctx.now();
    const expiresAt = doc.durationMinutes == null ? null : addMinutes(now, doc.durationMinutes);
    const withExpiry = { ...doc, expiresAt } as RequestDoc;
    const targets = doc.targets.map((t) => ({ ...t }));
    const credentials: GrantedCredentials[] = [];
    let error: string | null = null;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (doc.revokeRequested) break;
      try {
        const connector = await ctx.connectors.get(t.integration);
        // Granting an already-granted target again is harmless (connector contract) and renews credentials.
        const result = await connector.grant(grantSpec(withExpiry, i));
        t.grantState = 'active';
        t.handle = result.handle;
        t.grantedAt = now;
        t.error = undefined;
        if (result.credentials)
          credentials.push({
            resourceName: t.resourceName,
            permission: t.permission,
            values: result.credentials,
          });
      } catch (err) {
        error = `${t.resourceName}: ${errorText(err)}`;
        t.error = errorText(err);
        // Left behind by a grant that could not undo itself: the revoke path removes it.
        if (err instanceof PartialGrantError) {
          t.grantState = 'partial';
          t.handle = err.handle;
        }
        break;
      }
    }
    const lease = { _id: doc._id, state: 'granting', 'lease.owner': doc.lease!.owner };
    if (error === null && !doc.revokeRequested) {
      const warnAt = expiresAt ? warnTime(expiresAt, warningMinutes, now) : null;
      // The granted event, credentials sealed inside it, is written with the state change: a crash
      // right after this update loses neither the message nor the only copy of the credentials.
      const granted = ctx.outbox.entry('access.granted', {
        credentials: ctx.outbox.sealCredentials(credentials),
      });
      const active = await Request.findOneAndUpdate(
        { ...lease, revokeRequested: { $ne: true } },
        ctx.outbox.withEvents(
          {
            $set: {
              state: 'active',
              targets,
              grantedAt: now,
              expiresAt,
              'lease.until': EPOCH,
              lastError: null,
              attempts: 0,
              ...(warnAt ? { warnAt } : {}),
            },
            $unset: { nextAttemptAt: 1 },
            $inc: { version: 1 },
          },
          granted,
        ),
        { returnDocument: 'after' },
      ).lean<RequestDoc>();
      if (active) {
        const approvedAt = doc.decidedAt ?? doc.createdAt;
        if (approvedAt)
          ctx.metrics.grantTime.observe(Math.max(0, now.getTime() - approvedAt.getTime()) / 1000);
        await ctx.notify({ type: 'access.granted', request: toView(active), credentials });
        try {
          await ctx.audit.append({
            actor: { type: 'system', id: 'latch' },
            action: 'access.granted',
            subject: { type: 'request', id },
            details: {
              targets: targets.map((t) => `${t.integration}:${t.resourceName}:${t.permission}`),
              expiresAt: expiresAt?.toISOString() ?? null,
            },
            at: now,
          });
        } catch (err) {
          ctx.log.error({ err, request: id }, 'access granted but the audit entry could not be written');
        }
        return true;
      }
    }
    if (error === null || doc.revokeRequested) {
      // Revoked while being granted: take back whatever was granted.
      await Request.updateOne(lease, {
        $set: {
          state: 'revoking',
          targets,
          nextAttemptAt: now,
          'lease.until': EPOCH,
          attempts: 0,
          endReason: 'revoked',
        },
        $inc: { version: 1 },
      });
      this.ctx.kick();
      return true;
    }
    const attempts = (doc.attempts ?? 0) + 1;
    if (attempts < this.opts.maxGrantAttempts) {
      await Request.updateOne(lease, this.retryLater(targets, attempts, error, now));
      await ctx.audit.append({
        actor: { type: 'system', id: 'latch' },
        action: 'grant.attempt_failed',
        subject: { type: 'request', id },
        details: { attempt: attempts, error },
        at: now,
      });
      return false;
    }
    // Out of attempts: undo partial grants through the revoke path, which ends in `failed`.
    await Request.updateOne(lease, {
      $set: {
        state: 'revoking',
        targets,
        endReason: 'failed',
        lastError: error,
        nextAttemptAt: now,
        'lease.until': EPOCH,
        attempts: 0,
      },
      $inc: { version: 1 },
    });
    this.ctx.kick();
    return false;
  }

  async warnDue(): Promise<number> {
    const docs = await this.claimMarker(
      { state: 'active', warnAt: { $lte: this.ctx.now() } },
      this.ctx.outbox.withEvents({ $unset: { warnAt: 1 } }, this.ctx.outbox.entry('access.expiring')),
      'warnedAt',
    );
    const selfExtension = docs.length > 0 ? (await this.ctx.settings()).selfExtension : 'flow';
    for (const doc of docs) {
      await this.ctx.notify({
        type: 'access.expiring',
        request: toView(doc),
        extension: extensionOfferFor(doc, selfExtension),
      });
    }
    return docs.length;
  }

  async remindDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claimMarker(
      { state: 'pending', remindAt: { $lte: now } },
      this.ctx.outbox.withEvents(
        { $unset: { remindAt: 1 } },
        this.ctx.outbox.entry('approval.needed', { reminder: true }),
      ),
      'remindedAt',
    );
    const { Request } = this.ctx.db.models;
    for (const doc of docs) {
      const flow = doc.flow as Flow;
      const step = flow.approval.steps[doc.step];
      if (!step) continue;
      if (flow.approval.reminderMinutes > 0) {
        await Request.updateOne(
          { _id: doc._id, state: 'pending' },
          { $set: { remindAt: addMinutes(now, flow.approval.reminderMinutes) } },
        );
      }
      const owners = [...new Set(doc.targets.flatMap((t) => t.owners ?? []))];
      await this.ctx.notify({
        type: 'approval.needed',
        request: toView(doc),
        approvers: stepAudience(step, owners),
        reminder: true,
      });
    }
    return docs.length;
  }

  async timeOutDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claimMarker(
      { state: 'pending', decideBy: { $lte: now } },
      this.ctx.outbox.withEvents(
        {
          $set: { state: 'timed_out', endedAt: now, endedBy: 'latch' },
          $unset: { openKey: 1, remindAt: 1, decideBy: 1 },
        },
        this.ctx.outbox.entry('request.timed_out'),
      ),
      'timedOutAt',
    );
    if (docs.length === 0) return 0;
    await this.ctx.audit.append(
      docs.map((doc) => ({
        actor: { type: 'system' as const, id: 'latch' },
        action: 'request.timed_out',
        subject: { type: 'request', id: formatRequestId(doc.number) },
        at: now,
      })),
    );
    for (const doc of docs) await this.ctx.notify({ type: 'request.timed_out', request: toView(doc) });
    return docs.length;
  }

  /** One guarded update marks a batch as handled (so two workers never both notify), then reads it back. */
  private async claimMarker(
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

/** A target with something on the system to remove: granted, or left behind by a failed grant. */
function holdsSomething(
  t: RequestDoc['targets'][number],
): t is RequestDoc['targets'][number] & { handle: GrantHandle } {
  return (t.grantState === 'active' || t.grantState === 'partial') && t.handle != null;
}

function finalStateOf(doc: RequestDoc): 'expired' | 'failed' | 'revoked' {
  return doc.endReason === 'expired' ? 'expired' : doc.endReason === 'failed' ? 'failed' : 'revoked';
}

export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // Jitter keeps many failed revokes from retrying in lockstep against a recovering server.
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}

/** `fn` over `items`, at most `limit` at a time, results in order (p-limit's map). */
export function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  return pLimit(Math.max(1, limit)).map(items, (item) => fn(item));
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}
