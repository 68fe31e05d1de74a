/**
 * The Teams tab's flow editor (docs/ARCHITECTURE.md, "Personal tab"): the form as the page edits it,
 * and its translation to and from the core's FlowInput. It offers what Slack's flow modal offers
 * (blocks/slack/admin-modals.ts, flowModal; src/channels/slack/admin-forms.ts) and a little more
 * that a web page makes easy: several targets and approval steps, a quorum, the durations offered,
 * the reminder and the escalation. What neither form edits (availability hours, exclusions) is kept from the stored
 * flow. Validation stays the core's: the same flowSchema runs here only to put each problem on the
 * field it concerns, and admin.saveFlow checks everything again.
 */
import { describeWorkingHours } from '../../../domain/availability.js';
import { z } from 'zod';
import {
  REQUEST_FOR,
  flowSchema,
  type Approver,
  type Flow,
  type FlowInput,
  type Principal,
  type ResourceSelector,
} from '../../../domain/flow.js';
import { MAX_APPROVAL_STEPS, MAX_APPROVERS_PER_STEP } from '../../../domain/limits.js';
import { describeApprovers } from '../../../domain/approval.js';
import { formatDuration } from '../../../domain/duration.js';

/** Slack's flow modal offers these (blocks/slack/admin-modals.ts); a flow's own values are added. */
export const DURATIONS = [15, 30, 60, 120, 240, 480, 1440, 2880, 4320, 10080, 20160, 43200];

/** A number as a form field holds it: typed, or the text of an input (empty: the default). */
const numberish = z.union([z.number(), z.string().max(20)]).default('');
const longText = z.string().max(20_000).default('');
const names = z.array(z.string().min(1).max(1000)).max(2000).default([]);

export const flowFormSchema = z.object({
  name: z.string().max(200).default(''),
  description: z.string().max(2000).default(''),
  everyone: z.boolean().default(false),
  people: longText,
  groups: longText,
  targets: z
    .array(
      z.object({
        integration: z.string().max(320).default(''),
        /** Resource ids picked from the list. */
        resources: names,
        /** Names and tag=value, comma-separated, as in Slack's modal. */
        selectors: z.string().max(5000).default(''),
        permissions: z.array(z.string().min(1).max(320)).max(200).default([]),
      }),
    )
    .max(100)
    .default([]),
  bundles: z.array(z.string().min(1).max(320)).max(200).default([]),
  steps: z
    .array(
      z.object({
        people: longText,
        groups: longText,
        owners: z.boolean().default(false),
        /** The requester's manager approves (docs/ARCHITECTURE.md, "Flows that use context"). */
        manager: z.boolean().default(false),
        rule: z.enum(['any', 'all', 'quorum']).default('any'),
        quorum: numberish,
      }),
    )
    .max(MAX_APPROVAL_STEPS * 2)
    .default([]),
  timeoutHours: numberish,
  reminderMinutes: numberish,
  /** Empty: no escalation (docs/ARCHITECTURE.md, "Reminders, escalation and digests"). */
  escalateMinutes: numberish,
  /** Emails and groups escalated to; both empty: the admins. */
  escalatePeople: longText,
  escalateGroups: longText,
  /** Empty: no longest duration (then durations offered or indefinite access must say it); absent: 4 hours. */
  maxMinutes: z.union([z.number(), z.string().max(20)]).default(240),
  choices: z.array(z.number().int().positive()).max(50).default([]),
  indefinite: z.boolean().default(false),
  extensionMode: z.enum(['none', 'direct', 'approval']).default('none'),
  extensionCount: numberish,
  requireJustification: z.boolean().default(false),
  requireReason: z.boolean().default(false),
  allowSelfApproval: z.boolean().default(false),
  /** docs/ARCHITECTURE.md, "Break-glass". */
  breakGlass: z.boolean().default(false),
  /** docs/ARCHITECTURE.md, "Asking for someone else"; absent: only themselves. */
  requestFor: z.enum(REQUEST_FOR).default('self'),
  /** docs/ARCHITECTURE.md, "Reconciliation": grant again what was removed outside Latch; absent: only report it. */
  reapplyOnDrift: z.boolean().default(false),
});
export type FlowForm = z.input<typeof flowFormSchema>;
type ParsedForm = z.infer<typeof flowFormSchema>;

