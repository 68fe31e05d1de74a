/**
 * Lifecycle webhook subscriptions (docs/ARCHITECTURE.md, "Lifecycle webhooks"): create, edit,
 * rotate the secret, delete, and read them with their recent deliveries. The admin check and the
 * audit are AdminUseCases'; this holds the rules. The signing secret is sealed with the SecretBox;
 * it leaves the core only once, when Latch generated it (on creation or rotation).
 */
import mongoose from 'mongoose';
import { registerSecret } from '../secret-scrubber.js';
import type { SecretBox } from '../store/secrets.js';
import type { WebhookEventType } from '../webhooks/events.js';
import { checkWebhookInput, generateWebhookSecret, type CheckedWebhook } from '../webhooks/subscription.js';
import type { LifecycleContext } from './context.js';
import { invalid, notFound } from './errors.js';

/** A subscription as consoles show it: never its secret. */
export interface WebhookView {
  id: string;
  name: string;
  url: string;
  /** Empty: every event. */
  events: WebhookEventType[];
  enabled: boolean;
  secretSetAt: Date;
  createdAt?: Date;
  /** The newest deliveries first. */
  recent: WebhookDeliveryView[];
  /** Deliveries still to go (first tries and retries). */
  pending: number;
}

export interface WebhookDeliveryView {
  id: string;
  event: string;
  eventId: string;
  requestId: string;
  state: 'pending' | 'delivered' | 'failed';
  attempts: number;
  /** The receiver's last HTTP status; absent when it never answered (time-out, connection refused). */
  lastStatus?: number;
  lastError?: string;
  createdAt: Date;
  lastAttemptAt?: Date;
  nextAttemptAt?: Date;
}

/** What a save says back: the secret only when Latch generated it, to be shown once. */
export interface WebhookSaved {
  webhook: WebhookView;
  secret?: string;
}

interface SubscriptionDoc {
  _id: mongoose.Types.ObjectId;
  name: string;
  url: string;
  events: string[];
  secret: string;
  secretSetAt: Date;
  enabled: boolean;
  createdAt?: Date;
}

type Issue = { field: string; message: string };

