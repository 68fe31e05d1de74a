/**
 * Sample data for every Slack surface Latch shows, for `npm run slack:views` (paste the JSON into the
 * Block Kit Builder) and for the tests that run each one through the Block Kit limits.
 *
 * SAMPLE_VIEWS: what a real workspace looks like. STRESS_VIEWS: the same builders fed extreme data
 * (names of 300+ characters, hundreds of resources, a thousand active requests), to show that they cut
 * and page instead of producing something Slack rejects. Pure: no I/O, fixed dates.
 */
import { durationOptions } from '../../../src/domain/duration.js';
import {
  flowSchema,
  settingsSchema,
  type Flow,
  type FlowInput,
  type Settings,
} from '../../../src/domain/flow.js';
import { formatRequestId } from '../../../src/domain/human-id.js';
import { MAX_APPROVERS_PER_STEP } from '../../../src/domain/limits.js';
import type { RequestState } from '../../../src/domain/request.js';
import type { RequestView } from '../../../src/lifecycle/request-view.js';
import {
  credentialsModal,
  flowModal,
  contextSourceModal,
  integrationModal,
  reasonModal,
  settingsModal,
  type FlowFormModel,
} from '../../../blocks/slack/admin-modals.js';
import { commandReply, helpReply } from '../../../blocks/slack/command-replies.js';
import {
  homeView,
  type ActiveItem,
  type AuditRow,
  type HomeModel,
  type IntegrationRow,
} from '../../../blocks/slack/home.js';
import { VIEW } from '../../../blocks/slack/ids.js';
import { standingConvertModal, type StandingHomeModel } from '../../../blocks/slack/standing.js';
import type { StandingView } from '../../../src/lifecycle/standing.js';
import {
  approvalCard,
  decidedMessage,
  digestMessage,
  expiringMessage,
  extensionCard,
  forYouMessage,
  grantedMessage,
  plainTargets,
  simpleMessage,
  submittedMessage,
  type Message,
  type RequesterContext,
} from '../../../blocks/slack/messages.js';
import {
  loadingModal,
  noticeModal,
  requestModal,
  submittedModal,
  type RequestForm,
} from '../../../blocks/slack/request-modal.js';
import { esc, mention, when } from '../../../blocks/slack/text.js';
import { webhookDeliveriesModal, webhookModal, webhookSecretModal } from '../../../blocks/slack/webhooks.js';
import type { WebhookDeliveryView, WebhookView } from '../../../src/lifecycle/webhook-subscriptions.js';
import { WEBHOOK_EVENTS } from '../../../src/webhooks/events.js';

export interface Sample {
  kind: 'view' | 'message';
  value: unknown;
}
export type SampleSet = Record<string, () => Sample>;

const view = (value: unknown): Sample => ({ kind: 'view', value });
const message = (value: Message): Sample => ({ kind: 'message', value });

// ---------------------------------------------------------------------------------------------------------
// Helpers

/** Wednesday 18 March 2026, 14:05 UTC; every sample date is relative to it. */
const NOW = Date.UTC(2026, 2, 18, 14, 5);
const at = (minutes: number) => new Date(NOW + minutes * 60_000);

type Target = RequestView['targets'][number];

export function sampleTarget(
  resourceName: string,
  permission = 'read',
  integration = 'postgres-prod',
  grantState = 'pending',
): Target {
  return { integration, resourceId: resourceName, resourceName, permission, grantState };
}

/** A RequestView with realistic defaults: a pending one-step request for read on billing. */
export function sampleRequest(n: number, over: Partial<RequestView> = {}): RequestView {
  return {
    id: formatRequestId(n),
    number: n,
    requester: {
      id: 'maria.lopez@example.com',
      email: 'maria.lopez@example.com',
      displayName: 'María López',
      groups: ['engineering', 'payments-team'],
      timeZone: 'Europe/Madrid',
    },
    flowId: FLOW_ID.prod,
    flowName: 'Production databases',
    viaFallback: false,
    targets: [sampleTarget('billing')],
    durationMinutes: 120,
    justification: 'INC-4821: invoices stuck in "sending"; need to check the outbox table.',
    source: 'slack',
    state: 'pending',
    version: 1,
    step: 0,
    stepCount: 1,
    approvals: [],
    createdAt: at(-12),
    expiresAt: null,
    extensionCount: 0,
    ...over,
  };
}

/** The same request once granted: targets granted, an expiry two hours out. */
function granted(r: RequestView, minutesLeft = 120): RequestView {
  return {
    ...r,
    state: 'active',
    targets: r.targets.map((t) => ({ ...t, grantState: 'granted' })),
    approvals: [{ step: 0, by: 'ana.silva@example.com', at: at(-5) }],
    decidedBy: 'ana.silva@example.com',
    grantedAt: at(-4),
    expiresAt: at(minutesLeft),
  };
}

function flow(id: string, input: FlowInput): Flow {
  return { ...flowSchema.parse(input), id };
}

const WORDS = [
  'analytics',
  'warehouse',
  'eu-west-1',
  'replica',
  'customer',
  'billing',
  'ledger',
  'archive',
  'reporting',
  'primary',
  'shard',
  'snapshot',
];

/** A name of exactly `length` characters that starts with `prefix`, so that each one stays distinct. */
function long(prefix: string, length: number, separator = '-'): string {
  let s = prefix;
  for (let i = 0; s.length < length; i++) s += `${separator}${WORDS[i % WORDS.length]}`;
  return s.slice(0, length);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i);
const pad = (i: number, width = 4) => String(i).padStart(width, '0');

// ---------------------------------------------------------------------------------------------------------
// Realistic data

const FLOW_ID = {
  prod: '65f1c0a2e4b0a1d2c3e4f501',
  staging: '65f1c0a2e4b0a1d2c3e4f502',
  finance: '65f1c0a2e4b0a1d2c3e4f503',
};

const FLOWS: Flow[] = [
  flow(FLOW_ID.prod, {
    name: 'Production databases',
    description: 'Read or write on the production PostgreSQL databases; the DBAs approve.',
    grantees: { include: [{ type: 'group', id: 'engineering' }] },
    targets: [
      { integration: 'postgres-prod', include: [{ tags: { env: 'prod' } }], permissions: ['read', 'write'] },
    ],
    approval: { steps: [{ approvers: [{ type: 'group', id: 'dba' }] }], requireReason: true },
    duration: { choicesMinutes: [30, 60, 120, 240], maxMinutes: 240 },
    requireJustification: true,
    extension: { mode: 'approval', maxCount: 2 },
  }),
  flow(FLOW_ID.staging, {
    name: 'Staging, self-serve',
    grantees: { include: [{ type: 'everyone' }] },
    targets: [{ integration: 'postgres-staging', permissions: ['read', 'write', 'admin'] }],
    duration: { maxMinutes: 480 },
    extension: { mode: 'direct', maxCount: 3 },
  }),
  flow(FLOW_ID.finance, {
    name: 'Finance reporting',
    description: 'Quarter-end access to the ledger; finance leads, then the resource owner.',
    enabled: false,
    grantees: {
      include: [
        { type: 'group', id: 'finance' },
        { type: 'user', id: 'tom.becker@example.com' },
      ],
    },
    bundles: ['finance-readonly'],
    approval: {
      steps: [
        { approvers: [{ type: 'user', id: 'ana.silva@example.com' }] },
        { approvers: [{ type: 'resource_owner' }], rule: { type: 'all' } },
      ],
    },
    duration: { choicesMinutes: [1440, 4320], maxMinutes: 4320 },
  }),
];

