/**
 * Which flow, if any, lets someone ask for a target. Reason texts are shown to the requester, so
 * they name the flow and what is missing.
 */
import { DateTime } from 'luxon';
import { checkAvailability, describeWorkingHours } from './availability.js';
import { describeApprovers } from './approval.js';
import type {
  Approver,
  BundleDefinition,
  Flow,
  Principal,
  ResourceSelector,
  Settings,
  TargetSpec,
} from './flow.js';
import { normalizeEmail, type Identity } from './identity.js';
import type { Resource } from './resource.js';

/** Id of the built-in fallback flow; never stored, always built from the settings. */
export const FALLBACK_FLOW_ID = 'fallback';
/**
 * Wildcard for TargetSpec.integration and TargetSpec.permissions: every integration / every
 * permission the resource supports. The fallback flow uses it so that it stays a plain Flow.
 */
export const ANY = '*';

export function principalMatches(p: Principal, who: Identity): boolean {
  switch (p.type) {
    case 'user':
      return normalizeEmail(p.id) === normalizeEmail(who.id);
    case 'group':
      return who.groups.includes(p.id);
    case 'everyone':
      return true;
  }
}

export function isGrantee(flow: Flow, who: Identity): boolean {
  const { include, exclude } = flow.grantees;
  return include.some((p) => principalMatches(p, who)) && !exclude.some((p) => principalMatches(p, who));
}

/**
 * May this flow approve `who`'s request automatically? Not when they are its grantee only through
 * groups of a stale context source (docs/ARCHITECTURE.md, "Context sources"): membership Latch
 * cannot vouch for still lets them ask, but a person decides.
 */
export function trustsAutoApproval(flow: Flow, who: Identity): boolean {
  if (flow.approval.steps.length > 0 && flow.approval.autoApproveWhenOnCall.length === 0) return true;
  const stale = who.staleGroups ?? [];
  if (stale.length === 0) return true;
  return isGrantee(flow, { ...who, groups: who.groups.filter((g) => !stale.includes(g)) });
}

/** Where a request goes and why: the sentence the requester and the approvers are shown. */
export interface Route {
  auto: boolean;
  reason: string;
  /** The flow's auto-approval schedules the requester is on call for now. */
  onCall: string[];
}

/**
 * Approved automatically, or asked of the approvers (docs/ARCHITECTURE.md, "Flows that use
 * context"). A schedule from a stale source never approves by itself: the rota Latch holds may be
 * out of date, so a person decides.
 */
export function routeRequest(flow: Flow, who: Identity): Route {
  const steps = flow.approval.steps;
  if (steps.length === 0) return { auto: true, reason: `${flow.name} needs no approval`, onCall: [] };
  const asks = `${flow.name} asks ${describeApprovers(steps[0]!)} to approve${steps.length > 1 ? ` (step 1 of ${steps.length})` : ''}`;
  const schedules = flow.approval.autoApproveWhenOnCall;
  if (schedules.length === 0) return { auto: false, reason: asks, onCall: [] };
  const onCall = schedules.filter((s) => who.groups.includes(s));
  const trusted = onCall.filter((s) => !(who.staleGroups ?? []).includes(s));
  if (trusted.length > 0)
    return { auto: true, reason: `on call for ${trusted.join(', ')}, so approved automatically`, onCall };
  if (onCall.length > 0)
    return {
      auto: false,
      reason: `on call for ${onCall.join(', ')}, but that rota has not synced recently, so ${asks}`,
      onCall,
    };
  return { auto: false, reason: `not on call for ${schedules.join(' or ')}, so ${asks}`, onCall };
}

export function selectorMatches(sel: ResourceSelector, r: Resource): boolean {
  if ('id' in sel) return r.id === sel.id;
  if ('name' in sel) return r.name === sel.name;
  return Object.entries(sel.tags).every(([k, v]) => r.tags[k] === v);
}

function specCovers(spec: TargetSpec, r: Resource): boolean {
  if (spec.integration !== ANY && r.integration !== spec.integration) return false;
  if (spec.include.length > 0 && !spec.include.some((s) => selectorMatches(s, r))) return false;
  return !spec.exclude.some((s) => selectorMatches(s, r));
}

