/**
 * What the request modal offers to one person: the resources and bundles some flow lets them ask
 * for now (and, when the fallback flow is on, everything else with admins approving), and for the
 * current choice the permissions and durations of the flow that would decide it.
 */
import type { RequestForm, ResourceChoice } from '../../../blocks/slack/request-modal.js';
import { encodeValue } from '../../../blocks/slack/text.js';
import { describeApprovers } from '../../domain/approval.js';
import { defaultDuration, durationOptions } from '../../domain/duration.js';
import type { Flow } from '../../domain/flow.js';
import type { Identity } from '../../domain/identity.js';
import {
  ANY,
  FALLBACK_FLOW_ID,
  eligibleTargets,
  evaluateBundleFlows,
  fallbackFlow,
  type EligibleTarget,
} from '../../domain/policy.js';
import type { Resource } from '../../domain/resource.js';
import type { LifecycleContext } from '../../lifecycle/context.js';

export interface FormState {
  selected: string[];
  bundle?: string;
  flowId?: string;
  permission?: string;
  duration?: number | null;
  /** /access <words>: pre-selects what matches. */
  words?: string;
}

export interface Offer {
  value: string;
  label: string;
  resource: Resource;
  /** Flows that offer it, best first; the fallback flow last. */
  flows: Array<{ flow: Flow; permissions: string[] }>;
}

/** An offer's option value; long resource ids travel as a hash (see encodeValue). */
export function encodeTarget(integration: string, resourceId: string): string {
  return encodeValue(`${integration}|${resourceId}`);
}

interface PolicySnapshot {
  flows: Flow[];
  settings: Awaited<ReturnType<LifecycleContext['settings']>>;
  admins: string[];
  catalog: Resource[];
  bundleNames: string[];
}

/**
 * Flows, settings and catalog are the same for everyone: when many people open the form at once
 * they share one read. Cached briefly, and dropped at once when an admin changes anything in this
 * process; the submit itself is always decided on fresh data by the lifecycle.
 */
const SNAPSHOT_TTL_MS = 2_000;
let snapshot: { key: string; at: number; value: Promise<PolicySnapshot> } | undefined;

function policySnapshot(ctx: LifecycleContext): Promise<PolicySnapshot> {
  const key = `${ctx.db.conn.id}:${ctx.policyVersion}`;
  if (snapshot && snapshot.key === key && Date.now() - snapshot.at < SNAPSHOT_TTL_MS) return snapshot.value;
  const value = (async () => {
    const [flows, settings, catalog, bundleDocs] = await Promise.all([
      ctx.flows(),
      ctx.settings(),
      ctx.catalog(),
      ctx.db.models.Bundle.find({}, { name: 1 }).lean(),
    ]);
    return {
      flows,
      settings,
      admins: await ctx.admins(settings),
      catalog,
      bundleNames: bundleDocs.map((b) => b.name as string),
    };
  })();
  snapshot = { key, at: Date.now(), value };
  value.catch(() => {
    if (snapshot?.value === value) snapshot = undefined;
  });
  return value;
}

export async function offersFor(
  ctx: LifecycleContext,
  who: Identity,
): Promise<{ offers: Offer[]; bundles: string[]; flows: Flow[] }> {
  const now = ctx.now();
  const { flows, settings: stored, admins, catalog, bundleNames } = await policySnapshot(ctx);
  const enabled = flows.filter((f) => f.enabled);
  const byKey = new Map<string, Offer>();
  const add = (t: EligibleTarget) => {
    const value = encodeTarget(t.resource.integration, t.resource.id);
    let offer = byKey.get(value);
    if (!offer) {
      offer = {
        value,
        label: `${t.resource.name} · ${t.resource.integration}`,
        resource: t.resource,
        flows: [],
      };
      byKey.set(value, offer);
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
  return { offers: [...byKey.values()], bundles, flows: [...enabled, fallback] };
}

/** Offers matching a search, those covered by a real flow first, then by name. */
export function searchOffers(offers: Offer[], query: string, limit = 100): Offer[] {
  const words = query.toLowerCase().split(/\s+/).filter(Boolean);
  const hits = offers.filter((o) => words.every((w) => o.label.toLowerCase().includes(w)));
  const viaFlow = (o: Offer) => (o.flows.some((f) => f.flow.id !== FALLBACK_FLOW_ID) ? 0 : 1);
  hits.sort((a, b) => viaFlow(a) - viaFlow(b) || a.label.localeCompare(b.label));
  return hits.slice(0, limit);
}

export function buildForm(
  all: { offers: Offer[]; bundles: string[]; flows: Flow[] },
  state: FormState,
  metadata: string,
): RequestForm {
  let selectedValues = state.selected;
  if (selectedValues.length === 0 && state.words && !state.bundle) {
    selectedValues = searchOffers(all.offers, state.words, 5)
      .filter(
        (o, _i, hits) => hits.length <= 3 || o.label.toLowerCase().startsWith(state.words!.toLowerCase()),
      )
      .map((o) => o.value);
  }
  const selected = selectedValues
    .map((v) => all.offers.find((o) => o.value === v))
    .filter((o): o is Offer => o !== undefined);

  // Flows that cover every selected resource (or list the bundle), real flows before the fallback.
  let candidates: Flow[];
  let permissions: string[] = [];
  if (state.bundle) {
    candidates = all.flows.filter((f) => f.bundles.includes(state.bundle!));
    if (candidates.length === 0) candidates = all.flows.filter((f) => f.id === FALLBACK_FLOW_ID);
  } else if (selected.length > 0) {
    const ids = selected.map((o) => new Set(o.flows.map((f) => f.flow.id)));
    candidates = all.flows.filter((f) => ids.every((s) => s.has(f.id)));
  } else {
    candidates = [];
  }
  const flow = candidates.find((f) => f.id === state.flowId) ?? candidates[0];
  if (flow && !state.bundle) {
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
  const choices: ResourceChoice[] = selected.map((o) => ({ value: o.value, label: o.label }));
  return {
    anything: all.offers.length > 0 || all.bundles.length > 0,
    selected: choices,
    bundles: all.bundles.map((name) => ({ name, description: '' })),
    selectedBundle: state.bundle,
    flows: candidates.map((f) => ({ id: f.id, name: f.name })),
    selectedFlowId: flow?.id,
    permissions,
    selectedPermission: state.permission,
    durations: flow ? durationOptions(flow.duration) : [],
    selectedDuration:
      state.duration !== undefined ? state.duration : flow ? defaultDuration(flow.duration) : undefined,
    justificationRequired: flow?.requireJustification ?? false,
    notes,
    privateMetadata: metadata,
  };
}
