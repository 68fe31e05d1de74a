/**
 * Modals behind the admin console and the decision buttons: flow editor, integration editor,
 * settings, revoke-everything confirmation, deny/revoke reasons, and the one-time credentials view.
 */
import { describeWorkingHours } from '../../src/domain/availability.js';
import type { ContextBlock, InputBlock, InputBlockElement, KnownBlock, ModalView } from '@slack/types';
import { formatDuration } from '../../src/domain/duration.js';
import type { Flow, Settings } from '../../src/domain/flow.js';
import { TEXT_LIMITS } from '../../src/domain/limits.js';
import { BLOCK, VIEW } from './ids.js';
import { chunks, context, encodeValue, esc, modal, option, plain, section, truncate } from './text.js';
import { credentialsValues } from './messages.js';

const DURATIONS = [15, 30, 60, 120, 240, 480, 1440, 2880, 4320, 10080, 20160, 43200];

/** Omit over each member of a union (plain Omit would merge the union into one type). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An input block; every element in these forms uses action id `value`, read back by block id. */
function input(
  blockId: string,
  label: string,
  element: DistributiveOmit<InputBlockElement, 'action_id'>,
  opts: { optional?: boolean; hint?: string } = {},
): InputBlock {
  return {
    type: 'input',
    block_id: blockId,
    optional: opts.optional ?? false,
    label: plain(label, 2000),
    ...(opts.hint ? { hint: plain(opts.hint, 2000) } : {}),
    element: { action_id: 'value', ...element },
  };
}

export function textInput(
  blockId: string,
  label: string,
  opts: {
    initial?: string;
    optional?: boolean;
    multiline?: boolean;
    max?: number;
    hint?: string;
    placeholder?: string;
  } = {},
): InputBlock {
  const max = opts.max ?? 3000;
  return input(
    blockId,
    label,
    {
      type: 'plain_text_input',
      multiline: opts.multiline ?? false,
      max_length: max,
      ...(opts.initial ? { initial_value: truncate(opts.initial, max) } : {}),
      ...(opts.placeholder ? { placeholder: plain(opts.placeholder, 150) } : {}),
    },
    opts,
  );
}

function staticSelect(
  blockId: string,
  label: string,
  options: Array<{ text: string; value: string }>,
  initial?: string,
  optional = false,
): InputBlock {
  const opts = options.slice(0, 100).map((o) => option(o.text, o.value));
  const init = opts.find((o) => o.value === initial);
  return input(
    blockId,
    label,
    { type: 'static_select', options: opts, ...(init ? { initial_option: init } : {}) },
    { optional },
  );
}

export function multiStatic(
  blockId: string,
  label: string,
  options: Array<{ text: string; value: string }>,
  initial: string[],
  hint?: string,
): InputBlock | ContextBlock {
  const opts = options.slice(0, 100).map((o) => option(o.text, encodeValue(o.value)));
  const init = opts.filter((o) => initial.map(encodeValue).includes(o.value));
  if (opts.length === 0) {
    return context(`*${esc(label)}*: none available yet.`);
  }
  return input(
    blockId,
    label,
    { type: 'multi_static_select', options: opts, ...(init.length ? { initial_options: init } : {}) },
    { optional: true, hint },
  );
}

function usersSelect(blockId: string, label: string, initial: string[], hint?: string): InputBlock {
  return input(
    blockId,
    label,
    { type: 'multi_users_select', ...(initial.length ? { initial_users: initial.slice(0, 100) } : {}) },
    { optional: true, hint },
  );
}

export function checkboxes(
  blockId: string,
  label: string,
  options: Array<{ text: string; value: string }>,
  checked: string[],
): InputBlock {
  const opts = options.slice(0, 10).map((o) => ({ text: plain(o.text, 75), value: o.value }));
  const init = opts.filter((o) => checked.includes(o.value));
  return input(
    blockId,
    label,
    { type: 'checkboxes', options: opts, ...(init.length ? { initial_options: init } : {}) },
    { optional: true },
  );
}