const SETTINGS: Settings = settingsSchema.parse({
  admins: ['ana.silva@example.com'],
  fallback: { enabled: true, approvers: [{ type: 'group', id: 'security' }], maxMinutes: 120 },
  expiryWarningMinutes: 15,
  selfExtension: 'flow',
  auditChannel: 'C05LATCHAUD',
});

const USER_GROUPS = [
  { handle: 'dba', name: 'Database administrators' },
  { handle: 'engineering', name: 'Engineering' },
  { handle: 'finance', name: 'Finance' },
  { handle: 'security', name: 'Security' },
  { handle: 'sre-oncall', name: 'SRE on call' },
];

const CONTEXT: RequesterContext = {
  groups: ['engineering', 'payments-team'],
  timeZone: 'Europe/Madrid',
  localTime: '15:05',
  withinWorkingHours: true,
  previousRequests: 7,
  previousForSame: 2,
};

const REQUESTER = mention('U04MARIA01', 'maria.lopez@example.com');
const APPROVER = mention('U03ANA0001', 'ana.silva@example.com');

const PENDING = sampleRequest(1042, {
  targets: [sampleTarget('billing'), sampleTarget('ledger')],
});
const TWO_STEP = sampleRequest(1043, {
  flowId: FLOW_ID.finance,
  flowName: 'Finance reporting',
  bundle: 'finance-readonly',
  targets: [
    sampleTarget('billing', 'read', 'postgres-prod'),
    sampleTarget('ledger', 'read', 'postgres-prod'),
    sampleTarget('invoices', 'read', 'postgres-prod'),
    sampleTarget('payouts', 'read', 'postgres-prod'),
  ],
  durationMinutes: 1440,
  justification: 'Quarter-end close: reconcile Q1 payouts against the ledger.',
  step: 1,
  stepCount: 2,
  approvals: [{ step: 0, by: 'ana.silva@example.com', at: at(-30) }],
});
const ACTIVE = granted(sampleRequest(1040, { durationMinutes: 120 }), 14);
const FALLBACK = sampleRequest(1044, {
  requester: {
    id: 'tom.becker@example.com',
    email: 'tom.becker@example.com',
    displayName: 'Tom Becker',
    groups: ['finance'],
    timeZone: 'America/New_York',
  },
  flowId: 'fallback',
  flowName: 'Fallback flow',
  viaFallback: true,
  targets: [sampleTarget('analytics', 'write', 'postgres-staging')],
  durationMinutes: 60,
  justification: '',
});

const INTEGRATIONS: IntegrationRow[] = [
  {
    name: 'postgres-prod',
    type: 'postgresql',
    health: 'connected, 14 databases',
    healthy: true,
    resources: 14,
  },
  {
    name: 'postgres-staging',
    type: 'postgresql',
    health: 'connected, 6 databases',
    healthy: true,
    resources: 6,
  },
  {
    name: 'postgres-analytics',
    type: 'postgresql',
    health: 'connect ECONNREFUSED 10.0.4.12:5432',
    healthy: false,
    resources: 0,
  },
];

const AUDIT: AuditRow[] = [
  { at: at(-2), actor: 'ana.silva@example.com', action: 'request.approved', subject: 'request AR-1042' },
  { at: at(-12), actor: 'maria.lopez@example.com', action: 'request.submitted', subject: 'request AR-1042' },
  { at: at(-40), actor: 'system', action: 'access.expired', subject: 'request AR-1031' },
  {
    at: at(-95),
    actor: 'ana.silva@example.com',
    action: 'flow.updated',
    subject: 'flow Production databases',
  },
  { at: at(-240), actor: 'config-file', action: 'integration.updated', subject: 'integration postgres-prod' },
];

/** Standing access as reconciliation lists it: a login given read by hand, and one Latch left behind. */
const STANDING: StandingView[] = [
  {
    integration: 'postgres-prod',
    key: 'acl:reporting:app:billing',
    account: 'reporting',
    resourceId: 'db:app/schema:billing',
    resourceName: 'app.billing',
    permission: 'read',
    madeByLatch: false,
    firstSeenAt: at(-60 * 24 * 3),
    lastSeenAt: at(-5),
  },
  {
    integration: 'postgres-prod',
    key: 'member:maria:analytics_rw',
    account: 'maria',
    email: 'maria.garcia@example.com',
    resourceId: 'db:app/schema:analytics',
    resourceName: 'app.analytics',
    permission: 'write',
    madeByLatch: false,
    firstSeenAt: at(-60),
    lastSeenAt: at(-5),
  },
  {
    integration: 'postgres-staging',
    key: 'role:latch_ar1031_tom',
    account: 'latch_ar1031_tom',
    resourceId: '',
    resourceName: '',
    permission: '',
    madeByLatch: true,
    firstSeenAt: at(-30),
    lastSeenAt: at(-5),
  },
];

const STANDING_HOME: StandingHomeModel = {
  total: 3,
  page: 0,
  pages: 1,
  items: STANDING,
  integrations: [
    {
      name: 'postgres-prod',
      status: {
        integration: 'postgres-prod',
        at: at(-5),
        ok: true,
        ms: 840,
        counts: {
          listed: 14,
          matched: 12,
          missing: 1,
          reapplied: 1,
          revoked: 0,
          revokeFailed: 0,
          standing: 2,
        },
      },
    },
    {
      name: 'postgres-staging',
      status: {
        integration: 'postgres-staging',
        at: at(-5),
        ok: false,
        error: 'connect ECONNREFUSED 10.0.4.11:5432',
        counts: {},
      },
    },
    { name: 'postgres-analytics' },
  ],
};

