/**
 * The durable outbox (docs/ARCHITECTURE.md, "Outbox"). Every event a person must hear of is pushed
 * onto the request's `outbox` by the same update that makes the state change, so it cannot be lost
 * between the two, and one-time credentials travel in it sealed. Deliverers drain it: the sweep loop
 * on every tick, and the process that wrote an event at once, in the background. A request's events
 * go out in order, at least once, to every channel; a channel that fails (a rate limit, an outage)
 * holds back that request's later events and is retried with backoff, honouring Retry-After.
 */
import { randomUUID } from 'node:crypto';
import type { OutboxEntry, EventType } from '../domain/outbox-entry.js';
import type { SecretBox } from '../store/secrets.js';
import type { RequestDoc } from '../store/models.js';
import type { LifecycleContext } from './context.js';
import { formatRequestId } from '../domain/human-id.js';
import {
  DeliveryDeferred,
  type GrantedCredentials,
  type LatchEvent,
  type Notifier,
  type Unreached,
} from './notifier.js';
import { extensionOfferFor, toView } from './request-view.js';

const EPOCH = new Date(0);

/** An event some channels have delivered: those left, and whom the others could not reach. */
interface Progress {
  channels: string[];
  unreached: NonNullable<OutboxEntry['unreached']>;
}

export interface OutboxOptions {
  /** How long a deliverer holds a request's outbox; a dead one's is taken over after this. */
  leaseMs: number;
  batchSize: number;
  /** Requests delivered at once (each one's events stay in order). */
  concurrency: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** After this many failed attempts an event is given up for that channel (and logged). */
  maxAttempts: number;
}

export const DEFAULT_OUTBOX_OPTIONS: OutboxOptions = {
  // Renewed every third of it while a request's events go out: a process that dies mid-delivery
  // holds that request's outbox for seconds, however long a live one's delivery takes.
  leaseMs: 9_000,
  batchSize: 50,
  concurrency: 8,
  retryBaseMs: 1_000,
  retryMaxMs: 5 * 60_000,
  maxAttempts: 20,
};

type EntryFields = Omit<OutboxEntry, 'id' | 'type' | 'at' | 'channels' | 'attempts'>;

export class Outbox {
  readonly opts: OutboxOptions;
  private readonly owner = `outbox-${randomUUID().slice(0, 8)}`;
  /** Requests being delivered by this process, by id: each on its own, so one slow never holds up another. */
  private readonly inFlight = new Map<string, Promise<void>>();
  private claiming: Promise<unknown> | null = null;
  private again = false;

  constructor(
    private readonly ctx: LifecycleContext,
    private readonly channels: Record<string, Notifier>,
    private readonly box: SecretBox,
    opts: Partial<OutboxOptions> = {},
  ) {
    this.opts = { ...DEFAULT_OUTBOX_OPTIONS, ...opts };
  }

  /** No channel to deliver to (tests, a worker without chat): events are not written at all. */
  get enabled(): boolean {
    return Object.keys(this.channels).length > 0;
  }

