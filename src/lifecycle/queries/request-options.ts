/**
 * What one person may ask for, channel-neutral (docs/ARCHITECTURE.md, "Queries"): the resources and
 * bundles some flow lets them ask for now (and, when the fallback flow is on, everything else with
 * admins approving), and for a current choice the flow that would decide it, its permissions and
 * durations. Every channel's request form renders this, so two channels never offer differently.
 */
import { describeApprovers } from '../../domain/approval.js';
import { defaultDuration, durationOptions } from '../../domain/duration.js';
import type { Flow, Settings } from '../../domain/flow.js';
import type { Identity } from '../../domain/identity.js';
import {
  ANY,
  FALLBACK_FLOW_ID,
  closedReason,
  eligibleTargets,
  isGrantee,
  evaluateBundleFlows,
  fallbackFlow,
  type EligibleTarget,
} from '../../domain/policy.js';
import type { Resource } from '../../domain/resource.js';
import type { LifecycleContext } from '../context.js';

/** A resource this person may ask for, under the flows that offer it. */
export interface Offer {
  /** `integration|resourceId`: stable and unique; channels encode it as they need. */
  key: string;
  label: string;
  resource: Resource;
  /** Flows that offer it, best first; the fallback flow last. */
  flows: Array<{ flow: Flow; permissions: string[] }>;
}

export interface Offers {
  offers: Offer[];
  /** Bundles some flow lets this person ask for. */
  bundles: string[];
  /** Enabled flows, and the fallback flow last. */
  flows: Flow[];
  /** Why flows that list this person are closed to them now (hours, working hours). */
  closed: string[];
  /**
   * Whom some flow offered here lets this person ask for besides themselves (docs/ARCHITECTURE.md,
   * "Asking for someone else"): forms show a "For someone else" field only then.
   */
  forOthers: Array<'anyone' | 'reports'>;
}

/** What the person has chosen so far. */
export interface RequestChoice {
  /** Offer keys. */
  selected: string[];
  bundle?: string;
  flowId?: string;
  permission?: string;
  duration?: number | null;
  /** Free words (e.g. `/access billing`): pre-select what matches when nothing is selected. */
  words?: string;
  /** Break glass: approve it myself now (docs/ARCHITECTURE.md, "Break-glass"). */
  breakGlass?: boolean;
  /** The email of the person it is for, when not the asker. */
  onBehalfOf?: string;
}

/** The form for a choice: what to offer next, and what was picked. */
export interface RequestOptions {
  /** Some resource or bundle can be asked for at all. */
  anything: boolean;
  selected: Array<{ key: string; label: string }>;
  bundles: string[];
  selectedBundle?: string;
  /** Flows that cover the whole choice, real flows before the fallback. */
  flows: Array<{ id: string; name: string }>;
  selectedFlowId?: string;
  permissions: string[];
  selectedPermission?: string;
  durations: Array<number | null>;
  selectedDuration?: number | null;
  justificationRequired: boolean;
  /** The flow lets the requester break the glass (it needs approval and allows it). */
  breakGlass?: boolean;
  /** Plain sentences: which flow applies, who approves. */
  notes: string[];
  /** Why flows that list this person are closed to them now. */
  closed: string[];
  /** Offers.forOthers: whether (and whom) the form may ask for besides the person. */
  forOthers: Array<'anyone' | 'reports'>;
  /** Sentence for the "For someone else" field, when shown. */
  forOthersHint?: string;
}

export function offerKey(integration: string, resourceId: string): string {
  return `${integration}|${resourceId}`;
}

interface PolicySnapshot {
  flows: Flow[];
  settings: Settings;
  admins: string[];
  catalog: Resource[];
  bundleNames: string[];
}

/**
 * Flows, settings and catalog are the same for everyone: when many people open the form at once
 * they share one read. Cached briefly, and dropped at once when an admin changes anything in this
 * process; a submit is always decided on fresh data by the lifecycle.
 */
const SNAPSHOT_TTL_MS = 2_000;
let snapshot: { key: string; at: number; value: Promise<PolicySnapshot> } | undefined;

function policySnapshot(ctx: LifecycleContext): Promise<PolicySnapshot> {
  const key = `${ctx.db.conn.id}:${ctx.policyVersion}`;
  if (snapshot && snapshot.key === key && Date.now() - snapshot.at < SNAPSHOT_TTL_MS) return snapshot.value;
  const value = (async () => {
    const [flows, settings, catalog, bundleNames] = await Promise.all([
      ctx.flows(),
      ctx.settings(),
      ctx.catalog(),
      ctx.bundleNames(),
    ]);
    return { flows, settings, admins: await ctx.admins(settings), catalog, bundleNames };
  })();
  snapshot = { key, at: Date.now(), value };
  value.catch(() => {
    if (snapshot?.value === value) snapshot = undefined;
  });
  return value;
}

