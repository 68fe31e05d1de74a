import { describe, it, expect } from '@jest/globals';
import {
  checkExtension,
  checkRequestedDuration,
  defaultDuration,
  durationOptions,
  extendedExpiry,
  formatDuration,
  parseDuration,
} from '../../src/domain/duration.js';
import { durationPolicySchema, extensionPolicySchema } from '../../src/domain/flow.js';

const upTo4h = durationPolicySchema.parse({ maxMinutes: 240 });
const choices = durationPolicySchema.parse({ choicesMinutes: [60, 15, 480], maxMinutes: 480 });
const indefinite = durationPolicySchema.parse({ maxMinutes: 120, allowIndefinite: true });

describe('checkRequestedDuration', () => {
  it('accepts anything up to the maximum when there are no choices', () => {
    expect(checkRequestedDuration(upTo4h, 240)).toEqual({ ok: true, minutes: 240 });
    expect(checkRequestedDuration(upTo4h, 17)).toEqual({ ok: true, minutes: 17 });
    expect(checkRequestedDuration(upTo4h, 241)).toEqual({
      ok: false,
      reason: 'The longest this flow allows is 4 hours',
    });
  });

  it('accepts only the offered choices', () => {
    expect(checkRequestedDuration(choices, 60)).toEqual({ ok: true, minutes: 60 });
    expect(checkRequestedDuration(choices, 120)).toEqual({
      ok: false,
      reason: 'Choose one of: 15 minutes, 1 hour, 8 hours',
    });
  });

  it('allows indefinite access only when the flow does', () => {
    expect(checkRequestedDuration(indefinite, null)).toEqual({ ok: true, minutes: null });
    expect(checkRequestedDuration(upTo4h, null)).toEqual({
      ok: false,
      reason: 'This flow does not allow indefinite access',
    });
  });

  it('rejects zero, negative and fractional minutes', () => {
    for (const m of [0, -5, 1.5]) expect(checkRequestedDuration(upTo4h, m).ok).toBe(false);
  });
});

describe('defaults and options', () => {
  it('defaults to the first choice, else at most an hour', () => {
    expect(defaultDuration(choices)).toBe(60);
    expect(defaultDuration(upTo4h)).toBe(60);
    expect(defaultDuration(durationPolicySchema.parse({ maxMinutes: 30 }))).toBe(30);
    expect(defaultDuration(durationPolicySchema.parse({ allowIndefinite: true }))).toBe(60);
  });

  it('offers the choices in order, plus indefinite when allowed', () => {
    expect(durationOptions(choices)).toEqual([15, 60, 480]);
    expect(
      durationOptions(durationPolicySchema.parse({ choicesMinutes: [30], allowIndefinite: true })),
    ).toEqual([30, null]);
  });

  it('offers a ladder up to the maximum, and the maximum itself', () => {
    expect(durationOptions(upTo4h)).toEqual([15, 30, 60, 120, 240]);
    expect(durationOptions(durationPolicySchema.parse({ maxMinutes: 90 }))).toEqual([15, 30, 60, 90]);
    expect(durationOptions(durationPolicySchema.parse({ maxMinutes: 10 }))).toEqual([10]);
    expect(durationOptions(indefinite)).toEqual([15, 30, 60, 120, null]);
  });

  it('every offered option passes the check', () => {
    for (const policy of [upTo4h, choices, indefinite]) {
      for (const m of durationOptions(policy)) expect(checkRequestedDuration(policy, m).ok).toBe(true);
      expect(checkRequestedDuration(policy, defaultDuration(policy)).ok).toBe(true);
    }
  });
});

describe('extensions', () => {
  it('are refused when the flow has none', () => {
    expect(checkExtension(extensionPolicySchema.parse({}), 0)).toEqual({
      ok: false,
      reason: 'This flow does not allow extending access',
    });
  });

  it('are direct or need approval, up to the limit', () => {
    expect(checkExtension(extensionPolicySchema.parse({ mode: 'direct', maxCount: 2 }), 1)).toEqual({
      ok: true,
      needsApproval: false,
    });
    expect(checkExtension(extensionPolicySchema.parse({ mode: 'approval' }), 0)).toEqual({
      ok: true,
      needsApproval: true,
    });
    expect(checkExtension(extensionPolicySchema.parse({ mode: 'direct', maxCount: 2 }), 2)).toEqual({
      ok: false,
      reason: 'This access can be extended at most 2 times, and it already has been',
    });
    expect(checkExtension(extensionPolicySchema.parse({ mode: 'approval', maxCount: 1 }), 1)).toEqual({
      ok: false,
      reason: 'This access can be extended at most once, and it already has been',
    });
  });

  it('extend from the current expiry, or from now when that has passed', () => {
    const expires = new Date('2025-01-06T10:00:00Z');
    expect(extendedExpiry(expires, new Date('2025-01-06T09:50:00Z'), 60)).toEqual(
      new Date('2025-01-06T11:00:00Z'),
    );
    expect(extendedExpiry(expires, new Date('2025-01-06T10:20:00Z'), 60)).toEqual(
      new Date('2025-01-06T11:20:00Z'),
    );
  });
});

describe('formatDuration', () => {
  it('reads naturally', () => {
    expect(formatDuration(15)).toBe('15 minutes');
    expect(formatDuration(1)).toBe('1 minute');
    expect(formatDuration(120)).toBe('2 hours');
    expect(formatDuration(90)).toBe('1 hour 30 minutes');
    expect(formatDuration(26 * 60)).toBe('1 day 2 hours');
    expect(formatDuration(3 * 24 * 60)).toBe('3 days');
    expect(formatDuration(null)).toBe('indefinitely');
  });
});

describe('parseDuration', () => {
  it('understands short and long forms', () => {
    expect(parseDuration('90m')).toBe(90);
    expect(parseDuration('2h')).toBe(120);
    expect(parseDuration('1d')).toBe(1440);
    expect(parseDuration('1h30m')).toBe(90);
    expect(parseDuration('1 hour 30 minutes')).toBe(90);
    expect(parseDuration(' 2 Hours ')).toBe(120);
    expect(parseDuration('1.5h')).toBe(90);
    expect(parseDuration('45')).toBe(45);
    expect(parseDuration('indefinite')).toBeNull();
    expect(parseDuration('Indefinitely')).toBeNull();
  });

  it('rejects garbage', () => {
    for (const text of ['', 'soon', '2x', 'h', '1h and', '0m', '-1h', '1h30', '2 hours please']) {
      expect(parseDuration(text)).toBeUndefined();
    }
  });

  it('round-trips what formatDuration prints', () => {
    for (const m of [15, 90, 26 * 60, 3 * 24 * 60 + 5]) expect(parseDuration(formatDuration(m))).toBe(m);
  });
});
