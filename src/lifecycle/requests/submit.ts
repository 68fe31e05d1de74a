/** Asking for access: the flow that applies, the checks it makes, the request and its first events. */
import type { Flow } from '../../domain/flow.js';
import type { Identity } from '../../domain/identity.js';
import { NO_MANAGER, describeApprovers, unsatisfiableStep } from '../../domain/approval.js';
import { checkRequestedDuration } from '../../domain/duration.js';
import { formatRequestId } from '../../domain/human-id.js';
import {
  FALLBACK_FLOW_ID,
  bundleTargets,
  fallbackFlow,
  matchBundleFlow,
  trustsAutoApproval,
  matchFlow,
  routeRequest,
  type TargetRef,
} from '../../domain/policy.js';
import { STATE_LABELS, type RequestSource, type RequestState } from '../../domain/request.js';
import type { Resource } from '../../domain/resource.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import { LatchError, conflict, forbidden, invalid } from '../errors.js';
import { asksForOther, granteeFor } from './on-behalf.js';
import { boundedText } from '../input.js';
import { nextRequestNumber } from '../load.js';
import { toView, type RequestView } from '../request-view.js';
import { Reviews } from '../reviews.js';
import { EPOCH, addMinutes, isDuplicateKey, stepTimers } from './shared.js';

export interface SubmitInput {
  targets?: TargetRef[];
  bundle?: string;
  flowId?: string;
  /** null asks for indefinite access. */
  durationMinutes: number | null;
  justification?: string;
  source: RequestSource;
  /**
   * Break glass (docs/ARCHITECTURE.md, "Break-glass"): the requester approves it themselves at
   * once, with the justification as the reason, where the flow allows it.
   */
  breakGlass?: boolean;
  /**
   * The email of the person the access is for, when it is not the asker (docs/ARCHITECTURE.md,
   * "Asking for someone else"). They become the requester; the asker is kept as `askedBy`.
   */
  onBehalfOf?: string;
}

export class SubmitUseCase {
  constructor(private readonly ctx: LifecycleContext) {}