export class WebhookSubscriptions {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly box: SecretBox,
  ) {}

  /** Every problem of `input` on its field, writing nothing; `id` when it edits that subscription. */
  async issues(input: unknown, id?: string): Promise<Issue[]> {
    const checked = checkWebhookInput(input);
    const out = checked.ok ? [] : checked.issues;
    const name = checked.ok ? checked.value.name : (input as { name?: unknown } | null)?.name;
    if (typeof name === 'string' && name.trim()) {
      const same = await this.ctx.db.models.WebhookSubscription.findOne({ name: name.trim() })
        .select('_id')
        .lean();
      if (same && String(same._id) !== id)
        out.push({ field: 'name', message: `A subscription called ${name.trim()} already exists.` });
    }
    return out;
  }

  async create(input: unknown): Promise<WebhookSaved> {
    const v = await this.checked(input);
    const secret = v.secret || generateWebhookSecret();
    registerSecret(secret);
    const now = this.ctx.now();
    try {
      const doc = await this.ctx.db.models.WebhookSubscription.create({
        name: v.name,
        url: v.url,
        events: v.events,
        secret: this.box.seal(secret),
        secretSetAt: now,
        enabled: v.enabled,
      });
      return {
        webhook: await this.view(doc.toObject() as SubscriptionDoc, 0),
        ...(v.secret ? {} : { secret }),
      };
    } catch (err) {
      throw duplicate(err, v.name);
    }
  }

  /** A secret left empty keeps the stored one; one typed replaces it. */
  async update(id: string, input: unknown): Promise<{ webhook: WebhookView; secretChanged: boolean }> {
    await this.doc(id);
    const v = await this.checked(input, id);
    if (v.secret) registerSecret(v.secret);
    try {
      const doc = await this.ctx.db.models.WebhookSubscription.findByIdAndUpdate(
        id,
        {
          $set: {
            name: v.name,
            url: v.url,
            events: v.events,
            enabled: v.enabled,
            ...(v.secret ? { secret: this.box.seal(v.secret), secretSetAt: this.ctx.now() } : {}),
          },
        },
        { returnDocument: 'after' },
      ).lean<SubscriptionDoc>();
      if (!doc) throw notFound('That webhook subscription no longer exists.');
      return { webhook: await this.view(doc, 0), secretChanged: Boolean(v.secret) };
    } catch (err) {
      throw duplicate(err, v.name);
    }
  }

  /** A new generated secret, effective at once (retries of earlier events are signed with it too). */
  async rotate(id: string): Promise<WebhookSaved> {
    await this.doc(id);
    const secret = generateWebhookSecret();
    registerSecret(secret);
    const doc = await this.ctx.db.models.WebhookSubscription.findByIdAndUpdate(
      id,
      { $set: { secret: this.box.seal(secret), secretSetAt: this.ctx.now() } },
      { returnDocument: 'after' },
    ).lean<SubscriptionDoc>();
    if (!doc) throw notFound('That webhook subscription no longer exists.');
    return { webhook: await this.view(doc, 0), secret };
  }

  /** Deletes the subscription and its deliveries, pending ones included; returns its name. */
  async remove(id: string): Promise<string> {
    const doc = await this.doc(id);
    await this.ctx.db.models.WebhookSubscription.deleteOne({ _id: doc._id });
    await this.ctx.db.models.WebhookDelivery.deleteMany({ subscription: String(doc._id) });
    return doc.name;
  }

  async list(recent: number): Promise<WebhookView[]> {
    const docs = await this.ctx.db.models.WebhookSubscription.find()
      .sort({ name: 1 })
      .lean<SubscriptionDoc[]>();
    return Promise.all(docs.map((d) => this.view(d, recent)));
  }

  async get(id: string, recent: number): Promise<WebhookView | null> {
    if (!mongoose.isValidObjectId(id)) return null;
    const doc = await this.ctx.db.models.WebhookSubscription.findById(id).lean<SubscriptionDoc>();
    return doc ? this.view(doc, recent) : null;
  }

  private async checked(input: unknown, id?: string): Promise<CheckedWebhook> {
    const problems = await this.issues(input, id);
    const checked = checkWebhookInput(input);
    if (problems.length > 0 || !checked.ok) {
      const list = problems.map((i) => `${i.field}: ${i.message}`).join('; ');
      throw invalid(list, problems[0]?.field);
    }
    return checked.value;
  }

  private async doc(id: string): Promise<SubscriptionDoc> {
    const doc = mongoose.isValidObjectId(id)
      ? await this.ctx.db.models.WebhookSubscription.findById(id).lean<SubscriptionDoc>()
      : null;
    if (!doc) throw notFound('That webhook subscription no longer exists.');
    return doc;
  }

  private async view(doc: SubscriptionDoc, recent: number): Promise<WebhookView> {
    const { WebhookDelivery } = this.ctx.db.models;
    const id = String(doc._id);
    const [deliveries, pending] = await Promise.all([
      recent > 0
        ? WebhookDelivery.find({ subscription: id })
            .sort({ createdAt: -1, seq: -1 })
            .limit(recent)
            .select('-body')
            .lean()
        : Promise.resolve([]),
      WebhookDelivery.countDocuments({ subscription: id, state: 'pending' }),
    ]);
    return {
      id,
      name: doc.name,
      url: doc.url,
      events: [...doc.events] as WebhookEventType[],
      enabled: doc.enabled !== false,
      secretSetAt: doc.secretSetAt,
      createdAt: doc.createdAt,
      pending,
      recent: deliveries.map((d) => ({
        id: String(d._id),
        event: d.event,
        eventId: d.eventId,
        requestId: d.requestId,
        state: d.state as WebhookDeliveryView['state'],
        attempts: d.attempts ?? 0,
        ...(typeof d.lastStatus === 'number' ? { lastStatus: d.lastStatus } : {}),
        ...(d.lastError ? { lastError: d.lastError } : {}),
        createdAt: d.createdAt as Date,
        ...(d.lastAttemptAt ? { lastAttemptAt: d.lastAttemptAt } : {}),
        ...(d.state === 'pending' && d.nextAttemptAt ? { nextAttemptAt: d.nextAttemptAt } : {}),
      })),
    };
  }
}

function duplicate(err: unknown, name: string): unknown {
  return (err as { code?: number }).code === 11000
    ? invalid(`name: A subscription called ${name} already exists.`, 'name')
    : err;
}
