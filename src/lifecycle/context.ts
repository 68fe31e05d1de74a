/**
 * What every use-case needs: the store, the audit log, the notifier, the connectors, a clock, and
 * the reads of policy (flows, settings, admins, catalog) that decisions are made from.
 */
import type { Connector } from '../connectors/types.js';
import {
  flowSchema,
  parseStoredSettings,
  withoutNulls,
  type Flow,
  type Settings,
  type BundleDefinition,
} from '../domain/flow.js';
import { stepAudience } from '../domain/approval.js';
import type { ApprovalStep } from '../domain/flow.js';
import type { Identity } from '../domain/identity.js';
import type { ContextDirectory } from '../context/directory.js';
import { ON_CALL_TYPES } from '../context/types.js';
import type { AdminNotices } from './admin-notices.js';
import type { Resource } from '../domain/resource.js';
import type { Logger } from '../logger.js';
import type { LatchMetrics } from '../metrics.js';
import type { Database } from '../store/db.js';
import type { Audience, LatchEvent, Notifier } from './notifier.js';
import type { Outbox } from './outbox.js';
import { RequestMoves } from './transitions/index.js';
import type { AuditEvent } from '../audit/audit-log.js';

export interface Auditor {
  append(events: AuditEvent | AuditEvent[]): Promise<void>;
}

export interface ConnectorSource {
  get(integration: string): Promise<Connector>;
}

export interface LifecycleDeps {
  db: Database;
  audit: Auditor;
  notifier: Notifier;
  connectors: ConnectorSource;
  log: Logger;
  /** Admins from LATCH_ADMINS; the rest are in settings. */
  envAdmins: string[];
  clock?: () => Date;
  /** Wakes the sweep loop in this process after a change it should act on at once. */
  kick?: () => void;
  expiryWarningMinutes?: number;
  metrics: LatchMetrics;
  /** The synced identity-provider groups (src/context/); none when absent. */
  contextDirectory?: ContextDirectory;
}

export class LifecycleContext {
  readonly db: Database;
  readonly audit: Auditor;
  readonly log: Logger;
  readonly connectors: ConnectorSource;
  readonly metrics: LatchMetrics;
  /** The only way request documents change (transitions/). */
  readonly moves: RequestMoves;
  private readonly deps: LifecycleDeps;

  constructor(deps: LifecycleDeps) {
    this.deps = deps;
    this.db = deps.db;
    this.audit = deps.audit;
    this.log = deps.log;
    this.connectors = deps.connectors;
    this.metrics = deps.metrics;
    this.moves = new RequestMoves(this);
  }

  now(): Date {
    return this.deps.clock ? this.deps.clock() : new Date();
  }

  kick(): void {
    this.deps.kick?.();
  }

  private policyVersionValue = 0;

  /** Bumped by every admin change in this process; chat forms key their short-lived caches on it. */
  get policyVersion(): number {
    return this.policyVersionValue;
  }

  policyChanged(): void {
    this.policyVersionValue++;
  }

  /**
   * The person as policy sees them: the identity a channel resolved, plus the groups context
   * sources synced for their email, named `<source>:<group>` (docs/ARCHITECTURE.md, "Context
   * sources"); those from a stale source are also listed in `staleGroups`. Every use-case and query
   * that decides by groups starts here. A synced group's name is never taken from a channel: only
   * the sync says who is in it.
   */
  async identify(who: Identity): Promise<Identity> {
    const dir = this.deps.contextDirectory;
    if (!dir) return who;
    const sources = await dir.sources();
    if (sources.length === 0) return who;
    const synced = new Set(sources.map((s) => s.name));
    const own = who.groups.filter((g) => !synced.has(g.slice(0, Math.max(0, g.indexOf(':')))));
    const { groups, stale, onCall } = await dir.groupsOf(who.email || who.id, sources);
    const rotas = sources.some((s) => ON_CALL_TYPES.has(s.type));
    return {
      ...who,
      groups: [...own, ...groups],
      staleGroups: stale,
      ...(rotas ? { onCallFor: onCall } : {}),
    };
  }

  /**
   * Who is asked to approve `step`: named people, resource owners and the requester's manager,
   * chat groups as groups, and the members of synced identity-provider groups as people (by
   * email), since no chat knows those groups and every channel can reach a person by email.
   */
  async audience(step: ApprovalStep, resourceOwners: string[], requesterManager?: string): Promise<Audience> {
    const base = stepAudience(step, resourceOwners, requesterManager);
    const dir = this.deps.contextDirectory;
    if (!dir || base.groups.length === 0) return base;
    const sources = await dir.sources();
    if (sources.length === 0) return base;
    const users = new Set(base.users);
    const groups: string[] = [];
    for (const g of base.groups) {
      const members = await dir.membersOf(g, sources);
      if (members === undefined) groups.push(g);
      else for (const m of members) users.add(m);
    }
    return { users: [...users], groups };
  }

  /** The synced context (groups, on-call rotas), when this process has one. */
  get directory(): ContextDirectory | undefined {
    return this.deps.contextDirectory;
  }

