/**
 * The App Home tab: everyone's own access and requests, approvals waiting on them, and for admins
 * the console (flows, integrations, organisation-wide access, settings, audit). Lists are paged so
 * a tab never goes past Slack's 100 blocks, whatever the numbers.
 */
import type { ActionsBlock, HomeView, KnownBlock } from '@slack/types';
import { describeApprovers } from '../../src/domain/approval.js';
import { formatDuration } from '../../src/domain/duration.js';
import type { Flow, Settings } from '../../src/domain/flow.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import type { ReviewView } from '../../src/lifecycle/reviews.js';
import { ACTION } from './ids.js';
import { describeTargets } from './messages.js';
import { reviewsSection } from './reviews.js';
import { standingSection, type StandingHomeModel } from './standing.js';
import { webhooksSection } from './webhooks.js';
import type { WebhookView } from '../../src/lifecycle/webhook-subscriptions.js';
import { button, context, divider, esc, header, md, section, truncate, when } from './text.js';

export const HOME_SECTIONS = [
  'me',
  'approvals',
  'flows',
  'integrations',
  'active',
  'settings',
  'audit',
  'reviews',
  'standing',
  'webhooks',
] as const;
export type HomeSection = (typeof HOME_SECTIONS)[number];
export const ADMIN_SECTIONS: HomeSection[] = [
  'flows',
  'integrations',
  'active',
  'settings',
  'audit',
  'reviews',
  'standing',
  'webhooks',
];
const LABELS: Record<HomeSection, string> = {
  me: 'My access',
  approvals: 'Approvals',
  flows: 'Access flows',
  integrations: 'Integrations',
  active: 'Active access',
  settings: 'Settings',
  audit: 'Audit',
  reviews: 'Reviews',
  standing: 'Standing access',
  webhooks: 'Webhooks',
};
export const PAGE_SIZE = 10;

export interface ActiveItem {
  request: RequestView;
  /** Extension durations the flow offers now (empty: cannot extend). */
  extendMinutes: number[];
}

export interface IntegrationRow {
  name: string;
  type: string;
  health: string;
  healthy: boolean;
  resources: number;
}

export interface AuditRow {
  at: Date;
  actor: string;
  action: string;
  subject: string;
}

export interface HomeModel {
  isAdmin: boolean;
  section: HomeSection;
  page: number;
  timeZone?: string;
  mine: { active: ActiveItem[]; pending: RequestView[] };
  waitingOnMe: RequestView[];
  admin?: {
    flows: Flow[];
    integrations: IntegrationRow[];
    active: RequestView[];
    settings: Settings;
    envAdmins: string[];
    audit: AuditRow[];
    /** Identity-provider sources (Okta, Entra ID) and how their syncs went. */
    sources?: ContextSourceRow[];
    /** Break-glass reviews still open (docs/ARCHITECTURE.md, "Break-glass"). */
    reviews?: ReviewView[];
    /** Access on the systems that no Latch grant holds (docs/ARCHITECTURE.md, "Reconciliation"). */
    standing?: StandingHomeModel;
    /** Lifecycle webhook subscriptions and their last deliveries (docs/ARCHITECTURE.md, "Lifecycle webhooks"). */
    webhooks?: WebhookView[];
  };
}

export interface ContextSourceRow {
  name: string;
  type: string;
  /** `config`: last written by the flows file. */
  origin?: 'config' | 'console';
  stale: boolean;
  lastSuccessAt?: Date;
  lastError?: string;
  lastErrorAt?: Date;
  groups: number;
  memberships: number;
  requests: number;
  rateLimited: number;
  warnings: string[];
}

