/**
 * Channel-neutral read models (docs/ARCHITECTURE.md, "Queries"): everything a channel shows comes
 * from here, so Slack and Teams never disagree, and no channel reads the core's collections. Admin
 * lists check on the server that the reader is an admin, like every admin use-case.
 */
import { DateTime } from 'luxon';
import type { AuditLog } from '../../audit/audit-log.js';
import { withinWorkingHours } from '../../domain/availability.js';
import type { ConnectorRegistry } from '../../connectors/registry.js';
import type { ConnectorForm } from '../../connectors/types.js';
import { contextFormOf, type ContextSourceForm } from '../../context/forms.js';
import type { ExtensionOffer } from '../../domain/duration.js';
import type { Flow, Settings } from '../../domain/flow.js';
import type { Identity } from '../../domain/identity.js';
import { LIVE_STATES, OPEN_STATES } from '../../domain/request.js';
import type { RequestDoc } from '../../store/models.js';
import type { AdminUseCases } from '../admin.js';
import type { LifecycleContext } from '../context.js';
import { Reviews, type ReviewView } from '../reviews.js';
import { standingView, type ReconcileStatusView, type StandingView } from '../standing.js';
import { canApprove } from '../../domain/approval.js';
import { approvalContext } from '../requests/index.js';
import { extensionOfferFor, toView, type RequestView } from '../request-view.js';
import { offersFor, type Offers } from './request-options.js';
import { WEBHOOK_EVENTS } from '../../webhooks/events.js';

export interface MyAccess {
  /** Granted (or being revoked), with what may be done about its expiry. */
  active: Array<{ request: RequestView; extension: ExtensionOffer }>;
  /** Waiting for approval, approved, being granted. */
  pending: RequestView[];
}

export interface IntegrationSummary {
  name: string;
  type: string;
  healthy: boolean;
  health: string;
  resources: number;
}

export interface IntegrationForEdit {
  name: string;
  type: string;
  description: string;
  config: Record<string, unknown>;
  /** Names only: secret values never leave the core. */
  storedSecretNames: string[];
}

export interface AuditLine {
  at: Date;
  actor: string;
  action: string;
  subject: string;
}

/** What approvers see about the requester (requesterContext). */
export interface RequesterContext {
  groups: string[];
  timeZone?: string;
  /** "Tue 14:05" in the requester's zone. */
  localTime?: string;
  withinWorkingHours?: boolean;
  /** On-call schedules they were on shift for when they asked; undefined when Latch knows no rota. */
  onCall?: string[];
  /** Why the request went to approvers (or was approved by itself). */
  routing?: string;
  /** Earlier requests by the same person: all, and for the same resources. */
  previousRequests: number;
  previousForSame: number;
}

const HISTORY_CACHE_SIZE = 2_000;
/** More resources than a flow editor lists; beyond them, targets are named by name or tag. */
const FORM_RESOURCES = 2_000;