function home(section: HomeModel['section'], over: Partial<HomeModel> = {}): HomeModel {
  return {
    isAdmin: true,
    section,
    page: 0,
    timeZone: 'Europe/Madrid',
    mine: {
      active: [{ request: ACTIVE, extendMinutes: [30, 60] }],
      pending: [PENDING],
    },
    waitingOnMe: [TWO_STEP, FALLBACK],
    admin: {
      flows: FLOWS,
      integrations: INTEGRATIONS,
      active: [
        ACTIVE,
        granted(sampleRequest(1038, { ...FALLBACK, id: formatRequestId(1038), number: 1038 }), 45),
      ],
      settings: SETTINGS,
      envAdmins: ['ops-lead@example.com'],
      audit: AUDIT,
      sources: [
        {
          name: 'okta',
          type: 'okta',
          stale: false,
          lastSuccessAt: at(-12),
          groups: 214,
          memberships: 10_482,
          requests: 231,
          rateLimited: 3,
          warnings: [],
        },
        {
          name: 'entra',
          type: 'entra',
          stale: true,
          lastSuccessAt: at(-60 * 26),
          lastError: 'AADSTS7000215: Invalid client secret provided.',
          lastErrorAt: at(-4),
          groups: 58,
          memberships: 1_920,
          requests: 1,
          rateLimited: 0,
          warnings: ['Two groups are called DBA; both are ignored until one is renamed.'],
        },
      ],
    },
    ...over,
  };
}

const REQUEST_FORM: RequestForm = {
  anything: true,
  closed: [],
  forOthers: ['reports'],
  forOthersHint:
    'Leave empty to ask for yourself, or pick one of your direct reports: the access is theirs, they are told and can decline.',
  selected: [
    { value: 'postgres-prod|billing', label: 'billing · postgres-prod' },
    { value: 'postgres-prod|ledger', label: 'ledger · postgres-prod' },
  ],
  bundles: [
    { name: 'finance-readonly', description: 'Read on billing, ledger, invoices and payouts' },
    { name: 'oncall-debug', description: '' },
  ],
  flows: [
    { id: FLOW_ID.prod, name: 'Production databases' },
    { id: 'fallback', name: 'Fallback flow' },
  ],
  selectedFlowId: FLOW_ID.prod,
  permissions: ['read', 'write'],
  selectedPermission: 'read',
  durations: [30, 60, 120, 240],
  selectedDuration: 60,
  justificationRequired: true,
  notes: ['Production databases: approved by group dba.'],
  privateMetadata: JSON.stringify({ w: 'billing' }),
};

const FLOW_FORM: FlowFormModel = {
  schedules: [],
  granteeUserIds: [],
  approverUserIds: [],
  escalationUserIds: [],
  userGroups: USER_GROUPS,
  integrations: ['postgres-analytics', 'postgres-prod', 'postgres-staging'],
  bundles: ['finance-readonly', 'oncall-debug'],
  permissions: ['admin', 'read', 'write'],
  privateMetadata: JSON.stringify({ t: 'T01LATCH' }),
};

const CONTEXT_SOURCE_TYPES = [
  { type: 'okta', secrets: ['apiToken'], example: { orgUrl: 'https://example.okta.com' } },
  { type: 'entra', secrets: ['clientSecret'], example: { tenantId: 't', clientId: 'c' } },
  { type: 'pagerduty', secrets: ['apiToken'], example: {} },
];
const CONFIG_YAML = 'host: db.internal\nport: 5432\nuser: latch_admin\ndatabase: postgres\nmode: roles\n';

const CREDENTIALS = [
  {
    resourceName: 'billing',
    permission: 'read',
    values: {
      host: 'db-prod.internal',
      port: '5432',
      user: 'latch_ar1040_maria',
      password: 'q7Z-2mXv!Rk9pLw4',
    },
  },
];

const WEBHOOK_DELIVERIES: WebhookDeliveryView[] = [
  {
    id: 'd1',
    event: 'access.granted',
    eventId: 'AR-1042:1',
    requestId: 'AR-1042',
    state: 'delivered',
    attempts: 1,
    lastStatus: 200,
    createdAt: at(-2),
    lastAttemptAt: at(-2),
  },
  {
    id: 'd2',
    event: 'request.approved',
    eventId: 'AR-1042:2',
    requestId: 'AR-1042',
    state: 'pending',
    attempts: 3,
    lastStatus: 503,
    lastError: 'HTTP 503',
    createdAt: at(-5),
    lastAttemptAt: at(-1),
    nextAttemptAt: at(1),
  },
  {
    id: 'd3',
    event: 'request.created',
    eventId: 'AR-1041:1',
    requestId: 'AR-1041',
    state: 'failed',
    attempts: 1,
    lastStatus: 404,
    lastError: 'HTTP 404',
    createdAt: at(-30),
  },
];
const WEBHOOKS: WebhookView[] = [
  {
    id: '6650f0c2a1b2c3d4e5f60718',
    name: 'SIEM',
    url: 'https://siem.example.com/hooks/latch',
    events: [],
    enabled: true,
    secretSetAt: at(-600),
    pending: 1,
    recent: WEBHOOK_DELIVERIES,
  },
  {
    id: '6650f0c2a1b2c3d4e5f60719',
    name: 'Grants to the data catalogue',
    url: 'http://localhost:8088/latch',
    events: ['access.granted', 'access.revoked', 'access.expired'],
    enabled: false,
    secretSetAt: at(-6000),
    pending: 0,
    recent: [],
  },
];

// ---------------------------------------------------------------------------------------------------------
// The surfaces