  async submit(asker: Identity, input: SubmitInput): Promise<RequestView> {
    const ctx = this.ctx;
    const now = ctx.now();
    const [flows, stored] = await Promise.all([ctx.flows(), ctx.settings()]);
    // The fallback flow's default approvers are all admins, including those from LATCH_ADMINS.
    const settings = { ...stored, admins: await ctx.admins(stored) };

    let refs: TargetRef[] = input.targets ?? [];
    if (input.bundle) {
      const bundle = await ctx.bundle(input.bundle);
      if (!bundle) throw invalid(`There is no bundle called ${input.bundle}.`, 'bundle');
      refs = bundleTargets(bundle);
    }
    if (refs.length === 0) throw invalid('Choose at least one resource.', 'targets');
    const uniqueKeys = new Set(refs.map(targetKey));
    if (uniqueKeys.size !== refs.length)
      throw invalid('The same resource and permission is listed twice.', 'targets');

    const catalog = await ctx.catalog([...new Set(refs.map((r) => r.integration))]);
    const resources = refs.map((ref) => {
      const r = catalog.find((c) => c.integration === ref.integration && c.id === ref.resourceId);
      if (!r) throw invalid(`${ref.resourceId} is not a known resource of ${ref.integration}.`, 'targets');
      if (r.permissions.length > 0 && !r.permissions.includes(ref.permission)) {
        throw invalid(`${r.name} has no ${ref.permission} permission.`, 'targets');
      }
      return r;
    });

    // Asking for someone else: the asker must be allowed the flow; the person it is for then
    // stands in as requester for everything that follows (routing, approvals, the grant).
    const forOther = asksForOther(asker, input.onBehalfOf);
    const offered = forOther && !input.flowId ? flows.filter((f) => f.requestFor !== 'self') : [];
    const picked =
      offered.length > 0
        ? (this.tryPickFlow(offered, settings, asker, refs, catalog, now, input) ??
          this.pickFlow(flows, settings, asker, refs, catalog, now, input))
        : this.pickFlow(flows, settings, asker, refs, catalog, now, input);
    const who = forOther ? await granteeFor(ctx, picked, asker, input.onBehalfOf!) : asker;
    if (forOther && input.breakGlass)
      throw new LatchError(
        'forbidden',
        'Break-glass is for your own access: ask for approval for someone else.',
        'breakGlass',
      );
    const viaFallback = picked.id === FALLBACK_FLOW_ID;
    const pickedRoute = viaFallback
      ? {
          auto: false,
          reason: `no access flow covers this, so the fallback flow asks ${describeApprovers(picked.approval.steps[0]!)} to approve`,
          onCall: [],
        }
      : routeRequest(picked, who);
    // Fail closed (docs/ARCHITECTURE.md, "Context sources"): a flow that would approve by itself
    // asks a person instead when the requester's groups come from a stale source. A flow without
    // steps then goes to the fallback flow's approvers (the admins, unless Settings name others).
    const withheld = pickedRoute.auto && !trustsAutoApproval(picked, who) ? (who.staleGroups ?? []) : [];
    const flow: Flow =
      withheld.length === 0 || picked.approval.steps.length > 0
        ? picked
        : { ...picked, approval: { ...picked.approval, steps: fallbackFlow(settings).approval.steps } };
    if (withheld.length > 0 && flow.approval.steps.some((s) => s.approvers.length === 0))
      throw forbidden(
        `${flow.name} approves automatically, but your groups ${withheld.join(', ')} come from a source that has not synced recently, and there is no admin to ask instead. Try again later.`,
      );
    const asked =
      withheld.length === 0
        ? pickedRoute
        : {
            auto: false,
            reason: `groups ${withheld.join(', ')} come from a source that has not synced recently, so ${describeApprovers(flow.approval.steps[0]!)} must approve`,
            onCall: pickedRoute.onCall,
          };
    // Break glass bypasses the approval steps only; a request approved by itself needs none.
    const breakGlass = input.breakGlass === true && !asked.auto;
    if (breakGlass) this.checkBreakGlass(picked, who, withheld);
    const route = breakGlass
      ? {
          ...asked,
          reason: 'break-glass: approved by the requester for an emergency; an admin reviews it',
        }
      : asked;
    const manager = await requesterManager(ctx, flow, who);
    const probe = {
      requesterId: who.id,
      resourceOwners: [...new Set(resources.flatMap((r) => r.owners))],
      ...(manager ? { requesterManager: manager } : {}),
      allowSelfApproval: flow.approval.allowSelfApproval,
      ...(forOther ? { askedBy: asker.id } : {}),
    };
    for (const step of breakGlass ? [] : flow.approval.steps) {
      const why = unsatisfiableStep(step, probe);
      if (why?.includes(NO_MANAGER))
        throw forbidden(
          `${flow.name} needs your manager's approval, and ${NO_MANAGER}. Ask whoever runs your identity provider to set your manager, or an admin for another way to this access.`,
        );
      if (why)
        throw forbidden(
          `${flow.name} could never approve this request: ${why}. Ask an admin to fix the flow.`,
        );
    }

    const duration = checkRequestedDuration(flow.duration, input.durationMinutes);
    if (!duration.ok) throw invalid(duration.reason, 'duration');
    const justification = boundedText(input.justification, 'justification');
    if (flow.requireJustification && !justification) {
      throw invalid(`${flow.name} asks for a justification.`, 'justification');
    }
    if (breakGlass && !justification)
      throw invalid('Breaking the glass needs a reason: say what the emergency is.', 'justification');

    const autoApproved = route.auto;
    const approvedNow = autoApproved || breakGlass;
    const state: RequestState = approvedNow ? 'approved' : 'pending';
    const number = await nextRequestNumber(ctx);
    const openKey = `${who.id}|${[...uniqueKeys].sort().join(',')}`;
    const owners = [...new Set(resources.flatMap((r) => r.owners))];
    const audience = approvedNow
      ? { users: [], groups: [] }
      : await ctx.audience(flow.approval.steps[0]!, owners, manager);
    const admins = breakGlass ? settings.admins : [];
    const events = [
      ctx.outbox.entry('request.submitted', { approvers: audience }),
      forOther ? ctx.outbox.entry('request.for_you', { by: asker.id }) : undefined,
      approvedNow ? undefined : ctx.outbox.entry('approval.needed', { approvers: audience, reminder: false }),
      breakGlass
        ? ctx.outbox.entry('break_glass.used', {
            by: who.id,
            reason: justification,
            approvers: { users: admins, groups: [] },
          })
        : undefined,
    ].filter((e) => e !== undefined);
    const reviews = new Reviews(ctx);
    if (breakGlass)
      await reviews.open({
        number,
        requester: { id: who.id, email: who.email, displayName: who.displayName },
        flowName: flow.name,
        targets: refs.map((r, i) => `${r.integration}:${resources[i]!.name}:${r.permission}`),
        reason: justification,
      });
    const decideBy = approvedNow ? undefined : addMinutes(now, flow.approval.timeoutMinutes);
    let doc: RequestDoc;
    try {
      doc = await ctx.moves.create(
        {
          number,
          requester: {
            id: who.id,
            email: who.email,
            displayName: who.displayName,
            groups: who.groups,
            timeZone: who.timeZone,
            ...(who.onCallFor ? { onCallFor: who.onCallFor } : {}),
            ...(manager ? { manager } : {}),
          },
          flowId: flow.id,
          flowName: flow.name,
          flow,
          viaFallback,
          routing: route.reason,
          breakGlass,
          ...(forOther
            ? {
                askedBy: {
                  id: asker.id,
                  email: asker.email,
                  ...(asker.displayName ? { displayName: asker.displayName } : {}),
                },
              }
            : {}),
          bundle: input.bundle,
          targets: refs.map((ref, i) => ({
            integration: ref.integration,
            resourceId: ref.resourceId,
            resourceName: resources[i]!.name,
            resourceKind: resources[i]!.kind,
            permission: ref.permission,
            owners: resources[i]!.owners,
          })),
          durationMinutes: duration.minutes,
          justification,
          source: input.source,
          state,
          decideBy,
          // The first step opens now: its first reminder, and its escalation if the flow has one.
          ...(approvedNow ? {} : stepTimers(flow, now, decideBy).$set),
          decidedAt: approvedNow ? now : undefined,
          decidedBy: breakGlass ? who.id : autoApproved ? 'auto' : undefined,
          decisionReason: breakGlass ? justification : undefined,
          nextAttemptAt: now,
          lease: { until: EPOCH },
          openKey,
        },
        // Written with the request itself: its first messages cannot be lost.
        ...events,
      );
    } catch (err) {
      if (breakGlass) await reviews.withdraw(number);
      if (isDuplicateKey(err)) {
        const existing = await ctx.db.models.Request.findOne({ openKey }).lean<RequestDoc>();
        const id = existing ? formatRequestId(existing.number) : 'another request';
        throw conflict(
          `${forOther ? `${who.email} already has` : 'You already have'} ${id} open for this access (${existing ? STATE_LABELS[existing.state] : 'open'}).`,
        );
      }
      throw err;
    }

    const view = toView(doc);
    await ctx.record(
      [
        {
          // The asker acted; the request is the grantee's (docs/ARCHITECTURE.md, "Asking for someone else").
          actor: { type: 'user', id: asker.id },
          action: 'request.submitted',
          subject: { type: 'request', id: view.id },
          details: {
            ...(forOther ? { for: who.id } : {}),
            flow: flow.name,
            viaFallback,
            targets: view.targets.map((t) => `${t.integration}:${t.resourceName}:${t.permission}`),
            durationMinutes: duration.minutes,
            justification,
            source: input.source,
            routing: route.reason,
          },
          at: now,
        },
        ...(withheld.length > 0
          ? [
              {
                actor: { type: 'system' as const, id: 'latch' },
                action: 'request.auto_approval_withheld',
                subject: { type: 'request', id: view.id },
                details: { flow: flow.name, staleGroups: withheld },
                at: now,
              },
            ]
          : []),
        ...(autoApproved
          ? [
              {
                actor: { type: 'system' as const, id: 'latch' },
                action: 'request.approved',
                subject: { type: 'request', id: view.id },
                details: { auto: true, flow: flow.name, reason: route.reason },
                at: now,
              },
            ]
          : []),
        ...(breakGlass
          ? [
              {
                actor: { type: 'user' as const, id: who.id },
                action: 'request.break_glass',
                subject: { type: 'request', id: view.id },
                details: { flow: flow.name, reason: justification, admins },
                at: now,
              },
              {
                actor: { type: 'system' as const, id: 'latch' },
                action: 'review.opened',
                subject: { type: 'request', id: view.id },
                details: { requester: who.id },
                at: now,
              },
            ]
          : []),
      ],
      { type: 'request.submitted', request: view, approvers: audience },
      ...(forOther ? [{ type: 'request.for_you' as const, request: view }] : []),
      ...(approvedNow
        ? []
        : [{ type: 'approval.needed' as const, request: view, approvers: audience, reminder: false }]),
      ...(breakGlass
        ? [{ type: 'break_glass.used' as const, request: view, reason: justification, admins }]
        : []),
    );
    if (approvedNow) ctx.kick();
    return view;
  }