export async function offersFor(ctx: LifecycleContext, who: Identity): Promise<Offers> {
  const now = ctx.now();
  const { flows, settings: stored, admins, catalog, bundleNames } = await policySnapshot(ctx);
  const enabled = flows.filter((f) => f.enabled);
  const byKey = new Map<string, Offer>();
  const add = (t: EligibleTarget) => {
    const key = offerKey(t.resource.integration, t.resource.id);
    let offer = byKey.get(key);
    if (!offer) {
      offer = {
        key,
        label: `${t.resource.name} · ${t.resource.integration}`,
        resource: t.resource,
        flows: [],
      };
      byKey.set(key, offer);
    }
    offer.flows.push({ flow: t.flow, permissions: t.permissions });
  };
  for (const t of eligibleTargets(enabled, who, catalog, now)) add(t);
  const settings = { ...stored, admins };
  const fallback = fallbackFlow(settings);
  if (fallback.enabled && settings.admins.length + settings.fallback.approvers.length > 0) {
    for (const resource of catalog) add({ flow: fallback, resource, permissions: resource.permissions });
  }
  const bundles = bundleNames.filter((name) =>
    evaluateBundleFlows(enabled, who, name, now).some((d) => d.allowed),
  );
  const closed = enabled.flatMap((f) => {
    if (f.id === FALLBACK_FLOW_ID || !isGrantee(f, who)) return [];
    const why = closedReason(f, who, now);
    return why ? [`${why}.`] : [];
  });
  const offered = new Set([...byKey.values()].flatMap((o) => o.flows.map((f) => f.flow)));
  for (const f of enabled)
    if (f.bundles.some((b) => bundles.includes(b)) && isGrantee(f, who)) offered.add(f);
  const forOthers = (['anyone', 'reports'] as const).filter((mode) =>
    [...offered].some((f) => f.requestFor === mode),
  );
  return { offers: [...byKey.values()], bundles, flows: [...enabled, fallback], closed, forOthers };
}

/** Offers matching a search, those covered by a real flow first, then by name. */
export function searchOffers(offers: Offer[], query: string, limit = 100): Offer[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = offers.filter((o) => words.every((w) => o.label.toLowerCase().includes(w)));
  const viaFlow = (o: Offer) => (o.flows.some((f) => f.flow.id !== FALLBACK_FLOW_ID) ? 0 : 1);
  hits.sort((a, b) => viaFlow(a) - viaFlow(b) || a.label.localeCompare(b.label));
  return hits.slice(0, limit);
}

/** The form for `choice`: the flows that cover it, their common permissions, durations and notes. */
export function requestOptions(all: Offers, choice: RequestChoice): RequestOptions {
  let selectedKeys = choice.selected;
  if (selectedKeys.length === 0 && choice.words && !choice.bundle) {
    selectedKeys = searchOffers(all.offers, choice.words, 5)
      .filter(
        (o, _i, hits) => hits.length <= 3 || o.label.toLowerCase().startsWith(choice.words!.toLowerCase()),
      )
      .map((o) => o.key);
  }
  const selected = selectedKeys
    .map((k) => all.offers.find((o) => o.key === k))
    .filter((o): o is Offer => o !== undefined);

  // Flows that cover every selected resource (or list the bundle), real flows before the fallback.
  let candidates: Flow[];
  let permissions: string[] = [];
  if (choice.bundle) {
    candidates = all.flows.filter((f) => f.bundles.includes(choice.bundle!));
    if (candidates.length === 0) candidates = all.flows.filter((f) => f.id === FALLBACK_FLOW_ID);
  } else if (selected.length > 0) {
    const ids = selected.map((o) => new Set(o.flows.map((f) => f.flow.id)));
    candidates = all.flows.filter((f) => ids.every((s) => s.has(f.id)));
  } else {
    candidates = [];
  }
  const flow = candidates.find((f) => f.id === choice.flowId) ?? candidates[0];
  if (flow && !choice.bundle) {
    // Permissions offered on every selected resource under the chosen flow.
    const per = selected.map(
      (o) => new Set(o.flows.find((f) => f.flow.id === flow.id)?.permissions.filter((p) => p !== ANY) ?? []),
    );
    permissions = [...(per[0] ?? [])].filter((p) => per.every((s) => s.has(p)));
  }
  const notes: string[] = [];
  if (flow) {
    const approvers = flow.approval.steps.map(describeApprovers).join(', then ');
    notes.push(
      flow.id === FALLBACK_FLOW_ID
        ? `No access flow covers this, so the fallback flow applies: ${approvers || 'admins'} approve, for at most ${flow.duration.maxMinutes} minutes.`
        : `${flow.name}: ${approvers ? `approved by ${approvers}` : 'approved automatically'}.`,
    );
  } else if (selected.length > 1) {
    notes.push('No single access flow covers all of these; request them separately.');
  }
  return {
    anything: all.offers.length > 0 || all.bundles.length > 0,
    selected: selected.map((o) => ({ key: o.key, label: o.label })),
    bundles: all.bundles,
    selectedBundle: choice.bundle,
    flows: candidates.map((f) => ({ id: f.id, name: f.name })),
    selectedFlowId: flow?.id,
    permissions,
    selectedPermission: choice.permission,
    durations: flow ? durationOptions(flow.duration) : [],
    selectedDuration:
      choice.duration !== undefined ? choice.duration : flow ? defaultDuration(flow.duration) : undefined,
    justificationRequired: flow?.requireJustification ?? false,
    breakGlass: Boolean(flow?.breakGlass && flow.approval.steps.length > 0),
    notes,
    closed: all.closed,
    forOthers: all.forOthers,
    ...(all.forOthers.length > 0 ? { forOthersHint: forOthersHint(all.forOthers, flow) } : {}),
  };
}

