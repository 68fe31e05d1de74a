/**
 * The request state machine (DESIGN.md "States"). Lifecycle code moves a request only along these
 * edges, and only with a guarded update that names the expected current state.
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

/** States in which a request still holds, or may still get, access. */
export const OPEN_STATES: readonly RequestState[] = ['pending', 'approved', 'granting', 'active', 'revoking'];
export const FINAL_STATES: readonly RequestState[] = [
  'revoked',
  'expired',
  'rejected',
  'cancelled',
  'timed_out',
  'failed',
];

const EDGES: Record<RequestState, readonly RequestState[]> = {
  pending: ['pending', 'approved', 'rejected', 'cancelled', 'timed_out'],
  approved: ['granting', 'revoked'],
  granting: ['granting', 'active', 'revoking', 'failed'],
  active: ['active', 'revoking'],
  revoking: ['revoking', 'revoked', 'expired'],
  revoked: [],
  expired: [],
  rejected: [],
  cancelled: [],
  timed_out: [],
  failed: [],
};

export function canTransition(from: RequestState, to: RequestState): boolean {
  return EDGES[from].includes(to);
}

export function isOpen(state: RequestState): boolean {
  return OPEN_STATES.includes(state);
}

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
