import { describe, expect, it } from '@jest/globals';
import { parseStoredSettings, settingsSchema, storableSettings } from '../../src/domain/flow.js';

describe('stored settings', () => {
  it('treat a cleared optional field (null or empty) as absent', () => {
    for (const auditChannel of [null, undefined, '']) {
      const { settings, repaired } = parseStoredSettings({ auditChannel, expiryWarningMinutes: 5 });
      expect(settings).not.toHaveProperty('auditChannel');
      expect(settings.expiryWarningMinutes).toBe(5);
      expect(repaired).toEqual([]);
    }
  });

  it('fall back to the default of a field that does not parse, and say which', () => {
    const { settings, repaired } = parseStoredSettings({
      admins: ['a@example.com'],
      expiryWarningMinutes: 'soon',
      selfExtension: 'sometimes',
      fallback: { enabled: 'yes' },
    });
    expect(settings).toEqual({ ...settingsSchema.parse({}), admins: ['a@example.com'] });
    expect(repaired.map((r) => r.split(':')[0])).toEqual(
      expect.arrayContaining(['expiryWarningMinutes', 'selfExtension', 'fallback.enabled']),
    );
  });

  it('read a missing or non-object document as the defaults', () => {
    expect(parseStoredSettings(undefined)).toEqual({ settings: settingsSchema.parse({}), repaired: [] });
    expect(parseStoredSettings('garbage').settings).toEqual(settingsSchema.parse({}));
  });

  it('are stored without null or undefined fields', () => {
    const stored = storableSettings({ ...settingsSchema.parse({}), auditChannel: undefined });
    expect(Object.keys(stored)).not.toContain('auditChannel');
  });
});
