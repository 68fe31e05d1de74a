/** Notices that a second of delay does not hurt: expiry warnings, reminders, time-outs. */
import { formatRequestId } from '../../domain/human-id.js';
import type { LifecycleContext } from '../context.js';
import { addMinutes } from '../requests/index.js';
import { extensionOfferFor, toView } from '../request-view.js';
import { type SweepOptions } from './shared.js';
import type { RequestClaims } from '../transitions/index.js';

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

  async remindDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claims.claimMarker(
      { state: 'pending', remindAt: { $lte: now } },
      this.ctx.outbox.withEvents(
        { $unset: { remindAt: 1 } },
        this.ctx.outbox.entry('approval.needed', { reminder: true }),
      ),
      'remindedAt',
    );
    for (const doc of docs) {
      const flow = doc.flow;
      const step = flow.approval.steps[doc.step];
      if (!step) continue;
      if (flow.approval.reminderMinutes > 0) {
        await this.ctx.moves.move(
          { _id: doc._id, state: 'pending' },
          { $set: { remindAt: addMinutes(now, flow.approval.reminderMinutes) } },
        );
      }
      const owners = [...new Set(doc.targets.flatMap((t) => t.owners ?? []))];
      await this.ctx.notify({
        type: 'approval.needed',
        request: toView(doc),
        approvers: await this.ctx.audience(step, owners),
        reminder: true,
      });
    }
    return docs.length;
  }

  async timeOutDue(): Promise<number> {
    const now = this.ctx.now();
    const docs = await this.claims.claimMarker(
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
