/**
 * Bounds on everything a person can type or an admin can configure. The server enforces them (a
 * forged payload gets the same refusal as a form); modals carry the same numbers as max_length.
 */
export const TEXT_LIMITS = {
  /** Why the requester needs the access. */
  justification: 2000,
  /** An approver's reason, a denial, a revocation. */
  reason: 1000,
  /** An admin's note closing a break-glass review. */
  note: 1000,
} as const;
export type LimitedText = keyof typeof TEXT_LIMITS;

/** The longest any access, extension or approval window may last: a year. */
export const MAX_MINUTES = 366 * 24 * 60;

/** Per approval step: more named approvers than this is a group's job. */
export const MAX_APPROVERS_PER_STEP = 100;
export const MAX_APPROVAL_STEPS = 10;
