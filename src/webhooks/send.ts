/**
 * One POST of a webhook delivery (docs/ARCHITECTURE.md, "Lifecycle webhooks"), and what its answer
 * means: delivered, try again (when, honouring Retry-After), or failed for good.
 */
import { rootCertificates } from 'node:tls';
import { Agent, request } from 'undici';
import { SIGNATURE_HEADER, signatureHeader } from './signing.js';

export type SendOutcome =
  | { kind: 'delivered'; status: number }
  /** 5xx, 408, 429, a time-out or a connection error: the delivery is tried again. */
  | { kind: 'retry'; status?: number; error: string; retryAfterMs?: number }
  /** Any other answer (4xx, a redirect): trying again would get the same. */
  | { kind: 'failed'; status?: number; error: string };

export interface WebhookSenderOptions {
  /** Extra CA certificates (PEM) trusted besides Node's own, e.g. a private CA of the receiver. */
  ca?: string | string[];
  timeoutMs?: number;
}

export const USER_AGENT = 'Latch-Webhooks/1';
/** The longest Retry-After honoured: a receiver cannot park a delivery for longer. */
const MAX_RETRY_AFTER_MS = 24 * 3600_000;

export class WebhookSender {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(opts: WebhookSenderOptions = {}) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    const extra = opts.ca === undefined ? [] : Array.isArray(opts.ca) ? opts.ca : [opts.ca];
    // NODE_EXTRA_CA_CERTS already reaches Node's defaults; `ca` replaces them, so they go together.
    this.agent = new Agent({
      connect: {
        timeout: this.timeoutMs,
        ...(extra.length ? { ca: [...rootCertificates, ...extra] } : {}),
      },
      headersTimeout: this.timeoutMs,
      bodyTimeout: this.timeoutMs,
    });
  }

  async send(
    url: string,
    secret: string,
    body: string,
    meta: { eventId: string; type: string },
    now = new Date(),
  ): Promise<SendOutcome> {
    try {
      const res = await request(url, {
        method: 'POST',
        dispatcher: this.agent,
        headers: {
          'content-type': 'application/json',
          'user-agent': USER_AGENT,
          [SIGNATURE_HEADER.toLowerCase()]: signatureHeader(secret, body, now),
          'latch-event': meta.type,
          'latch-event-id': meta.eventId,
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      // Nothing of the answer is kept but its status; the body is read to free the connection.
      await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const status = res.statusCode;
      if (status >= 200 && status < 300) return { kind: 'delivered', status };
      if (status === 408 || status === 429 || status >= 500) {
        const retryAfterMs = retryAfter(res.headers['retry-after'], now);
        return {
          kind: 'retry',
          status,
          error: `HTTP ${status}`,
          ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
        };
      }
      if (status >= 300 && status < 400)
        return { kind: 'failed', status, error: `HTTP ${status}: redirects are not followed` };
      return { kind: 'failed', status, error: `HTTP ${status}` };
    } catch (err) {
      return { kind: 'retry', error: describe(err) };
    }
  }

  async close(): Promise<void> {
    await this.agent.close().catch(() => undefined);
  }
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | string[] | undefined, now: Date): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  const ms = /^\d+$/.test(v.trim()) ? Number(v.trim()) * 1000 : Date.parse(v) - now.getTime();
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_RETRY_AFTER_MS, Math.max(0, ms));
}

function describe(err: unknown): string {
  const e = err as {
    name?: string;
    code?: string;
    message?: string;
    cause?: { code?: string; message?: string };
  };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_HEADERS_TIMEOUT')
    return 'timed out';
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return (code ? `${code}: ${message}` : message).slice(0, 300);
}
