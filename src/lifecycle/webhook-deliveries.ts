/**
 * Lifecycle webhooks' delivery (docs/ARCHITECTURE.md, "Lifecycle webhooks"). The outbox's `webhooks`
 * channel: each event it hands over becomes one `webhook_deliveries` document per subscription that
 * wants it (under a key that makes a second hand-over write nothing), and only then is the outbox
 * entry done, so an event written with its state change reaches every subscriber whatever crashes
 * in between. Deliveries go out here, apart from the chat channels, so a slow or failing receiver
 * never holds up anyone's messages, and each subscription gets one request's events in order.
 * 5xx, 408, 429, time-outs and connection errors are retried with backoff (Retry-After honoured);
 * any other answer fails the delivery for good. Finished deliveries are the status the consoles
 * show, the last KEEP per subscription.
 */
import { randomUUID } from 'node:crypto';
import mongoose from 'mongoose';
import { registerSecret } from '../secret-scrubber.js';
import type { SecretBox } from '../store/secrets.js';
import { webhookPayload, webhookTypeOf } from '../webhooks/events.js';
import { WebhookSender, type SendOutcome } from '../webhooks/send.js';
import type { LifecycleContext } from './context.js';
import type { LatchEvent, Notifier } from './notifier.js';

export interface WebhookDeliveryOptions {
  retryBaseMs: number;
  retryMaxMs: number;
  /** After this many attempts a delivery that keeps failing is given up (failed). */
  maxAttempts: number;
  /** How long one process holds a delivery it is sending; longer than a send can take. */
  leaseMs: number;
  /** Deliveries sent at once. */
  concurrency: number;
  batchSize: number;
  /** Finished deliveries kept per subscription (the status the consoles show). */
  keep: number;
  timeoutMs: number;
  /** Extra CA certificates (PEM) the receivers' certificates may chain to. */
  ca?: string | string[];
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookDeliveryOptions = {
  // 5 s doubling to an hour: 20 attempts span about 11 hours.
  retryBaseMs: 5_000,
  retryMaxMs: 3_600_000,
  maxAttempts: 20,
  leaseMs: 30_000,
  concurrency: 8,
  batchSize: 50,
  keep: 50,
  timeoutMs: 10_000,
};

/** The channel's name in the outbox. */
export const WEBHOOK_CHANNEL = 'webhooks';

const EPOCH = new Date(0);

interface DeliveryDoc {
  _id: string;
  subscription: string;
  event: string;
  eventId: string;
  requestId: string;
  seq: number;
  body: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
}

export class WebhookDeliveries implements Notifier {
  readonly tellsPeople = false;
  readonly opts: WebhookDeliveryOptions;
  private readonly sender: WebhookSender;
  private readonly owner = `webhooks-${randomUUID().slice(0, 8)}`;
  private running: Promise<void> | null = null;
  private again = false;
  private closed = false;

  constructor(
    private readonly ctx: LifecycleContext,
    private readonly box: SecretBox,
    opts: Partial<WebhookDeliveryOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WEBHOOK_OPTIONS, ...opts };
    this.sender = new WebhookSender({ ca: this.opts.ca, timeoutMs: this.opts.timeoutMs });
  }

  /** From the outbox: the event queued for every enabled subscription that wants it. */
  async notify(event: LatchEvent): Promise<void> {
    const type = webhookTypeOf(event);
    if (!type) return;
    const { WebhookSubscription, WebhookDelivery } = this.ctx.db.models;
    const subs = (await WebhookSubscription.find({ enabled: true }).select('_id events').lean()).filter(
      (s) => s.events.length === 0 || s.events.includes(type),
    );
    if (subs.length === 0) return;
    const eventId = event.eventId ?? `${event.request.id}:${randomUUID()}`;
    const body = JSON.stringify(webhookPayload(event, eventId, event.occurredAt ?? this.ctx.now()));
    // One request's events reach the outbox one at a time, in order (its lease): numbering them
    // after the last one queued keeps that order for each subscription.
    const [last, waiting] = await Promise.all([
      WebhookDelivery.findOne({ requestId: event.request.id }).sort({ seq: -1 }).select('seq').lean(),
      WebhookDelivery.find({ requestId: event.request.id, state: 'pending' })
        .select('subscription nextAttemptAt')
        .lean(),
    ]);
    const now = this.ctx.now();
    // Behind an earlier event that waits out a backoff, a new one is not due before it: due ones
    // that cannot go yet would crowd out of each round deliveries that can.
    const notBefore = (sub: string) =>
      new Date(
        Math.max(
          now.getTime(),
          ...waiting
            .filter((w) => w.subscription === sub)
            .map((w) => new Date(w.nextAttemptAt ?? 0).getTime()),
        ),
      );
    await WebhookDelivery.bulkWrite(
      subs.map((s) => ({
        updateOne: {
          filter: { _id: `${String(s._id)}:${eventId}` },
          update: {
            $setOnInsert: {
              subscription: String(s._id),
              event: type,
              eventId,
              requestId: event.request.id,
              seq: (last?.seq ?? 0) + 1,
              body,
              state: 'pending',
              attempts: 0,
              nextAttemptAt: notBefore(String(s._id)),
            },
          },
          upsert: true,
        },
      })),
      { ordered: false },
    );
    this.kick();
  }

