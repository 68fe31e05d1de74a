/**
 * What an operator alerts on, in the Prometheus format (prom-client), served at `/metrics`: process
 * metrics, requests by state, and histograms of how late revokes are, how long grants take and how
 * long messages wait in the outbox. One registry per Latch instance, so tests and processes that
 * build several never mix their figures.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Database } from './store/db.js';

/** Seconds, from a quarter second to an hour. */
const BUCKETS = [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600];

export interface LatchMetrics {
  registry: Registry;
  /** From a grant's expiry (or a revoke being asked for) to the revoke confirmed on the system. */
  revokeLag: Histogram<'reason'>;
  /** From approval to access active on the system. */
  grantTime: Histogram;
  /** From an event to its delivery to a channel. */
  deliveryDelay: Histogram<'channel'>;
  /** Events a channel could not take yet (rate limits, outages). */
  deliveryDeferred: Counter<'channel'>;
}

export function createMetrics(db: Database, opts: { processMetrics?: boolean } = {}): LatchMetrics {
  const registry = new Registry();
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'latch_' });
  new Gauge({
    name: 'latch_requests',
    help: 'Access requests by state.',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = await db.models.Request.aggregate<{ _id: string; n: number }>([
        { $group: { _id: '$state', n: { $sum: 1 } } },
      ]);
      for (const row of rows) this.set({ state: row._id }, row.n);
    },
  });
  return {
    registry,
    revokeLag: new Histogram({
      name: 'latch_revoke_lag_seconds',
      help: 'Time from a grant’s expiry (or the revoke asked for) to the revoke confirmed on the system.',
      labelNames: ['reason'],
      buckets: BUCKETS,
      registers: [registry],
    }),
    grantTime: new Histogram({
      name: 'latch_grant_seconds',
      help: 'Time from approval to access active on the system.',
      buckets: BUCKETS,
      registers: [registry],
    }),
    deliveryDelay: new Histogram({
      name: 'latch_notification_delay_seconds',
      help: 'Time from an event to its delivery to a channel.',
      labelNames: ['channel'],
      buckets: BUCKETS,
      registers: [registry],
    }),
    deliveryDeferred: new Counter({
      name: 'latch_notification_deferred_total',
      help: 'Deliveries a channel could not take yet (rate limits, outages), retried later.',
      labelNames: ['channel'],
      registers: [registry],
    }),
  };
}