export const SAMPLE_VIEWS: SampleSet = {
  // /access
  'loading-modal': () => view(loadingModal()),
  'notice-modal': () =>
    view(
      noticeModal('Request access', ':warning: Latch could not reach the catalog. Try again in a minute.'),
    ),
  'request-modal': () => view(requestModal(REQUEST_FORM)),
  'request-modal-empty': () =>
    view(
      requestModal({
        ...REQUEST_FORM,
        selected: [],
        flows: [],
        selectedFlowId: undefined,
        permissions: [],
        selectedPermission: undefined,
        durations: [],
        selectedDuration: undefined,
        justificationRequired: false,
        notes: [],
        privateMetadata: '{}',
      }),
    ),
  'request-modal-bundle': () =>
    view(
      requestModal({
        ...REQUEST_FORM,
        selected: [],
        selectedBundle: 'finance-readonly',
        flows: [{ id: FLOW_ID.finance, name: 'Finance reporting' }],
        selectedFlowId: FLOW_ID.finance,
        permissions: [],
        durations: [1440, 4320],
        selectedDuration: 1440,
        justificationRequired: false,
        notes: ['Finance reporting: approved by ana.silva@example.com, then a resource owner.'],
      }),
    ),
  'request-modal-nothing': () => view(requestModal({ ...REQUEST_FORM, anything: false })),
  'request-submitted': () =>
    view(
      submittedModal({ id: 'AR-1042', summary: plainTargets(PENDING), waitingOn: 'group dba', auto: false }),
    ),
  'request-submitted-auto': () =>
    view(submittedModal({ id: 'AR-1045', summary: 'write on analytics', waitingOn: 'nobody', auto: true })),

  // approvers
  'approval-card': () => message(approvalCard({ request: PENDING, requester: REQUESTER, context: CONTEXT })),
  'approval-card-for-someone-else': () =>
    message(
      approvalCard({
        request: { ...PENDING, askedBy: { id: 'maria@example.com', email: 'maria@example.com' } },
        requester: REQUESTER,
        context: CONTEXT,
        askedBy: '<@U0MARIA>',
      }),
    ),
  'approval-card-escalated': () =>
    message(approvalCard({ request: PENDING, requester: REQUESTER, context: CONTEXT, escalated: true })),
  'approval-digest': () =>
    message(
      digestMessage(
        [PENDING, TWO_STEP, sampleRequest(1046, {})].map((request, i) => ({
          request,
          requester: REQUESTER,
          waitingMinutes: 45 + i * 60,
        })),
        20,
      ),
    ),
  'approval-card-reminder': () =>
    message(
      approvalCard({
        request: TWO_STEP,
        requester: mention('U05TOM0001', 'tom.becker@example.com'),
        context: { ...CONTEXT, groups: ['finance'], withinWorkingHours: false, previousRequests: 0 },
        reminder: true,
        progress: `Approved by ${APPROVER}; still needs a resource owner.`,
      }),
    ),
  'approval-card-fallback': () =>
    message(
      approvalCard({
        request: FALLBACK,
        requester: 'tom.becker@example.com',
        context: { groups: [], previousRequests: 0, previousForSame: 0 },
      }),
    ),
  'approval-card-bundle': () =>
    message(
      approvalCard({
        request: TWO_STEP,
        requester: mention('U05TOM0001', 'tom.becker@example.com'),
        context: { ...CONTEXT, groups: ['finance'], previousRequests: 1, previousForSame: 1 },
      }),
    ),
  'approval-card-decided': () =>
    message(
      approvalCard({
        request: { ...PENDING, state: 'approved' },
        requester: REQUESTER,
        context: CONTEXT,
        outcome: `:white_check_mark: *Approved* by ${APPROVER}.`,
      }),
    ),
  'approval-card-denied': () =>
    message(
      approvalCard({
        request: { ...PENDING, state: 'rejected' },
        requester: REQUESTER,
        context: CONTEXT,
        outcome: `:no_entry: *Denied* by ${APPROVER}: ${esc('Use the read replica for this; no prod writes.')}`,
      }),
    ),
  'extension-card': () => message(extensionCard({ request: ACTIVE, requester: REQUESTER, minutes: 60 })),
  'extension-card-decided': () =>
    message(
      extensionCard({
        request: ACTIVE,
        requester: REQUESTER,
        minutes: 0,
        outcome: `:white_check_mark: *Extended* by ${APPROVER}.`,
      }),
    ),
  'approve-reason-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.approve,
        title: 'Approve AR-1042',
        intro: 'This flow asks approvers for a reason. The requester and the audit log see it.',
        submit: 'Approve',
        privateMetadata: JSON.stringify({ id: 'AR-1042' }),
      }),
    ),
  'deny-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.deny,
        title: 'Deny AR-1042',
        intro: 'The requester sees this reason.',
        submit: 'Deny',
        privateMetadata: JSON.stringify({ id: 'AR-1042', home: false }),
      }),
    ),

  // the requester's DMs
  'dm-submitted': () => message(submittedMessage(PENDING, 'group dba')),
  'dm-for-you': () =>
    message(
      forYouMessage(
        { ...PENDING, askedBy: { id: 'maria@example.com', email: 'maria@example.com' } },
        '<@U0MARIA>',
      ),
    ),
  'dm-approved': () => message(decidedMessage(PENDING, 'approved', APPROVER)),
  'dm-denied': () =>
    message(decidedMessage(PENDING, 'denied', APPROVER, 'Use the read replica for this; no prod writes.')),
  'dm-cancelled': () => message(simpleMessage('*AR-1042* is cancelled.', ':heavy_multiplication_x:')),
  'dm-timed-out': () =>
    message(simpleMessage('*AR-1042* timed out: nobody decided in time. You can ask again.', ':hourglass:')),
  'dm-granted': () => message(grantedMessage(ACTIVE, when(ACTIVE.expiresAt, 'Europe/Madrid'))),
  'dm-granted-credentials': () =>
    message(grantedMessage(ACTIVE, when(ACTIVE.expiresAt, 'Europe/Madrid'), '65f1c0a2e4b0a1d2c3e4f9aa')),
  'dm-expiring': () =>
    message(
      expiringMessage(ACTIVE, when(ACTIVE.expiresAt, 'Europe/Madrid'), {
        allowed: true,
        needsApproval: false,
        choicesMinutes: [30, 60, 120],
      }),
    ),
  'dm-expiring-needs-approval': () =>
    message(
      expiringMessage(ACTIVE, when(ACTIVE.expiresAt, 'Europe/Madrid'), {
        allowed: true,
        needsApproval: true,
        choicesMinutes: [30, 60, 120, 240],
      }),
    ),
  'dm-expiring-no-extension': () =>
    message(
      expiringMessage(ACTIVE, when(ACTIVE.expiresAt, 'Europe/Madrid'), {
        allowed: false,
        needsApproval: false,
        choicesMinutes: [],
      }),
    ),
  'dm-extended': () =>
    message(
      simpleMessage(
        `*AR-1040* is extended: your access now ends at *${when(at(74), 'Europe/Madrid')}*.`,
        ':hourglass_flowing_sand:',
      ),
    ),
  'dm-extension-requested': () =>
    message(
      simpleMessage(
        'You asked to extend *AR-1040* by 1 hour; an approver has been asked.',
        ':mailbox_with_mail:',
      ),
    ),
  'dm-revoked': () =>
    message(
      simpleMessage(
        `*AR-1040*: your access to ${esc(plainTargets(ACTIVE))} was revoked by ${APPROVER}.\n>${esc('Incident closed.')}`,
        ':lock:',
      ),
    ),
  'dm-expired': () =>
    message(simpleMessage(`*AR-1040*: your access to ${esc(plainTargets(ACTIVE))} expired.`, ':lock:')),
  'dm-failed': () =>
    message(
      simpleMessage(
        `*AR-1042* failed: ${esc('permission denied to create role "latch_ar1042_maria"')}. Nothing is left granted; an admin has the details.`,
        ':warning:',
      ),
    ),
  'dm-revoke-failing': () =>
    message(
      simpleMessage(
        `Revoking *AR-1040* (${esc(plainTargets(ACTIVE))}) has failed 3 times: ${esc('connect ETIMEDOUT 10.0.4.11:5432')}. Latch keeps retrying.`,
        ':rotating_light:',
      ),
    ),
  'credentials-modal': () => view(credentialsModal(CREDENTIALS)),
  'revoke-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.revoke,
        title: 'Revoke AR-1040',
        intro: 'End AR-1040 now. The requester sees the reason.',
        submit: 'Revoke',
        privateMetadata: JSON.stringify({ id: 'AR-1040' }),
      }),
    ),

  // /access list, /access help
  'access-list': () =>
    message(commandReply.list([ACTIVE, PENDING, { ...TWO_STEP, state: 'pending' }], 'Europe/Madrid')),
  'access-list-empty': () => message(commandReply.list([])),
  'access-help': () => message(helpReply()),

  // App Home
  'home-me': () => view(homeView(home('me'))),
  'home-me-empty': () =>
    view(homeView(home('me', { isAdmin: false, admin: undefined, mine: { active: [], pending: [] } }))),
  'home-member': () => view(homeView(home('me', { isAdmin: false, admin: undefined, waitingOnMe: [] }))),
  'home-approvals': () => view(homeView(home('approvals'))),
  'home-approvals-empty': () => view(homeView(home('approvals', { waitingOnMe: [] }))),
  'home-flows': () => view(homeView(home('flows'))),
  'home-integrations': () => view(homeView(home('integrations'))),
  'home-active': () => view(homeView(home('active'))),
  'home-settings': () => view(homeView(home('settings'))),
  'home-audit': () => view(homeView(home('audit'))),
  'home-standing': () => {
    const m = home('standing');
    return view(homeView({ ...m, admin: { ...m.admin!, standing: STANDING_HOME } }));
  },
  'home-standing-empty': () => view(homeView(home('standing'))),
  'home-webhooks': () =>
    view(homeView(home('webhooks', { admin: { ...home('me').admin!, webhooks: WEBHOOKS } }))),
  'webhook-modal-new': () => view(webhookModal({ events: WEBHOOK_EVENTS, privateMetadata: '{}' })),
  'webhook-modal-edit': () =>
    view(webhookModal({ webhook: WEBHOOKS[1], events: WEBHOOK_EVENTS, privateMetadata: '{"id":"x"}' })),
  'webhook-secret': () =>
    view(webhookSecretModal('SIEM', 'whsec_Q2xhdWRlIHdhcyBoZXJlIGFuZCBzbyB3YXMgTGF0Y2g')),
  'webhook-deliveries': () => view(webhookDeliveriesModal(WEBHOOKS[0]!, 'Europe/Madrid')),

  // admin console
  'standing-convert-modal': () =>
    view(standingConvertModal({ item: STANDING[0]!, flows: FLOWS, timeZone: 'Europe/Madrid' })),
  'standing-convert-modal-known-owner': () => view(standingConvertModal({ item: STANDING[1]!, flows: [] })),
  'flow-modal-new': () => view(flowModal(FLOW_FORM)),
  'flow-modal-edit': () =>
    view(
      flowModal({
        ...FLOW_FORM,
        flow: FLOWS[0],
        granteeUserIds: ['U04MARIA01'],
        approverUserIds: [],
        privateMetadata: JSON.stringify({ id: FLOW_ID.prod, t: 'T01LATCH' }),
      }),
    ),
  'integration-modal': () =>
    view(
      integrationModal({
        types: ['postgresql'],
        configYaml: CONFIG_YAML,
        storedSecretNames: [],
        privateMetadata: '{}',
      }),
    ),
  'integration-modal-edit': () =>
    view(
      integrationModal({
        name: 'postgres-prod',
        type: 'postgresql',
        types: ['postgresql'],
        description: 'Production cluster, eu-west-1',
        configYaml: CONFIG_YAML.replace('db.internal', 'db-prod.internal'),
        storedSecretNames: ['password'],
        privateMetadata: JSON.stringify({ name: 'postgres-prod' }),
      }),
    ),
  'context-source-modal': () =>
    view(
      contextSourceModal({
        types: CONTEXT_SOURCE_TYPES,
        configYaml: 'orgUrl: https://example.okta.com\n',
        storedSecretNames: [],
        privateMetadata: '{}',
      }),
    ),
  'context-source-modal-edit': () =>
    view(
      contextSourceModal({
        name: 'okta',
        type: 'okta',
        types: CONTEXT_SOURCE_TYPES,
        description: 'Our Okta org',
        configYaml: 'orgUrl: https://example.okta.com\n',
        storedSecretNames: ['apiToken'],
        syncEveryMinutes: 15,
        maxAgeMinutes: 1440,
        fromFlowsFile: true,
        privateMetadata: JSON.stringify({ name: 'okta' }),
      }),
    ),
  'settings-modal': () =>
    view(
      settingsModal({
        settings: SETTINGS,
        adminUserIds: ['U03ANA0001'],
        userGroups: USER_GROUPS,
        fallbackApproverUserIds: [],
        envAdmins: ['ops-lead@example.com'],
      }),
    ),
  'revoke-all-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.revokeAll,
        title: 'Revoke everything',
        intro:
          ':rotating_light: This ends *all 12* active or approved access grants in the organisation at once. Everyone affected is told, with your reason.',
        submit: 'Revoke all',
        confirmPhrase: 'REVOKE ALL',
        privateMetadata: '{}',
      }),
    ),
};