  /**
   * Who may break the glass: a grantee of a flow that allows it, vouched for by fresh groups (a
   * stale source's groups never approve anything by themselves, docs/ARCHITECTURE.md "Context
   * sources"). Refused on the server whatever the form sent.
   */
  private checkBreakGlass(flow: Flow, who: Identity, withheld: string[]): void {
    if (!flow.breakGlass)
      throw forbidden(`${flow.name} does not allow break-glass: ask for approval instead.`);
    const asIfAutomatic = { ...flow, approval: { ...flow.approval, steps: [] } };
    if (withheld.length > 0 || !trustsAutoApproval(asIfAutomatic, who))
      throw forbidden(
        `You may ask under ${flow.name} only through groups from a source that has not synced recently, so you cannot break the glass: ask for approval instead.`,
      );
  }

  /** pickFlow, or undefined where it would refuse. */
  private tryPickFlow(...args: Parameters<SubmitUseCase['pickFlow']>): Flow | undefined {
    try {
      return this.pickFlow(...args);
    } catch {
      return undefined;
    }
  }

  private pickFlow(
    flows: Flow[],
    settings: Parameters<typeof matchFlow>[1],
    who: Identity,
    refs: TargetRef[],
    catalog: Resource[],
    now: Date,
    input: SubmitInput,
  ): Flow {
    if (input.bundle) {
      const match = matchBundleFlow(flows, settings, who, input.bundle, now, input.flowId);
      if (!match.ok) throw forbidden(refusal(match.reasons));
      return match.flow;
    }
    const first = matchFlow(flows, settings, who, refs[0]!, catalog, now, input.flowId);
    if (!first.ok) throw forbidden(refusal(first.reasons));
    for (const ref of refs.slice(1)) {
      const next = matchFlow(flows, settings, who, ref, catalog, now, first.flow.id);
      if (!next.ok) throw forbidden(refusal(next.reasons));
    }
    return first.flow;
  }
}

/**
 * The requester's manager as the context sources name them now, looked up only for a flow that
 * asks the manager (docs/ARCHITECTURE.md, "Flows that use context"). Kept on the request, so a
 * later sync that names another manager does not move a decision already asked of someone.
 */
async function requesterManager(
  ctx: LifecycleContext,
  flow: Flow,
  who: Identity,
): Promise<string | undefined> {
  const asks = [...flow.approval.steps.flatMap((s) => s.approvers), ...(flow.approval.escalation?.to ?? [])];
  if (!ctx.directory || !asks.some((a) => a.type === 'manager')) return undefined;
  return ctx.directory.managerOf(who.email || who.id);
}

function refusal(reasons: string[]): string {
  const lines = [...new Set(reasons)];
  return lines.length === 1
    ? `${lines[0]}.`
    : `No flow lets you ask for this:\n${lines.map((r) => `• ${r}`).join('\n')}`;
}

function targetKey(r: TargetRef): string {
  return `${r.integration}/${r.resourceId}/${r.permission}`;
}