export interface FlowFormModel {
  flow?: Flow;
  /** Slack user ids for the flow's user principals and approvers, where Slack knows them. */
  granteeUserIds: string[];
  approverUserIds: string[];
  /** Slack user ids of the people the flow escalates to. */
  escalationUserIds: string[];
  userGroups: Array<{ handle: string; name: string }>;
  integrations: string[];
  bundles: string[];
  permissions: string[];
  /** On-call schedules the context sources synced. */
  schedules: string[];
  privateMetadata: string;
}

/** One target and one approval step are edited here; further ones (from a flows file) are kept as they are. */
export function flowModal(m: FlowFormModel): ModalView {
  const f = m.flow;
  const target = f?.targets[0];
  const step = f?.approval.steps[0];
  const groups = m.userGroups.map((g) => ({
    text: `@${g.handle}${g.name && g.name !== g.handle ? ` (${g.name})` : ''}`,
    value: g.handle,
  }));
  const granteeGroups = (f?.grantees.include ?? []).flatMap((p) => (p.type === 'group' ? [p.id] : []));
  const approverGroups = (step?.approvers ?? []).flatMap((a) => (a.type === 'group' ? [a.id] : []));
  const everyone = (f?.grantees.include ?? []).some((p) => p.type === 'everyone');
  const owners = (step?.approvers ?? []).some((a) => a.type === 'resource_owner');
  const manager = (step?.approvers ?? []).some((a) => a.type === 'manager');
  const resources = (target?.include ?? [])
    .map((s) =>
      'name' in s
        ? s.name
        : 'id' in s
          ? s.id
          : Object.entries(s.tags)
              .map(([k, v]) => `${k}=${v}`)
              .join(' & '),
    )
    .join(', ');
  const options = [
    ...(f?.approval.requireReason ? ['require_reason'] : []),
    ...(f?.approval.allowSelfApproval ? ['self_approval'] : []),
    ...(f?.requireJustification ? ['justification'] : []),
    ...(f?.duration.allowIndefinite ? ['indefinite'] : []),
    ...(f?.breakGlass ? ['break_glass'] : []),
    ...(f?.reapplyOnDrift ? ['reapply_on_drift'] : []),
  ];
  const extra = (f?.targets.length ?? 0) - 1 + ((f?.approval.steps.length ?? 0) - 1);
  const blocks: KnownBlock[] = [
    textInput('name', 'Name', { initial: f?.name, max: 80 }),
    textInput('description', 'Description', {
      initial: f?.description,
      optional: true,
      multiline: true,
      max: 500,
    }),
    section('*Who may ask*'),
    checkboxes(
      'grantees_everyone',
      'Everyone',
      [{ text: 'Everyone in the workspace', value: 'everyone' }],
      everyone ? ['everyone'] : [],
    ),
    usersSelect('grantees_users', 'People', m.granteeUserIds),
    multiStatic('grantees_groups', 'User groups', groups, granteeGroups),
    // Initial value set, so a form saved with only the required fields keeps it (docs/ARCHITECTURE.md, "Asking for someone else").
    staticSelect(
      'request_for',
      'Who may be asked for',
      [
        { text: 'Only themselves', value: 'self' },
        { text: 'Anyone who may have it', value: 'anyone' },
        { text: 'Their direct reports', value: 'reports' },
      ],
      f?.requestFor ?? 'self',
      true,
    ),
    section('*What*'),
    staticSelect(
      'integration',
      'Integration',
      m.integrations.map((i) => ({ text: i, value: i })),
      target?.integration,
      true,
    ),
    textInput('resources', 'Resources', {
      initial: resources,
      optional: true,
      max: 2000,
      hint: 'Resource names, or tag=value, separated by commas. Empty: every resource of the integration.',
    }),
    multiStatic(
      'permissions',
      'Permissions',
      m.permissions.map((p) => ({ text: p, value: p })),
      target?.permissions ?? [],
    ),
    multiStatic(
      'bundles',
      'Bundles',
      m.bundles.map((b) => ({ text: b, value: b })),
      f?.bundles ?? [],
    ),
    section('*Approval*'),
    usersSelect(
      'approvers_users',
      'Approvers',
      m.approverUserIds,
      'Nobody chosen and no group, owners or manager: requests are approved automatically.',
    ),
    multiStatic('approvers_groups', 'Approver groups', groups, approverGroups),
    checkboxes(
      'approvers_owners',
      'Resource owners',
      [{ text: 'Resource owners approve too', value: 'owners' }],
      owners ? ['owners'] : [],
    ),
    checkboxes(
      'approvers_manager',
      "The requester's manager",
      [{ text: "The requester's manager approves (from the identity provider)", value: 'manager' }],
      manager ? ['manager'] : [],
    ),
    staticSelect(
      'rule',
      'How many must approve',
      [
        { text: 'Any one of them', value: 'any' },
        { text: 'All of them', value: 'all' },
      ],
      step?.rule.type === 'all' ? 'all' : 'any',
    ),
    ...onCallInputs(m, step),
    textInput('working_hours', 'Working hours', {
      initial: f?.workingHours ? describeWorkingHours(f.workingHours) : undefined,
      optional: true,
      max: 60,
      hint: "Requests only within these hours of the requester's own time zone, e.g. Mon-Fri 09:00-18:00. Empty: any time.",
    }),
    textInput('timeout', 'Undecided requests time out after (hours)', {
      initial: String(Math.round((f?.approval.timeoutMinutes ?? 1440) / 60)),
      max: 5,
    }),
    textInput('escalate_after', 'Escalate undecided requests after (hours)', {
      initial: f?.approval.escalation ? String(+(f.approval.escalation.afterMinutes / 60).toFixed(2)) : '',
      optional: true,
      max: 6,
      hint: 'Empty: never. Before the time-out; the people below may then decide alone.',
    }),
    usersSelect(
      'escalate_users',
      'Escalate to',
      m.escalationUserIds,
      'Nobody chosen and no group: the admins.',
    ),
    multiStatic(
      'escalate_groups',
      'Escalate to groups',
      groups,
      (f?.approval.escalation?.to ?? []).flatMap((a) => (a.type === 'group' ? [a.id] : [])),
    ),
    section('*Duration and extensions*'),
    staticSelect(
      'max_duration',
      'Longest duration',
      DURATIONS.map((d) => ({ text: formatDuration(d), value: String(d) })),
      String(f?.duration.maxMinutes ?? 240),
    ),
    staticSelect(
      'extension',
      'Extensions',
      [
        { text: 'Not allowed', value: 'none' },
        { text: 'Requester extends directly', value: 'direct' },
        { text: 'An approver must agree', value: 'approval' },
      ],
      f?.extension.mode ?? 'none',
    ),
    textInput('extension_count', 'At most this many extensions', {
      initial: String(f?.extension.maxCount ?? 1),
      max: 3,
    }),
    checkboxes(
      'options',
      'Options',
      [
        { text: 'Approvers must give a reason', value: 'require_reason' },
        { text: 'Requesters may approve their own requests', value: 'self_approval' },
        { text: 'Requesters must justify', value: 'justification' },
        { text: 'Indefinite access may be asked for', value: 'indefinite' },
        { text: 'Allow break-glass: approve own request in an emergency', value: 'break_glass' },
        // docs/ARCHITECTURE.md, "Reconciliation": off, drift is only reported.
        { text: 'Re-apply access removed outside Latch', value: 'reapply_on_drift' },
      ],
      options,
    ),
  ];
  if (extra > 0)
    blocks.push(
      context(
        `This flow has ${extra} more target(s) or approval step(s) from its definition; they are kept unchanged.`,
      ),
    );
  return modal({
    callbackId: VIEW.flow,
    title: f ? 'Edit flow' : 'New flow',
    submit: 'Save',
    blocks,
    privateMetadata: m.privateMetadata,
  });
}

