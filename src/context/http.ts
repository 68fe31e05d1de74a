/**
 * The HTTP side every context source shares (docs/ARCHITECTURE.md, "Context sources"): JSON GETs
 * with a timeout, answers checked with zod, and the rate-limit and outage rules of SaaS APIs. A 429
 * pauses every request of the sync (not just the one refused) until the API says it may go on, so
 * a sync with several requests in flight does not hammer a limit it already hit; 5xx answers and
 * network failures are retried with backoff, a bounded number of times.
 */
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import type { z } from 'zod';

/** What one sync did over the wire; stored with the source's status and printed by the bench. */
export interface SyncStats {
  requests: number;
  /** 429 answers. */
  rateLimited: number;
  /** 5xx answers and network failures that were retried. */
  retried: number;
  /** Total time spent waiting for a rate limit to reset or a Retry-After to pass. */
  waitedMs: number;
}

export function newStats(): SyncStats {
  return { requests: 0, rateLimited: 0, retried: 0, waitedMs: 0 };
}

/** An answer the source refused with for good (not a rate limit, not an outage). */
export class SourceHttpError extends Error {
  constructor(
    readonly status: number,
    readonly url: string,
    message: string,
    /** The API's own error code, when it gives one (Graph `error.code`, Okta `errorCode`). */
    readonly code?: string,
  ) {
    super(message);
    this.name = 'SourceHttpError';
  }
}

export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

export interface ApiClientOptions {
  /** Authorization and other headers, asked for before every request (a token may be refreshed). */
  headers: () => Promise<Record<string, string>>;
  /**
   * How long to wait before retrying this answer, in ms, or undefined for "not a wait-and-retry
   * answer". Each API says it its own way (Okta: X-Rate-Limit-Reset; Graph: Retry-After).
   */
  retryAfterMs: (answer: Answer, now: number) => number | undefined;
  /** After a successful answer: the time until which new requests should hold back (Okta's Remaining 0). */
  holdUntil?: (answer: Answer, now: number) => number | undefined;
  stats: SyncStats;
  timeoutMs?: number;
  /** 5xx and network failures: this many retries, then the sync fails. */
  maxRetries?: number;
  /** 429s in a row for one request before the sync gives up (the limit never resets). */
  maxRateLimited?: number;
  /** The longest single wait honoured; a larger header value is capped to it. */
  maxWaitMs?: number;
  sleep?: (ms: number) => Promise<void>;
  /** Ends waits and requests when the process stops. */
  signal?: AbortSignal;
  /** Called when a 401 is answered once: a token source drops its cached token. */
  onUnauthorized?: () => void;
  /** Turns an error body into a message (never a secret: the APIs do not echo credentials). */
  describeError: (answer: Answer) => { message: string; code?: string };
}

export class ApiClient {
  private pausedUntil = 0;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly opts: ApiClientOptions) {
    // A rate limit can mean minutes of waiting: a stopping process must not wait them out.
    this.sleep = opts.sleep ?? ((ms) => delay(ms, undefined, { signal: opts.signal }));
  }

  /** GETs `url` and parses its JSON body with `schema`; returns the body and the headers. */
  async get<T>(url: string, schema: z.ZodType<T>): Promise<{ body: T; headers: Answer['headers'] }> {
    const answer = await this.send(url);
    const parsed = schema.safeParse(answer.body);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new Error(
        `unexpected answer from ${redactQuery(url)}: ${first ? `${first.path.join('.')}: ${first.message}` : 'not valid'}`,
      );
    }
    return { body: parsed.data, headers: answer.headers };
  }

  /** GETs `url`: an answer with a 2xx status, or throws (SourceHttpError for a refusal). */
  async send(url: string): Promise<Answer> {
    const { stats } = this.opts;
    const maxRetries = this.opts.maxRetries ?? 5;
    const maxRateLimited = this.opts.maxRateLimited ?? 50;
    const maxWait = this.opts.maxWaitMs ?? 120_000;
    let failures = 0;
    let limited = 0;
    let reauthorized = false;
    for (;;) {
      this.opts.signal?.throwIfAborted();
      // Checked again after each wait: another request may have hit the limit meanwhile.
      for (let hold = this.pausedUntil - Date.now(); hold > 0; hold = this.pausedUntil - Date.now())
        await this.wait(Math.min(hold, maxWait));
      let answer: Answer;
      try {
        stats.requests++;
        answer = await this.fetch(url);
      } catch (err) {
        if (++failures > maxRetries) throw err;
        stats.retried++;
        await this.wait(backoff(failures));
        continue;
      }
      if (answer.status >= 200 && answer.status < 300) {
        const until = this.opts.holdUntil?.(answer, Date.now());
        if (until !== undefined) this.pausedUntil = Math.max(this.pausedUntil, until);
        return answer;
      }
      if (answer.status === 401 && !reauthorized && this.opts.onUnauthorized) {
        reauthorized = true;
        this.opts.onUnauthorized();
        continue;
      }
      const retryIn = this.opts.retryAfterMs(answer, Date.now());
      if (answer.status === 429) {
        stats.rateLimited++;
        if (++limited > maxRateLimited)
          throw new SourceHttpError(429, url, `still rate-limited after ${maxRateLimited} tries`);
        const ms = Math.min(maxWait, retryIn ?? backoff(limited));
        // Everyone waits: the limit is the API's, not this request's.
        this.pausedUntil = Math.max(this.pausedUntil, Date.now() + ms);
        continue;
      }
      if (answer.status >= 500) {
        if (++failures > maxRetries) {
          const { message, code } = this.opts.describeError(answer);
          throw new SourceHttpError(
            answer.status,
            url,
            `${answer.status} after ${maxRetries} retries: ${message}`,
            code,
          );
        }
        stats.retried++;
        await this.wait(Math.min(maxWait, retryIn ?? backoff(failures)));
        continue;
      }
      const { message, code } = this.opts.describeError(answer);
      throw new SourceHttpError(
        answer.status,
        url,
        `${answer.status} from ${redactQuery(url)}: ${message}`,
        code,
      );
    }
  }

  private async wait(ms: number): Promise<void> {
    if (ms <= 0) return;
    this.opts.stats.waitedMs += ms;
    await this.sleep(ms);
  }

  private async fetch(url: string): Promise<Answer> {
    const timeout = this.opts.timeoutMs ?? 30_000;
    const res = await request(url, {
      method: 'GET',
      headers: { accept: 'application/json', ...(await this.opts.headers()) },
      headersTimeout: timeout,
      bodyTimeout: timeout,
      signal: this.opts.signal,
    });
    const text = await res.body.text();
    let body: unknown = undefined;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    return { status: res.statusCode, headers: res.headers, body };
  }
}

/** 1 s, 2 s, 4 s … up to 30 s, with jitter so parallel requests do not retry in step. */
function backoff(attempt: number): number {
  const base = Math.min(30_000, 1_000 * 2 ** (attempt - 1));
  return Math.round(base * (0.75 + Math.random() * 0.5));
}

export function header(headers: Answer['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** Query strings carry paging cursors and delta tokens: long, and no use in a message. */
export function redactQuery(url: string): string {
  const i = url.indexOf('?');
  return i < 0 ? url : `${url.slice(0, i)}?…`;
}

/**
 * A base URL that may carry a token: https, or http to this machine only (the local stand-ins
 * the tests use). Anything else would send an API token in the clear.
 */
export function isSafeBaseUrl(value: string): boolean {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return false;
  }
  if (u.username || u.password || u.search || u.hash) return false;
  if (u.protocol === 'https:') return true;
  return u.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname);
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}
