import type { DurationPolicy, ExtensionPolicy } from './flow.js';
import { MAX_MINUTES } from './limits.js';

const HOUR = 60;
const DAY = 24 * HOUR;

/** null minutes = indefinite. */
export type DurationCheck = { ok: true; minutes: number | null } | { ok: false; reason: string };

export function checkRequestedDuration(policy: DurationPolicy, minutes: number | null): DurationCheck {
  if (minutes === null) {
    return policy.allowIndefinite
      ? { ok: true, minutes: null }
      : { ok: false, reason: 'This flow does not allow indefinite access' };
  }
  if (!Number.isInteger(minutes) || minutes < 1) {
    return { ok: false, reason: 'The duration must be a whole number of minutes, at least 1 minute' };
  }
  if (minutes > MAX_MINUTES) {
    return { ok: false, reason: `The longest any access can last is ${formatDuration(MAX_MINUTES)}` };
  }
  if (policy.choicesMinutes.length > 0 && !policy.choicesMinutes.includes(minutes)) {
    const options = durationOptions(policy).map(formatDuration).join(', ');
    return { ok: false, reason: `Choose one of: ${options}` };
  }
  if (policy.maxMinutes !== undefined && minutes > policy.maxMinutes) {
    return { ok: false, reason: `The longest this flow allows is ${formatDuration(policy.maxMinutes)}` };
  }
  return { ok: true, minutes };
}

/**
 * The first choice, else min(max, 60). A policy with neither choices nor a maximum allows
 * indefinite access, and so any finite duration; it still defaults to an hour rather than forever,
 * because the requester can pick indefinite explicitly.
 */
export function defaultDuration(policy: DurationPolicy): number | null {
  const first = policy.choicesMinutes[0];
  if (first !== undefined) return first;
  return Math.min(policy.maxMinutes ?? HOUR, HOUR);
}

/** Steps offered when the admin set no explicit choices. */
const LADDER = [
  15,
  30,
  HOUR,
  2 * HOUR,
  4 * HOUR,
  8 * HOUR,
  DAY,
  2 * DAY,
  3 * DAY,
  7 * DAY,
  14 * DAY,
  30 * DAY,
];

/** What the request form offers: the choices, else a ladder up to the maximum (which is always offered), plus null if indefinite is allowed. */
export function durationOptions(policy: DurationPolicy): Array<number | null> {
  let options: number[];
  if (policy.choicesMinutes.length > 0) {
    options = [...new Set(policy.choicesMinutes)].sort((a, b) => a - b);
  } else if (policy.maxMinutes !== undefined) {
    const max = policy.maxMinutes;
    options = LADDER.filter((m) => m < max);
    options.push(max);
  } else {
    options = [...LADDER];
  }
  return policy.allowIndefinite ? [...options, null] : options;
}

export type ExtensionCheck = { ok: true; needsApproval: boolean } | { ok: false; reason: string };

/**
 * The organisation-wide self-extension setting can only tighten a flow's rule: `approval` makes
 * every extension wait for an approver, `never` turns extensions off.
 */
export function effectiveExtension(
  policy: ExtensionPolicy,
  selfExtension: 'flow' | 'approval' | 'never' = 'flow',
): ExtensionPolicy {
  if (selfExtension === 'never') return { ...policy, mode: 'none' };
  if (selfExtension === 'approval' && policy.mode === 'direct') return { ...policy, mode: 'approval' };
  return policy;
}

export function checkExtension(policy: ExtensionPolicy, extensionsSoFar: number): ExtensionCheck {
  if (policy.mode === 'none' || policy.maxCount === 0) {
    return { ok: false, reason: 'This flow does not allow extending access' };
  }
  if (extensionsSoFar >= policy.maxCount) {
    const times = policy.maxCount === 1 ? 'once' : `${policy.maxCount} times`;
    return { ok: false, reason: `This access can be extended at most ${times}, and it already has been` };
  }
  return { ok: true, needsApproval: policy.mode === 'approval' };
}

/** What the requester may do about an expiring grant: extend, by which durations, with approval or not. */
export interface ExtensionOffer {
  allowed: boolean;
  needsApproval: boolean;
  choicesMinutes: number[];
}

