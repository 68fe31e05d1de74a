/**
 * The composition root: wires store, audit, connectors, notifier, use-cases and sweeps. Entry
 * points (main, worker, tests, benchmarks) build Latch through here so they run the same code.
 */
import { AuditLog, type CheckpointWitness } from './audit/audit-log.js';
import { resolveAuditKey } from './audit/chain-key.js';
import { ConnectorRegistry } from './connectors/registry.js';
import type {
  ConnectorFactory,
  ConnectorForm,
  ConnectorType,
  ConnectorValidator,
} from './connectors/types.js';
import { createPostgresConnector, validatePostgresSettings } from './connectors/postgres/index.js';
import { postgresForm } from './connectors/postgres/form.js';
import { createLdapConnector, validateLdapSettings } from './connectors/ldap/index.js';
import { ldapForm } from './connectors/ldap/form.js';
import { createRedisConnector, validateRedisSettings } from './connectors/redis/index.js';
import { redisForm } from './connectors/redis/form.js';
import { createWebhookConnector, validateWebhookSettings } from './connectors/webhook/index.js';
import { webhookForm } from './connectors/webhook/form.js';
import {
  createSlackConnector,
  slackConnectorForm,
  validateSlackConnectorSettings,
} from './connectors/slack/index.js';
import { createMysqlConnector, mysqlForm, validateMysqlSettings } from './connectors/mysql/index.js';
import { CONTEXT_TYPES, ContextDirectory, ContextSync } from './context/index.js';
import { AdminNotices } from './lifecycle/admin-notices.js';
import { AutomaticGrants } from './lifecycle/automatic.js';
import { Reconciliation } from './lifecycle/reconcile.js';
import type { ContextSourceType } from './context/types.js';
import { AdminUseCases } from './lifecycle/admin.js';
import { ContextSourceAdmin } from './lifecycle/context-sources.js';
import { LifecycleContext } from './lifecycle/context.js';
import { LoggingNotifier } from './lifecycle/logging-notifier.js';
import { LatchQueries } from './lifecycle/queries/index.js';
import { Outbox, type OutboxOptions } from './lifecycle/outbox.js';
import {
  WEBHOOK_CHANNEL,
  WebhookDeliveries,
  type WebhookDeliveryOptions,
} from './lifecycle/webhook-deliveries.js';
import { WebhookSubscriptions } from './lifecycle/webhook-subscriptions.js';
import { createMetrics, type LatchMetrics } from './metrics.js';
import type { Notifier } from './lifecycle/notifier.js';
import { RequestUseCases } from './lifecycle/requests/index.js';
import { Sweeps, type SweepOptions } from './lifecycle/sweeps/index.js';
import { SweepLoop, type SweepLoopOptions } from './jobs/sweep-loop.js';
import type { Logger } from './logger.js';
import type { Database } from './store/db.js';
import { SecretBox } from './store/secrets.js';

/** The integration types Latch connects to: how each builds its connector and checks its settings. */
export const CONNECTOR_TYPES: Record<string, ConnectorType> = {
  postgresql: { create: createPostgresConnector, validate: validatePostgresSettings, form: postgresForm },
  ldap: { create: createLdapConnector, validate: validateLdapSettings, form: ldapForm },
  redis: { create: createRedisConnector, validate: validateRedisSettings, form: redisForm },
  webhook: { create: createWebhookConnector, validate: validateWebhookSettings, form: webhookForm },
  slack: { create: createSlackConnector, validate: validateSlackConnectorSettings, form: slackConnectorForm },
  mysql: { create: createMysqlConnector, validate: validateMysqlSettings, form: mysqlForm },
};

/** The forms of the types that have one (the Teams tab's integration editor). */
export const CONNECTOR_FORMS: Record<string, ConnectorForm> = Object.fromEntries(
  Object.entries(CONNECTOR_TYPES).flatMap(([type, t]) => (t.form ? [[type, t.form]] : [])),
);

export const CONNECTOR_FACTORIES: Record<string, ConnectorFactory> = Object.fromEntries(
  Object.entries(CONNECTOR_TYPES).map(([type, t]) => [type, t.create]),
);

/** Settings checks by type, used before an integration is stored (flows file and admin console). */
export const CONNECTOR_VALIDATORS: Record<string, ConnectorValidator> = Object.fromEntries(
  Object.entries(CONNECTOR_TYPES).map(([type, t]) => [type, t.validate]),
);

/** Settings checks of context source types, used before a source is stored (flows file and console). */
export const CONTEXT_VALIDATORS: Record<string, ConnectorValidator> = Object.fromEntries(
  Object.entries(CONTEXT_TYPES).map(([type, t]) => [type, t.validate]),
);