// ---------------------------------------------------------------------------------------------------------
// Extreme data

/**
 * Schema limits are respected where the data is validated on the way in (flow, bundle and
 * integration names: 80 characters); everything else (resource names, permissions, display names,
 * group names, credentials) comes from connectors or directories unchecked and is 300+ characters here.
 */
const N = {
  name: 320,
  schemaName: 80,
  justification: 2000,
  offers: 500,
  flows: 150,
  integrations: 120,
  active: 1000,
  audit: 60,
  credentials: 40,
  groups: 20,
  permissions: 150,
  bundles: 150,
  targets: 50,
  users: 150,
};

const X_INTEGRATIONS = range(N.integrations).map((i) => long(`pg-${pad(i, 3)}`, N.schemaName));
const X_INTEGRATION = X_INTEGRATIONS[0]!;
const X_RESOURCES = range(N.offers).map((i) => long(`db-${pad(i)}`, N.name, '_'));
const X_PERMISSIONS = [
  'read',
  'write',
  ...range(N.permissions - 2).map((i) => long(`role-${pad(i, 3)}`, N.name)),
];
const X_BUNDLES = range(N.bundles).map((i) => long(`bundle-${pad(i, 3)}`, N.schemaName));
const X_GROUPS = range(N.groups).map((i) => ({
  handle: `team-${pad(i, 2)}-oncall`,
  name: long(`Team ${i} on call & <escalation>`, N.name, ' '),
}));
const X_USER_IDS = range(N.users).map((i) => `U0${pad(i, 8)}`);
const X_EMAILS = range(N.users).map((i) => `${long(`person${pad(i, 3)}`, 60, '.')}@example.com`);
const X_DISPLAY = long('María-José Fernández de la Cruz (R&D <platform>)', N.name, ' ');
const X_JUSTIFICATION = long(
  'INC-9911: customers in eu-west-1 see <500> errors & stale balances; I need to check the replication lag, the outbox table and the ledger locks before we fail over.',
  N.justification,
  ' ',
);
const X_REQUESTER_CONTEXT: RequesterContext = {
  groups: X_GROUPS.map((g) => g.name),
  timeZone: 'America/Argentina/ComodRivadavia',
  localTime: '03:12',
  withinWorkingHours: false,
  previousRequests: 4812,
  previousForSame: 977,
};

