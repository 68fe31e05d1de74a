/**
 * Admin use-cases: Access Flows, bundles, settings, integrations and their resources. Every one
 * checks on the server that the actor is an admin (a forged chat payload is refused and audited),
 * validates with the same zod schemas as the flows file, and audits the change.
 */
import type { ZodError } from 'zod';
import { canonicalJson } from '../audit/canonical-json.js';
import {
  bundleSchema,
  flowSchema,
  parseStoredSettings,
  settingsSchema,
  storableSettings,
  withoutNulls,
  type Flow,
  type FlowInput,
  type Settings,
} from '../domain/flow.js';
import type { Identity } from '../domain/identity.js';
import type { SecretBox } from '../store/secrets.js';
import type { ConnectorRegistry } from '../connectors/registry.js';
import { formatSettingsPath } from '../connectors/settings.js';
import type { SettingsIssue } from '../connectors/types.js';
import type { ContextSourceInput } from '../context/types.js';
import type { SyncReport } from '../context/sync.js';
import type { LifecycleContext } from './context.js';
import type { ContextSourceAdmin, ContextSourceForEdit, ContextSourceStatus } from './context-sources.js';
import { conflict, forbidden, invalid, notFound } from './errors.js';
import { Reviews, type ReviewView } from './reviews.js';
import { Reconciliation, type ReconcileReport } from './reconcile.js';
import { convertStanding, type StandingView } from './standing.js';
import type { WebhookInput } from '../webhooks/subscription.js';
import type { WebhookSaved, WebhookSubscriptions, WebhookView } from './webhook-subscriptions.js';

export type Actor = Identity | 'config-file';

export interface IntegrationInput {
  name: string;
  type: string;
  description?: string;
  config: Record<string, unknown>;
  /** Write-only: omitted or empty values keep the stored secret. */
  secrets?: Record<string, string>;
  tags?: Record<string, string>;
}

