/**
 * One signed POST to the customer's endpoint, retried (docs/ARCHITECTURE.md, "Connectors"): 5xx
 * (but 501), 408, 429, timeouts and connection errors are tried again with exponential backoff and
 * jitter, a Retry-After winning; any other 4xx, 501 and redirects are a refusal, not retried.
 * Every attempt is signed afresh (the timestamp is part of the signature) over the same body.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { signatureHeader, SIGNATURE_HEADER } from '../../webhooks/signing.js';
import type { WireRequest } from './protocol.js';

/** The longest single wait, whatever the backoff or Retry-After says. */
export const MAX_WAIT_MS = 30_000;
/** Bigger answers are refused rather than held in memory. */
const MAX_ANSWER_BYTES = 10 * 1024 * 1024;
/** Receivers' error texts are shown to people; a page of HTML is no use there. */
const MAX_REASON = 300;

export interface TransportOptions {
  url: string;
  secret: string;
  timeoutMs: number;
  retries: number;
  backoffMs: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** The endpoint answered, and said no: a 4xx (other than 408/429), a 501, or a redirect. */
export class WebhookRefusal extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    /** An earlier attempt of the same call may have been applied before this answer. */
    readonly mayHaveApplied: boolean,
  ) {
    super(message);
    this.name = 'WebhookRefusal';
  }
}

/** No usable answer after the last retry. */
export class WebhookUnavailable extends Error {
  constructor(
    message: string,
    /** Some attempt reached the endpoint and its outcome is unknown (timeout, 5xx, a cut connection). */
    readonly mayHaveApplied: boolean,
  ) {
    super(message);
    this.name = 'WebhookUnavailable';
  }
}

/** A 2xx whose body is not what the protocol says; whatever the endpoint did, it did. */
export class WebhookBadAnswer extends Error {
  readonly mayHaveApplied = true;
  constructor(message: string) {
    super(message);
    this.name = 'WebhookBadAnswer';
  }
}

export type WebhookError = WebhookRefusal | WebhookUnavailable | WebhookBadAnswer;

export function mayHaveApplied(err: unknown): boolean {
  return (
    (err instanceof WebhookRefusal || err instanceof WebhookUnavailable || err instanceof WebhookBadAnswer) &&
    err.mayHaveApplied
  );
}

interface Attempt {
  status: number;
  headers: Headers;
  text: string;
}

/** Connection errors where the request never left: nothing can have been applied. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

export class WebhookTransport {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;

  constructor(private readonly opts: TransportOptions) {
    this.sleep = opts.sleep ?? ((ms) => delay(ms));
    this.random = opts.random ?? Math.random;
  }

  /** POSTs `request` until the endpoint answers 2xx; returns the parsed JSON body (undefined if empty). */
  async post(request: WireRequest, retries = this.opts.retries): Promise<unknown> {
    const body = JSON.stringify(request);
    const what = `${request.action}${request.grants ? ` of ${request.grants.length}` : ''}`;
    let uncertain = false;
    let lastProblem: string;
    let wait = 0;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) await this.sleep(wait);
      let answer: Attempt;
      try {
        answer = await this.send(body, request.id);
      } catch (err) {
        const problem = transportProblem(err, this.opts.timeoutMs);
        if (!problem.notSent) uncertain = true;
        lastProblem = problem.message;
        if (attempt >= retries) break;
        wait = this.backoff(attempt);
        continue;
      }
      const { status } = answer;
      if (status >= 200 && status < 300) return parseBody(answer, what);
      if (status === 408 || status === 429 || (status >= 500 && status !== 501)) {
        // A rate limit is refused before any work; a 5xx or 408 may come after part of it.
        if (status !== 429) uncertain = true;
        lastProblem = `HTTP ${status}${describeReason(answer) ? `: ${describeReason(answer)}` : ''}`;
        if (attempt >= retries) break;
        wait = retryAfterMs(answer.headers, Date.now()) ?? this.backoff(attempt);
        continue;
      }
      const reason =
        status >= 300 && status < 400
          ? `redirected to ${answer.headers.get('location') ?? '(no location)'}; Latch does not follow redirects, configure the final URL`
          : describeReason(answer) || `HTTP ${status}`;
      const hint = status === 401 ? ' (is signingSecret the same on both sides?)' : '';
      throw new WebhookRefusal(
        status,
        reason,
        `the webhook endpoint refused ${what} (HTTP ${status}): ${reason}${hint}`,
        uncertain,
      );
    }
    const tries = retries + 1;
    throw new WebhookUnavailable(
      `the webhook endpoint did not answer ${what} after ${tries} attempt${tries === 1 ? '' : 's'}: ${lastProblem}`,
      uncertain,
    );
  }

  /** base·2^attempt, capped, times a jitter in [0.5, 1) so many grants failing together do not retry in step. */
  private backoff(attempt: number): number {
    const base = Math.min(MAX_WAIT_MS, this.opts.backoffMs * 2 ** attempt);
    return Math.round(base * (0.5 + this.random() / 2));
  }

  private async send(body: string, id: string): Promise<Attempt> {
    const res = await fetch(this.opts.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        'user-agent': 'Latch-Webhook/1',
        'idempotency-key': id,
        [SIGNATURE_HEADER]: signatureHeader(this.opts.secret, body),
      },
      body,
      redirect: 'manual',
      // Covers the whole exchange, reading the answer included.
      signal: AbortSignal.timeout(this.opts.timeoutMs),
    });
    const length = Number(res.headers.get('content-length') ?? 0);
    if (length > MAX_ANSWER_BYTES) {
      await res.body?.cancel();
      return { status: 502, headers: res.headers, text: `answer of ${length} bytes is too large` };
    }
    return { status: res.status, headers: res.headers, text: await res.text() };
  }
}

function parseBody(answer: Attempt, what: string): unknown {
  if (!answer.text.trim()) return undefined;
  try {
    return JSON.parse(answer.text);
  } catch {
    throw new WebhookBadAnswer(
      `the webhook endpoint answered ${what} with HTTP ${answer.status} but no JSON`,
    );
  }
}

/** The receiver's own words: `error` (or `message`) of a JSON body, else the start of the text. */
function describeReason(answer: Attempt): string {
  const text = answer.text.trim();
  if (!text) return '';
  try {
    const body = JSON.parse(text) as unknown;
    if (body && typeof body === 'object') {
      const b = body as Record<string, unknown>;
      const said =
        typeof b.error === 'string' ? b.error : typeof b.message === 'string' ? b.message : undefined;
      if (said !== undefined) return clip(said);
    }
  } catch {
    // not JSON: the text itself
  }
  return clip(text.replace(/\s+/g, ' '));
}

const clip = (s: string) => (s.length > MAX_REASON ? `${s.slice(0, MAX_REASON)}…` : s);

function transportProblem(err: unknown, timeoutMs: number): { message: string; notSent: boolean } {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError')
    return { message: `no answer within ${timeoutMs} ms`, notSent: false };
  const code = e.cause?.code;
  if (code && NOT_SENT.has(code))
    return { message: `${code} (${e.cause?.message ?? 'not reached'})`, notSent: true };
  return {
    message: code ? `${code} (${e.cause?.message ?? e.message})` : (e.message ?? String(err)),
    notSent: false,
  };
}

/** Retry-After in seconds or as an HTTP date, capped; undefined when absent or unreadable. */
export function retryAfterMs(headers: Headers, now: number): number | undefined {
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(MAX_WAIT_MS, Math.max(0, ms));
}