export function homeView(m: HomeModel): HomeView {
  const blocks: KnownBlock[] = [];
  const sections: HomeSection[] = m.isAdmin ? [...HOME_SECTIONS] : ['me', 'approvals'];
  const current = sections.includes(m.section) ? m.section : 'me';
  blocks.push({
    type: 'actions',
    block_id: 'home_nav',
    elements: [
      button('Request access', ACTION.openRequest, 'open', { style: 'primary' }),
      ...sections.map((s) =>
        button(
          s === 'approvals' && m.waitingOnMe.length > 0
            ? `${LABELS[s]} (${m.waitingOnMe.length})`
            : s === 'reviews' && (m.admin?.reviews?.length ?? 0) > 0
              ? `${LABELS[s]} (${m.admin!.reviews!.length})`
              : s === 'standing' && (m.admin?.standing?.total ?? 0) > 0
                ? `${LABELS[s]} (${m.admin!.standing!.total})`
                : LABELS[s],
          `${ACTION.section}:${s}`,
          s,
          s === current ? { style: 'primary' } : {},
        ),
      ),
    ],
  });
  blocks.push(divider);
  switch (current) {
    case 'me':
      blocks.push(...mySection(m));
      break;
    case 'approvals':
      blocks.push(...approvalsSection(m));
      break;
    case 'flows':
      blocks.push(...flowsSection(m));
      break;
    case 'integrations':
      blocks.push(...integrationsSection(m));
      break;
    case 'active':
      blocks.push(...activeSection(m));
      break;
    case 'settings':
      blocks.push(...settingsSection(m));
      break;
    case 'audit':
      blocks.push(...auditSection(m));
      break;
    case 'reviews':
      blocks.push(...reviewsSection(m.admin?.reviews ?? [], m.timeZone));
      break;
    case 'standing':
      blocks.push(...standingSection(m.admin?.standing, m.timeZone));
      break;
    case 'webhooks':
      blocks.push(...webhooksSection(m.admin?.webhooks ?? [], m.timeZone));
      break;
  }
  return { type: 'home', blocks: blocks.slice(0, 100) };
}

/** One page of a list plus a pager; each item may use up to `perItem` blocks. */
function paged<T>(m: HomeModel, items: T[], render: (item: T) => KnownBlock[]): KnownBlock[] {
  const pages = Math.max(1, Math.ceil(items.length / PAGE_SIZE));
  const page = Math.min(Math.max(0, m.page), pages - 1);
  const out = items.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE).flatMap(render);
  if (pages > 1) {
    out.push({
      type: 'actions',
      block_id: `pager:${m.section}`,
      elements: [
        ...(page > 0 ? [button('‹ Previous', `${ACTION.page}:prev`, `${m.section}:${page - 1}`)] : []),
        ...(page < pages - 1 ? [button('Next ›', `${ACTION.page}:next`, `${m.section}:${page + 1}`)] : []),
      ],
    });
    out.push(context(`Page ${page + 1} of ${pages} · ${items.length} in all`));
  }
  return out;
}

function mySection(m: HomeModel): KnownBlock[] {
  const out: KnownBlock[] = [header('Your active access')];
  if (m.mine.active.length === 0)
    out.push(context('Nothing active. Use *Request access* or `/access` to ask for something.'));
  out.push(
    ...paged(m, m.mine.active, ({ request: r, extendMinutes }) => [
      section(
        `*${r.id}* · ${describeTargets(r, 3)}\nUntil ${r.expiresAt ? when(r.expiresAt, m.timeZone) : 'you revoke it'}`,
        {
          accessory: button('Revoke', ACTION.revoke, r.id, {
            confirm: { title: 'Revoke access?', text: `End ${r.id} now?`, confirm: 'Revoke' },
          }),
        },
      ),
      ...(extendMinutes.length > 0
        ? [
            {
              type: 'actions',
              block_id: `extend:${r.id}`,
              elements: [...new Set(extendMinutes)]
                .slice(0, 3)
                .map((min) =>
                  button(`Extend ${formatDuration(min)}`, `${ACTION.extend}:${min}`, `${r.id}:${min}`),
                ),
            } satisfies ActionsBlock,
          ]
        : []),
    ]),
  );
  out.push(header('Your pending requests'));
  if (m.mine.pending.length === 0) out.push(context('No requests waiting.'));
  for (const r of m.mine.pending.slice(0, 10)) {
    out.push(
      section(
        `*${r.id}* · ${describeTargets(r, 3)} for ${formatDuration(r.durationMinutes)} · ${esc(r.state)}`,
        {
          accessory: button('Cancel', ACTION.cancel, r.id),
        },
      ),
    );
  }
  if (m.mine.pending.length > 10) out.push(context(`…and ${m.mine.pending.length - 10} more`));
  return out;
}

