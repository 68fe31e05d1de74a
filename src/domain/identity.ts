/** Who is acting: a Latch identity as resolved by a channel (Slack, Teams, API) and the context sources. */
export interface Identity {
  /** Lower-case email; the stable key across channels. */
  id: string;
  email: string;
  displayName?: string;
  groups: string[];
  /** IANA time zone from the chat profile, when known. */
  timeZone?: string;
  onCall?: boolean;
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
