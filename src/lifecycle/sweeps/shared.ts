/** What the sweeps share: their options, the outcome of a tick, backoff and bounded concurrency. */
import pLimit from 'p-limit';

export const EPOCH = new Date(0);

export interface SweepOptions {
  /** Identifies this worker in leases (host:pid:random). */
  owner: string;
  leaseMs: number;
  batchSize: number;
  /** Connector calls in flight at once. */
  concurrency: number;
  /** Grant attempts before the request fails (and what was granted is taken back). */
  maxGrantAttempts: number;
  /** Revoke retries back off from retryBaseMs doubling up to retryMaxMs; admins hear after alertAfter failures. */
  retryBaseMs: number;
  retryMaxMs: number;
  alertAfter: number;
  /** How far ahead the expiry sweep looks to learn when the next expiry falls. */
  lookaheadMs: number;
}

export const DEFAULT_SWEEP_OPTIONS: Omit<SweepOptions, 'owner'> = {
  // Short, and renewed every half of it while the work runs: a worker that dies mid-revoke holds
  // its claims for seconds, not a minute, while a slow revoke by a live worker is never taken over.
  leaseMs: 6_000,
  batchSize: 200,
  concurrency: 16,
  maxGrantAttempts: 3,
  retryBaseMs: 2_000,
  retryMaxMs: 5 * 60_000,
  alertAfter: 3,
  lookaheadMs: 1_000,
};

export interface TickStats {
  expired: number;
  revoked: number;
  revokeFailures: number;
  granted: number;
  grantFailures: number;
  warned: number;
  reminded: number;
  escalated: number;
  timedOut: number;
}

export function backoff(attempt: number, baseMs: number, maxMs: number): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  // Jitter keeps many failed revokes from retrying in lockstep against a recovering server.
  return Math.round(exp * (0.8 + Math.random() * 0.4));
}

/** `fn` over `items`, at most `limit` at a time, results in order (p-limit's map). */
export function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  return pLimit(Math.max(1, limit)).map(items, (item) => fn(item));
}

export function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).slice(0, 500);
}