function approvalsSection(m: HomeModel): KnownBlock[] {
  const out: KnownBlock[] = [header('Waiting on you')];
  if (m.waitingOnMe.length === 0) out.push(context('Nothing is waiting for your approval.'));
  out.push(
    ...paged(m, m.waitingOnMe, (r) => [
      section(
        `*${r.id}* · ${esc(r.requester.displayName ?? r.requester.email)} asks for ${describeTargets(r, 3)} for ${formatDuration(r.durationMinutes)}${
          r.justification ? `\n>${esc(truncate(r.justification, 500))}` : ''
        }`,
      ),
      {
        type: 'actions',
        block_id: `home_approval:${r.id}`,
        elements: [
          button('Approve', ACTION.approve, r.id, { style: 'primary' }),
          button('Deny', ACTION.deny, r.id, { style: 'danger' }),
        ],
      },
    ]),
  );
  return out;
}

export function describeFlow(f: Flow): string {
  const targets = f.targets
    .map(
      (t) =>
        `${t.permissions.join('/')} on ${t.include.length ? `${t.include.length} selected in` : 'all of'} ${t.integration}`,
    )
    .join('; ');
  const approval = f.approval.steps.length
    ? f.approval.steps.map(describeApprovers).join(', then ')
    : 'automatic';
  return `${targets || 'bundles only'} · approval: ${approval} · up to ${formatDuration(f.duration.maxMinutes ?? Math.max(0, ...f.duration.choicesMinutes))}`;
}

function flowsSection(m: HomeModel): KnownBlock[] {
  const flows = m.admin?.flows ?? [];
  const out: KnownBlock[] = [
    header('Access flows'),
    {
      type: 'actions',
      block_id: 'flows_top',
      elements: [button('New flow', ACTION.flowNew, 'new', { style: 'primary' })],
    },
  ];
  if (flows.length === 0) out.push(context('No flows yet: only the fallback flow applies.'));
  out.push(
    ...paged(m, flows, (f) => [
      section(
        `*${esc(truncate(f.name, 200))}* ${f.enabled ? '' : '_(disabled)_'}\n${esc(truncate(describeFlow(f), 1500))}`,
      ),
      {
        type: 'actions',
        block_id: `flow:${f.id}`,
        elements: [
          button('Edit', ACTION.flowEdit, f.id),
          button(f.enabled ? 'Disable' : 'Enable', ACTION.flowToggle, `${f.id}:${f.enabled ? 'off' : 'on'}`),
          button('Delete', ACTION.flowDelete, f.id, {
            style: 'danger',
            confirm: {
              title: 'Delete flow?',
              text: `Delete ${truncate(f.name, 200)}? Requests already made keep their rules.`,
              confirm: 'Delete',
            },
          }),
        ],
      },
    ]),
  );
  return out;
}

function integrationsSection(m: HomeModel): KnownBlock[] {
  const rows = m.admin?.integrations ?? [];
  const out: KnownBlock[] = [
    header('Integrations'),
    {
      type: 'actions',
      block_id: 'integrations_top',
      elements: [button('Add integration', ACTION.integrationNew, 'new', { style: 'primary' })],
    },
  ];
  if (rows.length === 0) out.push(context('No integrations yet.'));
  out.push(
    ...paged(m, rows, (i) => [
      section(
        `*${esc(i.name)}* · ${esc(i.type)} · ${i.resources} resources\n${i.healthy ? ':large_green_circle:' : ':red_circle:'} ${esc(truncate(i.health, 500))}`,
        { accessory: button('Edit', ACTION.integrationEdit, i.name) },
      ),
    ]),
  );
  const sources = m.admin?.sources ?? [];
  out.push(divider, header('Context sources'), {
    type: 'actions',
    block_id: 'context_sources_top',
    elements: [button('Add context source', ACTION.contextNew, 'new')],
  });
  if (sources.length === 0)
    out.push(context('None yet: add an identity provider or an on-call tool whose groups flows can name.'));
  // Few by nature (one per identity provider); at most ten keep the view under Slack's 100 blocks.
  for (const s of sources.slice(0, 10))
    out.push(section(sourceText(s, m.timeZone)), {
      type: 'actions',
      block_id: `context_source:${s.name}`,
      elements: [
        button('Sync now', ACTION.contextSync, s.name),
        button('Edit', ACTION.contextEdit, s.name),
        button('Delete', ACTION.contextDelete, s.name, {
          style: 'danger',
          confirm: {
            title: 'Delete context source?',
            text: `Delete ${truncate(s.name, 100)} and its synced groups? Flows naming its groups match nobody from then on.${s.origin === 'config' ? ' It is declared in the flows file, which adds it again at the next start.' : ''}`,
            confirm: 'Delete',
          },
        }),
      ],
    });
  return out;
}