  /** Sends what is due, in the background of this process (coalesced). */
  kick(): void {
    if (this.closed) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = (async () => {
      do {
        this.again = false;
        try {
          await this.deliverDue();
        } catch (err) {
          this.ctx.log.warn({ err }, 'webhook delivery failed; the sweep retries it');
        }
      } while (this.again && !this.closed);
    })().finally(() => (this.running = null));
  }

  /** Sends every delivery due now (in rounds, to keep each subscription's order); how many were tried. */
  async deliverDue(): Promise<number> {
    let tried = 0;
    for (let round = 0; round < 20 && !this.closed; round++) {
      const n = await this.round();
      tried += n;
      if (n === 0) break;
    }
    return tried;
  }

  /** Stops sending: waits (bounded) for sends under way and frees what this process holds. */
  async close(timeoutMs = 10_000): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.running, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
    await this.ctx.db.models.WebhookDelivery.updateMany(
      { state: 'pending', 'lease.owner': { $regex: `^${this.owner}:` } },
      { $set: { 'lease.until': EPOCH } },
    ).catch(() => undefined);
    await this.sender.close();
  }

  private async round(): Promise<number> {
    const { WebhookDelivery, WebhookSubscription } = this.ctx.db.models;
    const now = this.ctx.now();
    const free = { $or: [{ 'lease.until': { $exists: false } }, { 'lease.until': { $lte: now } }] };
    const due = await WebhookDelivery.find({ state: 'pending', nextAttemptAt: { $lte: now }, ...free })
      .sort({ nextAttemptAt: 1, seq: 1 })
      .limit(this.opts.batchSize)
      .select('_id subscription requestId')
      .lean<Array<Pick<DeliveryDoc, '_id' | 'subscription' | 'requestId'>>>();
    if (due.length === 0) return 0;
    // In order: a delivery goes only when it is the first still pending of its subscription and
    // request (one waiting out a backoff holds back those after it).
    const key = (d: { subscription: string; requestId: string }) => `${d.subscription}|${d.requestId}`;
    const pending = await WebhookDelivery.find({
      state: 'pending',
      subscription: { $in: [...new Set(due.map((d) => d.subscription))] },
      requestId: { $in: [...new Set(due.map((d) => d.requestId))] },
    })
      .sort({ seq: 1, createdAt: 1 })
      .select('_id subscription requestId')
      .lean<Array<Pick<DeliveryDoc, '_id' | 'subscription' | 'requestId'>>>();
    const heads = new Map<string, string>();
    for (const p of pending) if (!heads.has(key(p))) heads.set(key(p), p._id);
    const eligible = due.filter((d) => heads.get(key(d)) === d._id).map((d) => d._id);
    if (eligible.length === 0) return 0;
    const token = `${this.owner}:${randomUUID()}`;
    await WebhookDelivery.updateMany(
      { _id: { $in: eligible }, state: 'pending', ...free },
      { $set: { lease: { owner: token, until: new Date(now.getTime() + this.opts.leaseMs) } } },
    );
    const claimed = await WebhookDelivery.find({ _id: { $in: eligible }, 'lease.owner': token }).lean<
      DeliveryDoc[]
    >();
    if (claimed.length === 0) return 0;
    const ids = [...new Set(claimed.map((d) => d.subscription))].filter((id) => mongoose.isValidObjectId(id));
    const subs = new Map(
      (await WebhookSubscription.find({ _id: { $in: ids } }).lean()).map((s) => [String(s._id), s]),
    );
    const queue = [...claimed];
    const worker = async () => {
      for (let d = queue.shift(); d; d = queue.shift()) {
        await this.attempt(d, subs.get(d.subscription), token).catch((err: unknown) =>
          this.ctx.log.warn({ err, delivery: d._id }, 'could not record a webhook delivery'),
        );
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, queue.length) }, worker));
    for (const id of new Set(claimed.map((d) => d.subscription))) await this.prune(id);
    return claimed.length;
  }

  private async attempt(
    d: DeliveryDoc,
    sub: { url: string; secret: string; enabled?: boolean } | undefined,
    token: string,
  ): Promise<void> {
    const { WebhookDelivery } = this.ctx.db.models;
    const mine = { _id: d._id, 'lease.owner': token };
    // Deleting a subscription deletes its deliveries; one queued meanwhile goes with it.
    if (!sub) return void (await WebhookDelivery.deleteOne(mine));
    const outcome = await this.send(d, sub);
    const now = this.ctx.now();
    const attempts = d.attempts + 1;
    const status = outcome.status !== undefined ? { lastStatus: outcome.status } : {};
    if (outcome.kind === 'delivered') {
      await WebhookDelivery.updateOne(mine, {
        $set: { state: 'delivered', attempts, lastAttemptAt: now, finishedAt: now, ...status },
        $unset: { nextAttemptAt: 1, lease: 1, lastError: 1 },
      });
      return;
    }
    const o = outcome;
    // A connection error has no status: the one of an earlier attempt would mislead.
    const unset = o.status === undefined ? { lastStatus: 1 } : {};
    if (o.kind === 'retry' && attempts < this.opts.maxAttempts) {
      const wait =
        o.retryAfterMs ?? Math.min(this.opts.retryMaxMs, this.opts.retryBaseMs * 2 ** (attempts - 1));
      this.ctx.log.warn(
        { delivery: d._id, event: d.event, attempts, error: o.error, retryInMs: wait },
        'webhook delivery deferred',
      );
      const retryAt = new Date(now.getTime() + wait);
      await WebhookDelivery.updateOne(mine, {
        $set: { attempts, lastAttemptAt: now, lastError: o.error, nextAttemptAt: retryAt, ...status },
        $unset: { lease: 1, ...unset },
      });
      // Those queued behind it wait as long (see notify).
      await WebhookDelivery.updateMany(
        { subscription: d.subscription, requestId: d.requestId, state: 'pending', seq: { $gt: d.seq } },
        { $max: { nextAttemptAt: retryAt } },
      );
      return;
    }
    this.ctx.log.error(
      { delivery: d._id, event: d.event, attempts, error: o.error },
      o.kind === 'retry' ? 'gave up delivering a webhook' : 'webhook delivery refused',
    );
    await WebhookDelivery.updateOne(mine, {
      $set: { state: 'failed', attempts, lastAttemptAt: now, finishedAt: now, lastError: o.error, ...status },
      $unset: { nextAttemptAt: 1, lease: 1, ...unset },
    });
  }

  private async send(
    d: DeliveryDoc,
    sub: { url: string; secret: string; enabled?: boolean },
  ): Promise<SendOutcome> {
    if (sub.enabled === false) return { kind: 'failed', error: 'not sent: the subscription is disabled' };
    let secret: string;
    try {
      secret = this.box.open(sub.secret);
    } catch {
      return {
        kind: 'failed',
        error: 'not sent: the signing secret cannot be decrypted (another LATCH_ENCRYPTION_KEY); rotate it',
      };
    }
    registerSecret(secret);
    // Signed with the wall clock, not Latch's: receivers compare the timestamp with theirs.
    return this.sender.send(sub.url, secret, d.body, { eventId: d.eventId, type: d.event });
  }

  /** The last `keep` finished deliveries of a subscription stay; older ones go. */
  private async prune(subscription: string): Promise<void> {
    const { WebhookDelivery } = this.ctx.db.models;
    const old = await WebhookDelivery.find({ subscription, state: { $ne: 'pending' } })
      .sort({ createdAt: -1, seq: -1 })
      .skip(this.opts.keep)
      .select('_id')
      .lean();
    if (old.length) await WebhookDelivery.deleteMany({ _id: { $in: old.map((o) => o._id) } });
  }
}