export interface LatchOptions {
  db: Database;
  encryptionKey: Buffer;
  log: Logger;
  envAdmins?: string[];
  /** Told at once, in this process, best-effort: the log, tests. */
  notifier?: Notifier;
  /** Chat channels (by name, e.g. `slack`): they get every event through the durable outbox. */
  channels?: Record<string, Notifier>;
  outbox?: Partial<OutboxOptions>;
  /**
   * Lifecycle webhooks (docs/ARCHITECTURE.md, "Lifecycle webhooks"): events go to the subscribed
   * endpoints through the outbox's `webhooks` channel. Absent: none are sent (tests, tools).
   */
  webhooks?: Partial<WebhookDeliveryOptions>;
  /** Node's process metrics in /metrics too (the server process; off for tests and tools). */
  processMetrics?: boolean;
  factories?: Record<string, ConnectorFactory>;
  clock?: () => Date;
  sweep?: Partial<SweepOptions>;
  loop?: Partial<SweepLoopOptions>;
  expiryWarningMinutes?: number;
  /** Chain key of the audit log (LATCH_AUDIT_KEY); derived from encryptionKey when absent. */
  auditKey?: Buffer;
  /** Where audit checkpoints go (the checkpoint file, the audit channel); none: no checkpoints. */
  auditWitnesses?: CheckpointWitness[];
  /** Checkpoint at least this often while audit entries are written; default 60 s. */
  auditCheckpointEveryMs?: number;
  /** Context source types (default: Okta and Entra ID). */
  contextTypes?: Record<string, ContextSourceType>;
  /** How context syncs wait between retries (tests shorten backoffs; rate-limit waits still hold). */
  contextSleep?: (ms: number) => Promise<void>;
}

/**
 * What a chat channel gets of the core: use-cases and queries, never the store (docs/ARCHITECTURE.md,
 * "One core, many channels"). The lint configuration keeps channels from importing the models.
 */
export type ChannelCore = Pick<Latch, 'requests' | 'admin' | 'queries'>;

export interface Latch {
  db: Database;
  ctx: LifecycleContext;
  audit: AuditLog;
  registry: ConnectorRegistry;
  requests: RequestUseCases;
  admin: AdminUseCases;
  queries: LatchQueries;
  sweeps: Sweeps;
  loop: SweepLoop;
  outbox: Outbox;
  /** Lifecycle webhook deliveries, when `webhooks` is on. */
  webhooks?: WebhookDeliveries;
  metrics: LatchMetrics;
  /** Syncs context sources; the worker's Agenda jobs run it (src/jobs/agenda.ts). */
  contextSync: ContextSync;
  /** Grants that follow on-call rotas; the worker's Agenda jobs check them. */
  automatic: AutomaticGrants;
  /** Compares each integration's real access with Latch's; the worker's Agenda job runs it. */
  reconciliation: Reconciliation;
  close(): Promise<void>;
}

export function createLatch(opts: LatchOptions): Latch {
  const box = new SecretBox(opts.encryptionKey);
  const registry = new ConnectorRegistry(
    opts.db,
    box,
    opts.factories ?? CONNECTOR_FACTORIES,
    CONNECTOR_VALIDATORS,
  );
  const audit = new AuditLog(
    opts.db.conn,
    resolveAuditKey({ auditKey: opts.auditKey, encryptionKey: opts.encryptionKey }),
    { witnesses: opts.auditWitnesses, checkpointEveryMs: opts.auditCheckpointEveryMs, log: opts.log },
  );
  const metrics = createMetrics(opts.db, { processMetrics: opts.processMetrics ?? false });
  const clock = opts.clock ?? (() => new Date());
  const contextTypes = opts.contextTypes ?? CONTEXT_TYPES;
  const ctx = new LifecycleContext({
    contextDirectory: new ContextDirectory(opts.db, clock),
    db: opts.db,
    audit,
    notifier: opts.notifier ?? new LoggingNotifier(opts.log),
    connectors: registry,
    log: opts.log,
    envAdmins: [...(opts.envAdmins ?? [])],
    clock: opts.clock,
    expiryWarningMinutes: opts.expiryWarningMinutes,
    metrics,
  });
  const webhooks = opts.webhooks ? new WebhookDeliveries(ctx, box, opts.webhooks) : undefined;
  ctx.webhooks = webhooks;
  // Webhooks first: queuing them is a write, so a chat channel waiting out a rate limit never delays them.
  const outboxChannels = { ...(webhooks ? { [WEBHOOK_CHANNEL]: webhooks } : {}), ...opts.channels };
  const outbox = new Outbox(ctx, outboxChannels, box, opts.outbox);
  ctx.outbox = outbox;
  const notices = new AdminNotices(ctx, opts.channels ?? {});
  ctx.notices = notices;
  const contextSync = new ContextSync({
    db: opts.db,
    box,
    audit,
    log: opts.log,
    clock,
    types: contextTypes,
    sleep: opts.contextSleep,
    tellAdmins: (id, kind, text) => notices.post(id, kind, text),
  });
  const admin = new AdminUseCases(
    ctx,
    box,
    registry,
    new ContextSourceAdmin(ctx, box, contextTypes, contextSync),
    new WebhookSubscriptions(ctx, box),
  );
  const sweeps = new Sweeps(ctx, opts.sweep);
  const loop = new SweepLoop(sweeps, opts.log, {
    tickMs: 250,
    relaxedEveryMs: 2_000,
    heartbeatEveryMs: 1_000,
    ...opts.loop,
  });
  ctx.setKick(() => loop.kick());
  return {
    db: opts.db,
    ctx,
    audit,
    registry,
    requests: new RequestUseCases(ctx),
    admin,
    queries: new LatchQueries(ctx, admin, registry, audit, CONNECTOR_FORMS),
    sweeps,
    loop,
    outbox,
    webhooks,
    metrics,
    contextSync,
    automatic: new AutomaticGrants(ctx),
    reconciliation: new Reconciliation(ctx),
    close: async () => {
      // Sends under way get a few seconds; what is left is sent by the next process.
      await webhooks?.close(5_000);
      // The last audit checkpoint goes out before the connections do.
      await audit.close();
      await registry.closeAll();
    },
  };
}