/** The form as a new flow starts: Slack's defaults (4 hours, 24 hours to decide, no extensions). */
export function blankFlowForm(): FlowForm {
  return flowToForm(undefined);
}

export function flowToForm(f: Flow | undefined): FlowForm {
  const include = f?.grantees.include ?? [];
  return {
    name: f?.name ?? '',
    description: f?.description ?? '',
    everyone: include.some((p) => p.type === 'everyone'),
    people: include.flatMap((p) => (p.type === 'user' ? [p.id] : [])).join(', '),
    groups: include.flatMap((p) => (p.type === 'group' ? [p.id] : [])).join(', '),
    targets: f
      ? f.targets.map((t) => ({
          integration: t.integration,
          resources: t.include.flatMap((s) => ('id' in s ? [s.id] : [])),
          selectors: t.include
            .flatMap((s) =>
              'id' in s
                ? []
                : 'name' in s
                  ? [s.name]
                  : [
                      Object.entries(s.tags)
                        .map(([k, v]) => `${k}=${v}`)
                        .join(' & '),
                    ],
            )
            .join(', '),
          permissions: t.permissions,
        }))
      : [{ integration: '', resources: [], selectors: '', permissions: [] }],
    bundles: f?.bundles ?? [],
    steps: (f?.approval.steps.length ? f.approval.steps : [undefined]).map((s) => ({
      people: (s?.approvers ?? []).flatMap((a) => (a.type === 'user' ? [a.id] : [])).join(', '),
      // On-call schedules read like the synced groups they are (`pagerduty:Primary`); kept as on-call.
      groups: (s?.approvers ?? [])
        .flatMap((a) => (a.type === 'group' ? [a.id] : a.type === 'on_call' ? [a.schedule] : []))
        .join(', '),
      owners: (s?.approvers ?? []).some((a) => a.type === 'resource_owner'),
      manager: (s?.approvers ?? []).some((a) => a.type === 'manager'),
      rule: s?.rule.type ?? 'any',
      quorum: s?.rule.type === 'quorum' ? String(s.rule.count) : '',
    })),
    timeoutHours: String(Math.round((f?.approval.timeoutMinutes ?? 24 * 60) / 60)),
    reminderMinutes: String(f?.approval.reminderMinutes ?? 60),
    escalateMinutes: f?.approval.escalation ? String(f.approval.escalation.afterMinutes) : '',
    escalatePeople: (f?.approval.escalation?.to ?? [])
      .flatMap((a) => (a.type === 'user' ? [a.id] : []))
      .join(', '),
    escalateGroups: (f?.approval.escalation?.to ?? [])
      .flatMap((a) => (a.type === 'group' ? [a.id] : []))
      .join(', '),
    maxMinutes: f ? (f.duration.maxMinutes === undefined ? '' : String(f.duration.maxMinutes)) : '240',
    choices: f?.duration.choicesMinutes ?? [],
    indefinite: f?.duration.allowIndefinite ?? false,
    extensionMode: f?.extension.mode ?? 'none',
    extensionCount: String(f?.extension.maxCount ?? 1),
    requireJustification: f?.requireJustification ?? false,
    requireReason: f?.approval.requireReason ?? false,
    allowSelfApproval: f?.approval.allowSelfApproval ?? false,
    breakGlass: f?.breakGlass ?? false,
    requestFor: f?.requestFor ?? 'self',
    reapplyOnDrift: f?.reapplyOnDrift ?? false,
  };
}

function onCallBefore(existing: Flow | undefined, step: number): string[] {
  return (existing?.approval.steps[step]?.approvers ?? []).flatMap((a) =>
    a.type === 'on_call' ? [a.schedule] : [],
  );
}