function sourceText(s: ContextSourceRow, timeZone?: string): string {
  const state = !s.lastSuccessAt
    ? ':white_circle: not synced yet: its groups give nothing until it is'
    : s.stale
      ? ':red_circle: stale: its groups no longer approve automatically'
      : s.lastError
        ? ':large_yellow_circle: the last sync failed; the groups of the one before are kept'
        : ':large_green_circle: in sync';
  const lines = [
    `*${esc(s.name)}* · ${esc(s.type)} · ${s.groups} groups, ${s.memberships} memberships${s.origin === 'config' ? ' · from the flows file' : ''}`,
    `${state} · last sync ${when(s.lastSuccessAt, timeZone)} · ${s.requests} requests, ${s.rateLimited} rate-limited`,
  ];
  // A successful sync clears the error: one that is here is the last sync's.
  if (s.lastError)
    lines.push(`:warning: ${when(s.lastErrorAt, timeZone)}: ${esc(truncate(s.lastError, 500))}`);
  for (const w of s.warnings.slice(0, 3)) lines.push(`_${esc(truncate(w, 300))}_`);
  return truncate(lines.join('\n'), 2900);
}

function activeSection(m: HomeModel): KnownBlock[] {
  const active = m.admin?.active ?? [];
  const out: KnownBlock[] = [
    header('Active access across the organisation'),
    {
      type: 'actions',
      block_id: 'active_top',
      elements: [button('Revoke everything…', ACTION.revokeAll, 'all', { style: 'danger' })],
    },
  ];
  if (active.length === 0) out.push(context('Nobody has access through Latch right now.'));
  out.push(
    ...paged(m, active, (r) => [
      section(
        `*${r.id}* · ${esc(r.requester.displayName ?? r.requester.email)} · ${describeTargets(r, 3)}\nUntil ${r.expiresAt ? when(r.expiresAt, m.timeZone) : 'revoked by hand'}`,
        { accessory: button('Revoke', ACTION.adminRevoke, r.id, { style: 'danger' }) },
      ),
    ]),
  );
  return out;
}

function settingsSection(m: HomeModel): KnownBlock[] {
  const s = m.admin!.settings;
  const admins = [...new Set([...m.admin!.envAdmins, ...s.admins])];
  const fallbackApprovers = s.fallback.approvers.length
    ? s.fallback.approvers
        .map((a) =>
          a.type === 'resource_owner'
            ? 'resource owners'
            : a.type === 'on_call'
              ? `on call for ${a.schedule}`
              : a.type === 'manager'
                ? "the requester's manager"
                : a.id,
        )
        .join(', ')
    : 'the admins';
  return [
    header('Settings'),
    section(
      [
        `*Admins*: ${esc(truncate(admins.join(', ') || 'none', 1000))}${m.admin!.envAdmins.length ? ' _(those from LATCH_ADMINS are set in the environment)_' : ''}`,
        `*Fallback flow*: ${s.fallback.enabled ? `on, approved by ${esc(fallbackApprovers)}, at most ${formatDuration(s.fallback.maxMinutes)}` : 'off'}`,
        `*Self-extension*: ${{ flow: "each flow's rule", approval: 'always needs an approver', never: 'never allowed' }[s.selfExtension]}`,
        `*Expiry warning*: ${s.expiryWarningMinutes ? `${s.expiryWarningMinutes} minutes before` : 'off'}`,
        `*Audit channel*: ${s.auditChannel ? `<#${s.auditChannel}>` : 'none'}`,
      ].join('\n'),
      { accessory: button('Edit settings', ACTION.settingsEdit, 'edit') },
    ),
  ];
}

function auditSection(m: HomeModel): KnownBlock[] {
  const rows = m.admin?.audit ?? [];
  const out: KnownBlock[] = [header('Latest audit events')];
  if (rows.length === 0) out.push(context('Nothing yet.'));
  // Ten lines per context block keeps 50 events inside a handful of blocks.
  for (let i = 0; i < rows.length; i += 10) {
    out.push({
      type: 'section',
      text: md(
        rows
          .slice(i, i + 10)
          .map((e) => `\`${when(e.at, m.timeZone)}\` *${esc(e.action)}* ${esc(e.subject)} by ${esc(e.actor)}`)
          .join('\n'),
      ),
    });
  }
  out.push(context('The full, tamper-evident log: `npm run audit -- export`.'));
  return out;
}