  /** A new event for every channel; undefined when there is no channel. */
  entry(type: EventType, fields: EntryFields = {}): OutboxEntry | undefined {
    if (!this.enabled) return undefined;
    const clean = Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined));
    return { id: randomUUID(), type, at: this.ctx.now(), channels: Object.keys(this.channels), ...clean };
  }

  /** Credentials sealed for the outbox: at rest only in this form until a channel shows them. */
  sealCredentials(credentials: GrantedCredentials[]): string | undefined {
    const sets = credentials.filter((c) => Object.keys(c.values).length > 0);
    return sets.length > 0 ? this.box.seal(JSON.stringify(sets)) : undefined;
  }

  /**
   * `update` with `entries` pushed onto the outbox and the outbox marked due: to be written in the
   * same update as the state change the entries report.
   */
  withEvents<U extends Record<string, unknown>>(update: U, ...entries: Array<OutboxEntry | undefined>): U {
    const list = entries.filter((e): e is OutboxEntry => e !== undefined);
    if (list.length === 0) return update;
    const u = update as Record<string, Record<string, unknown> | undefined>;
    return {
      ...update,
      $push: { ...(u.$push ?? {}), outbox: { $each: list } },
      // Due now, unless a delivery is already waiting out a backoff (a later notifyAt): the new
      // event queues behind it, and the Retry-After is honoured.
      $max: { ...(u.$max ?? {}), notifyAt: this.ctx.now() },
    } as U;
  }

  /** Delivers what is due soon, in the background of this process (coalesced). */
  kick(): void {
    if (!this.enabled) return;
    if (this.claiming) {
      this.again = true;
      return;
    }
    this.claiming = (async () => {
      do {
        this.again = false;
        try {
          await this.claimAndStart();
        } catch (err) {
          this.ctx.log.warn({ err }, 'outbox delivery failed; the sweep retries it');
        }
      } while (this.again);
    })().finally(() => (this.claiming = null));
  }

  /**
   * Waits (at most `timeoutMs`) for deliveries under way in this process; returns how many requests
   * still have events waiting. Those stay in MongoDB and go out after the next start.
   */
  async drain(timeoutMs = Infinity): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while ((this.claiming || this.inFlight.size > 0) && Date.now() < deadline) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([this.claiming, ...this.inFlight.values()]),
        new Promise<void>((r) => {
          if (Number.isFinite(timeoutMs)) timer = setTimeout(r, Math.max(0, deadline - Date.now()));
        }),
      ]);
      clearTimeout(timer);
    }
    if (!this.enabled) return 0;
    return this.ctx.db.models.Request.countDocuments({ notifyAt: { $exists: true } });
  }

  /**
   * At shutdown, after drain(): frees the outboxes this process still holds, so the next process to
   * run the sweeps delivers them at once instead of after the lease.
   */
  async release(): Promise<void> {
    if (!this.enabled) return;
    await this.ctx.db.models.Request.updateMany(
      { notifyAt: { $exists: true }, 'notifyLease.owner': { $regex: `^${this.owner}:` } },
      { $set: { 'notifyLease.until': EPOCH } },
    );
  }

  /** Claims requests with events due and delivers them, waiting for those it started (tests, tools). */
  async deliverDue(): Promise<number> {
    const started = await this.claimAndStart();
    await Promise.all(started);
    return started.length;
  }

  /** Claims as many due requests as there are free delivery slots, and starts delivering each. */
  private async claimAndStart(): Promise<Array<Promise<void>>> {
    const slots = this.opts.concurrency - this.inFlight.size;
    if (!this.enabled || slots <= 0) return [];
    const { Request } = this.ctx.db.models;
    const now = this.ctx.now();
    const due = {
      notifyAt: { $lte: now },
      $or: [{ 'notifyLease.until': { $exists: false } }, { 'notifyLease.until': { $lte: now } }],
    };
    const busy = [...this.inFlight.keys()];
    const ids = await Request.find({ ...due, ...(busy.length ? { _id: { $nin: busy } } : {}) })
      .sort({ notifyAt: 1 })
      .limit(Math.min(slots, this.opts.batchSize))
      .select('_id')
      .lean();
    if (ids.length === 0) return [];
    const token = `${this.owner}:${randomUUID()}`;
    await Request.updateMany(
      { _id: { $in: ids.map((d) => d._id) }, ...due },
      { $set: { notifyLease: { owner: token, until: new Date(now.getTime() + this.opts.leaseMs) } } },
    );
    const claimed = await Request.find({
      _id: { $in: ids.map((d) => d._id) },
      'notifyLease.owner': token,
    }).lean<RequestDoc[]>();
    return claimed.map((doc) => {
      const key = String(doc._id);
      const delivery = this.deliverRequest(doc, token)
        .catch((err: unknown) => this.ctx.log.warn({ err }, 'outbox delivery failed; the sweep retries it'))
        .finally(() => {
          this.inFlight.delete(key);
          // A slot is free: take the next due request, if any.
          this.kick();
        });
      this.inFlight.set(key, delivery);
      return delivery;
    });
  }

  /** One request's events, in order, holding its lease for as long as that takes. */
  private async deliverRequest(doc: RequestDoc, token: string): Promise<void> {
    const { Request } = this.ctx.db.models;
    const renew = setInterval(
      () =>
        void Request.updateOne(
          { _id: doc._id, 'notifyLease.owner': token, 'notifyLease.until': { $gt: EPOCH } },
          { $set: { 'notifyLease.until': new Date(this.ctx.now().getTime() + this.opts.leaseMs) } },
        ).catch((err: unknown) => this.ctx.log.warn({ err }, 'could not renew an outbox lease')),
      Math.max(50, Math.floor(this.opts.leaseMs / 3)),
    );
    try {
      await this.deliverEvents(doc, token);
    } finally {
      clearInterval(renew);
    }
  }

  /** Stops at the first event that a channel could not take, to keep the order. */
  private async deliverEvents(doc: RequestDoc, token: string): Promise<void> {
    const done: string[] = [];
    const progressed = new Map<string, Progress>();
    // Delivered events that leave something to tell are replaced in place by their follow-up: a
    // crash before that write delivers the event again (each message once) rather than losing it.
    const replaced = new Map<string, OutboxEntry>();
    let retryAt: Date | null = null;
    let failed: { id: string; attempts: number } | null = null;
    for (const entry of doc.outbox ?? []) {
      const event = await this.build(entry, doc);
      const left: string[] = [];
      const unreached = [...(entry.unreached ?? [])];
      for (const channel of entry.channels) {
        const notifier = this.channels[channel];
        if (!notifier) continue; // a channel no longer configured
        if (left.length > 0) {
          left.push(channel);
          continue;
        }
        try {
          const report = await notifier.notify(event);
          for (const u of report?.unreached ?? []) unreached.push({ ...u, channel });
          this.ctx.metrics.deliveryDelay.observe(
            { channel },
            Math.max(0, this.ctx.now().getTime() - new Date(entry.at).getTime()) / 1000,
          );
        } catch (err) {
          this.ctx.metrics.deliveryDeferred.inc({ channel });
          const attempts = (entry.attempts ?? 0) + 1;
          if (attempts >= this.opts.maxAttempts) {
            this.ctx.log.error(
              { err, request: event.request.id, event: entry.type, channel, attempts },
              'gave up delivering an event',
            );
            continue;
          }
          const wait =
            err instanceof DeliveryDeferred && err.retryAfterMs !== undefined
              ? err.retryAfterMs
              : Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (attempts - 1));
          retryAt = new Date(this.ctx.now().getTime() + wait);
          failed = { id: entry.id, attempts };
          this.ctx.log.warn(
            { err, request: event.request.id, event: entry.type, channel, attempts, retryInMs: wait },
            'event delivery deferred',
          );
          left.push(channel);
        }
      }
      if (left.length === 0) {
        // Told once per ask: a reminder (or a digest of reminders) reaches or misses the same
        // people again.
        const asks = entry.type === 'approval.needed' || entry.type === 'extension.requested';
        const nobody = asks && !entry.reminder ? this.reachedByNone(unreached) : [];
        const followUp =
          nobody.length > 0
            ? this.entry('approvers.unreached', { unreached: nobody, step: entry.step })
            : undefined;
        if (followUp) {
          await this.auditUnreached(doc, followUp);
          replaced.set(entry.id, followUp);
        } else done.push(entry.id);
      } else {
        if (left.length < entry.channels.length) progressed.set(entry.id, { channels: left, unreached });
        break;
      }
    }
    await this.record(doc, token, done, progressed, replaced, retryAt, failed);
  }

  /** People every channel said it could not reach, with each channel's reason. */
  private reachedByNone(unreached: NonNullable<OutboxEntry['unreached']>): Unreached[] {
    const channels = Object.entries(this.channels)
      .filter(([, n]) => n.tellsPeople !== false)
      .map(([name]) => name);
    const byPerson = new Map<string, Map<string, string>>();
    for (const u of unreached) {
      const whys = byPerson.get(u.person) ?? new Map<string, string>();
      whys.set(u.channel ?? '', u.why);
      byPerson.set(u.person, whys);
    }
    return [...byPerson]
      .filter(([, whys]) => channels.every((c) => whys.has(c)))
      .map(([person, whys]) => ({ person, why: [...new Set(whys.values())].join('; ') }));
  }

  /** Approvers nobody could reach are audited, so admins see them in the audit log and channel. */
  private async auditUnreached(doc: RequestDoc, e: OutboxEntry): Promise<void> {
    await this.ctx.audit.append({
      actor: { type: 'system', id: 'latch' },
      action: 'approvers.unreached',
      subject: { type: 'request', id: formatRequestId(doc.number) },
      details: { unreached: e.unreached },
    });
  }

  /** Removes delivered events, keeps the rest due (now, or after the backoff), frees the lease. */
  private async record(
    doc: RequestDoc,
    token: string,
    done: string[],
    progressed: Map<string, Progress>,
    replaced: Map<string, OutboxEntry>,
    retryAt: Date | null,
    failed: { id: string; attempts: number } | null,
  ): Promise<void> {
    const { Request } = this.ctx.db.models;
    const mine = { _id: doc._id, 'notifyLease.owner': token };
    // MongoDB refuses one update that both pulls from `outbox` and rewrites an element of it, so
    // delivered events go first, and the lease is released last, with the time of the next try:
    // no other deliverer can claim this outbox before its backoff is written.
    const rewrites = progressed.size + replaced.size;
    if (done.length && (failed || rewrites)) {
      await Request.updateOne(mine, { $pull: { outbox: { id: { $in: done } } } });
    }
    for (const [id, { channels, unreached }] of progressed) {
      await Request.updateOne(
        mine,
        { $set: { 'outbox.$[e].channels': channels, 'outbox.$[e].unreached': unreached } },
        { arrayFilters: [{ 'e.id': id }] },
      );
    }
    for (const [id, next] of replaced) {
      await Request.updateOne(mine, { $set: { 'outbox.$[e]': next } }, { arrayFilters: [{ 'e.id': id }] });
    }
    if (failed && retryAt) {
      await Request.updateOne(
        mine,
        { $set: { 'outbox.$[e].attempts': failed.attempts, notifyAt: retryAt, 'notifyLease.until': EPOCH } },
        { arrayFilters: [{ 'e.id': failed.id }] },
      );
      return;
    }
    const after = await Request.findOneAndUpdate(
      mine,
      {
        ...(done.length && !rewrites ? { $pull: { outbox: { id: { $in: done } } } } : {}),
        $set: { 'notifyLease.until': EPOCH },
      },
      { returnDocument: 'after' },
    ).lean<RequestDoc>();
    if (!after) return; // the lease ran out and another deliverer took over
    // Events pushed while we delivered keep the outbox due; an empty one is not due at all.
    if ((after.outbox?.length ?? 0) === 0) {
      await Request.updateOne({ _id: doc._id, 'outbox.0': { $exists: false } }, { $unset: { notifyAt: 1 } });
    } else {
      await Request.updateOne({ _id: doc._id }, { $set: { notifyAt: this.ctx.now() } });
      this.kick();
    }
  }

  /** The event as channels take it: the entry, with the request as it is now. */
  private async build(entry: OutboxEntry, doc: RequestDoc): Promise<LatchEvent> {
    const request = { ...toView(doc) };
    const base = { eventId: `${request.id}:${entry.id}`, occurredAt: new Date(entry.at), request };
    switch (entry.type) {
      case 'request.submitted':
        return { ...base, type: entry.type, approvers: entry.approvers ?? { users: [], groups: [] } };
      case 'approval.needed':
        return {
          ...base,
          type: entry.type,
          approvers: entry.approvers ?? (await this.currentAudience(doc)),
          reminder: entry.reminder ?? false,
          ...(entry.escalated ? { escalated: true } : {}),
        };
      case 'request.escalated':
        return {
          ...base,
          type: entry.type,
          approvers: entry.approvers ?? { users: [], groups: [] },
          step: entry.step ?? doc.step,
        };
      case 'approvals.digest':
        return {
          ...base,
          type: entry.type,
          approver: entry.to ?? '',
          waiting: await this.stillWaiting(entry.requests ?? []),
        };
      case 'approval.recorded':
        return { ...base, type: entry.type, by: entry.by ?? 'latch', remaining: entry.remaining };
      case 'request.approved':
        return { ...base, type: entry.type, by: entry.by ?? 'latch' };
      case 'request.rejected':
        return {
          ...base,
          type: entry.type,
          by: entry.by ?? doc.decidedBy ?? 'latch',
          reason: entry.reason ?? doc.decisionReason ?? '',
        };
      case 'request.cancelled':
      case 'request.timed_out':
      case 'access.revoked':
      case 'request.for_you':
        return { ...base, type: entry.type };
      case 'request.declined':
        return { ...base, type: entry.type, by: entry.by ?? doc.requester.id };
      case 'access.granted':
        return { ...base, type: entry.type, credentials: this.openCredentials(entry.credentials) };
      case 'access.expiring': {
        const settings = await this.ctx.settings();
        return { ...base, type: entry.type, extension: extensionOfferFor(doc, settings.selfExtension) };
      }
      case 'access.extended':
        return { ...base, type: entry.type, by: entry.by ?? 'latch' };
      case 'extension.requested':
        return {
          ...base,
          type: entry.type,
          minutes: entry.minutes ?? 0,
          approvers: entry.approvers ?? { users: await this.ctx.admins(), groups: [] },
        };
      case 'request.failed':
        return { ...base, type: entry.type, error: entry.reason ?? doc.lastError ?? 'the grant failed' };
      case 'revoke.failing':
        return {
          ...base,
          type: entry.type,
          error: entry.reason ?? doc.lastError ?? 'the revoke failed',
          attempts: doc.attempts ?? 0,
          admins: await this.ctx.admins(),
        };
      case 'approvers.unreached':
        return {
          ...base,
          type: entry.type,
          unreached: (entry.unreached ?? []).map(({ person, why }) => ({ person, why })),
        };
      case 'break_glass.used':
        return {
          ...base,
          type: entry.type,
          reason: entry.reason ?? doc.decisionReason ?? '',
          admins: entry.approvers?.users ?? (await this.ctx.admins()),
        };
      case 'access.drift':
        return {
          ...base,
          type: entry.type,
          drift: entry.drift ?? { kind: 'missing', action: 'reported', target: '' },
          admins: await this.ctx.admins(),
        };
    }
  }

  /** A digest's requests as they are now: those decided since it was written are left out. */
  private async stillWaiting(ids: string[]) {
    if (ids.length === 0) return [];
    const docs = await this.ctx.db.models.Request.find({ _id: { $in: ids }, state: 'pending' }).lean<
      RequestDoc[]
    >();
    const order = new Map(ids.map((id, i) => [id, i]));
    return docs
      .sort((a, b) => (order.get(String(a._id)) ?? 0) - (order.get(String(b._id)) ?? 0))
      .map((d) => toView(d));
  }

  private async currentAudience(doc: RequestDoc) {
    const step = doc.flow.approval.steps[doc.step];
    if (!step) return { users: [], groups: [] };
    return this.ctx.audience(
      step,
      [...new Set(doc.targets.flatMap((t) => t.owners ?? []))],
      doc.requester.manager,
    );
  }

  private openCredentials(sealed: string | undefined): GrantedCredentials[] {
    if (!sealed) return [];
    return JSON.parse(this.box.open(sealed)) as GrantedCredentials[];
  }
}