/** Shown when there is a rota to choose from, or the flow already names one (so an edit keeps it). */
function onCallInputs(m: FlowFormModel, step: Flow['approval']['steps'][number] | undefined): KnownBlock[] {
  const approving = (step?.approvers ?? []).flatMap((a) => (a.type === 'on_call' ? [a.schedule] : []));
  const auto = m.flow?.approval.autoApproveWhenOnCall ?? [];
  const all = [...new Set([...m.schedules, ...approving, ...auto])].sort();
  if (all.length === 0) return [];
  const options = all.map((s) => ({ text: s, value: s }));
  return [
    multiStatic('oncall_approvers', 'Whoever is on call approves', options, approving),
    multiStatic('oncall_auto', 'Approved automatically when the requester is on call for', options, auto),
  ];
}

export function integrationModal(m: {
  name?: string;
  type?: string;
  types: string[];
  description?: string;
  configYaml: string;
  storedSecretNames: string[];
  privateMetadata: string;
}): ModalView {
  const blocks: KnownBlock[] = [
    m.name
      ? section(`*Name*: ${esc(m.name)}`)
      : textInput('name', 'Name', { max: 60, hint: 'How flows refer to it, e.g. postgres-prod.' }),
    staticSelect(
      'type',
      'Type',
      m.types.map((t) => ({ text: t, value: t })),
      m.type ?? m.types[0],
    ),
    textInput('description', 'Description', { initial: m.description, optional: true, max: 500 }),
    textInput('config', 'Configuration (YAML)', {
      initial: m.configYaml,
      multiline: true,
      max: 3000,
      hint: 'The type’s settings, as the README lists them (postgresql: host, user…; slack: channels…). Secrets do not go here.',
    }),
    textInput('secrets', 'Secrets', {
      optional: true,
      multiline: true,
      max: 3000,
      placeholder: 'password=… (each type’s secrets are in the README)',
      hint: m.storedSecretNames.length
        ? `Stored: ${m.storedSecretNames.join(', ')}. They are never shown; leave empty to keep them, or give key=value lines to replace.`
        : 'key=value lines, e.g. password=… They are encrypted and never shown again.',
    }),
  ];
  return modal({
    callbackId: VIEW.integration,
    title: m.name ? 'Edit integration' : 'Add integration',
    submit: 'Save',
    blocks,
    privateMetadata: m.privateMetadata,
  });
}

