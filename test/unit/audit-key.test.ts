import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from '@jest/globals';
import {
  AUDIT_KEY_INFO,
  auditKeyFromEnvironment,
  deriveAuditKey,
  hmacHex,
  macEquals,
  resolveAuditKey,
} from '../../src/audit/chain-key.js';
import { formatCheckpoint, parseCheckpointArg } from '../../src/audit/checkpoints.js';
import { loadConfig } from '../../src/config.js';

describe('audit chain key', () => {
  const encryptionKey = randomBytes(32);

  it('is derived from the encryption key with HKDF-SHA256 unless LATCH_AUDIT_KEY is set', () => {
    const derived = deriveAuditKey(encryptionKey);
    expect(derived).toHaveLength(32);
    expect(derived.equals(encryptionKey)).toBe(false);
    expect(derived).toEqual(
      Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), AUDIT_KEY_INFO, 32)),
    );
    expect(resolveAuditKey({ encryptionKey })).toEqual(derived);

    const own = randomBytes(32);
    expect(resolveAuditKey({ auditKey: own.toString('base64'), encryptionKey })).toEqual(own);
    expect(resolveAuditKey({ auditKey: own.toString('hex'), encryptionKey })).toEqual(own);
    expect(resolveAuditKey({ auditKey: own, encryptionKey })).toEqual(own);
    expect(() => resolveAuditKey({ auditKey: 'too-short', encryptionKey })).toThrow(
      /LATCH_AUDIT_KEY must be 32 bytes/,
    );
  });

  it('is found by tools as Latch finds it: LATCH_AUDIT_KEY, LATCH_ENCRYPTION_KEY, then the key file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-auditkey-'));
    try {
      expect(() => auditKeyFromEnvironment({}, dir)).toThrow(/no audit key/);
      writeFileSync(path.join(dir, 'encryption.key'), encryptionKey.toString('base64') + '\n');
      expect(auditKeyFromEnvironment({}, dir)).toEqual(deriveAuditKey(encryptionKey));
      const other = randomBytes(32);
      expect(auditKeyFromEnvironment({ LATCH_ENCRYPTION_KEY: other.toString('hex') }, dir)).toEqual(
        deriveAuditKey(other),
      );
      const own = randomBytes(32);
      expect(
        auditKeyFromEnvironment(
          { LATCH_AUDIT_KEY: own.toString('base64'), LATCH_ENCRYPTION_KEY: other.toString('hex') },
          dir,
        ),
      ).toEqual(own);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is validated by the configuration and never echoed', () => {
    const own = randomBytes(32).toString('base64');
    expect(loadConfig({ LATCH_AUDIT_KEY: own }, { cwd: os.tmpdir() }).auditKey).toBe(own);
    expect(() => loadConfig({ LATCH_AUDIT_KEY: 'not-a-key-value' }, { cwd: os.tmpdir() })).toThrow(
      /LATCH_AUDIT_KEY: must be 32 bytes/,
    );
    try {
      loadConfig({ LATCH_AUDIT_KEY: 'not-a-key-value' }, { cwd: os.tmpdir() });
    } catch (err) {
      expect((err as Error).message).not.toContain('not-a-key-value');
    }
  });

  it('compares MACs in constant time and refuses anything malformed', () => {
    const key = randomBytes(32);
    const mac = hmacHex(key, 'x');
    expect(mac).toBe(createHmac('sha256', key).update('x').digest('hex'));
    expect(macEquals(mac, mac)).toBe(true);
    expect(macEquals(mac, mac.toUpperCase())).toBe(false);
    expect(macEquals(mac, mac.slice(1))).toBe(false);
    expect(macEquals(mac, undefined)).toBe(false);
    expect(macEquals(mac, hmacHex(randomBytes(32), 'x'))).toBe(false);
  });

  it('prints checkpoints for people in the form verify --checkpoint reads back', () => {
    const cp = { database: 'latch', seq: 1042, hash: 'ab'.repeat(32), at: new Date(), mac: '00'.repeat(32) };
    const line = formatCheckpoint(cp);
    const arg = /--checkpoint (\S+)\)$/.exec(line)![1]!;
    expect(parseCheckpointArg(arg)).toEqual({ seq: 1042, hash: cp.hash });
    expect(parseCheckpointArg('0:' + cp.hash)).toBeUndefined();
    expect(parseCheckpointArg('12:abc')).toBeUndefined();
  });
});