/** Offered when the flow sets no duration choices (those under its maximum). */
const EXTENSION_LADDER = [30, HOUR, 2 * HOUR, 4 * HOUR];

/**
 * The one rule for extension offers, so the expiry warning, App Home and every channel offer the
 * same: the flow's duration choices, else a short ladder up to its maximum (or the maximum itself
 * when that is shorter than the ladder), at most four; nothing when the flow or the organisation's
 * setting forbids it, the extensions are used up, the grant does not expire, or one is waiting.
 */
export function extensionOffer(
  flow: { duration: DurationPolicy; extension: ExtensionPolicy },
  grant: { extensionCount: number; expires: boolean; extensionPending: boolean },
  selfExtension: 'flow' | 'approval' | 'never' = 'flow',
): ExtensionOffer {
  const policy = effectiveExtension(flow.extension, selfExtension);
  const check = checkExtension(policy, grant.extensionCount);
  const none = { allowed: false, needsApproval: policy.mode === 'approval', choicesMinutes: [] };
  if (!check.ok || !grant.expires || grant.extensionPending) return none;
  const max = flow.duration.maxMinutes;
  const base = flow.duration.choicesMinutes.length
    ? [...new Set(flow.duration.choicesMinutes)].sort((a, b) => a - b)
    : EXTENSION_LADDER;
  let choices = base.filter((m) => max === undefined || m <= max);
  if (choices.length === 0 && max !== undefined) choices = [max];
  return {
    allowed: choices.length > 0,
    needsApproval: check.needsApproval,
    choicesMinutes: choices.slice(0, 4),
  };
}

/** The extension starts from the current expiry, or from now if that has already passed (late approval). */
export function extendedExpiry(currentExpiresAt: Date, now: Date, minutes: number): Date {
  const base = Math.max(currentExpiresAt.getTime(), now.getTime());
  return new Date(base + minutes * 60_000);
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? '' : 's'}`;
}

/** "15 minutes", "2 hours", "1 day 2 hours", "indefinitely". */
export function formatDuration(minutes: number | null): string {
  if (minutes === null) return 'indefinitely';
  const total = Math.max(0, Math.round(minutes));
  if (total === 0) return '0 minutes';
  const days = Math.floor(total / DAY);
  const hours = Math.floor((total % DAY) / HOUR);
  const mins = total % HOUR;
  const parts: string[] = [];
  if (days) parts.push(plural(days, 'day'));
  if (hours) parts.push(plural(hours, 'hour'));
  if (mins) parts.push(plural(mins, 'minute'));
  return parts.join(' ');
}

const UNIT_MINUTES: Record<string, number> = {
  m: 1,
  min: 1,
  mins: 1,
  minute: 1,
  minutes: 1,
  h: HOUR,
  hr: HOUR,
  hrs: HOUR,
  hour: HOUR,
  hours: HOUR,
  d: DAY,
  day: DAY,
  days: DAY,
  w: 7 * DAY,
  week: 7 * DAY,
  weeks: 7 * DAY,
};

const INDEFINITE = new Set(['indefinite', 'indefinitely', 'forever', 'permanent', 'unlimited', 'never']);

/**
 * "90m", "2h", "1d", "1h30m", "1 hour 30 minutes", "1.5h", a bare number of minutes; "indefinite" -> null;
 * anything else (including zero) -> undefined.
 */
export function parseDuration(text: string): number | null | undefined {
  const s = text.trim().toLowerCase();
  if (INDEFINITE.has(s)) return null;
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    return n > 0 ? n : undefined;
  }
  const part = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*(?:and\s+|,\s*)?/gy;
  let total = 0;
  let pos = 0;
  let m: RegExpExecArray | null;
  while ((m = part.exec(s)) !== null) {
    const unit = UNIT_MINUTES[m[2] ?? ''];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    pos = part.lastIndex;
  }
  if (pos === 0 || pos !== s.length) return undefined;
  const minutes = Math.round(total);
  return minutes > 0 ? minutes : undefined;
}
