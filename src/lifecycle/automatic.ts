/**
 * Automatic grants (docs/ARCHITECTURE.md, "Automatic grants"): a flow with `automatic` gives its
 * targets to each of its grantees while they are on call for one of its schedules, without a
 * request, and takes them away when they no longer are. Each grant is an ordinary request that
 * starts approved, so granting, expiry, revocation, audit and notices are the same as for any other.
 *
 * The grant is made to end with the person's time on call as the synced rota says, so it ends on
 * time even when no sync or check runs; a check (every minute, and after each sync) starts grants
 * for people who came on call, ends those of people taken off the rota early, and moves the end of
 * a grant whose holder's time on call was extended.
 */
import { formatRequestId } from '../domain/human-id.js';
import type { Flow } from '../domain/flow.js';
import { isGrantee } from '../domain/policy.js';
import { LIVE_STATES, OPEN_STATES } from '../domain/request.js';
import type { RequestDoc } from '../store/models.js';
import type { LifecycleContext } from './context.js';
import { nextRequestNumber } from './load.js';
import { toView } from './request-view.js';
import { EPOCH, isDuplicateKey, warnTime } from './requests/shared.js';
import { requestRevoke } from './requests/revoke.js';

export interface AutomaticReport {
  started: number;
  ended: number;
  extended: number;
  /** Why a flow's grants could not start (a resource that is gone, a stale rota). */
  problems: string[];
}

const ACTOR = { type: 'system' as const, id: 'latch' };

export class AutomaticGrants {
  constructor(private readonly ctx: LifecycleContext) {}

  async check(): Promise<AutomaticReport> {
    const report: AutomaticReport = { started: 0, ended: 0, extended: 0, problems: [] };
    const dir = this.ctx.directory;
    if (!dir) return report;
    const flows = (await this.ctx.flows()).filter((f) => f.enabled && f.automatic);
    const sources = await dir.sources();
    const running = await this.ctx.db.models.Request.find({
      origin: 'automatic',
      state: { $in: [...OPEN_STATES, ...LIVE_STATES] },
    }).lean<RequestDoc[]>();
    for (const flow of flows) {
      // Who holds the condition now, until when, and through which schedule.
      const holders = new Map<string, { until?: Date; schedule: string }>();
      const stale: string[] = [];
      for (const schedule of flow.automatic!.whileOnCall) {
        const now = await dir.onCallNow(schedule, sources);
        if (!now) {
          report.problems.push(`${flow.name}: ${schedule} is not a synced on-call schedule`);
          continue;
        }
        if (now.stale) stale.push(schedule);
        for (const [email, until] of now.people) {
          const known = holders.get(email);
          if (!known || (known.until && (!until || until > known.until)))
            holders.set(email, { ...(until ? { until } : {}), schedule });
        }
      }
      const mine = running.filter((d) => d.flowId === flow.id);
      for (const doc of mine) {
        const holder = holders.get(doc.requester.id);
        if (!holder)
          report.ended += await this.end(
            doc,
            `no longer on call for ${flow.automatic!.whileOnCall.join(' or ')}`,
          );
        else if (await this.extend(doc, holder.until)) report.extended++;
      }
      const have = new Set(mine.map((d) => d.requester.id));
      for (const [email, holder] of holders) {
        if (have.has(email)) continue;
        // A rota Latch cannot vouch for grants nothing new (it still ends what it granted).
        if (stale.includes(holder.schedule)) {
          report.problems.push(`${flow.name}: ${holder.schedule} has not synced recently`);
          continue;
        }
        const who = await this.ctx.identify({ id: email, email, groups: [] });
        if (!isGrantee(flow, who)) continue;
        const problem = await this.start(flow, email, who.groups, holder);
        if (problem) report.problems.push(`${flow.name}: ${problem}`);
        else report.started++;
      }
    }
    // A flow switched off, deleted or no longer automatic grants nothing any more.
    const live = new Set(flows.map((f) => f.id));
    for (const doc of running.filter((d) => !live.has(d.flowId)))
      report.ended += await this.end(doc, `flow ${doc.flowName} no longer grants this automatically`);
    if (report.started > 0 || report.ended > 0) this.ctx.kick();
    return report;
  }

