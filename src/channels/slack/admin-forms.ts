/**
 * The admin console's modals: open them filled in from the store, and turn a submission back
 * into a use-case call. Validation is the use-cases' (the same zod schemas as the flows file);
 * this module only maps their errors onto the field the admin has to fix.
 */
import type { ViewErrorsResponseAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import YAML from 'yaml';
import { flowModal, integrationModal, settingsModal } from '../../../blocks/slack/admin-modals.js';
import {
  REQUEST_FOR,
  type Approver,
  type Flow,
  type FlowInput,
  type Principal,
  type RequestFor,
  type ResourceSelector,
} from '../../domain/flow.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import { decodeValue } from '../../../blocks/slack/text.js';
import { parseWorkingHours } from '../../domain/availability.js';
import { errorText, parseMetadata, type SlackDeps } from './context.js';
import type { StateValue, ViewPayload } from './request-flow.js';

type Values = Record<string, Record<string, StateValue>>;
/** What a form's submission acknowledges with: errors shown on their fields, or nothing (the modal closes). */
export type FormAck = ViewErrorsResponseAction | undefined;

const first = (v: Values, block: string): StateValue | undefined => Object.values(v[block] ?? {})[0];
const text = (v: Values, block: string) => (first(v, block)?.value ?? '').trim();
const selected = (v: Values, block: string) => first(v, block)?.selected_option?.value ?? undefined;
const selectedMany = (v: Values, block: string) =>
  (first(v, block)?.selected_options ?? []).map((o) => o.value);
const users = (v: Values, block: string) => first(v, block)?.selected_users ?? [];

// ---- flows ----

export async function openFlowModal(
  deps: SlackDeps,
  who: Identity,
  client: WebClient,
  triggerId: string,
  teamId?: string,
  flowId?: string,
): Promise<void> {
  const q = deps.latch.queries;
  const [flows, choices, groups] = await Promise.all([
    q.flows(who),
    q.flowFormChoices(who),
    deps.directory.listGroups(teamId).catch(() => []),
  ]);
  const flow = flowId ? flows.find((f) => f.id === flowId) : undefined;
  if (flowId && !flow) throw new LatchError('not_found', 'That flow no longer exists.');
  const userIds = async (ids: string[]) => deps.directory.userIdsOf(ids);
  const granteeEmails = (flow?.grantees.include ?? []).flatMap((p) => (p.type === 'user' ? [p.id] : []));
  const approverEmails = (flow?.approval.steps[0]?.approvers ?? []).flatMap((a) =>
    a.type === 'user' ? [a.id] : [],
  );
  const escalationEmails = (flow?.approval.escalation?.to ?? []).flatMap((a) =>
    a.type === 'user' ? [a.id] : [],
  );
  // The flow's own permissions are offered too, so that editing keeps them.
  const permissions = [...new Set([...choices.permissions, ...(flow?.targets[0]?.permissions ?? [])])].sort();
  await client.views.open({
    trigger_id: triggerId,
    view: flowModal({
      flow,
      granteeUserIds: await userIds(granteeEmails),
      approverUserIds: await userIds(approverEmails),
      escalationUserIds: await userIds(escalationEmails),
      userGroups: groups.map((g) => ({ handle: g.handle, name: g.name })),
      integrations: choices.integrations,
      bundles: choices.bundles,
      schedules: choices.schedules,
      permissions: permissions.length ? permissions : ['read', 'write', 'admin'],
      privateMetadata: JSON.stringify({ id: flow?.id, t: teamId }),
    }),
  });
}

const FLOW_FIELD_BLOCK: Record<string, string> = {
  name: 'name',
  description: 'description',
  grantees: 'grantees_users',
  targets: 'integration',
  bundles: 'bundles',
  approval: 'approvers_users',
  duration: 'max_duration',
  extension: 'extension',
  requireJustification: 'options',
  autoApproveWhenOnCall: 'oncall_auto',
  workingHours: 'working_hours',
  breakGlass: 'options',
  requestFor: 'request_for',
};

export async function saveFlowFromView(deps: SlackDeps, view: ViewPayload, who: Identity): Promise<FormAck> {
  // Who submits is checked before what: a forged form from a non-admin is refused (and audited)
  // without being told what is wrong with it.
  await deps.latch.admin.assertAdmin(who, 'flow.save');
  const v = view.state?.values ?? {};
  const meta = parseMetadata<{ id: string; t: string }>(view.private_metadata);
  const existing = meta.id ? (await deps.latch.queries.flows(who)).find((f) => f.id === meta.id) : undefined;
  const errors: Record<string, string> = {};

  const include: Principal[] = [];
  if (selectedMany(v, 'grantees_everyone').includes('everyone')) include.push({ type: 'everyone' });
  for (const email of await deps.directory.emailsOf(meta.t, users(v, 'grantees_users')))
    include.push({ type: 'user', id: email });
  for (const g of selectedMany(v, 'grantees_groups')) include.push({ type: 'group', id: g });
  if (include.length === 0) errors.grantees_users = 'Choose who may ask: people, user groups or everyone.';

  const integration = selected(v, 'integration');
  const choices = await deps.latch.queries.flowFormChoices(who);
  const knownPermissions = [
    ...new Set([...choices.permissions, ...(existing?.targets[0]?.permissions ?? [])]),
  ];
  const permissions = selectedMany(v, 'permissions')
    .map((p) => decodeValue(p, knownPermissions))
    .filter((p): p is string => p !== undefined);
  const targets: Flow['targets'] = [];
  if (integration) {
    if (permissions.length === 0 && v.permissions) errors.permissions = 'Choose at least one permission.';
    targets.push({ integration, include: parseSelectors(text(v, 'resources')), exclude: [], permissions });
  }
  targets.push(...(existing?.targets.slice(1) ?? []));
  const bundles = selectedMany(v, 'bundles');
  if (targets.length === 0 && bundles.length === 0)
    errors.integration = 'Choose an integration (or at least one bundle).';

  const approvers: Approver[] = [];
  for (const email of await deps.directory.emailsOf(meta.t, users(v, 'approvers_users')))
    approvers.push({ type: 'user', id: email });
  for (const g of selectedMany(v, 'approvers_groups')) approvers.push({ type: 'group', id: g });
  if (selectedMany(v, 'approvers_owners').includes('owners')) approvers.push({ type: 'resource_owner' });
  if (selectedMany(v, 'approvers_manager').includes('manager')) approvers.push({ type: 'manager' });
  const knownSchedules = [
    ...choices.schedules,
    ...(existing?.approval.autoApproveWhenOnCall ?? []),
    ...(existing?.approval.steps[0]?.approvers ?? []).flatMap((a) =>
      a.type === 'on_call' ? [a.schedule] : [],
    ),
  ];
  const schedulesIn = (block: string) =>
    selectedMany(v, block)
      .map((s) => decodeValue(s, knownSchedules))
      .filter((s): s is string => s !== undefined);
  for (const schedule of schedulesIn('oncall_approvers')) approvers.push({ type: 'on_call', schedule });
  const hoursText = text(v, 'working_hours');
  const hours = hoursText ? parseWorkingHours(hoursText) : undefined;
  if (hours && !hours.ok) errors.working_hours = hours.reason;
  const rule = selected(v, 'rule') === 'all' ? { type: 'all' as const } : { type: 'any' as const };
  const steps = [
    ...(approvers.length ? [{ approvers, rule }] : []),
    ...(existing?.approval.steps.slice(1) ?? []),
  ];

  const timeoutHours = Number(text(v, 'timeout'));
  if (!Number.isInteger(timeoutHours) || timeoutHours < 1 || timeoutHours > 24 * 30)
    errors.timeout = 'Give a whole number of hours between 1 and 720.';
  const escalation = await escalationFromView(deps, v, meta.t, timeoutHours, errors);
  const extensionCount = Number(text(v, 'extension_count'));
  if (!Number.isInteger(extensionCount) || extensionCount < 0 || extensionCount > 100)
    errors.extension_count = 'Give a whole number between 0 and 100.';
  if (Object.keys(errors).length) return { response_action: 'errors', errors };

  const options = selectedMany(v, 'options');
  const input: FlowInput = {
    name: text(v, 'name'),
    description: text(v, 'description'),
    enabled: existing?.enabled ?? true,
    grantees: { include, exclude: existing?.grantees.exclude ?? [] },
    targets,
    bundles,
    approval: {
      steps,
      requireReason: options.includes('require_reason'),
      allowSelfApproval: options.includes('self_approval'),
      timeoutMinutes: timeoutHours * 60,
      reminderMinutes: existing?.approval.reminderMinutes ?? 60,
      autoApproveWhenOnCall: schedulesIn('oncall_auto'),
      ...(escalation ? { escalation } : {}),
    },
    duration: {
      choicesMinutes: [],
      maxMinutes: Number(selected(v, 'max_duration') ?? 240),
      allowIndefinite: options.includes('indefinite'),
    },
    requireJustification: options.includes('justification'),
    breakGlass: options.includes('break_glass'),
    reapplyOnDrift: options.includes('reapply_on_drift'),
    requestFor: requestForOf(selected(v, 'request_for')),
    availability: existing?.availability,
    ...(hours?.ok ? { workingHours: hours.hours } : {}),
    ...(existing?.automatic ? { automatic: existing.automatic } : {}),
    extension: {
      mode: (selected(v, 'extension') ?? 'none') as 'none' | 'direct' | 'approval',
      maxCount: extensionCount,
    },
  };
  try {
    await deps.latch.admin.saveFlow(who, input, existing?.id);
    return undefined;
  } catch (err) {
    const field = err instanceof LatchError ? err.field : undefined;
    const block =
      err instanceof LatchError && err.code === 'conflict'
        ? 'name'
        : (field && FLOW_FIELD_BLOCK[field]) || 'name';
    return { response_action: 'errors', errors: { [block]: errorText(deps, err).slice(0, 2000) } };
  }
}

/**
 * The escalation fields (docs/ARCHITECTURE.md, "Reminders, escalation and digests"): hours empty
 * means none; nobody chosen means the admins. Checked against the time-out here, so the message
 * lands on the field to fix.
 */
async function escalationFromView(
  deps: SlackDeps,
  v: Values,
  teamId: string | undefined,
  timeoutHours: number,
  errors: Record<string, string>,
): Promise<{ afterMinutes: number; to: Approver[] } | undefined> {
  const after = text(v, 'escalate_after');
  if (!after) return undefined;
  const hours = Number(after);
  if (!Number.isFinite(hours) || hours <= 0 || hours > 24 * 30) {
    errors.escalate_after = 'Give a number of hours, e.g. 2 or 0.5, or leave it empty for no escalation.';
    return undefined;
  }
  const afterMinutes = Math.max(1, Math.round(hours * 60));
  if (Number.isInteger(timeoutHours) && afterMinutes >= timeoutHours * 60) {
    errors.escalate_after = `Escalate before the time-out: less than ${timeoutHours} hours.`;
    return undefined;
  }
  const to: Approver[] = [
    ...(await deps.directory.emailsOf(teamId, users(v, 'escalate_users'))).map((id) => ({
      type: 'user' as const,
      id,
    })),
    ...selectedMany(v, 'escalate_groups').map((id) => ({ type: 'group' as const, id })),
  ];
  return { afterMinutes, to };
}

/** "billing, env=prod" → name and tag selectors. */
export function parseSelectors(textValue: string): ResourceSelector[] {
  return textValue
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      const eq = s.indexOf('=');
      return eq > 0 ? { tags: { [s.slice(0, eq).trim()]: s.slice(eq + 1).trim() } } : { name: s };
    });
}