/** What the stored flow has that the form does not edit, said to the admin so nothing is a surprise. */
export function keptFromFlow(f: Flow | undefined): string[] {
  if (!f) return [];
  const out: string[] = [];
  if (f.availability)
    out.push(
      `Requests are only possible ${f.availability.days.join(', ')} ${f.availability.start}–${f.availability.end} (${f.availability.timeZone}); this is kept (change it in the flows file).`,
    );
  if (f.workingHours)
    out.push(
      `Requests are only possible within the requester's working hours, ${describeWorkingHours(f.workingHours)} in their own time zone; this is kept (change it in Slack or the flows file).`,
    );
  if (f.approval.autoApproveWhenOnCall.length)
    out.push(
      `Requests are approved automatically when the requester is on call for ${f.approval.autoApproveWhenOnCall.join(' or ')}; this is kept (change it in Slack or the flows file).`,
    );
  if (f.automatic)
    out.push(
      `Access is granted automatically while people are on call for ${f.automatic.whileOnCall.join(' or ')}; this is kept (change it in the flows file).`,
    );
  if (f.grantees.exclude.length)
    out.push(`${f.grantees.exclude.length} excluded requester(s) are kept (change them in the flows file).`);
  if (f.targets.some((t) => t.exclude.length))
    out.push('Excluded resources of the targets are kept (change them in the flows file).');
  return out;
}

const EMAIL = /^[^\s@,;]+@[^\s@,;]+$/;
const ENTRA_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** "ada@example.com, bob@example.com" (commas, spaces or lines) → the distinct words. */
export function words(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[\s,;]+/)
        .map((w) => w.trim())
        .filter(Boolean),
    ),
  ];
}

/** People by email (the Latch identity in every channel) or Entra object id; lower-cased. */
function people(text: string, field: string, errors: Record<string, string>): string[] {
  const out: string[] = [];
  for (const w of words(text)) {
    if (EMAIL.test(w) || ENTRA_ID.test(w)) out.push(w.toLowerCase());
    else errors[field] ??= `${w} is not an email address.`;
  }
  return out;
}

/** Group names, with or without a leading @ (Slack user group handles, as in Slack's modal). */
function groups(text: string): string[] {
  return words(text)
    .map((w) => w.replace(/^@/, ''))
    .filter(Boolean);
}

/** A whole number from a field, or its default when empty; an error on `field` otherwise. */
function wholeNumber(
  value: number | string,
  range: { min: number; max: number; fallback?: number },
  field: string,
  message: string,
  errors: Record<string, string>,
): number | undefined {
  const text = String(value).trim();
  if (text === '') {
    if (range.fallback === undefined) errors[field] ??= message;
    return range.fallback;
  }
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < range.min || n > range.max) {
    errors[field] ??= message;
    return undefined;
  }
  return n;
}

/** "billing, env=prod" → name and tag selectors (as Slack's parseSelectors; `a=1 & b=2` is one tag set). */
function selectors(text: string): ResourceSelector[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s) => {
      if (!s.includes('=')) return { name: s };
      const tags: Record<string, string> = {};
      for (const part of s.split('&')) {
        const eq = part.indexOf('=');
        if (eq > 0) tags[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
      }
      return Object.keys(tags).length ? { tags } : { name: s };
    });
}

/**
 * The form as the core's FlowInput, or the problems with it by field key (the page's keys: `name`,
 * `targets.0.permissions`, `steps.1.quorum`, ...). `existing` is the stored flow being edited.
 */
