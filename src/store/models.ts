/**
 * Mongoose models. Every hot query of the lifecycle and the sweeps has an index that matches it,
 * because the embedded stand-in server scans slowly.
 */
import mongoose, { Schema, type Connection, type InferSchemaType } from 'mongoose';
import { model } from './define-model.js';
import type { Approver, Flow } from '../domain/flow.js';
import { REQUEST_STATES, type RequestState } from '../domain/request.js';
import type { OutboxEntry } from '../domain/outbox-entry.js';

const requesterSchema = new Schema(
  {
    id: { type: String, required: true },
    email: { type: String, required: true },
    displayName: String,
    groups: { type: [String], default: [] },
    timeZone: String,
    /** On-call schedules they were on shift for when they asked; absent when Latch knows no rota. */
    onCallFor: { type: [String], default: undefined },
    /** Their manager's email as a context source said when they asked; manager approvers resolve to it. */
    manager: String,
  },
  { _id: false },
);

const targetSchema = new Schema(
  {
    integration: { type: String, required: true },
    resourceId: { type: String, required: true },
    resourceName: { type: String, required: true },
    resourceKind: { type: String, required: true },
    permission: { type: String, required: true },
    owners: { type: [String], default: [] },
    /** Grant state of this target on the real system. */
    /** `partial`: a failed grant left something behind (see PartialGrantError) for revoke to remove. */
    grantState: { type: String, enum: ['none', 'active', 'partial', 'revoked', 'failed'], default: 'none' },
    handle: { type: Schema.Types.Mixed, default: null },
    /** connector.accessKey(handle): what reconciliation matches the system's listing by. */
    accessKey: String,
    /** When reconciliation last reported this target missing on the system (cleared when it is back). */
    driftAt: Date,
    grantedAt: Date,
    revokedAt: Date,
    error: String,
  },
  { _id: false },
);

const approvalSchema = new Schema(
  {
    step: { type: Number, required: true },
    by: { type: String, required: true },
    byGroups: { type: [String], default: [] },
    at: { type: Date, required: true },
    reason: String,
  },
  { _id: false },
);