export class LatchQueries {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly admin: AdminUseCases,
    private readonly registry: ConnectorRegistry,
    private readonly audit: AuditLog,
    /** Each integration type's form, where it has one (see ConnectorType.form). */
    private readonly forms: Record<string, ConnectorForm> = {},
  ) {}

  now(): Date {
    return this.ctx.now();
  }

  /** What `who` may ask for now (see request-options.ts). */
  async offers(who: Identity): Promise<Offers> {
    return offersFor(this.ctx, await this.ctx.identify(who));
  }

  isAdmin(who: Identity): Promise<boolean> {
    return this.ctx.isAdmin(who);
  }

  /** The Slack channel (or other) that receives a line per event, when admins set one. */
  async auditChannel(): Promise<string | undefined> {
    return (await this.ctx.settings()).auditChannel;
  }

  async myAccess(who: Identity): Promise<MyAccess> {
    const [docs, settings] = await Promise.all([
      this.ctx.db.models.Request.find({
        'requester.id': who.id,
        state: { $in: [...OPEN_STATES, ...LIVE_STATES] },
      })
        .sort({ number: -1 })
        .limit(200)
        .lean<RequestDoc[]>(),
      this.ctx.settings(),
    ]);
    return {
      active: docs
        .filter((d) => (LIVE_STATES as readonly string[]).includes(d.state))
        .map((d) => ({ request: toView(d), extension: extensionOfferFor(d, settings.selfExtension) })),
      pending: docs.filter((d) => (OPEN_STATES as readonly string[]).includes(d.state)).map(toView),
    };
  }

  /** Requests whose current step `who` may approve and has not yet approved. */
  async awaitingMe(person: Identity): Promise<RequestView[]> {
    const who = await this.ctx.identify(person);
    const pending = await this.ctx.db.models.Request.find({ state: 'pending' })
      .sort({ number: 1 })
      .limit(500)
      .lean<RequestDoc[]>();
    return pending
      .filter((d) => {
        const step = d.flow.approval.steps[d.step ?? 0];
        return (
          step &&
          canApprove(step, who, approvalContext(d)).ok &&
          !d.approvals.some((a) => a.step === d.step && a.by === who.id)
        );
      })
      .map(toView);
  }

  /** What an approver is shown about the requester, in every channel: groups, local time, history. */
  async requesterContext(r: RequestView): Promise<RequesterContext> {
    const { previousRequests, previousForSame } = await this.requesterHistory(r);
    const tz = r.requester.timeZone;
    const now = this.ctx.now();
    const zoned = tz ? DateTime.fromJSDate(now).setZone(tz) : undefined;
    return {
      groups: r.requester.groups,
      timeZone: tz,
      localTime: zoned?.isValid ? zoned.toFormat('ccc HH:mm') : undefined,
      withinWorkingHours: withinWorkingHours(tz, now),
      onCall: r.requester.onCallFor,
      routing: r.routing,
      previousRequests,
      previousForSame,
    };
  }

  /** How often the requester asked before (for approvers' context). */
  /**
   * Requests numbered before this one do not change in number, so each request's history is read
   * once per process, not on every redraw of its approval cards.
   */
  async requesterHistory(r: RequestView): Promise<{ previousRequests: number; previousForSame: number }> {
    const known = this.histories.get(r.id);
    if (known) return known;
    const read = this.readHistory(r);
    this.histories.set(r.id, read);
    if (this.histories.size > HISTORY_CACHE_SIZE) this.histories.delete(this.histories.keys().next().value!);
    read.catch(() => this.histories.delete(r.id));
    return read;
  }

  private readonly histories = new Map<
    string,
    Promise<{ previousRequests: number; previousForSame: number }>
  >();

  private async readHistory(r: RequestView): Promise<{ previousRequests: number; previousForSame: number }> {
    const Request = this.ctx.db.models.Request;
    const [previousRequests, previousForSame] = await Promise.all([
      Request.countDocuments({ 'requester.id': r.requester.id, number: { $lt: r.number } }),
      Request.countDocuments({
        'requester.id': r.requester.id,
        number: { $lt: r.number },
        'targets.resourceId': { $in: r.targets.map((t) => t.resourceId) },
      }),
    ]);
    return { previousRequests, previousForSame };
  }

  // ---- admin lists: each checks (and audits a refusal) like the admin use-cases ----

  async settings(who: Identity): Promise<Settings> {
    await this.admin.assertAdmin(who, 'settings.read');
    return this.ctx.settings();
  }

  /**
   * The admins named outside the settings (LATCH_ADMINS): a settings form shows them and lets the
   * admins list be emptied only when there are some, so Latch never ends up without an admin.
   */
  async environmentAdmins(who: Identity): Promise<string[]> {
    await this.admin.assertAdmin(who, 'settings.read');
    const settings = await this.ctx.settings();
    return this.ctx.admins({ ...settings, admins: [] });
  }

  async flows(who: Identity): Promise<Flow[]> {
    await this.admin.assertAdmin(who, 'flow.list');
    return (await this.ctx.flows()).sort((a, b) => a.name.localeCompare(b.name));
  }

  /**
   * What the flow editor offers: integrations, bundles, the permissions resources have, and the
   * resources themselves (at most FORM_RESOURCES, by integration and name) to pick targets from.
   */
  async flowFormChoices(who: Identity): Promise<{
    integrations: string[];
    bundles: string[];
    permissions: string[];
    resources: Array<{ integration: string; id: string; name: string; permissions: string[] }>;
    /** On-call schedules the context sources synced, `<source>:<schedule>`. */
    schedules: string[];
  }> {
    await this.admin.assertAdmin(who, 'flow.edit');
    const { Integration } = this.ctx.db.models;
    const [integrations, bundles, catalog, schedules] = await Promise.all([
      Integration.distinct('name') as Promise<string[]>,
      this.ctx.bundleNames(),
      this.ctx.catalog(),
      this.ctx.directory?.schedules() ?? Promise.resolve([]),
    ]);
    return {
      schedules,
      integrations: integrations.sort(),
      bundles: bundles.sort(),
      permissions: [...new Set(catalog.flatMap((r) => r.permissions))].sort(),
      resources: catalog
        .map((r) => ({ integration: r.integration, id: r.id, name: r.name, permissions: r.permissions }))
        .sort((a, b) => a.integration.localeCompare(b.integration) || a.name.localeCompare(b.name))
        .slice(0, FORM_RESOURCES),
    };
  }

  async integrations(who: Identity): Promise<IntegrationSummary[]> {
    await this.admin.assertAdmin(who, 'integration.list');
    const { Integration, Resource } = this.ctx.db.models;
    const [docs, counts] = await Promise.all([
      Integration.find().sort({ name: 1 }).lean(),
      Resource.aggregate<{ _id: string; n: number }>([{ $group: { _id: '$integration', n: { $sum: 1 } } }]),
    ]);
    return Promise.all(
      docs.map(async (i) => {
        const health = await this.registry
          .get(i.name)
          .then((c) => c.health())
          .catch((err: Error) => ({ ok: false, message: err.message }));
        return {
          name: i.name,
          type: i.type,
          healthy: health.ok,
          health: health.message,
          resources: counts.find((c) => c._id === i.name)?.n ?? 0,
        };
      }),
    );
  }

  /** Context sources with their last sync, errors and counts (console). */
  contextSources(who: Identity) {
    return this.admin.listContextSources(who);
  }

  /** A context source for the console's editor: settings and stored secret names, never values. */
  contextSourceForEdit(who: Identity, name: string) {
    return this.admin.contextSourceForEdit(who, name);
  }

  /** The source types an admin may choose, each with its secret names and a config to start from. */
  contextSourceTypes(): Array<{ type: string } & ContextSourceForm> {
    return this.admin.contextSourceTypes().map((type) => ({ type, ...contextFormOf(type) }));
  }

  integrationTypes(): string[] {
    return this.registry.types();
  }

  /** The form of each known type; a type without one has none here (it is edited as YAML). */
  integrationForms(): Record<string, ConnectorForm> {
    return Object.fromEntries(
      this.registry.types().flatMap((t) => (Object.hasOwn(this.forms, t) ? [[t, this.forms[t]!]] : [])),
    );
  }

  /**
   * Access found on the systems that no Latch grant holds, as the last reconciliation of each
   * integration listed it (docs/ARCHITECTURE.md, "Reconciliation"); `total` counts all of it.
   */
  async standingAccess(
    who: Identity,
    opts: { integration?: string; key?: string; limit?: number; offset?: number } = {},
  ): Promise<{ total: number; items: StandingView[] }> {
    await this.admin.assertAdmin(who, 'standing.list');
    const filter = {
      ...(opts.integration ? { integration: opts.integration } : {}),
      // One entry, for the console's convert form.
      ...(opts.key ? { key: opts.key } : {}),
    };
    const { StandingAccess } = this.ctx.db.models;
    const [total, docs] = await Promise.all([
      StandingAccess.countDocuments(filter),
      StandingAccess.find(filter)
        .sort({ integration: 1, resourceName: 1, account: 1 })
        .skip(opts.offset ?? 0)
        .limit(Math.min(opts.limit ?? 50, 500))
        .lean(),
    ]);
    return { total, items: docs.map((d) => standingView(d as unknown as Record<string, unknown>)) };
  }

  /** How each integration's last reconciliation went. */
  async reconcileStatus(who: Identity): Promise<ReconcileStatusView[]> {
    await this.admin.assertAdmin(who, 'integration.list');
    const docs = await this.ctx.db.models.ReconcileStatus.find().sort({ _id: 1 }).lean();
    return docs.map((d) => ({
      integration: String(d._id),
      at: d.at,
      ok: d.ok,
      ...(d.error ? { error: d.error } : {}),
      ms: d.ms ?? undefined,
      counts: (d.counts ?? {}) as Record<string, number>,
    }));
  }

  async integrationForEdit(who: Identity, name: string): Promise<IntegrationForEdit | null> {
    await this.admin.assertAdmin(who, 'integration.edit');
    const doc = await this.ctx.db.models.Integration.findOne({ name }).lean();
    if (!doc) return null;
    return {
      name: doc.name,
      type: doc.type,
      description: doc.description ?? '',
      config: (doc.config ?? {}) as Record<string, unknown>,
      storedSecretNames: Object.keys((doc.secrets ?? {}) as Record<string, string>),
    };
  }

  /** Everyone's live access, soonest expiry first. */
  async activeAccess(who: Identity): Promise<RequestView[]> {
    await this.admin.assertAdmin(who, 'access.list');
    const docs = await this.ctx.db.models.Request.find({ state: { $in: [...LIVE_STATES] } })
      .sort({ expiresAt: 1 })
      .limit(500)
      .lean<RequestDoc[]>();
    return docs.map(toView);
  }

  /** How many grants a revoke-everything would end: active, being granted or approved. */
  async revocableCount(who: Identity): Promise<number> {
    await this.admin.assertAdmin(who, 'request.revoke_all');
    return this.ctx.db.models.Request.countDocuments({ state: { $in: ['active', 'granting', 'approved'] } });
  }

  /** Break-glass reviews no admin has closed yet, oldest first (docs/ARCHITECTURE.md, "Break-glass"). */
  async openReviews(who: Identity): Promise<ReviewView[]> {
    await this.admin.assertAdmin(who, 'review.list');
    return new Reviews(this.ctx).list('open');
  }

  /** One break-glass review, open or closed; null when there is none for `ref`. */
  async review(who: Identity, ref: string): Promise<ReviewView | null> {
    await this.admin.assertAdmin(who, 'review.list');
    return new Reviews(this.ctx).get(ref);
  }

  /** Lifecycle webhook subscriptions with their newest deliveries (docs/ARCHITECTURE.md, "Lifecycle webhooks"). */
  webhooks(who: Identity, recent = 5) {
    return this.admin.listWebhooks(who, recent);
  }

  /** One subscription with its last `recent` deliveries; null when there is none with that id. */
  webhook(who: Identity, id: string, recent = 50) {
    return this.admin.webhook(who, id, recent);
  }

  /** The events a subscription may choose. */
  webhookEvents(): readonly string[] {
    return WEBHOOK_EVENTS;
  }

  async auditPage(who: Identity, limit = 50): Promise<AuditLine[]> {
    await this.admin.assertAdmin(who, 'audit.read');
    const entries = await this.audit.latest(limit);
    return entries.map((e) => ({
      at: new Date(e.at),
      actor: e.actor.id,
      action: e.action,
      subject: e.subject ? `${e.subject.type} ${e.subject.id}` : '',
    }));
  }
}