export function settingsModal(m: {
  settings: Settings;
  adminUserIds: string[];
  userGroups: Array<{ handle: string; name: string }>;
  fallbackApproverUserIds: string[];
  envAdmins: string[];
}): ModalView {
  const s = m.settings;
  return modal({
    callbackId: VIEW.settings,
    title: 'Settings',
    submit: 'Save',
    blocks: [
      usersSelect(
        'admins',
        'Admins',
        m.adminUserIds,
        m.envAdmins.length
          ? `Also admins, from LATCH_ADMINS: ${truncate(m.envAdmins.join(', '), 1500)}`
          : undefined,
      ),
      checkboxes(
        'fallback',
        'Fallback flow',
        [{ text: 'On: anything no flow covers can be asked for, admins approve', value: 'on' }],
        s.fallback.enabled ? ['on'] : [],
      ),
      usersSelect(
        'fallback_approvers',
        'Fallback approvers',
        m.fallbackApproverUserIds,
        'Empty: the admins approve.',
      ),
      staticSelect(
        'self_extension',
        'Self-extension',
        [
          { text: "Follow each flow's rule", value: 'flow' },
          { text: 'Always needs an approver', value: 'approval' },
          { text: 'Never', value: 'never' },
        ],
        s.selfExtension,
      ),
      textInput('warning', 'Warn this many minutes before expiry (0 = off)', {
        initial: String(s.expiryWarningMinutes),
        max: 4,
      }),
      input(
        'audit_channel',
        'Audit channel',
        {
          type: 'conversations_select',
          filter: { include: ['public', 'private'], exclude_bot_users: true },
          ...(s.auditChannel ? { initial_conversation: s.auditChannel } : {}),
        },
        { optional: true, hint: 'Every request event is posted there. Invite Latch to the channel first.' },
      ),
    ],
  });
}

export function reasonModal(opts: {
  callbackId: typeof VIEW.approve | typeof VIEW.deny | typeof VIEW.revoke | typeof VIEW.revokeAll;
  title: string;
  intro: string;
  submit: string;
  optional?: boolean;
  confirmPhrase?: string;
  privateMetadata: string;
}): ModalView {
  const blocks: KnownBlock[] = [
    section(opts.intro),
    textInput(BLOCK.reason, 'Reason', {
      optional: opts.optional,
      multiline: true,
      max: TEXT_LIMITS.reason,
    }),
  ];
  if (opts.confirmPhrase) {
    blocks.push(textInput(BLOCK.confirm, `Type ${opts.confirmPhrase} to confirm`, { max: 40 }));
  }
  return modal({
    callbackId: opts.callbackId,
    title: opts.title,
    submit: opts.submit,
    blocks,
    privateMetadata: opts.privateMetadata,
  });
}