const requestSchema = new Schema(
  {
    number: { type: Number, required: true, unique: true },
    requester: { type: requesterSchema, required: true },
    flowId: { type: String, required: true },
    flowName: { type: String, required: true },
    /** The flow as it was at submission: later edits do not change the rules of a running request. */
    flow: { type: Schema.Types.Mixed, required: true },
    viaFallback: { type: Boolean, default: false },
    /** Why it was approved automatically or went to its approvers, in words shown to both. */
    routing: String,
    /** How it came to be: asked for (absent), or granted by an automatic flow while a condition holds. */
    origin: String,
    /** Approved by the requester themselves in an emergency (docs/ARCHITECTURE.md, "Break-glass"). */
    breakGlass: { type: Boolean, default: false },
    /**
     * Who asked, when the request is for someone else (docs/ARCHITECTURE.md, "Asking for someone
     * else"); the requester is the person the access is for.
     */
    askedBy: { type: new Schema({ id: String, email: String, displayName: String }, { _id: false }) },
    /** When the person it was for declined it (it ended cancelled or revoked). */
    declinedAt: Date,
    bundle: String,
    targets: { type: [targetSchema], required: true },
    durationMinutes: { type: Number, default: null },
    justification: { type: String, default: '' },
    source: { type: String, required: true },
    state: { type: String, enum: REQUEST_STATES, required: true },
    version: { type: Number, default: 0 },
    step: { type: Number, default: 0 },
    approvals: { type: [approvalSchema], default: [] },
    decidedBy: String,
    decisionReason: String,
    decidedAt: Date,
    decideBy: Date,
    remindAt: Date,
    /** Reminders sent at the current step: the next one comes twice as late (domain/reminders.ts). */
    reminders: { type: Number, default: 0 },
    /** When the current step is escalated, if its flow escalates; unset once it is. */
    escalateAt: Date,
    /** Steps escalated, with the approvers added to each (at most one entry per step). */
    escalations: { type: [Schema.Types.Mixed], default: [] },
    grantedAt: Date,
    expiresAt: Date,
    warnAt: Date,
    warnedAt: Date,
    extensionCount: { type: Number, default: 0 },
    extensions: { type: [Schema.Types.Mixed], default: [] },
    pendingExtension: { type: Schema.Types.Mixed, default: null },
    endReason: { type: String, enum: ['expired', 'revoked', 'failed', null], default: null },
    endedBy: String,
    endReasonText: String,
    endedAt: Date,
    revokeRequested: { type: Boolean, default: false },
    /** Granted again after reconciliation found it missing: the grant keeps the expiry it had. */
    regrant: Boolean,
    /** Set while the request is open, so one person cannot have two open requests for the same targets. */
    openKey: String,
    lease: {
      owner: String,
      until: Date,
    },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: Date,
    lastError: String,
    adminsAlertedAt: Date,
    /** Claim tokens of the notification sweeps (warned, reminded, timed out): who sent each one. */
    markers: { type: Schema.Types.Mixed, default: {} },
    /**
     * Events still to be delivered to channels, in order, written by the same update as the state
     * change they report (src/lifecycle/outbox.ts). `notifyAt` is set while any is due.
     */
    outbox: { type: [Schema.Types.Mixed], default: [] },
    notifyAt: Date,
    notifyLease: { owner: String, until: Date },
  },
  { timestamps: true, minimize: false },
);
requestSchema.index(
  { openKey: 1 },
  { unique: true, partialFilterExpression: { openKey: { $exists: true } } },
);
requestSchema.index({ state: 1, expiresAt: 1 });
// Reconciliation looks up who held a key it found on a system (docs/ARCHITECTURE.md, "Reconciliation").
requestSchema.index({ 'targets.integration': 1, 'targets.accessKey': 1 });
requestSchema.index({ state: 1, warnAt: 1 });
requestSchema.index({ state: 1, decideBy: 1 });
requestSchema.index({ state: 1, remindAt: 1 });
requestSchema.index({ state: 1, escalateAt: 1 });
requestSchema.index({ state: 1, nextAttemptAt: 1 });
requestSchema.index({ 'requester.id': 1, state: 1 });
requestSchema.index({ notifyAt: 1 }, { partialFilterExpression: { notifyAt: { $exists: true } } });

/** A step escalated: when, and who may decide it besides its own approvers. */
export interface EscalationRecord {
  step: number;
  at: Date;
  to: Approver[];
}

export interface TargetDoc {
  integration: string;
  resourceId: string;
  resourceName: string;
  resourceKind: string;
  permission: string;
  owners: string[];
  grantState: 'none' | 'active' | 'partial' | 'revoked' | 'failed';
  handle: Record<string, string | number | boolean | null> | null;
  grantedAt?: Date;
  revokedAt?: Date;
  accessKey?: string;
  driftAt?: Date;
  error?: string;
}

/**
 * A request as read with lean(): plain data, no mongoose document methods. Written out rather than
 * inferred, because the schema stores the flow snapshot and grant handles as Mixed; the checks
 * below keep it and the schema in step (a path added to one but not the other fails the build).
 */
export interface RequestDoc {
  _id: mongoose.Types.ObjectId;
  number: number;
  requester: {
    id: string;
    email: string;
    displayName?: string;
    groups: string[];
    timeZone?: string;
    onCallFor?: string[];
    manager?: string;
  };
  flowId: string;
  flowName: string;
  /** The flow as it was at submission. */
  flow: Flow;
  viaFallback: boolean;
  routing?: string;
  origin?: 'automatic';
  breakGlass?: boolean;
  askedBy?: { id: string; email: string; displayName?: string };
  declinedAt?: Date;
  bundle?: string;
  targets: TargetDoc[];
  durationMinutes: number | null;
  justification: string;
  source: string;
  state: RequestState;
  version: number;
  step: number;
  approvals: Array<{ step: number; by: string; byGroups: string[]; at: Date; reason?: string }>;
  decidedBy?: string;
  decisionReason?: string;
  decidedAt?: Date;
  decideBy?: Date;
  remindAt?: Date;
  reminders?: number;
  escalateAt?: Date;
  escalations?: EscalationRecord[];
  grantedAt?: Date;
  expiresAt?: Date | null;
  warnAt?: Date;
  warnedAt?: Date;
  extensionCount: number;
  extensions: unknown[];
  pendingExtension: unknown;
  endReason: 'expired' | 'revoked' | 'failed' | null;
  endedBy?: string;
  endReasonText?: string;
  endedAt?: Date;
  revokeRequested: boolean;
  regrant?: boolean;
  openKey?: string;
  lease?: { owner?: string; until?: Date };
  attempts: number;
  nextAttemptAt?: Date;
  lastError?: string | null;
  adminsAlertedAt?: Date;
  /** Claim tokens of the notice sweeps, by notice. */
  markers: Record<string, string>;
  outbox?: OutboxEntry[];
  notifyAt?: Date;
  notifyLease?: { owner?: string; until?: Date };
  createdAt?: Date;
  updatedAt?: Date;
}

