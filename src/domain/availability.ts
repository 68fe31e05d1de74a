import { DateTime } from 'luxon';
import { WEEKDAYS, type Availability } from './flow.js';

export type AvailabilityCheck = { ok: true } | { ok: false; reason: string };

type Weekday = (typeof WEEKDAYS)[number];

const DAY_LABEL: Record<Weekday, string> = {
  mon: 'Mon',
  tue: 'Tue',
  wed: 'Wed',
  thu: 'Thu',
  fri: 'Fri',
  sat: 'Sat',
  sun: 'Sun',
};

export const WORKING_HOURS: Omit<Availability, 'timeZone'> = {
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '09:00',
  end: '18:00',
};

function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':');
  return Number(h) * 60 + Number(m);
}

/**
 * Is `now` inside the window (days + start/end in the window's zone)? Windows may cross midnight
 * (start > end: the late part belongs to the start day). start === end means the whole day.
 * The end minute is exclusive: a window ending 18:00 is closed at 18:00:00.
 */
export function checkAvailability(av: Availability | undefined, now: Date): AvailabilityCheck {
  if (!av) return { ok: true };
  const local = DateTime.fromJSDate(now, { zone: av.timeZone });
  if (!local.isValid) return { ok: false, reason: `${describeAvailability(av)} (unknown time zone)` };
  // Wall-clock time in the zone, so DST shifts move the window with local office hours.
  const today = WEEKDAYS[local.weekday - 1] as Weekday;
  const yesterday = WEEKDAYS[(local.weekday + 5) % 7] as Weekday;
  const minute = local.hour * 60 + local.minute;
  const start = minutesOf(av.start);
  const end = minutesOf(av.end);
  const days = new Set<Weekday>(av.days);
  let inside: boolean;
  if (start === end) inside = days.has(today);
  else if (start < end) inside = days.has(today) && minute >= start && minute < end;
  else inside = (days.has(today) && minute >= start) || (days.has(yesterday) && minute < end);
  return inside ? { ok: true } : { ok: false, reason: describeAvailability(av) };
}

/** "available Mon–Fri 09:00–18:00 (Europe/Berlin)". */
export function describeAvailability(av: Availability): string {
  const hours = av.start === av.end ? 'all day' : `${av.start}–${av.end}`;
  return `available ${describeDays(av.days)} ${hours} (${av.timeZone})`;
}

/** "Mon–Fri 09:00–18:00". */
export function describeWorkingHours(hours: Omit<Availability, 'timeZone'>): string {
  return `${describeDays(hours.days)} ${hours.start === hours.end ? 'all day' : `${hours.start}–${hours.end}`}`;
}

function describeDays(days: readonly Weekday[]): string {
  const set = new Set(days);
  if (set.size === 7) return 'every day';
  const runs: Weekday[][] = [];
  let run: Weekday[] = [];
  for (const d of WEEKDAYS) {
    if (set.has(d)) run.push(d);
    else if (run.length) {
      runs.push(run);
      run = [];
    }
  }
  if (run.length) runs.push(run);
  return runs
    .map((r) => {
      const first = DAY_LABEL[r[0] as Weekday];
      const last = DAY_LABEL[r[r.length - 1] as Weekday];
      if (r.length === 1) return first;
      if (r.length === 2) return `${first}, ${last}`;
      return `${first}–${last}`;
    })
    .join(', ');
}

/** Context for approvers: is `now` within 09:00–18:00 Mon–Fri in `timeZone`? undefined when no zone is known. */
export function withinWorkingHours(timeZone: string | undefined, now: Date): boolean | undefined {
  if (!timeZone) return undefined;
  const local = DateTime.fromJSDate(now, { zone: timeZone });
  if (!local.isValid) return undefined;
  return checkAvailability({ ...WORKING_HOURS, timeZone }, now).ok;
}

/**
 * Reads hours as an admin types them: "Mon-Fri 09:00-18:00", "mon,wed 08:00-12:00",
 * "every day 22:00-06:00" (dashes or en dashes). What describeWorkingHours writes reads back.
 */
export function parseWorkingHours(
  text: string,
): { ok: true; hours: Omit<Availability, 'timeZone'> } | { ok: false; reason: string } {
  const m = /^\s*(.+?)\s+(\d{1,2}:\d{2})\s*[-–]\s*(\d{1,2}:\d{2})\s*$/.exec(
    text.replace(/\s+all day\s*$/i, ' 00:00-00:00'),
  );
  const usage = 'Write days and hours, e.g. "Mon-Fri 09:00-18:00" or "every day 22:00-06:00".';
  if (!m) return { ok: false, reason: usage };
  const [, daysText, start, end] = m as unknown as [string, string, string, string];
  const pad = (t: string) => t.padStart(5, '0');
  if (![start, end].every((t) => /^([01]\d|2[0-3]):[0-5]\d$/.test(pad(t))))
    return { ok: false, reason: `Hours are HH:MM between 00:00 and 23:59. ${usage}` };
  const days = new Set<Weekday>();
  const dayOf = (d: string): Weekday | undefined =>
    WEEKDAYS.find((w) => d.trim().toLowerCase().startsWith(w));
  if (/^every\s*day$|^daily$/i.test(daysText.trim())) WEEKDAYS.forEach((d) => days.add(d));
  else
    for (const part of daysText.split(',')) {
      const [from, to] = part.split(/[-–]/).map((x) => x.trim());
      const a = from ? dayOf(from) : undefined;
      const b = to === undefined ? a : dayOf(to);
      if (!a || !b) return { ok: false, reason: `"${part.trim()}" is not a day. ${usage}` };
      for (let i = WEEKDAYS.indexOf(a); ; i = (i + 1) % 7) {
        days.add(WEEKDAYS[i]!);
        if (WEEKDAYS[i] === b) break;
      }
    }
  return {
    ok: true,
    hours: { days: WEEKDAYS.filter((d) => days.has(d)), start: pad(start), end: pad(end) },
  };
}