const X_TARGETS: Target[] = range(N.targets).map((i) =>
  sampleTarget(X_RESOURCES[i]!, X_PERMISSIONS[2 + (i % 10)]!, X_INTEGRATIONS[i % 5]!, 'granted'),
);

function xRequest(n: number, over: Partial<RequestView> = {}): RequestView {
  return sampleRequest(n, {
    requester: {
      id: X_EMAILS[n % N.users]!,
      email: X_EMAILS[n % N.users]!,
      displayName: X_DISPLAY,
      groups: X_GROUPS.map((g) => g.handle),
      timeZone: 'Pacific/Chatham',
    },
    flowName: long('Flow for the production & <staging> clusters', N.name, ' '),
    targets: X_TARGETS,
    durationMinutes: 43_199,
    justification: X_JUSTIFICATION,
    stepCount: 5,
    step: 4,
    ...over,
  });
}

const X_PENDING = xRequest(987_654_321);
const X_ACTIVE = granted(xRequest(987_654_322), 60 * 24 * 29);
const X_STATES: RequestState[] = ['active', 'pending', 'approved', 'granting', 'revoking'];
const X_ACTIVE_LIST = range(N.active).map((i) => granted(xRequest(100_000 + i), i + 1));
const X_LIST = X_ACTIVE_LIST.map((r, i) => ({ ...r, state: X_STATES[i % X_STATES.length]! }));
const X_UNTIL = when(X_ACTIVE.expiresAt, 'Pacific/Chatham');
const X_REQUESTER = esc(X_DISPLAY);
const X_REASON = long('Denied & logged: <prod> writes need a change ticket', 1000, ' ');

const X_FLOWS: Flow[] = range(N.flows).map((i) =>
  flow(`65f1c0a2e4b0a1d2c3e5${pad(i)}`, {
    name: long(`Flow ${pad(i, 3)} for the production & <staging> clusters`, N.schemaName, ' '),
    description: long('Everything on every cluster', 500, ' '),
    enabled: i % 3 !== 0,
    grantees: {
      include: [
        ...X_GROUPS.map((g) => ({ type: 'group' as const, id: g.handle })),
        ...X_EMAILS.map((id) => ({ type: 'user' as const, id })),
      ],
    },
    targets: X_INTEGRATIONS.slice(0, 10).map((integration) => ({
      integration,
      include: X_RESOURCES.slice(0, 100).map((name) => ({ name })),
      permissions: X_PERMISSIONS,
    })),
    bundles: X_BUNDLES,
    approval: {
      steps: range(5).map((s) => ({
        approvers: [
          ...X_EMAILS.slice(s * 10, s * 10 + 10).map((id) => ({ type: 'user' as const, id })),
          ...X_GROUPS.map((g) => ({ type: 'group' as const, id: g.name })),
          { type: 'resource_owner' as const },
        ],
        rule: { type: 'all' as const },
      })),
      requireReason: true,
      allowSelfApproval: true,
      timeoutMinutes: 60 * 24 * 365,
      escalation: {
        afterMinutes: 60 * 24 * 365 - 1,
        to: [
          ...X_EMAILS.slice(0, 50).map((id) => ({ type: 'user' as const, id })),
          ...X_GROUPS.map((g) => ({ type: 'group' as const, id: g.handle })),
        ],
      },
    },
    duration: { choicesMinutes: [], maxMinutes: 43_200, allowIndefinite: true },
    requireJustification: true,
    extension: { mode: 'approval', maxCount: 99 },
  }),
);

const X_SETTINGS: Settings = settingsSchema.parse({
  admins: X_EMAILS,
  fallback: {
    enabled: true,
    // As many as a step may name (MAX_APPROVERS_PER_STEP).
    approvers: [
      ...X_EMAILS.slice(0, MAX_APPROVERS_PER_STEP - X_GROUPS.length).map((id) => ({ type: 'user', id })),
      ...X_GROUPS.map((g) => ({ type: 'group', id: g.name })),
    ],
    maxMinutes: 240,
  },
  expiryWarningMinutes: 1440,
  selfExtension: 'approval',
  auditChannel: 'C0LATCHAUDITCHANNEL01',
});

/** Standing access with the longest names, a full page of it out of thousands, on every integration. */
const X_STANDING: StandingView[] = range(10).map((i) => ({
  integration: X_INTEGRATIONS[i]!,
  key: long(`acl:${i}:`, 400, ':'),
  account: long(`login_${i}`, 63, '_'),
  ...(i % 2 ? { email: long(`person-${i}`, 64, '.') + '@example.com' } : {}),
  resourceId: i === 9 ? '' : X_RESOURCES[i]!,
  resourceName: i === 9 ? '' : X_RESOURCES[i]!,
  permission: i === 9 ? '' : X_PERMISSIONS[i % X_PERMISSIONS.length]!,
  madeByLatch: i % 3 === 0,
  firstSeenAt: at(-i * 1000),
  lastSeenAt: at(-5),
}));

const X_STANDING_HOME: StandingHomeModel = {
  total: 123_456,
  page: 99,
  pages: 12_346,
  items: X_STANDING,
  integrations: X_INTEGRATIONS.map((name, i) => ({
    name,
    ...(i % 3 === 2
      ? {}
      : {
          status: {
            integration: name,
            at: at(-i),
            ok: i % 3 === 0,
            error: long('connect ECONNREFUSED <host> & retry', N.name * 3, ' '),
            counts: {
              listed: 1_000_000 + i,
              matched: 999_999,
              standing: 123_456,
              missing: 12,
              reapplied: 3,
              revoked: 4,
              revokeFailed: 5,
            },
          },
        }),
  })),
};

function xHome(section: HomeModel['section'], page = 0): HomeModel {
  return {
    isAdmin: true,
    section,
    page,
    timeZone: 'Pacific/Chatham',
    mine: {
      active: X_ACTIVE_LIST.map((request): ActiveItem => ({
        request,
        extendMinutes: [15, 60, 240, 1440, 43_200],
      })),
      pending: X_ACTIVE_LIST.slice(0, 200).map((r) => ({ ...r, state: 'pending' })),
    },
    waitingOnMe: X_ACTIVE_LIST.slice(0, 500).map((r) => ({ ...r, state: 'pending' })),
    admin: {
      flows: X_FLOWS,
      integrations: X_INTEGRATIONS.map((name, i) => ({
        name,
        type: 'postgresql',
        health: long(`connect ECONNREFUSED 10.0.${i}.12:5432 <timeout> & retry`, N.name * 3, ' '),
        healthy: i % 2 === 0,
        resources: 1_000_000 + i,
      })),
      active: X_ACTIVE_LIST,
      settings: X_SETTINGS,
      envAdmins: X_EMAILS.slice(0, 50),
      sources: range(40).map((i) => ({
        name: long(`src-${i}`, 63),
        type: i % 2 ? 'okta' : 'entra',
        stale: i % 3 === 0,
        lastSuccessAt: i % 4 ? at(-i) : undefined,
        lastError: long(`HTTP 500 <b>&`, 3000, ' '),
        lastErrorAt: at(0),
        groups: 1_000_000,
        memberships: 100_000_000,
        requests: 99_999,
        rateLimited: 9_999,
        warnings: range(20).map((w) => long(`warning ${w}`, 1000, ' ')),
      })),
      audit: range(N.audit).map((i) => ({
        at: at(-i),
        actor: X_EMAILS[i]!,
        action: ['request.submitted', 'request.approved', 'access.granted', 'access.revoked'][i % 4]!,
        subject: `request AR-${100_000 + i} ${X_RESOURCES[i]!} <${X_INTEGRATIONS[i]!}> & more`,
      })),
    },
  };
}

