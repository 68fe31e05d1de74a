/** Notices that a second of delay does not hurt: expiry warnings, reminders, time-outs. */
import { formatRequestId } from '../../domain/human-id.js';
import type { LifecycleContext } from '../context.js';
import type { Approver } from '../../domain/flow.js';
import { nextReminderAt, planReminders } from '../../domain/reminders.js';
import type { RequestDoc } from '../../store/models.js';
import { addMinutes } from '../requests/index.js';
import { audienceOf, owners } from '../requests/shared.js';
import { extensionOfferFor, toView } from '../request-view.js';
import { type SweepOptions } from './shared.js';
import type { RequestClaims } from '../transitions/index.js';

/**
 * How far a claim pushes a reminder or an escalation back: what a worker that dies after claiming
 * leaves undone is due again after this, and another worker does it.
 */
const CLAIM_RETRY_MINUTES = 5;

/** The admins as approvers: `@handle` names a chat user group, anything else a person. */
function adminApprovers(admins: string[]): Approver[] {
  return admins.map((a) => (a.startsWith('@') ? { type: 'group', id: a.slice(1) } : { type: 'user', id: a }));
}

export class NoticeSweeps {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly opts: SweepOptions,
    private readonly claims: RequestClaims,
  ) {}

  async warnDue(): Promise<number> {
    const docs = await this.claims.claimMarker(
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

  /**
   * Reminders with backoff, and digests instead of floods (docs/ARCHITECTURE.md, "Reminders,
   * escalation and digests"). The claim only pushes each reminder a few minutes back, so a worker
   * that dies before writing them leaves them due again, not lost; each request's reminder (and
   * the digests it carries) is then written with its next reminder time in one guarded update.
   */
  async remindDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claims.claimMarker(
      { state: 'pending', remindAt: { $lte: now } },
      { $set: { remindAt: addMinutes(now, CLAIM_RETRY_MINUTES) } },
      'remindedAt',
    );
    if (docs.length === 0) return 0;
    // Oldest first: a digest lists the longest waiting first, and the oldest request carries it.
    docs.sort((a, b) => (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) || a.number - b.number);
    const audiences = await Promise.all(
      docs.map((doc) => {
        const step = doc.flow.approval.steps[doc.step];
        return step ? audienceOf(this.ctx, step, doc) : Promise.resolve({ users: [], groups: [] });
      }),
    );
    // Requesters are never asked about their own request (the channels leave them out too).
    const plan = planReminders(
      docs.map((doc, i) => ({
        key: String(doc._id),
        users: audiences[i]!.users.filter((u) => u !== doc.requester.id),
        groups: audiences[i]!.groups,
      })),
    );
    const unplaced = new Map(plan.digests);
    const reminded: RequestDoc[] = [];
    for (const doc of docs) {
      const key = String(doc._id);
      const sent = (doc.reminders ?? 0) + 1;
      const next = nextReminderAt(now, doc.flow.approval.reminderMinutes, sent, doc.decideBy);
      const own = plan.individual.get(key)!;
      // A person's digest goes with the first of their requests whose reminder is written.
      const carried = [...unplaced].filter(([, keys]) => keys.includes(key));
      const moved = await this.ctx.moves.move(
        { _id: doc._id, state: 'pending', step: doc.step, 'markers.remindedAt': doc.markers.remindedAt },
        {
          $set: { reminders: sent, ...(next ? { remindAt: next } : {}) },
          ...(next ? {} : { $unset: { remindAt: 1 } }),
        },
        own.users.length + own.groups.length > 0
          ? this.ctx.outbox.entry('approval.needed', { approvers: own, reminder: true, step: doc.step })
          : undefined,
        ...carried.map(([to, keys]) => this.ctx.outbox.entry('approvals.digest', { to, requests: keys })),
      );
      if (!moved) continue;
      for (const [to] of carried) unplaced.delete(to);
      reminded.push(moved);
      if (own.users.length + own.groups.length > 0)
        await this.ctx.notify({
          type: 'approval.needed',
          request: toView(moved),
          approvers: own,
          reminder: true,
        });
    }
    const byKey = new Map(reminded.map((d) => [String(d._id), toView(d)]));
    for (const [to, keys] of plan.digests) {
      if (unplaced.has(to)) continue;
      const waiting = keys.flatMap((k) => byKey.get(k) ?? []);
      if (waiting.length > 0)
        await this.ctx.notify({ type: 'approvals.digest', request: waiting[0]!, approver: to, waiting });
    }
    return reminded.length;
  }

  /**
   * Steps nobody decided within the flow's `escalation.afterMinutes`: their escalation approvers
   * (the admins when the flow names none) are added to the step, get the approval card, and the
   * requester is told. Once per step (the guard refuses a second); reminders of the step stop.
   */
  async escalateDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claims.claimMarker(
      { state: 'pending', escalateAt: { $lte: now } },
      { $set: { escalateAt: addMinutes(now, CLAIM_RETRY_MINUTES) } },
      'escalatedAt',
    );
    let admins: string[] | undefined;
    let escalated = 0;
    for (const doc of docs) {
      const guard = {
        _id: doc._id,
        state: 'pending',
        step: doc.step,
        'markers.escalatedAt': doc.markers.escalatedAt,
        'escalations.step': { $ne: doc.step },
      };
      const escalation = doc.flow.approval.escalation;
      const named = escalation?.to ?? [];
      const to = named.length > 0 ? named : adminApprovers((admins ??= await this.ctx.admins()));
      if (!escalation || !doc.flow.approval.steps[doc.step] || to.length === 0) {
        if (escalation)
          this.ctx.log.warn({ request: formatRequestId(doc.number) }, 'nobody to escalate to: no admins');
        await this.ctx.moves.move(guard, { $unset: { escalateAt: 1 } });
        continue;
      }
      const asked = await this.ctx.audience(
        { approvers: to, rule: { type: 'any' } },
        owners(doc),
        doc.requester.manager,
      );
      const approvers = { users: asked.users.filter((u) => u !== doc.requester.id), groups: asked.groups };
      const moved = await this.ctx.moves.move(
        guard,
        { $push: { escalations: { step: doc.step, at: now, to } }, $unset: { escalateAt: 1, remindAt: 1 } },
        this.ctx.outbox.entry('approval.needed', {
          approvers,
          reminder: false,
          escalated: true,
          step: doc.step,
        }),
        this.ctx.outbox.entry('request.escalated', { approvers, step: doc.step }),
      );
      if (!moved) continue;
      escalated++;
      const view = toView(moved);
      await this.ctx.record(
        {
          actor: { type: 'system', id: 'latch' },
          action: 'request.escalated',
          subject: { type: 'request', id: view.id },
          details: { step: doc.step, afterMinutes: escalation.afterMinutes, to, approvers },
          at: now,
        },
        { type: 'approval.needed', request: view, approvers, reminder: false, escalated: true },
        { type: 'request.escalated', request: view, approvers, step: doc.step },
      );
    }
    return escalated;
  }

  async timeOutDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claims.claimMarker(
      { state: 'pending', decideBy: { $lte: now } },
      this.ctx.outbox.withEvents(
        {
          $set: { state: 'timed_out', endedAt: now, endedBy: 'latch' },
          $unset: { openKey: 1, remindAt: 1, decideBy: 1, escalateAt: 1 },
        },
        this.ctx.outbox.entry('request.timed_out'),
      ),
      'timedOutAt',
    );
    if (docs.length === 0) return 0;
    await this.ctx.record(
      docs.map((doc) => ({
        actor: { type: 'system' as const, id: 'latch' },
        action: 'request.timed_out',
        subject: { type: 'request', id: formatRequestId(doc.number) },
        at: now,
      })),
      ...docs.map((doc) => ({ type: 'request.timed_out' as const, request: toView(doc) })),
    );
    return docs.length;
  }
}