/** Resources of `spec.integration` that the spec covers: include (empty = all) minus exclude. */
export function resourcesCoveredBy(spec: TargetSpec, catalog: Resource[]): Resource[] {
  return catalog.filter((r) => specCovers(spec, r));
}

/** Permissions the spec offers on a resource it covers; limited to what the resource supports. */
function offeredBy(spec: TargetSpec, r: Resource): string[] {
  return spec.permissions.includes(ANY)
    ? [...r.permissions]
    : spec.permissions.filter((p) => r.permissions.includes(p));
}

export interface TargetRef {
  integration: string;
  resourceId: string;
  permission: string;
}
export type FlowDecision = { flow: Flow; allowed: true } | { flow: Flow; allowed: false; reason: string };

function findResource(target: TargetRef, catalog: Resource[]): Resource | undefined {
  return catalog.find((r) => r.integration === target.integration && r.id === target.resourceId);
}

function describeTarget(target: TargetRef, resource: Resource | undefined): string {
  return `${resource?.name ?? target.resourceId} in ${target.integration}`;
}

/** Checked before coverage, so a non-grantee is not told what the flow covers. */
function gate(flow: Flow, who: Identity): string | undefined {
  if (!flow.enabled) return `Flow ${flow.name} is disabled`;
  if (!isGrantee(flow, who)) return `You are not a grantee of flow ${flow.name}`;
  return undefined;
}

/** Why the flow is closed to `who` at `now`: its own hours, or the requester's working hours. */
export function closedReason(flow: Flow, who: Identity, now: Date): string | undefined {
  const av = checkAvailability(flow.availability, now);
  if (!av.ok) return `Flow ${flow.name} is only ${av.reason}`;
  if (!flow.workingHours) return undefined;
  const hours = describeWorkingHours(flow.workingHours);
  if (!who.timeZone)
    return `Flow ${flow.name} is only open within your working hours (${hours}), and your time zone is not known: set it in your chat profile`;
  const wh = checkAvailability({ ...flow.workingHours, timeZone: who.timeZone }, now);
  if (wh.ok) return undefined;
  const local = DateTime.fromJSDate(now, { zone: who.timeZone });
  const at = local.isValid ? `; it is ${local.toFormat('ccc HH:mm')} there now` : '';
  return `Flow ${flow.name} is only open within your working hours (${hours}, in your time zone ${who.timeZone})${at}`;
}

function decideTarget(
  flow: Flow,
  who: Identity,
  target: TargetRef,
  resource: Resource | undefined,
  now: Date,
): FlowDecision {
  const refused = gate(flow, who);
  if (refused) return { flow, allowed: false, reason: refused };
  const label = describeTarget(target, resource);
  const covering = resource ? flow.targets.filter((s) => specCovers(s, resource)) : [];
  if (!resource || covering.length === 0) {
    return { flow, allowed: false, reason: `Flow ${flow.name} does not cover ${label}` };
  }
  if (!covering.some((s) => s.permissions.includes(ANY) || s.permissions.includes(target.permission))) {
    return {
      flow,
      allowed: false,
      reason: `Flow ${flow.name} does not offer the ${target.permission} permission on ${label}`,
    };
  }
  if (!resource.permissions.includes(target.permission)) {
    return { flow, allowed: false, reason: `${label} does not support the ${target.permission} permission` };
  }
  const closed = closedReason(flow, who, now);
  if (closed) return { flow, allowed: false, reason: closed };
  return { flow, allowed: true };
}

/** Why each flow does or does not let `who` ask for `target` at `now`. */
export function evaluateFlows(
  flows: Flow[],
  who: Identity,
  target: TargetRef,
  catalog: Resource[],
  now: Date,
): FlowDecision[] {
  const resource = findResource(target, catalog);
  return flows.map((flow) => decideTarget(flow, who, target, resource, now));
}

