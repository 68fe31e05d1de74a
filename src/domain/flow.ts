/**
 * Access Flow policy model. The zod schemas are the single definition: the admin console, the
 * YAML file and the API all validate through them, and the TypeScript types are inferred from them.
 */
import { z } from 'zod';
import { MAX_APPROVAL_STEPS, MAX_APPROVERS_PER_STEP, MAX_MINUTES } from './limits.js';

/** An email, a group name or an id: long enough for any of them, short enough to bound storage. */
const name = z.string().min(1).max(320);
const minutes = z.number().int().max(MAX_MINUTES, 'at most a year');

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const;

/** Users are identified by (lower-case) email; groups by their name in the identity source. */
export const principalSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('user'), id: name }),
  z.object({ type: z.literal('group'), id: name }),
  z.object({ type: z.literal('everyone') }),
]);
export type Principal = z.infer<typeof principalSchema>;

/** An on-call schedule synced by a context source, named `<source>:<schedule>`. */
const schedule = name.refine((s) => s.indexOf(':') > 0, 'name the schedule as <source>:<schedule>');

export const approverSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('user'), id: name }),
  z.object({ type: z.literal('group'), id: name }),
  z.object({ type: z.literal('resource_owner') }),
  /** Whoever is on call for the schedule when the step opens (and when they decide). */
  z.object({ type: z.literal('on_call'), schedule }),
  /**
   * The requester's manager, as a context source synced it when they asked (docs/ARCHITECTURE.md,
   * "Flows that use context").
   */
  z.object({ type: z.literal('manager') }),
]);
export type Approver = z.infer<typeof approverSchema>;

/** One way to pick resources inside an integration. An empty include list means every resource. */
export const resourceSelectorSchema = z.union([
  z.object({ id: z.string().min(1) }).strict(),
  z.object({ name: z.string().min(1) }).strict(),
  z
    .object({
      tags: z.record(z.string(), z.string()).refine((t) => Object.keys(t).length > 0, 'at least one tag'),
    })
    .strict(),
]);
export type ResourceSelector = z.infer<typeof resourceSelectorSchema>;

export const targetSpecSchema = z.object({
  /** Integration name. */
  integration: name,
  include: z.array(resourceSelectorSchema).max(500).default([]),
  exclude: z.array(resourceSelectorSchema).max(500).default([]),
  permissions: z.array(name).min(1).max(200),
});
export type TargetSpec = z.infer<typeof targetSpecSchema>;

export const approvalRuleSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('any') }),
  z.object({ type: z.literal('all') }),
  z.object({ type: z.literal('quorum'), count: z.number().int().min(1).max(MAX_APPROVERS_PER_STEP) }),
]);
export type ApprovalRule = z.infer<typeof approvalRuleSchema>;

export const approvalStepSchema = z
  .object({
    approvers: z
      .array(approverSchema)
      .min(1)
      .max(
        MAX_APPROVERS_PER_STEP,
        `at most ${MAX_APPROVERS_PER_STEP} approvers a step; use a group for more`,
      ),
    rule: approvalRuleSchema.default({ type: 'any' }),
  })
  .superRefine((step, ctx) => {
    // With only named people the quorum is checkable now; groups and owners are known at request time.
    if (step.rule.type !== 'quorum' || step.approvers.some((a) => a.type !== 'user')) return;
    const people = new Set(step.approvers.map((a) => (a.type === 'user' ? a.id.toLowerCase() : ''))).size;
    if (step.rule.count > people)
      ctx.addIssue({
        code: 'custom',
        path: ['rule', 'count'],
        message: `a quorum of ${step.rule.count} can never be reached: this step names ${people} approver${people === 1 ? '' : 's'}`,
      });
  });
export type ApprovalStep = z.infer<typeof approvalStepSchema>;

/**
 * Who decides a step nobody decided in time (docs/ARCHITECTURE.md, "Reminders, escalation and
 * digests"): after `afterMinutes` at a step, `to` may decide it too (alone, whatever the step's
 * rule). An empty `to` means the admins.
 */
export const escalationSchema = z.object({
  afterMinutes: minutes.min(1),
  to: z
    .array(approverSchema)
    .max(
      MAX_APPROVERS_PER_STEP,
      `at most ${MAX_APPROVERS_PER_STEP} escalation approvers; use a group for more`,
    )
    .default([]),
});
export type Escalation = z.infer<typeof escalationSchema>;

