/**
 * When approvers are reminded, and when one digest replaces their reminders (docs/ARCHITECTURE.md,
 * "Reminders, escalation and digests"). Pure rules; the notice sweep applies them.
 */
import { normalizeEmail } from './identity.js';

/** No gap between reminders grows beyond a day: a week-long time-out still reminds daily. */
export const REMINDER_GAP_CAP_MINUTES = 24 * 60;

/**
 * An approver with at least this many reminders due in one sweep gets one digest listing them
 * instead: three is where separate cards start to read as a flood.
 */
export const DIGEST_THRESHOLD = 3;

/** Requests listed in one digest; the rest are in App Home (or the tab) with the others. */
export const DIGEST_MAX_LISTED = 20;

/**
 * Minutes from the `sent`-th reminder (0: the step opening) to the next one: `reminderMinutes`,
 * then doubling, at most REMINDER_GAP_CAP_MINUTES.
 */
export function reminderGapMinutes(reminderMinutes: number, sent: number): number {
  if (reminderMinutes <= 0) return 0;
  // 2 ** 20 minutes is two years: beyond that the cap applies anyway, and the power stays finite.
  return Math.min(REMINDER_GAP_CAP_MINUTES, reminderMinutes * 2 ** Math.min(Math.max(0, sent), 20));
}

/**
 * When the next reminder falls after `sent` reminders, counted from `from` (the step opening or
 * the last reminder); none when reminders are off, or when it would not come before `decideBy`
 * (the request times out first, and everyone is told then).
 */
export function nextReminderAt(
  from: Date,
  reminderMinutes: number,
  sent: number,
  decideBy?: Date | null,
): Date | undefined {
  const gap = reminderGapMinutes(reminderMinutes, sent);
  if (gap <= 0) return undefined;
  const at = new Date(from.getTime() + gap * 60_000);
  if (decideBy && at.getTime() >= decideBy.getTime()) return undefined;
  return at;
}

/** A request whose reminder is due, and the people and groups it would remind. */
export interface DueReminder {
  key: string;
  users: string[];
  groups: string[];
}

export interface ReminderPlan {
  /** Per request key: who still gets a reminder of their own (digest recipients left out). */
  individual: Map<string, { users: string[]; groups: string[] }>;
  /** Per person (normalised email): the keys their one digest lists, in the order given. */
  digests: Map<string, string[]>;
}

/**
 * Groups due reminders by person: someone with DIGEST_THRESHOLD or more gets a digest instead of
 * a reminder each. Groups are left to each request's reminder: a channel resolves them, and their
 * members are not known here.
 */
export function planReminders(due: DueReminder[], threshold = DIGEST_THRESHOLD): ReminderPlan {
  const byPerson = new Map<string, string[]>();
  for (const r of due) {
    for (const u of new Set(r.users.map(normalizeEmail)))
      byPerson.set(u, [...(byPerson.get(u) ?? []), r.key]);
  }
  const digests = new Map([...byPerson].filter(([, keys]) => keys.length >= threshold));
  const individual = new Map(
    due.map((r) => [
      r.key,
      { users: r.users.filter((u) => !digests.has(normalizeEmail(u))), groups: r.groups },
    ]),
  );
  return { individual, digests };
}