const X_REQUEST_FORM: RequestForm = {
  anything: true,
  forOthers: ['anyone', 'reports'],
  forOthersHint: long('Leave empty <or> & pick', 3000, ' '),
  closed: Array.from({ length: 9 }, () => long('Flow <Prod> & closed', 3000, ' ')),
  selected: X_RESOURCES.map((name, i) => ({
    value: `${X_INTEGRATIONS[i % 10]!}|r${pad(i)}`,
    label: `${name} · ${X_INTEGRATIONS[i % 10]!}`,
  })),
  bundles: X_BUNDLES.map((name) => ({
    name,
    description: long('Everything a <DBA> & on-call needs', 500, ' '),
  })),
  flows: X_FLOWS.map((f) => ({ id: f.id, name: f.name })),
  selectedFlowId: X_FLOWS[0]!.id,
  permissions: X_PERMISSIONS,
  selectedPermission: 'write',
  durations: durationOptions({ choicesMinutes: [], maxMinutes: 43_200, allowIndefinite: true }),
  selectedDuration: null,
  justificationRequired: true,
  notes: range(12).map((i) => `${X_FLOWS[i]!.name}: approved by ${X_GROUPS.map((g) => g.name).join(', ')}.`),
  privateMetadata: JSON.stringify({ w: long('billing ledger', N.name, ' ') }),
};

const X_FLOW_FORM: FlowFormModel = {
  schedules: range(150).map((i) => `pagerduty-${i}:${long('Primary <rota> & co', 300, ' ')}`),
  granteeUserIds: X_USER_IDS,
  approverUserIds: X_USER_IDS,
  escalationUserIds: X_USER_IDS,
  userGroups: X_GROUPS,
  integrations: X_INTEGRATIONS,
  bundles: X_BUNDLES,
  permissions: X_PERMISSIONS,
  privateMetadata: JSON.stringify({ id: X_FLOWS[0]!.id, t: 'T01LATCH' }),
};

const X_WEBHOOKS: WebhookView[] = range(60).map((i) => ({
  id: `6650f0c2a1b2c3d4e5f6${String(i).padStart(4, '0')}`,
  name: long(`Hook <${i}> & co`, 80, ' '),
  url: `https://${long(`h${i}`, 1900, 'x')}.example.com/`,
  events: i % 2 ? [...WEBHOOK_EVENTS] : [],
  enabled: i % 3 !== 0,
  secretSetAt: at(-i),
  pending: 1_000_000 + i,
  recent: range(50).map((j) => ({
    id: `d${i}-${j}`,
    event: WEBHOOK_EVENTS[j % WEBHOOK_EVENTS.length]!,
    eventId: `AR-987654321:${j}`,
    requestId: 'AR-987654321',
    state: (['pending', 'delivered', 'failed'] as const)[j % 3]!,
    attempts: j,
    lastStatus: 500 + j,
    lastError: long('ECONNRESET: socket hang up <&>', 300, ' '),
    createdAt: at(-j),
    nextAttemptAt: at(j),
  })),
}));

