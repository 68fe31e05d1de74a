/** The request read model: the plain, secret-free view of a request that every channel renders. */
import { extensionOffer, type ExtensionOffer } from '../domain/duration.js';
import type { RequestState } from '../domain/request.js';
import { formatRequestId } from '../domain/human-id.js';
import type { RequestDoc } from '../store/models.js';

export interface RequestView {
  id: string;
  number: number;
  requester: {
    id: string;
    email: string;
    displayName?: string;
    groups: string[];
    timeZone?: string;
    /** On-call schedules they were on shift for when they asked; absent when no rota is known. */
    onCallFor?: string[];
  };
  flowId: string;
  flowName: string;
  viaFallback: boolean;
  /** Why it was approved automatically or went to approvers (docs/ARCHITECTURE.md, "Flows that use context"). */
  routing?: string;
  /** Granted by an automatic flow rather than asked for. */
  automatic?: boolean;
  /** Approved by the requester themselves in an emergency; an admin reviews it. */
  breakGlass?: boolean;
  /** Who asked, when it is for someone else (the requester); docs/ARCHITECTURE.md, "Asking for someone else". */
  askedBy?: { id: string; email: string; displayName?: string };
  /** The person it was for declined it. */
  declinedAt?: Date;
  bundle?: string;
  targets: Array<{
    integration: string;
    resourceId: string;
    resourceName: string;
    permission: string;
    grantState: string;
  }>;
  durationMinutes: number | null;
  justification: string;
  source: string;
  state: RequestState;
  /** Grows with every change: a view with a lower version is older news. */
  version: number;
  step: number;
  stepCount: number;
  approvals: Array<{ step: number; by: string; at: Date; reason?: string }>;
  decidedBy?: string;
  decisionReason?: string;
  createdAt?: Date;
  grantedAt?: Date;
  expiresAt?: Date | null;
  extensionCount: number;
  endReason?: string | null;
  endedBy?: string;
  endReasonText?: string;
}

export function toView(doc: RequestDoc): RequestView {
  const flow = doc.flow as { approval?: { steps?: unknown[] } };
  return {
    id: formatRequestId(doc.number),
    number: doc.number,
    requester: {
      id: doc.requester.id,
      email: doc.requester.email,
      displayName: doc.requester.displayName ?? undefined,
      groups: [...(doc.requester.groups ?? [])],
      timeZone: doc.requester.timeZone ?? undefined,
      ...(doc.requester.onCallFor ? { onCallFor: [...doc.requester.onCallFor] } : {}),
    },
    flowId: doc.flowId,
    flowName: doc.flowName,
    viaFallback: Boolean(doc.viaFallback),
    routing: doc.routing ?? undefined,
    ...(doc.origin === 'automatic' ? { automatic: true } : {}),
    breakGlass: Boolean(doc.breakGlass),
    ...(doc.askedBy?.id
      ? {
          askedBy: {
            id: doc.askedBy.id,
            email: doc.askedBy.email,
            ...(doc.askedBy.displayName ? { displayName: doc.askedBy.displayName } : {}),
          },
        }
      : {}),
    ...(doc.declinedAt ? { declinedAt: doc.declinedAt } : {}),
    bundle: doc.bundle ?? undefined,
    targets: doc.targets.map((t) => ({
      integration: t.integration,
      resourceId: t.resourceId,
      resourceName: t.resourceName,
      permission: t.permission,
      grantState: t.grantState,
    })),
    durationMinutes: doc.durationMinutes ?? null,
    justification: doc.justification ?? '',
    source: doc.source,
    state: doc.state,
    version: doc.version ?? 0,
    step: doc.step ?? 0,
    stepCount: flow.approval?.steps?.length ?? 0,
    approvals: (doc.approvals ?? []).map((a) => ({
      step: a.step,
      by: a.by,
      at: a.at,
      reason: a.reason ?? undefined,
    })),
    decidedBy: doc.decidedBy ?? undefined,
    decisionReason: doc.decisionReason ?? undefined,
    createdAt: (doc as { createdAt?: Date }).createdAt,
    grantedAt: doc.grantedAt ?? undefined,
    expiresAt: doc.expiresAt ?? null,
    extensionCount: doc.extensionCount ?? 0,
    endReason: doc.endReason ?? null,
    endedBy: doc.endedBy ?? undefined,
    endReasonText: doc.endReasonText ?? undefined,
  };
}

/** The extension offer for a request as stored (see extensionOffer). */
export function extensionOfferFor(
  doc: RequestDoc,
  selfExtension: 'flow' | 'approval' | 'never',
): ExtensionOffer {
  if (doc.state !== 'active') return { allowed: false, needsApproval: false, choicesMinutes: [] };
  return extensionOffer(
    doc.flow,
    {
      extensionCount: doc.extensionCount ?? 0,
      expires: doc.expiresAt != null,
      extensionPending: doc.pendingExtension != null,
    },
    selfExtension,
  );
}