// The interface and the schema name the same paths (timestamps and _id aside).
type SchemaPaths = keyof InferSchemaType<typeof requestSchema>;
type Expect<T extends never> = T;
export type RequestDocMatchesSchema = [
  Expect<Exclude<SchemaPaths, keyof RequestDoc>>,
  Expect<Exclude<keyof RequestDoc, SchemaPaths | '_id' | 'createdAt' | 'updatedAt'>>,
];

const flowDocSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    definition: { type: Schema.Types.Mixed, required: true },
    enabled: { type: Boolean, default: true },
    /** 'config' when declared in the flows file, 'console' when made in a chat console or API. */
    origin: { type: String, default: 'console' },
  },
  { timestamps: true, minimize: false },
);

const integrationSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    type: { type: String, required: true },
    description: { type: String, default: '' },
    config: { type: Schema.Types.Mixed, default: {} },
    /** Sealed with the SecretBox; never returned by any view. */
    secrets: { type: Schema.Types.Mixed, default: {} },
    tags: { type: Schema.Types.Mixed, default: {} },
    health: { ok: Boolean, message: String, checkedAt: Date },
    origin: { type: String, default: 'console' },
  },
  { timestamps: true, minimize: false },
);

const resourceSchema = new Schema(
  {
    integration: { type: String, required: true },
    resourceId: { type: String, required: true },
    name: { type: String, required: true },
    kind: { type: String, required: true },
    tags: { type: Schema.Types.Mixed, default: {} },
    owners: { type: [String], default: [] },
    permissions: { type: [String], default: [] },
    seenAt: Date,
  },
  { minimize: false },
);
resourceSchema.index({ integration: 1, resourceId: 1 }, { unique: true });

const bundleDocSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    definition: { type: Schema.Types.Mixed, required: true },
    origin: { type: String, default: 'console' },
  },
  { timestamps: true, minimize: false },
);

const settingsDocSchema = new Schema(
  {
    _id: { type: String },
    value: { type: Schema.Types.Mixed, required: true },
    version: { type: Number, default: 0 },
  },
  { timestamps: true, minimize: false },
);

/**
 * A context source (docs/ARCHITECTURE.md, "Context sources"): an identity provider whose groups are
 * synced. Secrets are sealed like an integration's; `state` is what the last syncs left behind.
 */
const contextSourceSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    type: { type: String, required: true },
    description: { type: String, default: '' },
    config: { type: Schema.Types.Mixed, default: {} },
    /** Sealed with the SecretBox; never returned by any view. */
    secrets: { type: Schema.Types.Mixed, default: {} },
    syncEveryMinutes: { type: Number, required: true },
    maxAgeMinutes: { type: Number, required: true },
    origin: { type: String, default: 'console' },
    /** The generation of `context_groups` that is current; 0 until the first successful sync. */
    generation: { type: Number, default: 0 },
    /** Held while one process syncs, so two never write generations of one source at once. */
    lease: { owner: String, until: Date },
    /** Sync status and the source's own incremental state (e.g. Entra's delta link, sealed). */
    state: { type: Schema.Types.Mixed, default: {} },
  },
  { timestamps: true, minimize: false },
);

/**
 * One synced group of a source, in one generation: its members' emails. A group of more than
 * MEMBERS_PER_PART members takes several documents (`part`), to stay far below MongoDB's 16 MB.
 */
