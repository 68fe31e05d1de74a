/**
 * Reconciliation (docs/ARCHITECTURE.md, "Reconciliation"): reads what really exists on each
 * integration (Connector.listAccess) and compares it with what Latch believes, by access key.
 * - Access Latch ended that is still there is revoked and audited as drift.
 * - Access an active request holds that is gone is reported once, or granted again when the
 *   request's flow says `reapplyOnDrift` (through the grant sweep, keeping the expiry).
 * - Access nobody in Latch holds is standing access, kept in `standing_access` for the consoles.
 */
import type { AuditEvent } from '../audit/audit-log.js';
import type { AccessEntry, Connector, GrantHandle, GrantItem } from '../connectors/types.js';
import { formatRequestId } from '../domain/human-id.js';
import type { DriftFinding } from '../domain/outbox-entry.js';
import type { RequestDoc } from '../store/models.js';
import type { LifecycleContext } from './context.js';
import type { LatchEvent } from './notifier.js';
import { toView } from './request-view.js';
import { grantSpec } from './requests/index.js';
import { EPOCH, errorText } from './sweeps/shared.js';

/** States in which a request may still be changing what it holds: their keys are left alone. */
const IN_FLIGHT = ['approved', 'granting', 'revoking'];
const LIVE = ['active', ...IN_FLIGHT];
const CHUNK = 500;
/** What comparing needs of a request (the moves re-read the whole document when they write). */
const VIEW_FIELDS = { number: 1, state: 1, requester: 1, targets: 1, expiresAt: 1, 'flow.reapplyOnDrift': 1 };

export interface ReconcileReport {
  integration: string;
  ok: boolean;
  error?: string;
  /** Entries the system listed. */
  listed: number;
  /** Latch's active grants found on the system. */
  matched: number;
  /** Active grants missing on the system, newly found this run. */
  missing: number;
  reapplied: number;
  /** Ended grants still on the system, revoked now. */
  revoked: number;
  /** Ended grants still on the system whose revoke failed this time. */
  revokeFailed: number;
  standing: number;
  ms: number;
}

const targetName = (doc: RequestDoc, i: number) => {
  const t = doc.targets[i]!;
  return `${t.integration}:${t.resourceName}:${t.permission}`;
};

export class Reconciliation {
  constructor(private readonly ctx: LifecycleContext) {}

  /** Every integration, one after another (each is one listing of a whole system). */
  async runAll(): Promise<ReconcileReport[]> {
    const names = await this.ctx.db.models.Integration.find().select({ name: 1 }).lean();
    const reports: ReconcileReport[] = [];
    for (const { name } of names) reports.push(await this.run(name));
    return reports;
  }

  async run(integration: string): Promise<ReconcileReport> {
    const started = Date.now();
    const report: ReconcileReport = {
      integration,
      ok: true,
      listed: 0,
      matched: 0,
      missing: 0,
      reapplied: 0,
      revoked: 0,
      revokeFailed: 0,
      standing: 0,
      ms: 0,
    };
    try {
      await this.reconcile(integration, report);
    } catch (err) {
      report.ok = false;
      report.error = errorText(err);
      this.ctx.log.warn({ err, integration }, 'reconciliation failed; the next run tries again');
    }
    report.ms = Date.now() - started;
    const { ok, error, ms, integration: _, ...counts } = report;
    await this.ctx.db.models.ReconcileStatus.updateOne(
      { _id: integration },
      { $set: { at: this.ctx.now(), ok, error: error ?? null, ms, counts } },
      { upsert: true },
    );
    return report;
  }

  private async reconcile(integration: string, report: ReconcileReport): Promise<void> {
    const connector = await this.ctx.connectors.get(integration);
    // The system is read before Latch's view: access granted meanwhile is then in the view but maybe
    // not in the listing, and reportMissing asks the system about each such grant again.
    const entries = await connector.listAccess();
    report.listed = entries.length;
    const byKey = new Map<string, AccessEntry>();
    for (const e of entries) if (!byKey.has(e.key)) byKey.set(e.key, e);

    const active = await this.ctx.db.models.Request.find({
      state: 'active',
      targets: { $elemMatch: { integration, grantState: 'active' } },
    })
      .select(VIEW_FIELDS)
      .lean<RequestDoc[]>();
    const held = new Set<string>();
    const gone: Array<{ doc: RequestDoc; i: number }> = [];
    const back: Array<{ doc: RequestDoc; i: number }> = [];
    for (const doc of active)
      doc.targets.forEach((t, i) => {
        if (t.integration !== integration || t.grantState !== 'active' || !t.handle) return;
        const key = t.accessKey ?? connector.accessKey(t.handle as GrantHandle);
        held.add(key);
        if (byKey.has(key)) {
          report.matched++;
          if (t.driftAt) back.push({ doc, i });
          // Granted after the listing began, maybe: check() below asks about it once more.
        } else gone.push({ doc, i });
      });

    const unmatched = [...byKey.keys()].filter((k) => !held.has(k));
    const holders = await this.holdersOf(integration, unmatched);
    const lingering: Array<{ doc: RequestDoc; i: number; entry: AccessEntry }> = [];
    const standing: AccessEntry[] = [];
    for (const key of unmatched) {
      const docs = holders.get(key) ?? [];
      // Someone is granting, revoking or was just granted it: not this run's business.
      if (docs.some((d) => LIVE.includes(d.state))) continue;
      const ended = docs.find((d) =>
        d.targets.some((t) => t.integration === integration && t.accessKey === key),
      );
      if (ended) {
        const i = ended.targets.findIndex((t) => t.integration === integration && t.accessKey === key);
        lingering.push({ doc: ended, i, entry: byKey.get(key)! });
      } else standing.push(byKey.get(key)!);
    }

    await this.revokeLingering(connector, lingering, report);
    await this.reportMissing(connector, gone, report);
    await this.clearDrift(back);
    await this.keepStanding(integration, standing, report);
  }

