/**
 * What lifecycle webhooks send (docs/ARCHITECTURE.md, "Lifecycle webhooks"): which of Latch's
 * events a subscriber hears of, under which name, and the JSON body. Pure: the outbox hands the
 * event, this says what goes over the wire. One-time credentials never do.
 */
import type { LatchEvent } from '../lifecycle/notifier.js';
import type { RequestView } from '../lifecycle/request-view.js';

export const WEBHOOK_EVENTS = [
  'request.created',
  'request.approved',
  'request.denied',
  'access.granted',
  'access.extended',
  'access.revoked',
  'access.expired',
  'request.failed',
  'access.drift',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

type EventOf<T extends LatchEvent['type']> = Extract<LatchEvent, { type: T }>;

interface Mapping<T extends LatchEvent['type']> {
  /** The webhook name of the event; a function when one Latch event means two things. */
  type: WebhookEventType | ((e: EventOf<T>) => WebhookEventType);
  /** Fields of the event copied into the body as they are (never credentials). */
  fields?: ReadonlyArray<keyof EventOf<T> & string>;
  /** Who acted, when the event says it. */
  by?: (e: EventOf<T>) => string | undefined;
}

/**
 * Latch's events that subscribers hear of, one line each; the rest (reminders, digests, cards) are
 * for people. A new LatchEvent type becomes a webhook event with one more line here.
 */
const MAPPINGS: { [T in LatchEvent['type']]?: Mapping<T> } = {
  'request.submitted': {
    type: 'request.created',
    by: (e) => e.request.askedBy?.id ?? e.request.requester.id,
  },
  'request.approved': { type: 'request.approved', by: (e) => e.by },
  'request.rejected': { type: 'request.denied', by: (e) => e.by, fields: ['reason'] },
  'access.granted': { type: 'access.granted' },
  'access.extended': { type: 'access.extended', by: (e) => e.by },
  // One event in Latch: the request's end reason says whether it ran out or was taken away.
  'access.revoked': {
    type: (e) => (e.request.endReason === 'expired' ? 'access.expired' : 'access.revoked'),
    by: (e) => (e.request.endReason === 'expired' ? undefined : e.request.endedBy),
  },
  'request.failed': { type: 'request.failed', fields: ['error'] },
  // Reconciliation's findings (docs/ARCHITECTURE.md, "Reconciliation"): what, and what Latch did.
  'access.drift': { type: 'access.drift', fields: ['drift'] },
};

export interface WebhookPayload {
  /** Unique per event and the same on every retry: receivers deduplicate on it. */
  id: string;
  type: WebhookEventType;
  occurredAt: string;
  request: WebhookRequest;
  by?: string;
  [field: string]: unknown;
}

/** The request as subscribers get it: what it is for, whose, and where it stands now. */
export interface WebhookRequest {
  id: string;
  number: number;
  state: string;
  requester: { id: string; email: string; displayName?: string };
  askedBy?: { id: string; email: string; displayName?: string };
  flow: string;
  targets: Array<{
    integration: string;
    resourceId: string;
    resourceName: string;
    permission: string;
    grantState: string;
  }>;
  bundle?: string;
  justification: string;
  durationMinutes: number | null;
  breakGlass: boolean;
  automatic: boolean;
  createdAt?: string;
  decidedBy?: string;
  grantedAt?: string;
  expiresAt?: string | null;
  extensionCount: number;
  endReason?: string | null;
  endedBy?: string;
  endReasonText?: string;
}

/** The webhook name of a Latch event, or undefined when subscribers do not hear of it. */
export function webhookTypeOf(event: LatchEvent): WebhookEventType | undefined {
  const m = MAPPINGS[event.type] as Mapping<LatchEvent['type']> | undefined;
  if (!m) return undefined;
  return typeof m.type === 'function' ? m.type(event) : m.type;
}

/** The body sent for `event`, or undefined when subscribers do not hear of it. */
export function webhookPayload(event: LatchEvent, id: string, occurredAt: Date): WebhookPayload | undefined {
  const m = MAPPINGS[event.type] as Mapping<LatchEvent['type']> | undefined;
  const type = webhookTypeOf(event);
  if (!m || !type) return undefined;
  const by = m.by?.(event);
  const extra = Object.fromEntries(
    (m.fields ?? []).map((f) => [f, (event as unknown as Record<string, unknown>)[f]]),
  );
  return {
    id,
    type,
    occurredAt: occurredAt.toISOString(),
    ...(by ? { by } : {}),
    ...extra,
    request: requestOf(event.request),
  };
}

function iso(d: Date | string | undefined | null): string | undefined {
  if (!d) return undefined;
  return new Date(d).toISOString();
}

function requestOf(r: RequestView): WebhookRequest {
  const person = (p: { id: string; email: string; displayName?: string }) => ({
    id: p.id,
    email: p.email,
    ...(p.displayName ? { displayName: p.displayName } : {}),
  });
  return {
    id: r.id,
    number: r.number,
    state: r.state,
    requester: person(r.requester),
    ...(r.askedBy ? { askedBy: person(r.askedBy) } : {}),
    flow: r.flowName,
    targets: r.targets.map((t) => ({ ...t })),
    ...(r.bundle ? { bundle: r.bundle } : {}),
    justification: r.justification,
    durationMinutes: r.durationMinutes,
    breakGlass: Boolean(r.breakGlass),
    automatic: Boolean(r.automatic),
    createdAt: iso(r.createdAt),
    ...(r.decidedBy ? { decidedBy: r.decidedBy } : {}),
    grantedAt: iso(r.grantedAt),
    expiresAt: r.expiresAt === null ? null : iso(r.expiresAt),
    extensionCount: r.extensionCount,
    endReason: r.endReason ?? null,
    ...(r.endedBy ? { endedBy: r.endedBy } : {}),
    ...(r.endReasonText ? { endReasonText: r.endReasonText } : {}),
  };
}