/** The built-in fallback flow (docs/ARCHITECTURE.md, "Requests and their states"). */
export function fallbackFlow(settings: Settings): Flow {
  const approvers: Approver[] =
    settings.fallback.approvers.length > 0
      ? settings.fallback.approvers
      : [...new Set(settings.admins.map(normalizeEmail))].map((id) => ({ type: 'user' as const, id }));
  return {
    id: FALLBACK_FLOW_ID,
    name: 'Fallback flow',
    description: 'Built-in policy for requests no other flow covers: admins approve, access is short.',
    enabled: settings.fallback.enabled,
    grantees: { include: [{ type: 'everyone' }], exclude: [] },
    targets: [{ integration: ANY, include: [], exclude: [], permissions: [ANY] }],
    bundles: [],
    approval: {
      steps: [{ approvers, rule: { type: 'any' } }],
      requireReason: false,
      allowSelfApproval: false,
      timeoutMinutes: 24 * 60,
      reminderMinutes: 60,
      autoApproveWhenOnCall: [],
    },
    duration: {
      choicesMinutes: [],
      maxMinutes: Math.min(settings.fallback.maxMinutes, 4 * 60),
      allowIndefinite: false,
    },
    requireJustification: false,
    extension: { mode: 'none', maxCount: 0 },
    breakGlass: false,
    requestFor: 'self',
    reapplyOnDrift: false,
  };
}

export type MatchResult = { ok: true; flow: Flow; viaFallback: boolean } | { ok: false; reasons: string[] };

/** Auto-approved flows first, then the fewest steps; ties keep the admin's order (sort is stable). */
function preferred(allowed: Flow[]): Flow | undefined {
  return [...allowed].sort((a, b) => a.approval.steps.length - b.approval.steps.length)[0];
}

const FALLBACK_OFF = 'The fallback flow is switched off';
const FALLBACK_NO_APPROVERS = 'The fallback flow has no approvers (no admins are configured)';

/** Reason the fallback cannot take the request, or undefined when it can. */
function fallbackBlocked(fallback: Flow): string | undefined {
  if (!fallback.enabled) return FALLBACK_OFF;
  if (fallback.approval.steps.some((s) => s.approvers.length === 0)) return FALLBACK_NO_APPROVERS;
  return undefined;
}

/**
 * Picks the flow for a request: the preferred allowing flow; if none allows and the fallback is
 * enabled (and has approvers), the fallback flow; else every flow's reason plus the fallback's.
 * When the caller names a flow id ('fallback' included), only that flow is considered.
 */
export function matchFlow(
  flows: Flow[],
  settings: Settings,
  who: Identity,
  target: TargetRef,
  catalog: Resource[],
  now: Date,
  flowId?: string,
): MatchResult {
  const resource = findResource(target, catalog);
  // Nothing, not even the fallback, can grant on a resource Latch does not know or a permission it lacks.
  if (!resource)
    return { ok: false, reasons: [`There is no resource ${target.resourceId} in ${target.integration}`] };
  if (!resource.permissions.includes(target.permission)) {
    return {
      ok: false,
      reasons: [`${describeTarget(target, resource)} does not support the ${target.permission} permission`],
    };
  }
  const fallback = fallbackFlow(settings);
  const viaFallback = (): MatchResult => {
    const blocked = fallbackBlocked(fallback);
    return blocked ? { ok: false, reasons: [blocked] } : { ok: true, flow: fallback, viaFallback: true };
  };

  if (flowId !== undefined) {
    if (flowId === FALLBACK_FLOW_ID) return viaFallback();
    const named = flows.find((f) => f.id === flowId);
    if (!named) return { ok: false, reasons: [`There is no flow with id ${flowId}`] };
    const d = decideTarget(named, who, target, resource, now);
    return d.allowed ? { ok: true, flow: named, viaFallback: false } : { ok: false, reasons: [d.reason] };
  }

  const decisions = flows
    .filter((f) => f.id !== FALLBACK_FLOW_ID)
    .map((f) => decideTarget(f, who, target, resource, now));
  const chosen = preferred(decisions.filter((d) => d.allowed).map((d) => d.flow));
  if (chosen) return { ok: true, flow: chosen, viaFallback: false };
  const fb = viaFallback();
  if (fb.ok) return fb;
  const reasons = decisions.map((d) => (d.allowed ? '' : d.reason)).filter(Boolean);
  if (reasons.length === 0) reasons.push(`No access flow covers ${describeTarget(target, resource)}`);
  return { ok: false, reasons: [...reasons, ...fb.reasons] };
}