export function formToFlowInput(
  form: ParsedForm,
  existing: Flow | undefined,
): { input: FlowInput; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  if (!form.name.trim()) errors.name = 'Give the flow a name.';

  const include: Principal[] = [];
  if (form.everyone) include.push({ type: 'everyone' });
  for (const id of people(form.people, 'grantees', errors)) include.push({ type: 'user', id });
  for (const id of groups(form.groups)) include.push({ type: 'group', id });
  if (include.length === 0) errors.grantees ??= 'Choose who may ask: people, groups or everyone.';

  const targets: FlowInput['targets'] = [];
  form.targets.forEach((t, i) => {
    if (!t.integration) return; // a row with no integration chosen is left out, as in Slack
    if (t.permissions.length === 0) errors[`targets.${i}.permissions`] = 'Choose at least one permission.';
    const before = existing?.targets[i];
    targets.push({
      integration: t.integration,
      include: [...t.resources.map((id) => ({ id })), ...selectors(t.selectors)],
      // Exclusions are not on the form: kept from the same target of the stored flow.
      exclude: before && before.integration === t.integration ? before.exclude : [],
      permissions: [...new Set(t.permissions)],
    });
  });
  if (targets.length === 0 && form.bundles.length === 0)
    errors.targets ??= 'Choose an integration (or at least one bundle).';

  const steps: NonNullable<FlowInput['approval']>['steps'] = [];
  form.steps.forEach((s, i) => {
    const approvers: Approver[] = [
      ...people(s.people, `steps.${i}.approvers`, errors).map((id) => ({ type: 'user' as const, id })),
      ...groups(s.groups).map((id) =>
        onCallBefore(existing, i).includes(id)
          ? { type: 'on_call' as const, schedule: id }
          : { type: 'group' as const, id },
      ),
      ...(s.owners ? [{ type: 'resource_owner' as const }] : []),
      ...(s.manager ? [{ type: 'manager' as const }] : []),
    ];
    // A step nobody is named in is left out: no step at all means approved automatically (Slack's rule).
    if (approvers.length === 0) return;
    if (s.rule === 'quorum') {
      const count = wholeNumber(
        s.quorum,
        { min: 1, max: MAX_APPROVERS_PER_STEP },
        `steps.${i}.quorum`,
        `Give how many must approve: a whole number from 1 to ${MAX_APPROVERS_PER_STEP}.`,
        errors,
      );
      steps.push({ approvers, rule: { type: 'quorum', count: count ?? 1 } });
    } else steps.push({ approvers, rule: { type: s.rule } });
  });
  // The schema's path for a step counts only the steps kept; the page's counts every row.
  const stepRows = form.steps.flatMap((s, i) =>
    words(s.people).length || words(s.groups).length || s.owners || s.manager ? [i] : [],
  );

  const timeoutHours = wholeNumber(
    form.timeoutHours,
    { min: 1, max: 24 * 30, fallback: 24 },
    'timeoutHours',
    'Give a whole number of hours between 1 and 720.',
    errors,
  );
  const reminderMinutes = wholeNumber(
    form.reminderMinutes,
    { min: 0, max: 7 * 24 * 60, fallback: 60 },
    'reminderMinutes',
    'Give a whole number of minutes between 0 (never) and 10080.',
    errors,
  );
  const escalateMinutes =
    String(form.escalateMinutes).trim() === ''
      ? undefined
      : wholeNumber(
          form.escalateMinutes,
          { min: 1, max: 366 * 24 * 60 },
          'escalateMinutes',
          'Give a whole number of minutes, or leave it empty for no escalation.',
          errors,
        );
  const escalateTo: Approver[] = [
    ...people(form.escalatePeople, 'escalateTo', errors).map((id) => ({ type: 'user' as const, id })),
    ...groups(form.escalateGroups).map((id) => ({ type: 'group' as const, id })),
  ];
  const maxMinutes =
    String(form.maxMinutes).trim() === ''
      ? undefined
      : wholeNumber(
          form.maxMinutes,
          { min: 1, max: 366 * 24 * 60 },
          'maxMinutes',
          'Choose a longest duration.',
          errors,
        );
  const extensionCount = wholeNumber(
    form.extensionCount,
    { min: 0, max: 100, fallback: 1 },
    'extensionCount',
    'Give a whole number between 0 and 100.',
    errors,
  );

  const input: FlowInput = {
    name: form.name.trim(),
    description: form.description.trim(),
    enabled: existing?.enabled ?? true,
    grantees: { include, exclude: existing?.grantees.exclude ?? [] },
    targets,
    bundles: [...new Set(form.bundles)],
    approval: {
      steps,
      requireReason: form.requireReason,
      allowSelfApproval: form.allowSelfApproval,
      timeoutMinutes: (timeoutHours ?? 24) * 60,
      reminderMinutes: reminderMinutes ?? 60,
      autoApproveWhenOnCall: existing?.approval.autoApproveWhenOnCall ?? [],
      ...(escalateMinutes !== undefined
        ? { escalation: { afterMinutes: escalateMinutes, to: escalateTo } }
        : {}),
    },
    duration: {
      choicesMinutes: [...new Set(form.choices)].sort((a, b) => a - b),
      ...(maxMinutes !== undefined ? { maxMinutes } : {}),
      allowIndefinite: form.indefinite,
    },
    requireJustification: form.requireJustification,
    ...(existing?.availability ? { availability: existing.availability } : {}),
    ...(existing?.workingHours ? { workingHours: existing.workingHours } : {}),
    ...(existing?.automatic ? { automatic: existing.automatic } : {}),
    extension: { mode: form.extensionMode, maxCount: extensionCount ?? 1 },
    breakGlass: form.breakGlass,
    requestFor: form.requestFor,
    reapplyOnDrift: form.reapplyOnDrift,
  };

  // The core's own schema, for the problems the checks above do not catch, each on its field.
  if (Object.keys(errors).length === 0) {
    const parsed = flowSchema.safeParse(input);
    if (!parsed.success)
      for (const issue of parsed.error.issues) {
        const key = fieldOf(issue.path, stepRows);
        errors[key] ??= issue.message;
      }
  }
  return { input, errors };
}

