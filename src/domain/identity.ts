/** Who is acting: a Latch identity as resolved by a channel (Slack, Teams, API) and the context sources. */
export interface Identity {
  /** Lower-case email; the stable key across channels. */
  id: string;
  email: string;
  displayName?: string;
  groups: string[];
  /** IANA time zone from the chat profile, when known. */
  timeZone?: string;
  /**
   * On-call schedules (`<source>:<schedule>`) the person is on shift for now; absent when Latch
   * syncs no on-call source, so "not on call" is only said when it is known.
   */
  onCallFor?: string[];
  /**
   * Groups (of `groups`) that come from a context source whose last sync is too old: they still
   * say who may ask and approve, but never approve anything automatically.
   */
  staleGroups?: string[];
  /** Chat user ids (Slack `U…`, Teams AAD ids) that LATCH_ADMINS may name instead of an email. */
  aliases?: string[];
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