  /** Emails a channel resolved from LATCH_ADMINS entries that were chat user ids. */
  addEnvAdmins(emails: string[]): void {
    for (const e of emails) if (!this.deps.envAdmins.includes(e)) this.deps.envAdmins.push(e);
  }

  setKick(kick: () => void): void {
    this.deps.kick = kick;
  }

  /**
   * One call for each thing that happened: its audit entries, then this process's observers told.
   * (Its outbox entries went with the state change.) Use-cases record through here, so no event is
   * audited without being told, or told without being audited.
   */
  async record(audit: AuditEvent | AuditEvent[], ...events: LatchEvent[]): Promise<void> {
    await this.audit.append(audit);
    for (const event of events) await this.notify(event);
  }

  /** The durable outbox; set once by the composition root (it needs this context first). */
  outbox!: Outbox;

  /** Messages to every admin that belong to no request; set by the composition root. */
  notices?: AdminNotices;

  /** Lifecycle webhook deliveries, when on; the sweeps kick them (docs/ARCHITECTURE.md, "Lifecycle webhooks"). */
  webhooks?: { kick(): void };

  /**
   * Tells this process's observers (the log, tests) at once, and lets the outbox deliver to the
   * channels what the state change just queued. Observer problems are logged, never thrown: the
   * state change they report has already happened.
   */
  async notify(event: LatchEvent): Promise<void> {
    try {
      await this.deps.notifier.notify(event);
    } catch (err) {
      this.log.warn({ err, event: event.type, request: event.request.id }, 'notification failed');
    }
    this.outbox?.kick();
  }

  /** The stored version whose repair was last reported, so a bad document is logged once, not per read. */
  private reportedRepair?: string;

  async settings(): Promise<Settings> {
    const doc = await this.db.models.Settings.findById('global').lean();
    const { settings, repaired } = parseStoredSettings(doc?.value);
    if (repaired.length > 0) {
      const key = `${String(doc?.version)}|${repaired.join(',')}`;
      if (this.reportedRepair !== key) {
        this.reportedRepair = key;
        this.log.warn(
          { problems: repaired },
          'stored settings had invalid fields; their defaults are used until an admin saves Settings again',
        );
      }
    }
    if (doc?.value?.expiryWarningMinutes === undefined && this.deps.expiryWarningMinutes !== undefined) {
      settings.expiryWarningMinutes = this.deps.expiryWarningMinutes;
    }
    return settings;
  }

  async admins(settings?: Settings): Promise<string[]> {
    const s = settings ?? (await this.settings());
    return [
      ...new Set([...this.deps.envAdmins, ...s.admins].map((a) => a.trim().toLowerCase()).filter(Boolean)),
    ];
  }

  async isAdmin(who: Identity, settings?: Settings): Promise<boolean> {
    const admins = await this.admins(settings);
    // `@handle` names a user group: its members are admins.
    const names = [who.id, who.email, ...(who.aliases ?? []), ...who.groups.map((g) => `@${g}`)].map((n) =>
      n.toLowerCase(),
    );
    return names.some((n) => admins.includes(n));
  }

  /** Flows whose stored definition does not parse, reported once each (by id and last change). */
  private readonly reportedFlows = new Set<string>();

  /**
   * Every flow as stored. A stored null where a field is optional reads as absent; a flow that still
   * does not parse (edited by hand in the database) is left out, so it grants nothing, and logged,
   * instead of making every read of every flow fail.
   */
  async flows(): Promise<Flow[]> {
    const docs = await this.db.models.Flow.find().lean();
    const flows: Flow[] = [];
    for (const d of docs) {
      const parsed = flowSchema.safeParse(withoutNulls({ ...d.definition, enabled: d.enabled }));
      if (parsed.success) {
        flows.push({ ...parsed.data, id: String(d._id) });
        continue;
      }
      const key = `${String(d._id)}@${String((d as { updatedAt?: Date }).updatedAt?.getTime())}`;
      if (!this.reportedFlows.has(key)) {
        this.reportedFlows.add(key);
        this.log.warn(
          { flow: d.name, problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) },
          'a stored flow is not valid and is ignored until an admin saves it again',
        );
      }
    }
    return flows;
  }

  async bundleNames(): Promise<string[]> {
    const docs = await this.db.models.Bundle.find({}, { name: 1 }).lean();
    return docs.map((b) => b.name as string);
  }

  async bundle(name: string): Promise<BundleDefinition | null> {
    const doc = await this.db.models.Bundle.findOne({ name }).lean();
    return doc ? (doc.definition as BundleDefinition) : null;
  }

  async catalog(integrations?: string[]): Promise<Resource[]> {
    const filter = integrations ? { integration: { $in: integrations } } : {};
    const docs = await this.db.models.Resource.find(filter).lean();
    return docs.map((d) => ({
      id: d.resourceId,
      integration: d.integration,
      name: d.name,
      kind: d.kind,
      tags: (d.tags ?? {}) as Record<string, string>,
      owners: d.owners ?? [],
      permissions: d.permissions ?? [],
    }));
  }
}
