/**
 * What the on-call source types share (docs/ARCHITECTURE.md, "Context sources", on-call sources):
 * the horizon a sync reads, and turning the shifts it found into groups.
 *
 * A sync stores shifts with their times, not "who is on call now": the directory then counts a
 * member only while one of their shifts covers the present, so between syncs the rota keeps
 * moving (a handover at 09:00 takes effect at 09:00, not at the next sync). The shifts read are
 * those overlapping [now, now + horizon]; past the horizon nobody counts until the next sync, so
 * the horizon must comfortably exceed the time between syncs (default 24 h against a default
 * 15-minute sync), and a rota that stops syncing fails closed.
 */
import { z } from 'zod';
import { normalizeEmail } from '../domain/identity.js';
import type { Shift, SyncedGroup } from './types.js';

/** Hours of rota a sync reads ahead. */
export const horizonHours = z
  .number()
  .int()
  .min(1)
  .max(14 * 24)
  .default(24);

/** Ids of schedules (or policies) to read; empty means every one the credentials can see. */
export const idList = z.array(z.string().min(1).max(200)).max(500).default([]);

export interface Window {
  since: Date;
  until: Date;
}

export function horizon(now: Date, hours: number): Window {
  return { since: now, until: new Date(now.getTime() + hours * 3_600_000) };
}

/** Does the shift [start, end) overlap the window? No end: until further notice. */
export function overlaps(start: Date, end: Date | undefined, w: Window): boolean {
  return start.getTime() < w.until.getTime() && (end === undefined || end.getTime() > w.since.getTime());
}

/**
 * Collects shifts by group. The same shift may be reported more than once (a PagerDuty schedule
 * on two escalation policies, a JSM responder in two rotations); it is kept once.
 */
export class Rota {
  private readonly groups = new Map<string, { name: string; shifts: Map<string, Shift> }>();

  /** A group with no shifts still exists: a flow naming it finds nobody on call, not an unknown group. */
  group(id: string, name: string): void {
    if (!this.groups.has(id)) this.groups.set(id, { name, shifts: new Map() });
  }

  add(id: string, name: string, shift: Shift): void {
    this.group(id, name);
    const email = normalizeEmail(shift.email);
    const key = `${email}|${shift.start.getTime()}|${shift.end?.getTime() ?? ''}`;
    this.groups.get(id)!.shifts.set(key, { ...shift, email });
  }

  result(): SyncedGroup[] {
    return [...this.groups].map(([id, g]) => {
      const shifts = [...g.shifts.values()].sort((a, b) => a.start.getTime() - b.start.getTime());
      return { id, name: g.name, members: [...new Set(shifts.map((s) => s.email))], shifts };
    });
  }
}

/** Seconds (RFC 9110 delta-seconds) or an HTTP date, as Retry-After allows; ms from `now`. */
export function retryAfterMs(value: string | undefined, now: number): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(value);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}