/**
 * The form field a path of FlowInput belongs to (zod's issue path, or a LatchError's field, which
 * is the path's first part). `stepRows` maps a kept step back to its row on the page.
 */
export function fieldOf(path: ReadonlyArray<PropertyKey>, stepRows: number[] = []): string {
  const [a, b, c, d] = path.map((p) => (typeof p === 'symbol' ? '' : p));
  switch (a) {
    case 'name':
    case 'description':
    case 'bundles':
      return a;
    case 'grantees':
      return 'grantees';
    case 'targets':
      if (typeof b !== 'number') return 'targets';
      if (c === 'permissions' || c === 'integration') return `targets.${b}.${c}`;
      if (c === 'include' || c === 'exclude') return `targets.${b}.resources`;
      return `targets.${b}.integration`;
    case 'approval':
      if (b === 'timeoutMinutes') return 'timeoutHours';
      if (b === 'reminderMinutes') return 'reminderMinutes';
      if (b === 'escalation') return c === 'to' ? 'escalateTo' : 'escalateMinutes';
      if (b === 'steps' && typeof c === 'number') {
        const row = stepRows[c] ?? c;
        return d === 'rule' ? `steps.${row}.quorum` : `steps.${row}.approvers`;
      }
      return 'steps';
    case 'duration':
      if (b === 'choicesMinutes') return 'choices';
      if (b === 'allowIndefinite') return 'indefinite';
      return 'maxMinutes';
    case 'extension':
      return b === 'maxCount' ? 'extensionCount' : 'extensionMode';
    case 'requireJustification':
      return 'requireJustification';
    case 'requestFor':
      return 'requestFor';
    default:
      return 'name';
  }
}

/** One line about a flow for the console (the App Home's words: targets, approval, longest). */
export function flowSummary(f: Flow) {
  const targets = f.targets
    .map(
      (t) =>
        `${t.permissions.join('/')} on ${t.include.length ? `${t.include.length} selected in` : 'all of'} ${t.integration}`,
    )
    .join('; ');
  const approval = f.approval.steps.length
    ? f.approval.steps.map(describeApprovers).join(', then ')
    : 'automatic';
  const choices = f.duration.choicesMinutes;
  const longest = f.duration.maxMinutes ?? (choices.length ? Math.max(...choices) : undefined);
  const duration = longest === undefined ? 'no time limit' : `up to ${formatDuration(longest)}`;
  return {
    id: f.id,
    name: f.name,
    enabled: f.enabled,
    summary: `${targets || 'bundles only'} · approval: ${approval} · ${duration}`,
  };
}
