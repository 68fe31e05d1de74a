/**
 * An event waiting in a request's outbox (docs/ARCHITECTURE.md, "Outbox"): what happened and what
 * cannot be read back from the request later (who acted, a reason, sealed credentials). Whatever the
 * request itself holds (state, targets, expiry) is read from it when the event is delivered.
 */
export const EVENT_TYPES = [
  'request.submitted',
  'approval.needed',
  'approval.recorded',
  'request.approved',
  'request.rejected',
  'request.cancelled',
  'request.timed_out',
  'access.granted',
  'access.expiring',
  'access.extended',
  'extension.requested',
  'access.revoked',
  'request.failed',
  'revoke.failing',
  'approvers.unreached',
  'break_glass.used',
  'request.escalated',
  'approvals.digest',
  'request.for_you',
  'request.declined',
  'access.drift',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface OutboxEntry {
  /** Unique within its request; with the request id, the key channels deduplicate deliveries by. */
  id: string;
  type: EventType;
  at: Date;
  /** Channels still to deliver it to (e.g. `slack`). */
  channels: string[];
  /** Failed delivery attempts so far, for the backoff. */
  attempts?: number;
  by?: string;
  reason?: string;
  /** approval.recorded: what the step still needs. */
  remaining?: string;
  /** The approval step the event is about. */
  step?: number;
  /** extension.requested: by how long. */
  minutes?: number;
  /** approval.needed: a reminder rather than the first ask. */
  reminder?: boolean;
  /** approval.needed: asks the approvers the step was escalated to. */
  escalated?: boolean;
  /** approvals.digest: the one person it is for. */
  to?: string;
  /** approvals.digest: the waiting requests it lists (ObjectIds as strings), oldest first. */
  requests?: string[];
  /** Who is asked, when it was decided at the time (e.g. the step's approvers). */
  approvers?: { users: string[]; groups: string[] };
  /** access.granted: the one-time credentials, sealed with the encryption key. */
  credentials?: string;
  /**
   * approval.needed and extension.requested: who a channel could not reach so far, by channel;
   * approvers.unreached: who no channel reached.
   */
  unreached?: Array<{ person: string; why: string; channel?: string }>;
  /** access.drift: what reconciliation found on the system and what it did. */
  drift?: DriftFinding;
}

/**
 * What reconciliation found (docs/ARCHITECTURE.md, "Reconciliation"): access Latch holds that is
 * missing on the system (reported, or re-applied when the flow says so), or access Latch ended that
 * is still there (revoked).
 */
export interface DriftFinding {
  kind: 'missing' | 'lingering';
  action: 'reported' | 'reapplied' | 'revoked';
  /** `integration:resource:permission`. */
  target: string;
}