export class AdminUseCases {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly box: SecretBox,
    private readonly registry: ConnectorRegistry,
    private readonly contextSources?: ContextSourceAdmin,
    private readonly webhookSubscriptions?: WebhookSubscriptions,
  ) {}

  /** Admins named in LATCH_ADMINS by a chat user id, once the channel knows their emails. */
  addEnvAdmins(emails: string[]): void {
    this.ctx.addEnvAdmins(emails);
  }

  /** For channels opening an admin-only form: refuses and audits like every admin use-case. */
  async assertAdmin(actor: Actor, action: string): Promise<void> {
    await this.requireAdmin(actor, action);
  }

  private async requireAdmin(actor: Actor, action: string): Promise<void> {
    if (actor === 'config-file') return;
    if (await this.ctx.isAdmin(actor)) return;
    await this.ctx.audit.append({
      actor: { type: 'user', id: actor.id },
      action: 'admin.denied',
      details: { attempted: action },
      at: this.ctx.now(),
    });
    throw forbidden('Only Latch admins can do that.');
  }

  /** Every successful admin change is audited through here, so it also marks cached policy stale. */
  private async audit(
    actor: Actor,
    action: string,
    subject: { type: string; id: string },
    details?: Record<string, unknown>,
  ) {
    this.ctx.policyChanged();
    await this.ctx.audit.append({
      actor: actor === 'config-file' ? { type: 'system', id: 'config-file' } : { type: 'user', id: actor.id },
      action,
      subject,
      details,
      at: this.ctx.now(),
    });
  }

  /** Closes a break-glass review (docs/ARCHITECTURE.md, "Break-glass"): admins only, with a note. */
  async closeReview(actor: Identity, ref: string, note: string): Promise<ReviewView> {
    await this.requireAdmin(actor, 'review.close');
    return new Reviews(this.ctx).close(actor, ref, note);
  }

  async listFlows(actor: Actor): Promise<Flow[]> {
    await this.requireAdmin(actor, 'flow.list');
    return this.ctx.flows();
  }

  /** Creates a flow, or replaces the one with `id`. */
  async saveFlow(
    actor: Actor,
    input: FlowInput,
    id?: string,
    origin: 'console' | 'config' = 'console',
  ): Promise<Flow> {
    await this.requireAdmin(actor, 'flow.save');
    const parsed = flowSchema.safeParse(input);
    if (!parsed.success) throw zodToLatch(parsed.error);
    // An optional field left unset (e.g. no availability window) is stored absent, never as null.
    const def = withoutNulls(parsed.data);
    await this.assertReferencesExist(
      def.targets.map((t) => t.integration),
      def.bundles,
    );
    const { Flow: FlowModel } = this.ctx.db.models;
    try {
      const doc = id
        ? await FlowModel.findByIdAndUpdate(
            id,
            { $set: { name: def.name, definition: def, enabled: def.enabled, origin } },
            { returnDocument: 'after' },
          ).lean()
        : await FlowModel.create({ name: def.name, definition: def, enabled: def.enabled, origin }).then(
            (d) => d.toObject(),
          );
      if (!doc) throw notFound('That flow no longer exists.');
      await this.audit(
        actor,
        id ? 'flow.updated' : 'flow.created',
        { type: 'flow', id: def.name },
        { definition: def },
      );
      return { ...def, id: String(doc._id) };
    } catch (err) {
      if ((err as { code?: number }).code === 11000)
        throw conflict(`A flow called ${def.name} already exists.`);
      throw err;
    }
  }

  async setFlowEnabled(actor: Actor, id: string, enabled: boolean): Promise<void> {
    await this.requireAdmin(actor, 'flow.enable');
    const doc = await this.ctx.db.models.Flow.findByIdAndUpdate(
      id,
      { $set: { enabled, 'definition.enabled': enabled } },
      { returnDocument: 'after' },
    ).lean();
    if (!doc) throw notFound('That flow no longer exists.');
    await this.audit(actor, enabled ? 'flow.enabled' : 'flow.disabled', { type: 'flow', id: doc.name });
  }

  async deleteFlow(actor: Actor, id: string): Promise<void> {
    await this.requireAdmin(actor, 'flow.delete');
    const doc = await this.ctx.db.models.Flow.findByIdAndDelete(id).lean();
    if (!doc) throw notFound('That flow no longer exists.');
    await this.audit(actor, 'flow.deleted', { type: 'flow', id: doc.name }, { definition: doc.definition });
  }

  async saveBundle(actor: Actor, input: unknown): Promise<void> {
    await this.requireAdmin(actor, 'bundle.save');
    const parsed = bundleSchema.safeParse(input);
    if (!parsed.success) throw zodToLatch(parsed.error);
    await this.assertReferencesExist(
      parsed.data.targets.map((t) => t.integration),
      [],
    );
    await this.ctx.db.models.Bundle.updateOne(
      { name: parsed.data.name },
      {
        $set: {
          definition: withoutNulls(parsed.data),
          origin: actor === 'config-file' ? 'config' : 'console',
        },
      },
      { upsert: true },
    );
    await this.audit(
      actor,
      'bundle.saved',
      { type: 'bundle', id: parsed.data.name },
      { definition: parsed.data },
    );
  }

  async updateSettings(actor: Actor, patch: Partial<Settings>): Promise<Settings> {
    await this.requireAdmin(actor, 'settings.update');
    const { Settings: SettingsModel } = this.ctx.db.models;
    const current = await SettingsModel.findById('global').lean();
    // What is stored is made whole first, so a field an older version wrote badly cannot block a save
    // that repairs it; an optional field left empty (null or '') is cleared, i.e. stored as absent.
    const base = parseStoredSettings(current?.value).settings;
    const cleared = Object.keys(patch).filter((k) => {
      const v = (patch as Record<string, unknown>)[k];
      return v === undefined || v === null || v === '';
    });
    const input: Record<string, unknown> = { ...base, ...patch };
    for (const k of cleared) delete input[k];
    const merged = settingsSchema.safeParse(input);
    if (!merged.success) throw zodToLatch(merged.error);
    const value = storableSettings(merged.data);
    const filter = current ? { _id: 'global', version: current.version } : { _id: 'global' };
    const r = await SettingsModel.updateOne(
      filter,
      { $set: { value }, $inc: { version: 1 } },
      { upsert: !current },
    );
    if (r.matchedCount === 0 && r.upsertedCount === 0)
      throw conflict('Settings changed meanwhile; reload and try again.');
    await this.audit(
      actor,
      'settings.updated',
      { type: 'settings', id: 'global' },
      { changed: Object.keys(patch), settings: value },
    );
    return value;
  }

  /**
   * Checks an integration as saveIntegration would, without writing anything: the type, the config
   * and the secrets (blank ones keep the stored value). Throws `invalid` naming the field.
   */
  async checkIntegration(actor: Actor, input: IntegrationInput): Promise<void> {
    await this.requireAdmin(actor, 'integration.save');
    const existing = await this.ctx.db.models.Integration.findOne({ name: input.name }).lean();
    this.assertIntegrationValid(input, (existing?.secrets ?? {}) as Record<string, string>);
  }

  async saveIntegration(actor: Actor, input: IntegrationInput): Promise<void> {
    await this.requireAdmin(actor, 'integration.save');
    const { Integration } = this.ctx.db.models;
    const existing = await Integration.findOne({ name: input.name }).lean();
    const kept = (existing?.secrets ?? {}) as Record<string, string>;
    // Validated before anything is written: bad settings change nothing.
    const fresh = this.assertIntegrationValid(input, kept);
    const secrets = { ...kept, ...this.box.sealRecord(fresh) };
    await Integration.updateOne(
      { name: input.name },
      {
        $set: {
          type: input.type,
          description: input.description ?? '',
          config: input.config,
          secrets,
          tags: input.tags ?? {},
          origin: actor === 'config-file' ? 'config' : 'console',
        },
      },
      { upsert: true },
    );
    // The settings passed their check; building the connector should not fail, but if it does, say so.
    try {
      await this.registry.get(input.name);
    } catch (err) {
      throw invalid(
        `Saved, but the ${input.type} configuration is not usable: ${(err as Error).message}`,
        'config',
      );
    } finally {
      await this.audit(
        actor,
        existing ? 'integration.updated' : 'integration.created',
        { type: 'integration', id: input.name },
        {
          type: input.type,
          config: input.config,
          secretsChanged: Object.keys(fresh),
        },
      );
    }
  }

  /**
   * What is wrong with an integration's settings, each problem with the path of its field
   * (`config.port`, `secrets.password`, `type`), checked as saveIntegration checks them and writing
   * nothing: for a form that shows every problem next to its field (the Teams tab's editor).
   */
  async integrationIssues(
    actor: Actor,
    input: IntegrationInput,
  ): Promise<Array<{ field: string; message: string }>> {
    await this.requireAdmin(actor, 'integration.save');
    const existing = await this.ctx.db.models.Integration.findOne({ name: input.name }).lean();
    const { issues } = this.integrationProblems(input, (existing?.secrets ?? {}) as Record<string, string>);
    return issues.map((i) => ({ field: i.path.map(String).join('.'), message: i.message }));
  }

  /** Throws `invalid` when the integration's settings are not usable; returns the secrets to (re)seal. */
  private assertIntegrationValid(
    input: IntegrationInput,
    kept: Record<string, string>,
  ): Record<string, string> {
    const { fresh, issues } = this.integrationProblems(input, kept);
    const first = issues[0];
    if (!first) return fresh;
    if (first.path[0] === 'type') {
      throw invalid(
        `Unknown integration type ${input.type}; known: ${this.registry.types().join(', ')}.`,
        'type',
      );
    }
    const list = issues.map((i) => `${formatSettingsPath(i.path)}: ${i.message}`).join('; ');
    throw invalid(`The ${input.type} settings are not valid: ${list}.`, String(first.path[0]));
  }

  /** The secrets given now (blank ones keep the stored value) and the problems of the whole. */
  private integrationProblems(
    input: IntegrationInput,
    kept: Record<string, string>,
  ): { fresh: Record<string, string>; issues: SettingsIssue[] } {
    const fresh = Object.fromEntries(Object.entries(input.secrets ?? {}).filter(([, v]) => v !== ''));
    const merged: Record<string, string> = {};
    for (const [key, sealed] of Object.entries(kept)) {
      if (Object.hasOwn(fresh, key)) continue;
      try {
        merged[key] = this.box.open(sealed);
      } catch {
        throw invalid(
          `The stored secret ${key} cannot be decrypted (it was sealed with another LATCH_ENCRYPTION_KEY); enter it again.`,
          'secrets',
        );
      }
    }
    Object.assign(merged, fresh);
    // A stored secret the type does not know (left from an older type) is harmless and cannot be
    // removed from a form; only a secret given now is reported as unknown.
    const issues = this.registry
      .validate(input.type, input.config, merged)
      .filter(
        (i) => !(i.unknownField && i.path[0] === 'secrets' && !Object.hasOwn(fresh, String(i.path[1]))),
      );
    return { fresh, issues };
  }

  /** True when the stored integration already is exactly `input`, secrets included (compared decrypted). */
  async integrationMatches(input: IntegrationInput): Promise<boolean> {
    const doc = await this.ctx.db.models.Integration.findOne({ name: input.name }).lean();
    if (!doc || doc.type !== input.type || (doc.description ?? '') !== (input.description ?? ''))
      return false;
    if (canonicalJson(doc.config) !== canonicalJson(input.config)) return false;
    if (canonicalJson(doc.tags ?? {}) !== canonicalJson(input.tags ?? {})) return false;
    let stored: Record<string, string>;
    try {
      stored = this.box.openRecord((doc.secrets ?? {}) as Record<string, string>);
    } catch {
      return false; // sealed with another key: rewrite with the current one
    }
    return Object.entries(input.secrets ?? {}).every(([k, v]) => stored[k] === v);
  }

  /** Asks the connector for its resources and stores them; tags and owners set by admins are kept. */
  /**
   * Turns standing access into requestable access (docs/ARCHITECTURE.md, "Reconciliation"): a flow
   * covering it is created or extended, then the access is removed on the system.
   */
  async convertStanding(actor: Identity, input: unknown): Promise<{ flow: Flow; removed: StandingView }> {
    await this.requireAdmin(actor, 'standing.convert');
    return convertStanding(this.ctx, this, actor, input);
  }

  /** Reconciles one integration (or all) now, as the scheduled job does. */
  async reconcileNow(actor: Actor, integration?: string): Promise<ReconcileReport[]> {
    await this.requireAdmin(actor, 'integration.reconcile');
    const reconciliation = new Reconciliation(this.ctx);
    if (!integration) return reconciliation.runAll();
    if (!(await this.ctx.db.models.Integration.exists({ name: integration })))
      throw notFound(`No integration called ${integration}.`);
    return [await reconciliation.run(integration)];
  }

  async discover(actor: Actor, integration: string): Promise<number> {
    await this.requireAdmin(actor, 'integration.discover');
    const doc = await this.ctx.db.models.Integration.findOne({ name: integration }).lean();
    if (!doc) throw notFound(`No integration called ${integration}.`);
    const connector = await this.registry.get(integration);
    const found = await connector.discover();
    const now = this.ctx.now();
    const integrationTags = (doc.tags ?? {}) as Record<string, string>;
    if (found.length) {
      await this.ctx.db.models.Resource.bulkWrite(
        found.map((r) => ({
          updateOne: {
            filter: { integration, resourceId: r.id },
            update: {
              $set: {
                name: r.name,
                kind: r.kind,
                permissions: r.permissions,
                seenAt: now,
                discoveredTags: r.tags ?? {},
              },
              $setOnInsert: { tags: { ...integrationTags, ...(r.tags ?? {}) }, owners: [] },
            },
            upsert: true,
          },
        })),
        { ordered: false },
      );
    }
    await this.ctx.db.models.Resource.deleteMany({ integration, seenAt: { $lt: now } });
    await this.ctx.db.models.Integration.updateOne(
      { name: integration },
      { $set: { health: { ok: true, message: `${found.length} resources`, checkedAt: now } } },
    );
    this.ctx.policyChanged();
    return found.length;
  }

  async setResourceMeta(
    actor: Actor,
    integration: string,
    resourceId: string,
    meta: { tags?: Record<string, string>; owners?: string[] },
  ): Promise<void> {
    await this.requireAdmin(actor, 'resource.update');
    const set: Record<string, unknown> = {};
    if (meta.tags) set.tags = meta.tags;
    if (meta.owners) set.owners = meta.owners.map((o) => o.trim().toLowerCase());
    const r = await this.ctx.db.models.Resource.updateOne(
      { integration, resourceId },
      { $set: set },
      { strict: false },
    );
    if (r.matchedCount === 0) throw notFound(`${integration} has no resource ${resourceId}.`);
    await this.audit(
      actor,
      'resource.updated',
      { type: 'resource', id: `${integration}/${resourceId}` },
      meta,
    );
  }

  // ---- context sources (docs/ARCHITECTURE.md, "Context sources") ----

  private sources(): ContextSourceAdmin {
    if (!this.contextSources) throw invalid('Context sources are not available in this process.');
    return this.contextSources;
  }

  /** Checks a context source as saveContextSource would, writing nothing. */
  async checkContextSource(actor: Actor, input: ContextSourceInput): Promise<void> {
    await this.requireAdmin(actor, 'context_source.save');
    await this.sources().check(input);
  }

  /** Creates or replaces a context source; its sync job picks the change up (src/jobs/agenda.ts). */
  async saveContextSource(actor: Actor, input: ContextSourceInput): Promise<void> {
    await this.requireAdmin(actor, 'context_source.save');
    const { created, changedSecrets } = await this.sources().save(
      input,
      actor === 'config-file' ? 'config' : 'console',
    );
    await this.audit(
      actor,
      created ? 'context_source.created' : 'context_source.updated',
      { type: 'context_source', id: input.name },
      {
        type: input.type,
        config: input.config ?? {},
        syncEveryMinutes: input.syncEveryMinutes,
        maxAgeMinutes: input.maxAgeMinutes,
        secretsChanged: changedSecrets,
      },
    );
  }

  /**
   * What is wrong with a source's settings, each problem on its field (`config.orgUrl`,
   * `secrets.apiToken`, `maxAgeMinutes`), checked as saveContextSource checks and writing nothing.
   */
  async contextSourceIssues(
    actor: Actor,
    input: ContextSourceInput,
  ): Promise<Array<{ field: string; message: string }>> {
    await this.requireAdmin(actor, 'context_source.save');
    return this.sources().issues(input);
  }

  /** A source for a console's editor: its settings and stored secret names, never their values. */
  async contextSourceForEdit(actor: Actor, name: string): Promise<ContextSourceForEdit | null> {
    await this.requireAdmin(actor, 'context_source.edit');
    return this.sources().forEdit(name);
  }

  /** The source types this process can sync (the keys of CONTEXT_TYPES). */
  contextSourceTypes(): string[] {
    return this.contextSources?.typeNames() ?? [];
  }

  /** True when the stored source is exactly `input` (the flows file leaves it alone then). */
  async contextSourceMatches(input: ContextSourceInput): Promise<boolean> {
    return this.sources().matches(input);
  }

  /** Deletes a source and its synced groups: flows naming them match nobody from now on. */
  async deleteContextSource(actor: Actor, name: string): Promise<void> {
    await this.requireAdmin(actor, 'context_source.delete');
    await this.sources().remove(name);
    await this.audit(actor, 'context_source.deleted', { type: 'context_source', id: name });
  }

  /**
   * Syncs a source now, in this process, and says how it went (the scheduled syncs are Agenda
   * jobs; both take the same lease, so they never run at once).
   */
  async syncContextSource(actor: Actor, name: string): Promise<SyncReport> {
    await this.requireAdmin(actor, 'context_source.sync');
    const report = await this.sources().runNow(name);
    await this.audit(
      actor,
      'context_source.sync_requested',
      { type: 'context_source', id: name },
      report.ok
        ? {
            ok: true,
            groups: report.groups,
            memberships: report.memberships,
            requests: report.stats.requests,
          }
        : 'busy' in report
          ? { ok: false, busy: true }
          : { ok: false, error: report.error },
    );
    return report;
  }

  /** Every context source with its last sync, errors and counts. */
  async listContextSources(actor: Actor): Promise<ContextSourceStatus[]> {
    await this.requireAdmin(actor, 'context_source.list');
    return this.sources().list();
  }

  // ---- lifecycle webhooks (docs/ARCHITECTURE.md, "Lifecycle webhooks") ----

  private webhooks(): WebhookSubscriptions {
    if (!this.webhookSubscriptions) throw invalid('Webhooks are not available in this process.');
    return this.webhookSubscriptions;
  }

  /** Every problem of a subscription on its field (`name`, `url`, `events`, `secret`), writing nothing. */
  async webhookIssues(
    actor: Actor,
    input: WebhookInput,
    id?: string,
  ): Promise<Array<{ field: string; message: string }>> {
    await this.requireAdmin(actor, 'webhook.save');
    return this.webhooks().issues(input, id);
  }

  /** Creates a subscription; `secret` in the answer (to show once) when Latch generated it. */
  async createWebhook(actor: Actor, input: WebhookInput): Promise<WebhookSaved> {
    await this.requireAdmin(actor, 'webhook.save');
    const saved = await this.webhooks().create(input);
    const w = saved.webhook;
    await this.audit(
      actor,
      'webhook.created',
      { type: 'webhook', id: w.name },
      // Not under a key with "secret" in it: the audit log redacts those.
      { url: w.url, events: w.events, enabled: w.enabled, signingKey: saved.secret ? 'generated' : 'given' },
    );
    return saved;
  }

  /** Edits a subscription; a secret left empty keeps the stored one. */
  async updateWebhook(actor: Actor, id: string, input: WebhookInput): Promise<WebhookView> {
    await this.requireAdmin(actor, 'webhook.save');
    const { webhook: w, secretChanged } = await this.webhooks().update(id, input);
    await this.audit(
      actor,
      'webhook.updated',
      { type: 'webhook', id: w.name },
      { url: w.url, events: w.events, enabled: w.enabled, signingKey: secretChanged ? 'replaced' : 'kept' },
    );
    return w;
  }

  /** A new secret generated by Latch, in the answer once; the old one stops working at once. */
  async rotateWebhookSecret(actor: Actor, id: string): Promise<WebhookSaved> {
    await this.requireAdmin(actor, 'webhook.rotate');
    const saved = await this.webhooks().rotate(id);
    await this.audit(actor, 'webhook.secret_rotated', { type: 'webhook', id: saved.webhook.name });
    return saved;
  }

  /** Deletes a subscription and its deliveries (pending ones are not sent). */
  async deleteWebhook(actor: Actor, id: string): Promise<void> {
    await this.requireAdmin(actor, 'webhook.delete');
    const name = await this.webhooks().remove(id);
    await this.audit(actor, 'webhook.deleted', { type: 'webhook', id: name });
  }

  /** Subscriptions with their newest `recent` deliveries (admins only). */
  async listWebhooks(actor: Actor, recent: number): Promise<WebhookView[]> {
    await this.requireAdmin(actor, 'webhook.list');
    return this.webhooks().list(recent);
  }

  async webhook(actor: Actor, id: string, recent: number): Promise<WebhookView | null> {
    await this.requireAdmin(actor, 'webhook.list');
    return this.webhooks().get(id, recent);
  }

  private async assertReferencesExist(integrations: string[], bundles: string[]): Promise<void> {
    const { Integration, Bundle } = this.ctx.db.models;
    for (const name of new Set(integrations)) {
      if (!(await Integration.exists({ name })))
        throw invalid(`There is no integration called ${name}.`, 'targets');
    }
    for (const name of new Set(bundles)) {
      if (!(await Bundle.exists({ name }))) throw invalid(`There is no bundle called ${name}.`, 'bundles');
    }
  }
}

function zodToLatch(err: ZodError) {
  const first = err.issues[0];
  const path = first?.path.join('.') ?? '';
  const text = err.issues.map((i) => `${i.path.join('.') || '(flow)'}: ${i.message}`).join('; ');
  return invalid(text, path.split('.')[0] || undefined);
}