export const approvalSchema = z.object({
  /** No steps: requests under this flow are approved automatically. */
  steps: z.array(approvalStepSchema).max(MAX_APPROVAL_STEPS).default([]),
  requireReason: z.boolean().default(false),
  allowSelfApproval: z.boolean().default(false),
  /** Undecided requests time out after this long. */
  timeoutMinutes: minutes.min(1).default(24 * 60),
  /** The first reminder comes this long after a step opens, each next one twice as late (0 = never). */
  reminderMinutes: minutes.min(0).default(60),
  /**
   * Approved automatically when the requester is on call for one of these schedules at the time
   * they ask; otherwise the steps decide (docs/ARCHITECTURE.md, "Flows that use context").
   */
  autoApproveWhenOnCall: z.array(schedule).max(20).default([]),
  /** Absent: no escalation. Must come before the time-out (checked by flowSchema). */
  escalation: escalationSchema.optional(),
});
export type ApprovalPolicy = z.infer<typeof approvalSchema>;

export const durationPolicySchema = z
  .object({
    /** Durations offered to the requester, in minutes. Empty: any duration up to the maximum. */
    choicesMinutes: z.array(minutes.min(1)).max(50).default([]),
    maxMinutes: minutes.min(1).optional(),
    allowIndefinite: z.boolean().default(false),
  })
  .refine((d) => d.allowIndefinite || d.maxMinutes !== undefined || d.choicesMinutes.length > 0, {
    message: 'set maxMinutes, choicesMinutes or allowIndefinite',
  })
  .refine((d) => d.maxMinutes === undefined || d.choicesMinutes.every((c) => c <= d.maxMinutes!), {
    message: 'every choice must be within maxMinutes',
    path: ['choicesMinutes'],
  });
export type DurationPolicy = z.infer<typeof durationPolicySchema>;

const hhmm = z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM (24-hour)');
export const availabilitySchema = z.object({
  timeZone: z.string().refine((tz) => isValidTimeZone(tz), 'unknown IANA time zone'),
  days: z.array(z.enum(WEEKDAYS)).min(1),
  start: hhmm,
  end: hhmm,
});
export type Availability = z.infer<typeof availabilitySchema>;

/** Hours in the requester's own time zone (their chat profile's), the same for everyone's clock. */
export const workingHoursSchema = availabilitySchema.omit({ timeZone: true });
export type WorkingHours = z.infer<typeof workingHoursSchema>;

/**
 * Access granted without a request while the person is on call for one of the schedules, and
 * revoked when they no longer are (docs/ARCHITECTURE.md, "Automatic grants").
 */
export const automaticSchema = z.object({
  whileOnCall: z.array(schedule).min(1).max(20),
  targets: z
    .array(z.object({ integration: name, resource: z.string().min(1).max(1000), permission: name }))
    .min(1)
    .max(50),
});
export type AutomaticGrants = z.infer<typeof automaticSchema>;

export const extensionPolicySchema = z.object({
  mode: z.enum(['none', 'direct', 'approval']).default('none'),
  maxCount: z.number().int().min(0).max(100).default(1),
});
export type ExtensionPolicy = z.infer<typeof extensionPolicySchema>;

/** Whom a request under a flow may be for (flowSchema.requestFor). */
export const REQUEST_FOR = ['self', 'anyone', 'reports'] as const;
export type RequestFor = (typeof REQUEST_FOR)[number];

export const flowSchema = z
  .object({
    name: z.string().min(1).max(80),
    description: z.string().max(500).default(''),
    enabled: z.boolean().default(true),
    grantees: z.object({
      include: z.array(principalSchema).min(1).max(1000),
      exclude: z.array(principalSchema).max(1000).default([]),
    }),
    targets: z.array(targetSpecSchema).max(100).default([]),
    /** Names of Access Bundles that may be requested under this flow. */
    bundles: z.array(name).max(200).default([]),
    approval: approvalSchema.default({
      steps: [],
      requireReason: false,
      allowSelfApproval: false,
      timeoutMinutes: 24 * 60,
      reminderMinutes: 60,
      autoApproveWhenOnCall: [],
    }),
    duration: durationPolicySchema,
    requireJustification: z.boolean().default(false),
    availability: availabilitySchema.optional(),
    /** Requests only within these hours of the requester's own time zone. */
    workingHours: workingHoursSchema.optional(),
    automatic: automaticSchema.optional(),
    extension: extensionPolicySchema.default({ mode: 'none', maxCount: 1 }),
    /**
     * Break-glass (docs/ARCHITECTURE.md, "Break-glass"): a requester may approve their own request
     * at once in an emergency, with a reason; every admin is told and an admin must review it.
     */
    breakGlass: z.boolean().default(false),
    /**
     * Whom a grantee may ask for (docs/ARCHITECTURE.md, "Asking for someone else"): only
     * themselves, any other grantee of the flow, or their direct reports (from a context source).
     */
    requestFor: z.enum(REQUEST_FOR).default('self'),
    /**
     * When reconciliation finds a grant of this flow missing on its system: grant it again (true),
     * or only report it (docs/ARCHITECTURE.md, "Reconciliation").
     */
    reapplyOnDrift: z.boolean().default(false),
  })
  .refine((f) => f.targets.length > 0 || f.bundles.length > 0, {
    message: 'a flow needs at least one target or bundle',
    path: ['targets'],
  })
  .refine((f) => f.approval.autoApproveWhenOnCall.length === 0 || f.approval.steps.length > 0, {
    message:
      'add an approval step for requesters who are not on call (without one, every request is approved anyway)',
    path: ['approval', 'autoApproveWhenOnCall'],
  })
  .superRefine((f, ctx) => {
    const e = f.approval.escalation;
    if (e && e.afterMinutes >= f.approval.timeoutMinutes)
      ctx.addIssue({
        code: 'custom',
        path: ['approval', 'escalation', 'afterMinutes'],
        message: `escalation must come before the time-out: escalate after less than ${f.approval.timeoutMinutes} minutes`,
      });
  });