export function credentialsModal(
  sets: Array<{ resourceName: string; permission: string; values: Record<string, string> }>,
): ModalView {
  // Shown once, so never cut: long values are split over several sections instead.
  const body = sets.flatMap((c) =>
    chunks(`*${esc(c.resourceName)}* (${esc(c.permission)})\n${credentialsValues(c.values)}`).map((t) =>
      section(t),
    ),
  );
  const room = 98;
  const blocks: KnownBlock[] = [
    section(':key: These are shown once. Copy them now; Latch does not keep a readable copy.'),
    ...body.slice(0, room),
    ...(body.length > room
      ? [context('There are more credentials than one window can hold; ask an admin to split this request.')]
      : []),
  ];
  return modal({ callbackId: VIEW.credentials, title: 'Your credentials', blocks });
}

/**
 * A context source's editor (docs/ARCHITECTURE.md, "Context sources"). Secrets are write-only:
 * the modal names the stored ones and never carries a value; a name left blank keeps its value.
 */
export function contextSourceModal(m: {
  name?: string;
  type?: string;
  types: Array<{ type: string; secrets: string[]; example: Record<string, unknown> }>;
  description?: string;
  configYaml: string;
  storedSecretNames: string[];
  syncEveryMinutes?: number;
  maxAgeMinutes?: number;
  /** Last written by the flows file, which writes its own version again at start when it differs. */
  fromFlowsFile?: boolean;
  privateMetadata: string;
}): ModalView {
  const type = m.type ?? m.types[0]?.type;
  const needs = m.types.map((t) => `${t.type}: ${t.secrets.join(', ') || 'none'}`).join(' · ');
  const secretNames = [
    ...new Set([...m.storedSecretNames, ...(m.types.find((t) => t.type === type)?.secrets ?? [])]),
  ];
  const blocks: KnownBlock[] = [
    ...(m.fromFlowsFile
      ? [
          context(
            ':page_facing_up: Declared in the flows file: a change here holds until Latch restarts, when the file’s version is applied again. Change the file too.',
          ),
        ]
      : []),
    m.name
      ? section(`*Name*: ${esc(m.name)}`)
      : textInput('name', 'Name', {
          max: 40,
          hint: 'Prefixes its groups in flows (okta → okta:Engineering): lower-case letters, digits, - and _.',
        }),
    staticSelect(
      'type',
      'Type',
      m.types.map((t) => ({ text: t.type, value: t.type })),
      type,
    ),
    textInput('description', 'Description', { initial: m.description, optional: true, max: 500 }),
    textInput('config', 'Configuration (YAML)', {
      initial: m.configYaml,
      optional: true,
      multiline: true,
      max: 3000,
      hint: `What each type needs: ${m.types
        .map((t) => `${t.type}: ${Object.keys(t.example).join(', ') || 'nothing'}`)
        .join(' · ')}. Secrets do not go here.`,
    }),
    textInput('secrets', 'Secrets', {
      optional: true,
      multiline: true,
      max: 3000,
      initial: secretNames.map((n) => `${n}: `).join('\n'),
      hint: `${
        m.storedSecretNames.length
          ? `Stored: ${m.storedSecretNames.join(', ')}. They are never shown; a name left blank keeps its value.`
          : 'Encrypted and never shown again.'
      } One name: value a line, the value as typed. Each type needs ${needs}.`,
    }),
    textInput('sync_every', 'Sync every (minutes)', {
      initial: m.syncEveryMinutes === undefined ? undefined : String(m.syncEveryMinutes),
      optional: true,
      max: 5,
      hint: 'Empty: every 15 minutes.',
    }),
    textInput('max_age', 'Stale after (minutes)', {
      initial: m.maxAgeMinutes === undefined ? undefined : String(m.maxAgeMinutes),
      optional: true,
      max: 6,
      hint: 'A source not synced for this long no longer approves automatically. Empty: 1440 (a day).',
    }),
  ];
  return modal({
    callbackId: VIEW.contextSource,
    title: m.name ? 'Edit context source' : 'Add context source',
    submit: 'Save',
    blocks,
    privateMetadata: m.privateMetadata,
  });
}