const contextGroupSchema = new Schema(
  {
    source: { type: String, required: true },
    generation: { type: Number, required: true },
    groupId: { type: String, required: true },
    part: { type: Number, default: 0 },
    name: { type: String, required: true },
    /** Lower-case emails. */
    members: { type: [String], default: [] },
    /** Ids of the groups nested in this one, at any depth (Entra): what a delta sync recomputes. */
    nested: { type: [String], default: [] },
    /** On-call schedules: the shifts of this part's members; a member counts only during one. */
    onCall: { type: Boolean, default: false },
    shifts: {
      type: [
        {
          _id: false,
          email: { type: String, required: true },
          start: { type: Date, required: true },
          end: Date,
        },
      ],
      default: [],
    },
  },
  { minimize: false },
);
// Who is in which group (the identity's groups), and a group's members (approvers by group).
contextGroupSchema.index({ members: 1 });
contextGroupSchema.index({ source: 1, generation: 1, name: 1 });

/**
 * The review a break-glass request opens (docs/ARCHITECTURE.md, "Break-glass"), keyed by the
 * request's id (`AR-12`): open until an admin closes it with a note. It holds what the console
 * lists, so an open review reads without its request. Written only by src/lifecycle/reviews.ts.
 */
const reviewSchema = new Schema(
  {
    _id: { type: String },
    requestNumber: { type: Number, required: true },
    requester: { id: { type: String, required: true }, email: String, displayName: String },
    flowName: { type: String, required: true },
    /** `integration:resource:permission`, as the audit entry names them. */
    targets: { type: [String], default: [] },
    reason: { type: String, required: true },
    openedAt: { type: Date, required: true },
    state: { type: String, enum: ['open', 'closed'], required: true },
    closedBy: String,
    closedAt: Date,
    note: String,
  },
  { timestamps: true, minimize: false },
);
reviewSchema.index({ state: 1, openedAt: 1 });

/** A person's manager as one generation of a source read it (docs/ARCHITECTURE.md, "Context sources"). */
const contextManagerSchema = new Schema(
  {
    source: { type: String, required: true },
    generation: { type: Number, required: true },
    email: { type: String, required: true },
    manager: { type: String, required: true },
  },
  { minimize: false },
);
// A person's manager, and a manager's direct reports.
contextManagerSchema.index({ email: 1 });
contextManagerSchema.index({ manager: 1 });
contextManagerSchema.index({ source: 1, generation: 1 });

/**
 * A message to every admin that belongs to no request (a context source gone stale, and back):
 * delivered to each channel still in `pending` (docs/ARCHITECTURE.md, "Admin notices").
 */
const adminNoticeSchema = new Schema(
  {
    _id: { type: String },
    kind: { type: String, required: true },
    text: { type: String, required: true },
    admins: { type: [String], default: [] },
    pending: { type: [String], default: [] },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: { type: Date, required: true },
    lastError: String,
  },
  { timestamps: true, minimize: false },
);
adminNoticeSchema.index(
  { nextAttemptAt: 1 },
  { partialFilterExpression: { 'pending.0': { $exists: true } } },
);

/**
 * Access found on a system that no Latch grant holds (docs/ARCHITECTURE.md, "Reconciliation"),
 * as the last reconciliation of its integration listed it; an admin may convert it to a flow.
 */
const standingAccessSchema = new Schema(
  {
    integration: { type: String, required: true },
    key: { type: String, required: true },
    account: { type: String, required: true },
    email: String,
    resourceId: { type: String, default: '' },
    resourceName: String,
    permission: { type: String, default: '' },
    madeByLatch: { type: Boolean, default: false },
    handle: { type: Schema.Types.Mixed, default: {} },
    firstSeenAt: { type: Date, required: true },
    lastSeenAt: { type: Date, required: true },
  },
  { minimize: false },
);
standingAccessSchema.index({ integration: 1, key: 1 }, { unique: true });

/** How each integration's last reconciliation went (docs/ARCHITECTURE.md, "Reconciliation"). */
const reconcileStatusSchema = new Schema(
  {
    _id: { type: String },
    at: { type: Date, required: true },
    ok: { type: Boolean, required: true },
    error: String,
    ms: Number,
    counts: { type: Schema.Types.Mixed, default: {} },
  },
  { minimize: false },
);

