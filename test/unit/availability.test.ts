import { describe, it, expect } from '@jest/globals';
import { checkAvailability, withinWorkingHours } from '../../src/domain/availability.js';
import { availabilitySchema } from '../../src/domain/flow.js';

const berlinOffice = availabilitySchema.parse({
  timeZone: 'Europe/Berlin',
  days: ['mon', 'tue', 'wed', 'thu', 'fri'],
  start: '09:00',
  end: '18:00',
});

describe('checkAvailability', () => {
  it('is always open without a window', () => {
    expect(checkAvailability(undefined, new Date('2025-01-05T03:00:00Z'))).toEqual({ ok: true });
  });

  it('uses the window zone, not UTC (winter, UTC+1)', () => {
    // Monday 2025-01-06: 08:30 UTC is 09:30 in Berlin; 17:30 UTC is 18:30.
    expect(checkAvailability(berlinOffice, new Date('2025-01-06T08:30:00Z')).ok).toBe(true);
    expect(checkAvailability(berlinOffice, new Date('2025-01-06T07:59:00Z')).ok).toBe(false);
    expect(checkAvailability(berlinOffice, new Date('2025-01-06T16:59:59Z')).ok).toBe(true);
    expect(checkAvailability(berlinOffice, new Date('2025-01-06T17:00:00Z')).ok).toBe(false);
  });

  it('follows daylight saving time (summer, UTC+2)', () => {
    // Monday 2025-03-31, the first working day after the switch: 07:30 UTC is 09:30 in Berlin.
    expect(checkAvailability(berlinOffice, new Date('2025-03-31T07:30:00Z')).ok).toBe(true);
    // 16:30 UTC is 18:30 local: closed, though it would be open under winter time.
    expect(checkAvailability(berlinOffice, new Date('2025-03-31T16:30:00Z')).ok).toBe(false);
    // Friday before the switch, 16:30 UTC is 17:30 local: open.
    expect(checkAvailability(berlinOffice, new Date('2025-03-28T16:30:00Z')).ok).toBe(true);
  });

  it('is closed at weekends and says when it is open', () => {
    const r = checkAvailability(berlinOffice, new Date('2025-01-04T10:00:00Z'));
    expect(r).toEqual({ ok: false, reason: 'available Mon–Fri 09:00–18:00 (Europe/Berlin)' });
  });

  it('handles a window that crosses midnight: the late part belongs to the start day', () => {
    const nights = availabilitySchema.parse({
      timeZone: 'America/New_York',
      days: ['fri'],
      start: '22:00',
      end: '06:00',
    });
    // Friday 2025-01-10 23:00 in New York (UTC-5) = Sat 04:00 UTC.
    expect(checkAvailability(nights, new Date('2025-01-11T04:00:00Z')).ok).toBe(true);
    // Saturday 05:00 local, still Friday's night shift.
    expect(checkAvailability(nights, new Date('2025-01-11T10:00:00Z')).ok).toBe(true);
    // Saturday 06:00 local: over.
    expect(checkAvailability(nights, new Date('2025-01-11T11:00:00Z')).ok).toBe(false);
    // Saturday 23:00 local: Saturday is not a window day.
    expect(checkAvailability(nights, new Date('2025-01-12T04:00:00Z')).ok).toBe(false);
    // Friday 05:00 local belongs to Thursday's night, which is not in the window.
    expect(checkAvailability(nights, new Date('2025-01-10T10:00:00Z'))).toEqual({
      ok: false,
      reason: 'available Fri 22:00–06:00 (America/New_York)',
    });
  });

  it('describes scattered days', () => {
    const av = availabilitySchema.parse({
      timeZone: 'UTC',
      days: ['wed', 'mon', 'sat', 'sun'],
      start: '08:00',
      end: '09:00',
    });
    const r = checkAvailability(av, new Date('2025-01-07T12:00:00Z'));
    expect(r).toEqual({ ok: false, reason: 'available Mon, Wed, Sat, Sun 08:00–09:00 (UTC)' });
  });
});

describe('withinWorkingHours', () => {
  it('is unknown without a zone', () => {
    expect(withinWorkingHours(undefined, new Date())).toBeUndefined();
  });

  it('judges the approver’s local time', () => {
    const t = new Date('2025-01-06T08:30:00Z'); // Monday
    expect(withinWorkingHours('Europe/Berlin', t)).toBe(true); // 09:30
    expect(withinWorkingHours('America/Los_Angeles', t)).toBe(false); // 00:30
    expect(withinWorkingHours('Asia/Tokyo', new Date('2025-01-04T02:00:00Z'))).toBe(false); // Saturday 11:00
  });
});