export interface EligibleTarget {
  flow: Flow;
  resource: Resource;
  permissions: string[];
}

/** Everything `who` may ask for now under enabled flows (for the request form), excluding the fallback. */
export function eligibleTargets(
  flows: Flow[],
  who: Identity,
  catalog: Resource[],
  now: Date,
): EligibleTarget[] {
  const out: EligibleTarget[] = [];
  for (const flow of flows) {
    if (flow.id === FALLBACK_FLOW_ID || gate(flow, who) || closedReason(flow, who, now)) continue;
    const byResource = new Map<string, EligibleTarget>();
    for (const spec of flow.targets) {
      for (const resource of resourcesCoveredBy(spec, catalog)) {
        const key = `${resource.integration}\u0000${resource.id}`;
        let entry = byResource.get(key);
        if (!entry) {
          entry = { flow, resource, permissions: [] };
          byResource.set(key, entry);
        }
        for (const p of offeredBy(spec, resource))
          if (!entry.permissions.includes(p)) entry.permissions.push(p);
      }
    }
    for (const entry of byResource.values()) if (entry.permissions.length > 0) out.push(entry);
  }
  return out;
}

/** Expands a bundle into target refs; a bundle target's `resource` is the resource id. */
export function bundleTargets(bundle: BundleDefinition): TargetRef[] {
  return bundle.targets.map((t) => ({
    integration: t.integration,
    resourceId: t.resource,
    permission: t.permission,
  }));
}

/** Why each flow does or does not let `who` ask for the bundle named `bundleName` at `now`. */
export function evaluateBundleFlows(
  flows: Flow[],
  who: Identity,
  bundleName: string,
  now: Date,
): FlowDecision[] {
  return flows.map((flow): FlowDecision => {
    const refused =
      gate(flow, who) ??
      (flow.bundles.includes(bundleName)
        ? undefined
        : `Flow ${flow.name} does not include the bundle ${bundleName}`) ??
      closedReason(flow, who, now);
    return refused ? { flow, allowed: false, reason: refused } : { flow, allowed: true };
  });
}

/**
 * matchFlow for a bundle: a flow that lists the bundle covers all its targets. The fallback flow
 * covers bundles too, since it covers every target.
 */
export function matchBundleFlow(
  flows: Flow[],
  settings: Settings,
  who: Identity,
  bundleName: string,
  now: Date,
  flowId?: string,
): MatchResult {
  const fallback = fallbackFlow(settings);
  const viaFallback = (): MatchResult => {
    const blocked = fallbackBlocked(fallback);
    return blocked ? { ok: false, reasons: [blocked] } : { ok: true, flow: fallback, viaFallback: true };
  };
  if (flowId === FALLBACK_FLOW_ID) return viaFallback();
  const considered =
    flowId === undefined
      ? flows.filter((f) => f.id !== FALLBACK_FLOW_ID)
      : flows.filter((f) => f.id === flowId);
  if (flowId !== undefined && considered.length === 0)
    return { ok: false, reasons: [`There is no flow with id ${flowId}`] };
  const decisions = evaluateBundleFlows(considered, who, bundleName, now);
  const chosen = preferred(decisions.filter((d) => d.allowed).map((d) => d.flow));
  if (chosen) return { ok: true, flow: chosen, viaFallback: false };
  const reasons = decisions.map((d) => (d.allowed ? '' : d.reason)).filter(Boolean);
  if (flowId !== undefined) return { ok: false, reasons };
  const fb = viaFallback();
  if (fb.ok) return fb;
  if (reasons.length === 0) reasons.push(`No access flow includes the bundle ${bundleName}`);
  return { ok: false, reasons: [...reasons, ...fb.reasons] };
}