/** What the "For someone else" field says: whom the chosen flow (or, before a choice, some flow) allows. */
function forOthersHint(modes: Array<'anyone' | 'reports'>, flow: Flow | undefined): string {
  const mode = flow ? (flow.requestFor ?? 'self') : modes.includes('anyone') ? 'anyone' : 'reports';
  if (flow && mode === 'self') return `${flow.name} only lets you ask for yourself.`;
  const whom = mode === 'anyone' ? 'anyone who may have it' : 'one of your direct reports';
  return `Leave empty to ask for yourself, or pick ${whom}: the access is theirs, they are told and can decline.`;
}

/** A field of any channel's request form: where a refusal is shown. */
export type RequestField =
  'targets' | 'bundle' | 'flow' | 'permission' | 'duration' | 'justification' | 'breakGlass' | 'onBehalfOf';
export type FieldErrors = Partial<Record<RequestField, string>>;

/** What to submit for a checked choice: the core's input, without its source. */
export type PreparedRequest =
  | { errors: FieldErrors }
  | {
      input: {
        targets?: Array<{ integration: string; resourceId: string; permission: string }>;
        bundle?: string;
        flowId?: string;
        durationMinutes: number | null;
        justification: string;
        breakGlass?: boolean;
        onBehalfOf?: string;
      };
    };

/**
 * The checks every channel's request form makes before submitting, so Slack and Teams refuse the
 * same things with the same words. `shown` is the fields the form had when it was submitted: a
 * refusal about a field the form did not show goes on the resources (or bundle) field instead.
 */
export function prepareRequest(
  all: Offers,
  choice: RequestChoice & { justification?: string },
  shown: ReadonlySet<RequestField>,
): PreparedRequest {
  const errors: FieldErrors = {};
  const choiceField: RequestField = shown.has('targets') ? 'targets' : 'bundle';
  const { selected, bundle, permission, duration } = choice;
  if (selected.length === 0 && !bundle) errors[choiceField] = 'Choose at least one resource or a bundle.';
  if (selected.length > 0 && bundle) errors.bundle = 'Choose resources or a bundle, not both.';
  if (selected.length > 0 && !permission && !errors.targets) {
    if (shown.has('permission')) errors.permission = 'Choose a permission.';
    else
      errors[choiceField] =
        'No single access flow offers a common permission on all of these; request them separately.';
  }
  if (duration === undefined) {
    if (shown.has('duration')) errors.duration = 'Choose a duration.';
    else if (!errors.targets && !errors.bundle) errors[choiceField] = 'No access flow covers this choice.';
  }
  // The core refuses it too; here the form says so where the reason is typed.
  if (choice.breakGlass && !choice.justification?.trim())
    errors.justification = 'Breaking the glass needs a reason: say what the emergency is.';
  if (Object.keys(errors).length > 0) return { errors };

  const offers = selected.map((key) => all.offers.find((o) => o.key === key));
  if (offers.some((o) => o === undefined))
    return { errors: { [choiceField]: 'One of these is no longer offered to you; choose again.' } };
  return {
    input: {
      ...(bundle
        ? { bundle }
        : {
            targets: (offers as Offer[]).map((o) => ({
              integration: o.resource.integration,
              resourceId: o.resource.id,
              permission: permission!,
            })),
          }),
      flowId: choice.flowId,
      durationMinutes: duration ?? null,
      justification: choice.justification ?? '',
      ...(choice.breakGlass ? { breakGlass: true } : {}),
      ...(choice.onBehalfOf ? { onBehalfOf: choice.onBehalfOf } : {}),
    },
  };
}

/** The form field a refusal from the core belongs on (`LatchError.field`), among those shown. */
export function refusalField(field: string | undefined, shown: ReadonlySet<RequestField>): RequestField {
  if (field && shown.has(field as RequestField)) return field as RequestField;
  return shown.has('targets') ? 'targets' : 'bundle';
}