// ---- integrations ----

export async function openIntegrationModal(
  deps: SlackDeps,
  who: Identity,
  client: WebClient,
  triggerId: string,
  name?: string,
): Promise<void> {
  const doc = name ? await deps.latch.queries.integrationForEdit(who, name) : null;
  if (name && !doc) throw new LatchError('not_found', `No integration called ${name}.`);
  await client.views.open({
    trigger_id: triggerId,
    view: integrationModal({
      name: doc?.name,
      type: doc?.type,
      types: deps.latch.queries.integrationTypes(),
      description: doc?.description || undefined,
      configYaml: doc
        ? YAML.stringify(doc.config)
        : 'host: db.internal\nport: 5432\nuser: latch_admin\ndatabase: postgres\n',
      storedSecretNames: doc?.storedSecretNames ?? [],
      privateMetadata: JSON.stringify({ name: doc?.name }),
    }),
  });
}

export async function saveIntegrationFromView(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
): Promise<FormAck> {
  await deps.latch.admin.assertAdmin(who, 'integration.save');
  const v = view.state?.values ?? {};
  const meta = parseMetadata<{ name: string }>(view.private_metadata);
  const name = meta.name ?? text(v, 'name');
  if (!/^[a-z0-9][a-z0-9_-]{0,59}$/i.test(name))
    return {
      response_action: 'errors',
      errors: { name: 'Letters, digits, - and _ only, up to 60 characters.' },
    };
  let config: unknown;
  try {
    config = YAML.parse(text(v, 'config'));
  } catch (err) {
    return {
      response_action: 'errors',
      errors: { config: `Not valid YAML: ${(err as Error).message}`.slice(0, 2000) },
    };
  }
  if (!config || typeof config !== 'object' || Array.isArray(config))
    return { response_action: 'errors', errors: { config: 'Give the settings as key: value lines.' } };
  const secrets: Record<string, string> = {};
  for (const line of text(v, 'secrets')
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    const eq = line.indexOf('=');
    if (eq <= 0) return { response_action: 'errors', errors: { secrets: 'One key=value per line.' } };
    secrets[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  try {
    await deps.latch.admin.saveIntegration(who, {
      name,
      type: selected(v, 'type') ?? '',
      description: text(v, 'description'),
      config: config as Record<string, unknown>,
      secrets,
    });
    await deps.latch.admin.discover(who, name);
    return undefined;
  } catch (err) {
    const field = err instanceof LatchError && err.field === 'type' ? 'type' : 'config';
    return { response_action: 'errors', errors: { [field]: errorText(deps, err).slice(0, 2000) } };
  }
}

// ---- settings ----

export async function openSettingsModal(
  deps: SlackDeps,
  who: Identity,
  client: WebClient,
  triggerId: string,
  teamId?: string,
): Promise<void> {
  const settings = await deps.latch.queries.settings(who);
  const groups = await deps.directory.listGroups(teamId).catch(() => []);
  await client.views.open({
    trigger_id: triggerId,
    view: settingsModal({
      settings,
      adminUserIds: await deps.directory.userIdsOf(
        settings.admins.filter((a) => a.includes('@') && !a.startsWith('@')),
      ),
      userGroups: groups.map((g) => ({ handle: g.handle, name: g.name })),
      fallbackApproverUserIds: await deps.directory.userIdsOf(
        settings.fallback.approvers.flatMap((a) => (a.type === 'user' ? [a.id] : [])),
      ),
      envAdmins: deps.envAdmins,
    }),
  });
}

export async function saveSettingsFromView(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
): Promise<FormAck> {
  await deps.latch.admin.assertAdmin(who, 'settings.update');
  const v = view.state?.values ?? {};
  const teamId = (view as { team_id?: string }).team_id;
  const warning = Number(text(v, 'warning'));
  if (!Number.isInteger(warning) || warning < 0 || warning > 24 * 60)
    return {
      response_action: 'errors',
      errors: { warning: 'Give a whole number of minutes between 0 and 1440.' },
    };
  const admins = [
    ...(await deps.directory.emailsOf(teamId, users(v, 'admins'))),
    ...selectedMany(v, 'admin_groups').map((g) => `@${g}`),
  ];
  const current = await deps.latch.queries.settings(who);
  if (admins.length === 0 && deps.envAdmins.length === 0)
    return { response_action: 'errors', errors: { admins: 'Keep at least one admin.' } };
  const fallbackApprovers = (await deps.directory.emailsOf(teamId, users(v, 'fallback_approvers'))).map(
    (id) => ({ type: 'user' as const, id }),
  );
  try {
    await deps.latch.admin.updateSettings(who, {
      admins,
      fallback: {
        ...current.fallback,
        enabled: selectedMany(v, 'fallback').includes('on'),
        approvers: fallbackApprovers,
      },
      selfExtension: (selected(v, 'self_extension') ?? 'flow') as 'flow' | 'approval' | 'never',
      expiryWarningMinutes: warning,
      auditChannel: first(v, 'audit_channel')?.selected_conversation ?? undefined,
    });
    return undefined;
  } catch (err) {
    return { response_action: 'errors', errors: { admins: errorText(deps, err).slice(0, 2000) } };
  }
}

/** The flow's requestFor from the modal's select; absent or unknown means only themselves. */
function requestForOf(value: string | undefined): RequestFor {
  return (REQUEST_FOR as readonly string[]).includes(value ?? '') ? (value as RequestFor) : 'self';
}