  /** Creates the approved request; a string says why it could not. */
  private async start(
    flow: Flow,
    email: string,
    groups: string[],
    holder: { until?: Date; schedule: string },
  ): Promise<string | undefined> {
    const ctx = this.ctx;
    const now = ctx.now();
    const wanted = flow.automatic!.targets;
    const catalog = await ctx.catalog([...new Set(wanted.map((t) => t.integration))]);
    const targets = [];
    for (const t of wanted) {
      const r = catalog.find((c) => c.integration === t.integration && c.id === t.resource);
      if (!r) return `${t.resource} is not a known resource of ${t.integration}`;
      targets.push({
        integration: t.integration,
        resourceId: t.resource,
        resourceName: r.name,
        resourceKind: r.kind,
        permission: t.permission,
        owners: r.owners,
      });
    }
    const minutes = holder.until
      ? Math.max(1, Math.ceil((holder.until.getTime() - now.getTime()) / 60_000))
      : null;
    const routing = `on call for ${holder.schedule}, so granted automatically while that lasts`;
    const number = await nextRequestNumber(ctx);
    const keys = targets.map((t) => `${t.integration}/${t.resourceId}/${t.permission}`).sort();
    let doc: RequestDoc;
    try {
      doc = await ctx.moves.create(
        {
          number,
          requester: { id: email, email, groups, onCallFor: [holder.schedule] },
          flowId: flow.id,
          flowName: flow.name,
          flow,
          viaFallback: false,
          routing,
          origin: 'automatic',
          targets,
          durationMinutes: minutes,
          justification: '',
          source: 'automatic',
          state: 'approved',
          decidedAt: now,
          decidedBy: 'auto',
          nextAttemptAt: now,
          lease: { until: EPOCH },
          openKey: `${email}|${keys.join(',')}`,
        },
        ctx.outbox.entry('request.submitted', { approvers: { users: [], groups: [] } }),
      );
    } catch (err) {
      // Another open request of theirs (one they asked for) covers exactly this: it stands.
      if (isDuplicateKey(err)) return `${email} already has a request open for this access`;
      throw err;
    }
    const view = toView(doc);
    const subject = { type: 'request', id: view.id };
    await ctx.record(
      [
        {
          actor: ACTOR,
          action: 'request.submitted',
          subject,
          details: {
            flow: flow.name,
            automatic: true,
            for: email,
            targets: view.targets.map((t) => `${t.integration}:${t.resourceName}:${t.permission}`),
            durationMinutes: minutes,
            routing,
          },
          at: now,
        },
        {
          actor: ACTOR,
          action: 'request.approved',
          subject,
          details: { auto: true, reason: routing },
          at: now,
        },
      ],
      { type: 'request.submitted', request: view, approvers: { users: [], groups: [] } },
    );
    return undefined;
  }

  /** Taken off the rota before their shift ended, or the flow stopped: the access goes now. */
  private async end(doc: RequestDoc, reason: string): Promise<number> {
    const ctx = this.ctx;
    const now = ctx.now();
    const moved = await requestRevoke(ctx, doc, { by: 'latch', reason, now });
    if (!moved) return 0;
    await ctx.audit.append({
      actor: ACTOR,
      action: 'request.revoke_requested',
      subject: { type: 'request', id: formatRequestId(doc.number) },
      details: { reason, automatic: true },
      at: now,
    });
    return 1;
  }

  /** Still on call past the grant's end (the next shift follows on): the end moves with the rota. */
  private async extend(doc: RequestDoc, until: Date | undefined): Promise<boolean> {
    if (doc.state !== 'active' || !doc.expiresAt) return false;
    if (until && until.getTime() <= doc.expiresAt.getTime()) return false;
    const ctx = this.ctx;
    const now = ctx.now();
    const warningMinutes = (await ctx.settings()).expiryWarningMinutes;
    const warnAt = until ? warnTime(until, warningMinutes, now) : null;
    const moved = await ctx.moves.move(
      { _id: doc._id, state: 'active', expiresAt: doc.expiresAt },
      {
        $set: { expiresAt: until ?? null, ...(warnAt ? { warnAt } : {}) },
        ...(warnAt ? {} : { $unset: { warnAt: 1 } }),
      },
    );
    if (!moved) return false;
    await ctx.audit.append({
      actor: ACTOR,
      action: 'request.extended',
      subject: { type: 'request', id: formatRequestId(doc.number) },
      details: { automatic: true, until: until?.toISOString() ?? null, reason: 'still on call' },
      at: now,
    });
    return true;
  }
}
