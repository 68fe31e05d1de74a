/**
 * Admin notices (docs/ARCHITECTURE.md, "Admin notices"): messages to every admin that belong to no
 * request, such as a context source gone stale. Like the outbox, each is written before anyone is
 * told and delivered at least once to each channel; its id names the occasion, so posting the same
 * occasion twice (a retry after a crash) tells nobody twice.
 */
import type { LifecycleContext } from './context.js';
import type { AdminNoticeView, Notifier } from './notifier.js';

/** After this many failed rounds a channel is given up on for that notice (it is logged). */
const MAX_ATTEMPTS = 8;
const LEASE_MS = 60_000;

export class AdminNotices {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly channels: Record<string, Notifier>,
  ) {}

  private get tellers(): string[] {
    return Object.entries(this.channels)
      .filter(([, n]) => typeof n.notifyAdmins === 'function')
      .map(([name]) => name);
  }

  async post(id: string, kind: string, text: string): Promise<void> {
    const now = this.ctx.now();
    await this.ctx.db.models.AdminNotice.updateOne(
      { _id: id },
      {
        $setOnInsert: {
          kind,
          text,
          admins: await this.ctx.admins(),
          pending: this.tellers,
          attempts: 0,
          nextAttemptAt: now,
        },
      },
      { upsert: true },
    );
    void this.deliverDue().catch((err: unknown) =>
      this.ctx.log.warn({ err }, 'admin notice delivery failed'),
    );
  }

  /** Delivers what is due, one notice at a time; how many were handled. */
  async deliverDue(): Promise<number> {
    const { AdminNotice } = this.ctx.db.models;
    let handled = 0;
    for (let round = 0; round < 20; round++) {
      const now = this.ctx.now();
      // Claimed by pushing its next attempt past the lease: another process skips it meanwhile.
      const doc = await AdminNotice.findOneAndUpdate(
        { 'pending.0': { $exists: true }, nextAttemptAt: { $lte: now } },
        { $set: { nextAttemptAt: new Date(now.getTime() + LEASE_MS) } },
        { returnDocument: 'after' },
      ).lean();
      if (!doc) break;
      handled++;
      const view: AdminNoticeView = { id: doc._id, kind: doc.kind, text: doc.text, admins: doc.admins };
      const failed: string[] = [];
      let lastError: string | undefined;
      for (const name of doc.pending) {
        try {
          await this.channels[name]?.notifyAdmins?.(view);
        } catch (err) {
          failed.push(name);
          lastError = `${name}: ${(err as Error).message}`;
        }
      }
      const attempts = (doc.attempts ?? 0) + 1;
      const givingUp = failed.length > 0 && attempts >= MAX_ATTEMPTS;
      if (givingUp)
        this.ctx.log.error(
          { notice: doc._id, channels: failed, lastError },
          'admin notice could not be delivered',
        );
      await AdminNotice.updateOne(
        { _id: doc._id },
        {
          $set: {
            pending: givingUp ? [] : failed,
            attempts,
            nextAttemptAt: new Date(now.getTime() + Math.min(2 ** attempts * 1_000, 30 * 60_000)),
            ...(lastError ? { lastError } : {}),
          },
        },
      );
    }
    return handled;
  }
}
