/** Revoking: expired and asked-for revokes, confirmed on the systems, retried until they are. */
import { formatRequestId } from '../../domain/human-id.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import type { LatchEvent } from '../notifier.js';
import { grantSpec } from '../requests/index.js';
import { toView } from '../request-view.js';
import type { AuditEvent } from '../../audit/audit-log.js';
import { type GrantHandle } from '../../connectors/types.js';
import { EPOCH, errorText, mapLimit, type SweepOptions } from './shared.js';
import type { Change, Guard, RequestClaims } from '../transitions/index.js';

/** One target of one claimed request, by index. */
interface TargetRef {
  doc: number;
  target: number;
}

interface RevokeOutcome {
  targets: RequestDoc['targets'];
  errors: string[];
  /** Targets this attempt revoked on the system (not ones kept because another grant shares them). */
  revokedNow: number[];
}

export class RevokeSweep {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly opts: SweepOptions,
    private readonly claims: RequestClaims,
  ) {}

  async processRevokes(): Promise<{ expired: number; revoked: number; revokeFailures: number }> {
    const expired = await this.claims.claimExpired();
    const retried = await this.claims.claim(['revoking']);
    const claimed = [...expired, ...retried];
    if (claimed.length === 0) return { expired: 0, revoked: 0, revokeFailures: 0 };
    return this.claims.whileLeased(claimed, () => this.revokeClaimed(claimed, expired.length));
  }

  private async revokeClaimed(
    claimed: RequestDoc[],
    expiredCount: number,
  ): Promise<{ expired: number; revoked: number; revokeFailures: number }> {
    const outcomes = await this.revokeClaimedTargets(claimed);
    await this.verifyRevoked(claimed, outcomes);
    const now = this.ctx.now();
    const { Request } = this.ctx.db.models;
    const done: RequestDoc[] = [];
    const failed: Array<{ doc: RequestDoc; error: string }> = [];
    // Successes are written in one update per claim and final state; failures each need their own.
    const finished = new Map<string, { token: string; state: string; ids: RequestDoc['_id'][] }>();
    const failMoves: Array<{ guard: Guard; change: Change }> = [];
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
      failMoves.push({
        guard: { _id: doc._id, state: 'revoking', 'lease.owner': token },
        change: this.claims.retryLater(o.targets, attempts, error, now),
      });
    });
    const writes = await Promise.all([
      ...[...finished.values()].map((g) =>
        this.ctx.moves.moveMany(
          { _id: { $in: g.ids }, state: 'revoking', 'lease.owner': g.token },
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
          },
          [this.ctx.outbox.entry(g.state === 'failed' ? 'request.failed' : 'access.revoked')],
          { arrayFilters: [{ 't.grantState': { $in: ['active', 'partial'] } }] },
        ),
      ),
      this.ctx.moves.moveEach(failMoves),
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

  /**
   * Revokes what the claimed requests hold, one revokeMany per integration where the connector has
   * it (docs/ARCHITECTURE.md, "Connectors"): a thousand expiring grants on one database are a few
   * transactions, not a thousand. A target shared with another live grant is kept on the system.
   */
  private async revokeClaimedTargets(claimed: RequestDoc[]): Promise<RevokeOutcome[]> {
    const outcomes: RevokeOutcome[] = claimed.map((doc) => ({
      targets: doc.targets.map((t) => ({ ...t })),
      errors: [],
      revokedNow: [],
    }));
    const due = claimed.flatMap((doc, d) =>
      doc.targets.flatMap((t, target) => (holdsSomething(t) ? [{ doc: d, target }] : [])),
    );
    const byIntegration = new Map<string, TargetRef[]>();
    const settle = (r: TargetRef, error: unknown, onSystem: boolean) => {
      const o = outcomes[r.doc]!;
      const t = o.targets[r.target]!;
      if (error) {
        o.errors.push(`${t.resourceName}: ${errorText(error)}`);
        return;
      }
      t.grantState = 'revoked';
      t.revokedAt = this.ctx.now();
      if (onSystem) o.revokedNow.push(r.target);
    };
    await mapLimit(due, this.opts.concurrency, async (r) => {
      const doc = claimed[r.doc]!;
      const t = doc.targets[r.target]!;
      try {
        const shareKey = t.handle!.shareKey;
        if (typeof shareKey === 'string' && (await this.heldElsewhere(doc, t, shareKey)))
          return settle(r, null, false);
      } catch (err) {
        return settle(r, err, false);
      }
      byIntegration.set(t.integration, [...(byIntegration.get(t.integration) ?? []), r]);
    });
    await Promise.all(
      [...byIntegration].map(async ([integration, refs]) => {
        const items = refs.map((r) => ({
          spec: grantSpec(claimed[r.doc]!, r.target),
          handle: claimed[r.doc]!.targets[r.target]!.handle as GrantHandle,
        }));
        let results: unknown[];
        try {
          const connector = await this.ctx.connectors.get(integration);
          results = connector.revokeMany
            ? await connector.revokeMany(items)
            : await mapLimit(items, this.opts.concurrency, (it) =>
                connector.revoke(it.spec, it.handle).then(
                  () => null,
                  (err: unknown) => err,
                ),
              );
        } catch (err) {
          results = items.map(() => err);
        }
        refs.forEach((r, k) => settle(r, results[k], true));
      }),
    );
    // Targets were settled as their integrations answered; verification reads them in target order.
    outcomes.forEach((o) => o.revokedNow.sort((a, b) => a - b));
    return outcomes;
  }

  /**
   * Confirms on the systems themselves that what was just revoked is gone (one checkMany per
   * integration where the connector has it). A revoke that reported success but left access
   * behind, or that cannot be confirmed, becomes a failure to retry.
   */
  private async verifyRevoked(claimed: RequestDoc[], outcomes: RevokeOutcome[]): Promise<void> {
    const byIntegration = new Map<string, TargetRef[]>();
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
          handle: claimed[r.doc]!.targets[r.target]!.handle as GrantHandle,
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

  /**
   * Does another live request hold the same shared thing (see GrantHandle.shareKey)? Matched by
   * the thing on the system, not by requester: the same person asking from Slack and from Teams
   * has two requester ids and one login (docs/ARCHITECTURE.md, "Connectors", overlapping grants).
   */
  private async heldElsewhere(
    doc: RequestDoc,
    target: RequestDoc['targets'][number],
    shareKey: string,
  ): Promise<boolean> {
    const { integration } = target;
    const same = target.accessKey
      ? { $or: [{ accessKey: target.accessKey }, { 'handle.shareKey': shareKey }] }
      : { 'handle.shareKey': shareKey };
    const other = await this.ctx.db.models.Request.exists({
      _id: { $ne: doc._id },
      state: { $in: ['active', 'granting'] },
      targets: { $elemMatch: { integration, grantState: 'active', ...same } },
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
    let admins: string[] = [];
    if (alerts.length) {
      await ctx.moves.moveMany(
        { _id: { $in: alerts.map((a) => a.doc._id) }, state: 'revoking' },
        { $set: { adminsAlertedAt: now } },
        [ctx.outbox.entry('revoke.failing')],
      );
      admins = await ctx.admins();
    }
    const told: LatchEvent[] = [
      ...done.map((doc): LatchEvent => {
        const ended = toView({ ...doc, state: finalStateOf(doc) } as RequestDoc);
        return doc.endReason === 'failed'
          ? { type: 'request.failed', request: ended, error: doc.lastError ?? 'grant failed' }
          : { type: 'access.revoked', request: ended };
      }),
      ...alerts.map(({ doc, error }): LatchEvent => ({
        type: 'revoke.failing',
        request: toView(doc),
        error,
        attempts: (doc.attempts ?? 0) + 1,
        admins,
      })),
    ];
    if (events.length) await ctx.record(events, ...told);
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
