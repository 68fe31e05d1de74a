/**
 * Sending to Slack for the outbox (docs/ARCHITECTURE.md, "Outbox"): each message is sent once per
 * event and recipient, however often the event is retried, and a failure worth retrying (a rate
 * limit, a Slack outage, the network) is thrown as DeliveryDeferred, with Slack's Retry-After when
 * it gives one. A failure no retry can fix (the person left, the channel is gone) is logged and
 * dropped, so it does not hold up the request's later messages.
 */
import type { Logger } from '../../logger.js';
import { DeliveryDeferred } from '../../lifecycle/notifier.js';
import type { Message } from '../../../blocks/slack/messages.js';
import type { SlackUserRef } from './directory.js';
import type { SlackModels } from './store.js';
import type { Workspaces } from './workspaces.js';

/**
 * A claim older than this is a sender that died mid-send: the message is sent again (at least
 * once). Longer than a Web API call can take with its timeout and retries.
 */
const STALE_CLAIM_MS = 35_000;

/** Slack answers these when trying again later may work. */
const RETRYABLE_ERRORS = new Set([
  'ratelimited',
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
]);

export class SlackDelivery {
  /** Claims this process holds while it sends, released if it stops mid-send. */
  private readonly claimed = new Set<string>();

  constructor(private readonly d: { m: SlackModels; workspaces: Workspaces; log: Logger; now: () => Date }) {}

  /**
   * A DM to `ref`. `key` (event id and purpose) makes it once-only: a retried event does not send
   * it again. Returns where it landed, or undefined when it could not be sent for good.
   */
  async dm(
    ref: SlackUserRef,
    message: Message,
    key?: string,
    after?: (posted: { channel: string; ts: string }) => Promise<void>,
  ): Promise<{ channel: string; ts: string } | undefined> {
    return this.once(
      key && `${key}:${ref.teamId ?? '-'}:${ref.userId}`,
      async () => {
        const client = await this.d.workspaces.client(ref.teamId);
        const open = await client.conversations.open({ users: ref.userId });
        const channel = open.channel?.id;
        if (!channel) return undefined;
        const res = await client.chat.postMessage({
          channel,
          text: message.text,
          blocks: message.blocks,
        });
        if (!res.ts) return undefined;
        const posted = { channel, ts: res.ts };
        // Inside the once-claim: a message is never left sent without what must go with it.
        await after?.(posted);
        return posted;
      },
      `DM to ${ref.userId}`,
    );
  }

  /** A line in a channel (the audit channel), once per key. */
  async post(channel: string, text: string, key?: string): Promise<void> {
    await this.once(
      key && `${key}:${channel}`,
      async () => {
        const client = await this.d.workspaces.client();
        await client.chat.postMessage({ channel, text, unfurl_links: false });
      },
      `post to ${channel}`,
    );
  }

  /** Rewrites a message; the same content twice is harmless, so no claim is needed. */
  async update(
    ref: { teamId?: string | null; channel: string; ts: string },
    message: Message,
  ): Promise<void> {
    await this.guard(async () => {
      const client = await this.d.workspaces.client(ref.teamId ?? undefined);
      await client.chat.update({
        channel: ref.channel,
        ts: ref.ts,
        text: message.text,
        blocks: message.blocks,
      });
    }, `update of ${ref.channel}/${ref.ts}`);
  }

  private async once<T>(
    key: string | undefined,
    send: () => Promise<T>,
    what: string,
  ): Promise<T | undefined> {
    if (!key) return this.guard(send, what);
    const { Sent } = this.d.m;
    const now = this.d.now();
    try {
      await Sent.create({ _id: key, state: 'sending', at: now });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
      // Sent already: done. Being sent by another deliverer: try again once it has finished or,
      // if it died, once its claim is stale and this one may take it over.
      const stale = await Sent.findOneAndUpdate(
        { _id: key, state: 'sending', at: { $lt: new Date(now.getTime() - STALE_CLAIM_MS) } },
        { $set: { at: now } },
      );
      if (!stale) {
        const other = await Sent.findById(key).lean();
        if (!other || other.state === 'sent') return undefined;
        // Try again when that claim would be stale, if it is still not sent by then.
        const staleInMs = other.at.getTime() + STALE_CLAIM_MS - now.getTime();
        throw new DeliveryDeferred(
          `the ${what} is being sent by another process`,
          Math.max(1_000, staleInMs),
        );
      }
    }
    this.claimed.add(key);
    try {
      const result = await this.guard(send, what);
      await Sent.updateOne({ _id: key }, { $set: { state: 'sent' } });
      return result;
    } catch (err) {
      await Sent.deleteOne({ _id: key, state: 'sending' });
      throw err;
    } finally {
      this.claimed.delete(key);
    }
  }

  /** At shutdown: gives up the claims of sends still under way, so the next process sends at once. */
  async release(): Promise<void> {
    const keys = [...this.claimed];
    if (keys.length) await this.d.m.Sent.deleteMany({ _id: { $in: keys }, state: 'sending' });
  }

  /** Runs a Slack call: retryable failures are thrown as DeliveryDeferred, the others logged. */
  private async guard<T>(call: () => Promise<T>, what: string): Promise<T | undefined> {
    try {
      return await call();
    } catch (err) {
      const deferred = asDeferred(err, what);
      if (deferred) throw deferred;
      this.d.log.warn({ err }, `Slack ${what} failed for good`);
      return undefined;
    }
  }
}

/** A Web API failure worth retrying, as DeliveryDeferred; undefined for one that is final. */
export function asDeferred(err: unknown, what: string): DeliveryDeferred | undefined {
  const e = err as {
    code?: string;
    retryAfter?: number;
    statusCode?: number;
    headers?: Record<string, string>;
    data?: { error?: string };
  };
  const retryAfterMs = typeof e.retryAfter === 'number' ? e.retryAfter * 1000 : undefined;
  switch (e.code) {
    case 'slack_webapi_rate_limited_error':
      return new DeliveryDeferred(`Slack rate-limited the ${what}`, retryAfterMs, { cause: err });
    case 'slack_webapi_request_error':
      return new DeliveryDeferred(`Slack could not be reached for the ${what}`, undefined, { cause: err });
    case 'slack_webapi_http_error':
      if ((e.statusCode ?? 0) >= 500 || e.statusCode === 429) {
        const header = Number(e.headers?.['retry-after']);
        return new DeliveryDeferred(
          `Slack answered ${e.statusCode} to the ${what}`,
          Number.isFinite(header) ? header * 1000 : undefined,
          { cause: err },
        );
      }
      return undefined;
    case 'slack_webapi_platform_error':
      return RETRYABLE_ERRORS.has(e.data?.error ?? '')
        ? new DeliveryDeferred(`Slack answered ${e.data?.error} to the ${what}`, undefined, { cause: err })
        : undefined;
    default:
      // Not a Web API error at all (a bug, MongoDB away): worth another try later.
      return new DeliveryDeferred(
        `the ${what} failed: ${(err as Error)?.message ?? String(err)}`,
        undefined,
        {
          cause: err,
        },
      );
  }
}
