/**
 * Request states (DESIGN.md "States"). Lifecycle code moves a request only with a guarded update
 * that names the expected current state (src/lifecycle/requests.ts and sweeps.ts).
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

export type RequestSource = 'slack' | 'teams' | 'web' | 'cli' | 'api';

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