/**
 * A lifecycle webhook subscription (docs/ARCHITECTURE.md, "Lifecycle webhooks"): an HTTPS endpoint
 * and the events it gets. The signing secret is sealed with the SecretBox and never read back out.
 */
const webhookSubscriptionSchema = new Schema(
  {
    name: { type: String, required: true, unique: true },
    url: { type: String, required: true },
    /** Webhook event types (src/webhooks/events.ts); empty: every event. */
    events: { type: [String], default: [] },
    /** Sealed with the SecretBox; never returned by any view. */
    secret: { type: String, required: true },
    secretSetAt: { type: Date, required: true },
    enabled: { type: Boolean, default: true },
  },
  { timestamps: true, minimize: false },
);

/**
 * One event for one subscription: the body as first built (so every retry sends the same bytes and
 * id), and how its delivery went. Pending ones are the queue; finished ones are the status the
 * consoles show, kept bounded per subscription and expired after 30 days.
 */
const webhookDeliverySchema = new Schema(
  {
    /** `<subscription id>:<event id>`: enqueuing the same event twice writes it once. */
    _id: { type: String },
    subscription: { type: String, required: true },
    event: { type: String, required: true },
    eventId: { type: String, required: true },
    /** `AR-12`: a subscription gets one request's events in order (`seq`). */
    requestId: { type: String, required: true },
    seq: { type: Number, required: true },
    body: { type: String, required: true },
    state: { type: String, enum: ['pending', 'delivered', 'failed'], required: true },
    attempts: { type: Number, default: 0 },
    nextAttemptAt: Date,
    lease: { owner: String, until: Date },
    lastAttemptAt: Date,
    lastStatus: Number,
    lastError: String,
    finishedAt: Date,
  },
  { timestamps: true, minimize: false },
);
webhookDeliverySchema.index({ nextAttemptAt: 1 }, { partialFilterExpression: { state: 'pending' } });
webhookDeliverySchema.index({ subscription: 1, requestId: 1, seq: 1 });
webhookDeliverySchema.index({ subscription: 1, createdAt: -1 });
webhookDeliverySchema.index({ requestId: 1, seq: -1 });
webhookDeliverySchema.index({ finishedAt: 1 }, { expireAfterSeconds: 30 * 24 * 3600 });

const counterSchema = new Schema({ _id: { type: String }, seq: { type: Number, required: true } });

export function models(conn: Connection) {
  return {
    Request: model(conn, 'Request', requestSchema, 'requests'),
    Flow: model(conn, 'Flow', flowDocSchema, 'flows'),
    Integration: model(conn, 'Integration', integrationSchema, 'integrations'),
    Resource: model(conn, 'Resource', resourceSchema, 'resources'),
    Bundle: model(conn, 'Bundle', bundleDocSchema, 'bundles'),
    Settings: model(conn, 'Settings', settingsDocSchema, 'settings'),
    Counter: model(conn, 'Counter', counterSchema, 'counters'),
    ContextSource: model(conn, 'ContextSource', contextSourceSchema, 'context_sources'),
    ContextGroup: model(conn, 'ContextGroup', contextGroupSchema, 'context_groups'),
    ContextManager: model(conn, 'ContextManager', contextManagerSchema, 'context_managers'),
    AdminNotice: model(conn, 'AdminNotice', adminNoticeSchema, 'admin_notices'),
    Review: model(conn, 'Review', reviewSchema, 'reviews'),
    StandingAccess: model(conn, 'StandingAccess', standingAccessSchema, 'standing_access'),
    ReconcileStatus: model(conn, 'ReconcileStatus', reconcileStatusSchema, 'reconcile_status'),
    WebhookSubscription: model(
      conn,
      'WebhookSubscription',
      webhookSubscriptionSchema,
      'webhook_subscriptions',
    ),
    WebhookDelivery: model(conn, 'WebhookDelivery', webhookDeliverySchema, 'webhook_deliveries'),
  };
}
export type Models = ReturnType<typeof models>;
