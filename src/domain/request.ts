/**
 * Request states (docs/ARCHITECTURE.md, "Requests and their states"). Lifecycle code moves a request
 * only with a guarded update that names the expected current state.
 */
export const REQUEST_STATES = [
  'pending',
  'approved',
  'granting',
  'active',
  'revoking',
  'revoked',
  'expired',
  'rejected',
  'cancelled',
  'timed_out',
  'failed',
] as const;
export type RequestState = (typeof REQUEST_STATES)[number];

/** Asked for and not ended, not yet holding access: waiting for approval, approved, being granted. */
export const OPEN_STATES = ['pending', 'approved', 'granting'] as const satisfies readonly RequestState[];
/** Holding access on the system: granted, or being taken away. */
export const LIVE_STATES = ['active', 'revoking'] as const satisfies readonly RequestState[];
export type RequestSource = 'slack' | 'teams' | 'web' | 'cli' | 'api' | 'automatic';

/** Human wording for chat messages. */
export const STATE_LABELS: Record<RequestState, string> = {
  pending: 'waiting for approval',
  approved: 'approved',
  granting: 'being granted',
  active: 'active',
  revoking: 'being revoked',
  revoked: 'revoked',
  expired: 'expired',
  rejected: 'denied',
  cancelled: 'cancelled',
  timed_out: 'timed out',
  failed: 'failed',
};