export type FlowInput = z.input<typeof flowSchema>;
export type FlowDefinition = z.infer<typeof flowSchema>;
/** A stored flow: the definition plus its identity. */
export type Flow = FlowDefinition & { id: string };

export const bundleSchema = z.object({
  name: z.string().min(1).max(80),
  description: z.string().max(500).default(''),
  targets: z
    .array(
      z.object({
        integration: name,
        resource: z.string().min(1).max(1000),
        permission: name,
      }),
    )
    .min(1)
    .max(200),
});
export type BundleDefinition = z.infer<typeof bundleSchema>;

/** Settings an admin controls, including the built-in fallback flow. */
export const settingsSchema = z.object({
  admins: z.array(name).max(1000).default([]),
  fallback: z
    .object({
      enabled: z.boolean().default(true),
      /** Empty: the admins approve. */
      approvers: z.array(approverSchema).max(MAX_APPROVERS_PER_STEP).default([]),
      maxMinutes: z
        .number()
        .int()
        .min(1)
        .max(4 * 60)
        .default(4 * 60),
    })
    .default({ enabled: true, approvers: [], maxMinutes: 240 }),
  expiryWarningMinutes: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 60)
    .default(15),
  /** Tightens every flow's extension rule: `flow` keeps it, `approval` needs an approver, `never` forbids. */
  selfExtension: z.enum(['flow', 'approval', 'never']).default('flow'),
  /** Slack channel id that receives a line for every lifecycle event. */
  auditChannel: z.string().max(255).optional(),
});
export type Settings = z.infer<typeof settingsSchema>;

/**
 * A copy without null or undefined object fields, at any depth. What is stored must not carry them:
 * MongoDB turns an undefined field into null, and the schemas' optional fields do not accept null.
 */
export function withoutNulls<T>(value: T): T {
  if (Array.isArray(value)) return value.map(withoutNulls) as T;
  if (value === null || typeof value !== 'object' || value instanceof Date) return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== null && v !== undefined)
      .map(([k, v]) => [k, withoutNulls(v)]),
  ) as T;
}

/** Optional settings an admin can clear; cleared means absent, never null. */
const CLEARABLE_SETTINGS = ['auditChannel'] as const;

/**
 * Settings as stored, made whole: empty optional fields are dropped, and a field that does not
 * parse (written by an older version, or by hand) falls back to its default instead of making
 * every read fail. `repaired` names what was dropped, so the caller can say so.
 */
export function parseStoredSettings(raw: unknown): { settings: Settings; repaired: string[] } {
  const isObject = raw !== null && typeof raw === 'object' && !Array.isArray(raw);
  const value: Record<string, unknown> = isObject ? { ...(raw as Record<string, unknown>) } : {};
  const repaired: string[] = isObject || raw === undefined || raw === null ? [] : ['(not an object)'];
  for (const key of CLEARABLE_SETTINGS) {
    if (key in value && (value[key] === null || value[key] === undefined || value[key] === ''))
      delete value[key];
  }
  // Each round drops the top-level fields zod complains about; there are only a handful of fields.
  for (let round = 0; round < 10; round++) {
    const parsed = settingsSchema.safeParse(value);
    if (parsed.success) return { settings: parsed.data, repaired };
    for (const issue of parsed.error.issues) {
      const key = String(issue.path[0] ?? '');
      if (key && key in value) {
        repaired.push(`${issue.path.join('.')}: ${issue.message}`);
        delete value[key];
      }
    }
  }
  return { settings: settingsSchema.parse({}), repaired: [...repaired, '(all settings)'] };
}

/** A settings object as it should be stored: no null or undefined fields. */
export function storableSettings(settings: Settings): Settings {
  return JSON.parse(JSON.stringify(settings, (_k, v: unknown) => (v === null ? undefined : v))) as Settings;
}

export function isValidTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}