  /** Requests (any state) whose targets on this integration carry one of these keys. */
  private async holdersOf(integration: string, keys: string[]): Promise<Map<string, RequestDoc[]>> {
    const out = new Map<string, RequestDoc[]>();
    for (let i = 0; i < keys.length; i += CHUNK) {
      const chunk = keys.slice(i, i + CHUNK);
      const docs = await this.ctx.db.models.Request.find({
        targets: { $elemMatch: { integration, accessKey: { $in: chunk } } },
      })
        .select(VIEW_FIELDS)
        .sort({ _id: -1 })
        .lean<RequestDoc[]>();
      const wanted = new Set(chunk);
      for (const doc of docs)
        for (const t of doc.targets)
          if (t.integration === integration && t.accessKey && wanted.has(t.accessKey))
            out.set(t.accessKey, [...(out.get(t.accessKey) ?? []), doc]);
    }
    return out;
  }

  /** What Latch ended but the system still gives: revoked with the grant's own handle, then confirmed. */
  private async revokeLingering(
    connector: Connector,
    lingering: Array<{ doc: RequestDoc; i: number; entry: AccessEntry }>,
    report: ReconcileReport,
  ): Promise<void> {
    if (lingering.length === 0) return;
    const items: GrantItem[] = lingering.map(({ doc, i }) => ({
      spec: grantSpec(doc, i),
      handle: doc.targets[i]!.handle as GrantHandle,
    }));
    const outcomes = connector.revokeMany
      ? await connector.revokeMany(items)
      : await Promise.all(
          items.map((it) =>
            connector.revoke(it.spec, it.handle).then(
              () => null,
              (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
            ),
          ),
        );
    const revoked = lingering.filter((_, k) => outcomes[k] === null);
    const stillThere = revoked.length
      ? connector.checkMany
        ? await connector.checkMany(
            revoked.map(({ doc, i }) => ({
              spec: grantSpec(doc, i),
              handle: doc.targets[i]!.handle as GrantHandle,
            })),
          )
        : await Promise.all(
            revoked.map(({ doc, i }) =>
              connector.check(grantSpec(doc, i), doc.targets[i]!.handle as GrantHandle),
            ),
          )
      : [];
    const now = this.ctx.now();
    const audits: AuditEvent[] = [];
    const told: LatchEvent[] = [];
    const admins = await this.ctx.admins();
    for (const [k, item] of lingering.entries()) {
      const error =
        outcomes[k] ??
        (stillThere[revoked.indexOf(item)] ? new Error('still present after the revoke') : null);
      const id = formatRequestId(item.doc.number);
      const target = targetName(item.doc, item.i);
      if (error) {
        report.revokeFailed++;
        audits.push({
          actor: { type: 'system', id: 'latch' },
          action: 'drift.revoke_failed',
          subject: { type: 'request', id },
          details: { target, account: item.entry.account, error: errorText(error) },
          at: now,
        });
        continue;
      }
      report.revoked++;
      const drift: DriftFinding = { kind: 'lingering', action: 'revoked', target };
      const doc = await this.ctx.moves.move(
        { _id: item.doc._id, state: item.doc.state },
        { $set: { [`targets.${item.i}.revokedAt`]: now } },
        this.ctx.outbox.entry('access.drift', { drift }),
      );
      audits.push({
        actor: { type: 'system', id: 'latch' },
        action: 'drift.revoked',
        subject: { type: 'request', id },
        details: {
          target,
          account: item.entry.account,
          reason: 'Latch had ended this access, but it was still on the system',
        },
        at: now,
      });
      if (doc) told.push({ type: 'access.drift', request: toView(doc), drift, admins });
    }
    if (audits.length) await this.ctx.record(audits, ...told);
  }

  /**
   * Active grants the system no longer shows. The listing is checked once more grant by grant
   * (a listing covers what the connector can enumerate; check() asks about exactly this grant), and
   * each request is re-read under a guard, so a grant revoked meanwhile is not called missing.
   */
  private async reportMissing(
    connector: Connector,
    gone: Array<{ doc: RequestDoc; i: number }>,
    report: ReconcileReport,
  ): Promise<void> {
    const fresh = gone.filter(({ doc, i }) => !doc.targets[i]!.driftAt || doc.flow?.reapplyOnDrift);
    if (fresh.length === 0) return;
    const items = fresh.map(({ doc, i }) => ({
      spec: grantSpec(doc, i),
      handle: doc.targets[i]!.handle as GrantHandle,
    }));
    const present = connector.checkMany
      ? await connector.checkMany(items)
      : await Promise.all(items.map((it) => connector.check(it.spec, it.handle)));
    const now = this.ctx.now();
    const admins = await this.ctx.admins();
    const audits: AuditEvent[] = [];
    const told: LatchEvent[] = [];
    const reapplying = new Set<string>();
    for (const [k, { doc, i }] of fresh.entries()) {
      if (present[k]) continue;
      const id = formatRequestId(doc.number);
      const target = targetName(doc, i);
      const reapply = doc.flow?.reapplyOnDrift === true;
      if (reapply && reapplying.has(String(doc._id))) continue;
      const drift: DriftFinding = { kind: 'missing', action: reapply ? 'reapplied' : 'reported', target };
      const guard = {
        _id: doc._id,
        state: 'active',
        [`targets.${i}.grantState`]: 'active',
        'lease.until': { $lte: now },
      };
      // Granted again by the grant sweep, every target (idempotent), keeping its expiry.
      const change = reapply
        ? {
            $set: {
              state: 'granting',
              regrant: true,
              nextAttemptAt: now,
              attempts: 0,
              'lease.until': EPOCH,
              [`targets.${i}.driftAt`]: now,
            },
            $unset: { warnAt: 1 },
          }
        : { $set: { [`targets.${i}.driftAt`]: now } };
      const moved = await this.ctx.moves.move(
        guard,
        change,
        this.ctx.outbox.entry('access.drift', { drift }),
      );
      if (!moved) continue;
      if (reapply) {
        reapplying.add(String(doc._id));
        report.reapplied++;
      }
      report.missing++;
      audits.push({
        actor: { type: 'system', id: 'latch' },
        action: reapply ? 'drift.reapplied' : 'drift.missing',
        subject: { type: 'request', id },
        details: { target, reason: 'the access this request holds is no longer on the system' },
        at: now,
      });
      told.push({ type: 'access.drift', request: toView(moved), drift, admins });
    }
    if (audits.length) await this.ctx.record(audits, ...told);
    if (reapplying.size) this.ctx.kick();
  }

  /** Drift reported earlier that is gone again (someone put the access back). */
  private async clearDrift(back: Array<{ doc: RequestDoc; i: number }>): Promise<void> {
    if (back.length === 0) return;
    await this.ctx.moves.moveEach(
      back.map(({ doc, i }) => ({
        guard: { _id: doc._id },
        change: { $unset: { [`targets.${i}.driftAt`]: 1 } },
      })),
    );
  }

  /** The integration's standing access becomes exactly this run's list. */
  private async keepStanding(
    integration: string,
    standing: AccessEntry[],
    report: ReconcileReport,
  ): Promise<void> {
    const { StandingAccess, Resource } = this.ctx.db.models;
    const now = this.ctx.now();
    const ids = [...new Set(standing.map((e) => e.resourceId).filter(Boolean))];
    const names = new Map(
      (
        await Resource.find({ integration, resourceId: { $in: ids } })
          .select({ resourceId: 1, name: 1 })
          .lean()
      ).map((r) => [r.resourceId as string, r.name as string]),
    );
    for (let i = 0; i < standing.length; i += CHUNK) {
      await StandingAccess.bulkWrite(
        standing.slice(i, i + CHUNK).map((e) => ({
          updateOne: {
            filter: { integration, key: e.key },
            update: {
              $set: {
                account: e.account,
                email: e.email ?? null,
                resourceId: e.resourceId,
                resourceName: names.get(e.resourceId) ?? e.resourceId,
                permission: e.permission,
                madeByLatch: e.madeByLatch,
                handle: e.handle,
                lastSeenAt: now,
              },
              $setOnInsert: { firstSeenAt: now },
            },
            upsert: true,
          },
        })),
        { ordered: false },
      );
    }
    await StandingAccess.deleteMany({ integration, lastSeenAt: { $lt: now } });
    report.standing = standing.length;
  }
}