export const STRESS_VIEWS: SampleSet = {
  'notice-modal': () =>
    view(
      noticeModal(
        long('Request access to everything', 300, ' '),
        `:warning: ${esc(X_JUSTIFICATION)}`.repeat(2),
      ),
    ),
  'request-modal': () => view(requestModal(X_REQUEST_FORM)),
  'request-modal-bundle': () =>
    view(
      requestModal({
        ...X_REQUEST_FORM,
        selected: [],
        selectedBundle: X_BUNDLES[N.bundles - 1],
        permissions: [],
      }),
    ),
  'request-submitted': () =>
    view(
      submittedModal({
        id: X_PENDING.id,
        summary: plainTargets(X_PENDING),
        waitingOn: [...X_EMAILS.slice(0, 10), ...X_GROUPS.slice(0, 10).map((g) => `@${g.name}`)].join(', '),
        auto: false,
      }),
    ),
  'approval-card': () =>
    message(approvalCard({ request: X_PENDING, requester: X_REQUESTER, context: X_REQUESTER_CONTEXT })),
  'approval-digest': () =>
    message(
      digestMessage(
        range(200).map((i) => ({
          request: xRequest(987_654_000 + i),
          requester: X_REQUESTER,
          waitingMinutes: 525_600 + i,
        })),
        20,
      ),
    ),
  'approval-card-reminder': () =>
    message(
      approvalCard({
        request: X_PENDING,
        requester: X_REQUESTER,
        context: X_REQUESTER_CONTEXT,
        reminder: true,
        progress: `Approved by ${X_EMAILS.slice(0, 40).join(', ')}; still needs ${X_GROUPS.map((g) => g.name).join(', ')}.`,
      }),
    ),
  'approval-card-bundle': () =>
    message(
      approvalCard({
        request: { ...X_PENDING, bundle: X_BUNDLES[0] },
        requester: X_REQUESTER,
        context: X_REQUESTER_CONTEXT,
      }),
    ),
  'approval-card-decided': () =>
    message(
      approvalCard({
        request: { ...X_PENDING, state: 'rejected' },
        requester: X_REQUESTER,
        context: X_REQUESTER_CONTEXT,
        outcome: `:no_entry: *Denied* by ${X_REQUESTER}: ${esc(X_REASON)}`,
      }),
    ),
  'extension-card': () =>
    message(extensionCard({ request: X_ACTIVE, requester: X_REQUESTER, minutes: 43_199 })),
  'extension-card-decided': () =>
    message(
      extensionCard({
        request: X_ACTIVE,
        requester: X_REQUESTER,
        minutes: 0,
        outcome: `Approved by ${X_EMAILS.join(', ')}.`,
      }),
    ),
  'approve-reason-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.approve,
        title: `Approve ${X_PENDING.id}`,
        intro: 'This flow asks approvers for a reason. The requester and the audit log see it.',
        submit: 'Approve',
        privateMetadata: JSON.stringify({ id: X_PENDING.id }),
      }),
    ),
  'deny-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.deny,
        title: `Deny ${X_PENDING.id}`,
        intro: 'The requester sees this reason.',
        submit: 'Deny',
        privateMetadata: JSON.stringify({ id: X_PENDING.id, home: true }),
      }),
    ),
  'dm-submitted': () =>
    message(
      submittedMessage(
        X_PENDING,
        [...X_EMAILS.slice(0, 10), ...X_GROUPS.slice(0, 10).map((g) => `@${g.name}`)].map(esc).join(', '),
      ),
    ),
  'dm-approved': () => message(decidedMessage(X_PENDING, 'approved', X_REQUESTER)),
  'dm-denied': () => message(decidedMessage(X_PENDING, 'denied', X_REQUESTER, X_REASON)),
  'dm-granted': () => message(grantedMessage(X_ACTIVE, X_UNTIL, '65f1c0a2e4b0a1d2c3e4f9aa')),
  'dm-expiring': () =>
    message(
      expiringMessage(X_ACTIVE, X_UNTIL, {
        allowed: true,
        needsApproval: true,
        choicesMinutes: durationOptions({
          choicesMinutes: [],
          maxMinutes: 43_200,
          allowIndefinite: false,
        }).filter((m): m is number => m !== null),
      }),
    ),
  'dm-expiring-no-extension': () =>
    message(expiringMessage(X_ACTIVE, X_UNTIL, { allowed: false, needsApproval: false, choicesMinutes: [] })),
  'dm-revoked': () =>
    message(
      simpleMessage(
        `*${X_ACTIVE.id}*: your access to ${esc(plainTargets(X_ACTIVE))} was revoked by ${X_REQUESTER}.\n>${esc(X_REASON)}`,
        ':lock:',
      ),
    ),
  'dm-failed': () =>
    message(
      simpleMessage(
        `*${X_PENDING.id}* failed: ${esc(X_JUSTIFICATION)}. Nothing is left granted; an admin has the details.`,
        ':warning:',
      ),
    ),
  'credentials-modal': () =>
    view(
      credentialsModal(
        range(N.credentials).map((i) => ({
          resourceName: X_RESOURCES[i]!,
          permission: X_PERMISSIONS[2 + i]!,
          values: {
            host: long(`db-${pad(i)}.eu-west-1.rds.amazonaws.com`, N.name, '.'),
            user: long(`latch_ar987654322_${pad(i)}`, 63, '_'),
            password: long('p`w<&>', 1024, '`x'),
            url: long(`postgresql://latch_${i}:secret@db.internal:5432/${X_RESOURCES[i]!}`, 1500, '&'),
          },
        })),
      ),
    ),
  'access-list': () => message(commandReply.list(X_LIST, 'Pacific/Chatham')),
  'home-me': () => view(homeView(xHome('me'))),
  'home-approvals': () => view(homeView(xHome('approvals'))),
  'home-flows': () => view(homeView(xHome('flows'))),
  'home-integrations': () => view(homeView(xHome('integrations'))),
  'home-active': () => view(homeView(xHome('active'))),
  'home-active-last-page': () => view(homeView(xHome('active', 99))),
  'home-active-past-the-end': () => view(homeView(xHome('active', 5000))),
  'home-settings': () => view(homeView(xHome('settings'))),
  'home-audit': () => view(homeView(xHome('audit'))),
  'home-standing': () => {
    const m = xHome('standing', 99);
    return view(homeView({ ...m, admin: { ...m.admin!, standing: X_STANDING_HOME } }));
  },
  'standing-convert-modal': () =>
    view(standingConvertModal({ item: X_STANDING[0]!, flows: X_FLOWS, timeZone: 'Pacific/Chatham' })),
  'home-webhooks': () =>
    view(homeView({ ...xHome('webhooks'), admin: { ...xHome('me').admin!, webhooks: X_WEBHOOKS } })),
  'webhook-modal-edit': () =>
    view(webhookModal({ webhook: X_WEBHOOKS[0], events: WEBHOOK_EVENTS, privateMetadata: '{"id":"x"}' })),
  'webhook-secret': () =>
    view(webhookSecretModal(long('Hook', 80, ' '), `whsec_${long('s', 200, 'x')}`, true)),
  'webhook-deliveries': () => view(webhookDeliveriesModal(X_WEBHOOKS[0]!, 'Pacific/Chatham')),
  'flow-modal-new': () => view(flowModal(X_FLOW_FORM)),
  'flow-modal-edit': () => view(flowModal({ ...X_FLOW_FORM, flow: X_FLOWS[0] })),
  'integration-modal': () =>
    view(
      integrationModal({
        types: ['postgresql'],
        configYaml: range(200)
          .map((i) => `key_${i}: ${long('value', 40)}`)
          .join('\n'),
        storedSecretNames: range(100).map((i) => long(`secret_${i}`, 60, '_')),
        privateMetadata: '{}',
      }),
    ),
  'integration-modal-edit': () =>
    view(
      integrationModal({
        name: X_INTEGRATION,
        type: 'postgresql',
        types: ['postgresql'],
        description: long('Production & <staging>', 500, ' '),
        configYaml: range(200)
          .map((i) => `key_${i}: ${long('value', 40)}`)
          .join('\n'),
        storedSecretNames: range(100).map((i) => long(`secret_${i}`, 60, '_')),
        privateMetadata: JSON.stringify({ name: X_INTEGRATION }),
      }),
    ),
  'context-source-modal-edit': () =>
    view(
      contextSourceModal({
        name: long('src', 40, '-'),
        type: 'okta',
        types: range(120).map((i) => ({
          type: long(`type_${i}`, 60, '_'),
          secrets: range(10).map((j) => long(`secret_${j}`, 40, '_')),
          example: Object.fromEntries(range(20).map((j) => [long(`key_${j}`, 40, '_'), 'x'])),
        })),
        description: long('Production & <staging>', 500, ' '),
        configYaml: range(200)
          .map((i) => `key_${i}: ${long('value', 40)}`)
          .join('\n'),
        storedSecretNames: range(100).map((i) => long(`secret_${i}`, 60, '_')),
        syncEveryMinutes: 1440,
        maxAgeMinutes: 43200,
        fromFlowsFile: true,
        privateMetadata: JSON.stringify({ name: long('src', 40, '-') }),
      }),
    ),
  'settings-modal': () =>
    view(
      settingsModal({
        settings: X_SETTINGS,
        adminUserIds: X_USER_IDS,
        userGroups: X_GROUPS,
        fallbackApproverUserIds: X_USER_IDS,
        envAdmins: X_EMAILS,
      }),
    ),
  'revoke-all-modal': () =>
    view(
      reasonModal({
        callbackId: VIEW.revokeAll,
        title: 'Revoke everything',
        intro: `:rotating_light: This ends *all ${N.active * 1000}* active or approved access grants in the organisation at once. Everyone affected is told, with your reason.`,
        submit: 'Revoke all',
        confirmPhrase: 'REVOKE ALL',
        privateMetadata: '{}',
      }),
    ),
};
