/**
 * The port through which lifecycle tells people what happened. Two kinds implement it: observers
 * in the process (the log, tests), told at once and best-effort; and channels (Slack, Teams), which
 * get events from the durable outbox (outbox.ts) and throw DeliveryDeferred, or any error, when a
 * delivery should be tried again. A channel logs and returns for a problem no retry can fix.
 */
import type { ExtensionOffer } from '../domain/duration.js';
import type { RequestView } from './request-view.js';
import type { DriftFinding } from '../domain/outbox-entry.js';

export type { ExtensionOffer };

export type LatchEvent = EventBody & {
  /**
   * Set when the event comes from the outbox: unique per request and event, stable across retried
   * deliveries, so a channel can send each message once.
   */
  eventId?: string;
  /** Set when the event comes from the outbox: when it happened (its entry was written). */
  occurredAt?: Date;
};

type EventBody =
  | { type: 'request.submitted'; request: RequestView; approvers: Audience }
  | {
      type: 'approval.needed';
      request: RequestView;
      approvers: Audience;
      reminder: boolean;
      /** Asks the approvers the step was escalated to (they may decide it alone). */
      escalated?: boolean;
    }
  | { type: 'approval.recorded'; request: RequestView; by: string; remaining?: string }
  | { type: 'request.approved'; request: RequestView; by: string }
  | { type: 'request.rejected'; request: RequestView; by: string; reason: string }
  | { type: 'request.cancelled'; request: RequestView }
  | { type: 'request.timed_out'; request: RequestView }
  | { type: 'access.granted'; request: RequestView; credentials: GrantedCredentials[] }
  | { type: 'access.expiring'; request: RequestView; extension: ExtensionOffer }
  | { type: 'access.extended'; request: RequestView; by: string }
  | { type: 'extension.requested'; request: RequestView; minutes: number; approvers: Audience }
  | { type: 'access.revoked'; request: RequestView }
  | { type: 'request.failed'; request: RequestView; error: string }
  | { type: 'revoke.failing'; request: RequestView; error: string; attempts: number; admins: string[] }
  | { type: 'approvers.unreached'; request: RequestView; unreached: Unreached[] }
  /** The requester approved their own request in an emergency: every admin is told, to review it. */
  | { type: 'break_glass.used'; request: RequestView; reason: string; admins: string[] }
  /** Tells the requester who was added to the undecided step `step` (0-based). */
  | { type: 'request.escalated'; request: RequestView; approvers: Audience; step: number }
  /**
   * One message for one approver instead of a reminder per request (docs/ARCHITECTURE.md,
   * "Reminders, escalation and digests"): `waiting` are the requests still pending, oldest first;
   * `request` is the one whose outbox carries the digest.
   */
  | { type: 'approvals.digest'; request: RequestView; approver: string; waiting: RequestView[] }
  /**
   * Someone asked for access for the requester (docs/ARCHITECTURE.md, "Asking for someone else"):
   * the requester is told who asked, what and why, and may decline it.
   */
  | { type: 'request.for_you'; request: RequestView }
  /** The requester declined a request someone asked for them: the asker is told, the cards close. */
  | { type: 'request.declined'; request: RequestView; by: string }
  /** Reconciliation found the system out of step with the request (docs/ARCHITECTURE.md, "Reconciliation"). */
  | { type: 'access.drift'; request: RequestView; drift: DriftFinding; admins: string[] };

/** Someone a channel could not reach, and why (never installed the app, blocked it, unknown). */
export interface Unreached {
  person: string;
  why: string;
}

/**
 * What a channel may say after delivering: the people it could not reach. Those no channel
 * reached are told to the requester and the audit log (outbox.ts).
 */
export interface DeliveryReport {
  unreached?: Unreached[];
}

/**
 * Thrown by a channel when a delivery should be tried again later (a rate limit, an outage): the
 * outbox keeps the event and retries after `retryAfterMs` (Retry-After) or its own backoff.
 */
export class DeliveryDeferred extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'DeliveryDeferred';
  }
}

export interface Audience {
  users: string[];
  groups: string[];
}

export interface GrantedCredentials {
  resourceName: string;
  permission: string;
  values: Record<string, string>;
}

/** A message to every admin that belongs to no request (see AdminNotices). */
export interface AdminNoticeView {
  id: string;
  kind: string;
  text: string;
  /** Admins when it was posted: emails, or chat user ids from LATCH_ADMINS. */
  admins: string[];
}

export interface Notifier {
  notify(event: LatchEvent): Promise<void | DeliveryReport>;
  /**
   * False for a channel that tells systems rather than people (lifecycle webhooks): approvers
   * unreached by every other channel are reported without waiting for it to reach them.
   */
  readonly tellsPeople?: boolean;
  /** Tells every admin it can reach; throws to be tried again later. Channels without it get none. */
  notifyAdmins?(notice: AdminNoticeView): Promise<void>;
}
