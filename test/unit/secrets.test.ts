import { describe, it, expect, beforeEach, afterEach } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  SecretBox,
  SecretBoxError,
  parseEncryptionKey,
  resolveEncryptionKey,
} from '../../src/store/secrets.js';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips, with a fresh IV every time', () => {
    const secret = 'pässwörd: with "quotes" and ${braces} 🔑';
    const a = box.seal(secret);
    const b = box.seal(secret);
    expect(a).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$/);
    expect(a).not.toBe(b);
    expect(a).not.toContain(secret);
    expect(box.open(a)).toBe(secret);
    expect(box.open(b)).toBe(secret);
    expect(box.open(box.seal(''))).toBe('');
    expect(SecretBox.isSealed(a)).toBe(true);
    expect(SecretBox.isSealed(secret)).toBe(false);
  });

  it('refuses tampered ciphertext, IV or tag', () => {
    const sealed = box.seal('top secret value');
    const [v, iv, tag, ct] = sealed.split(':') as [string, string, string, string];
    const flip = (b64: string) => {
      const buf = Buffer.from(b64, 'base64');
      buf[0] = buf[0]! ^ 1;
      return buf.toString('base64');
    };
    for (const tampered of [
      [v, iv, tag, flip(ct)],
      [v, flip(iv), tag, ct],
      [v, iv, flip(tag), ct],
    ]) {
      expect(() => box.open(tampered.join(':'))).toThrow(/tampered/);
    }
    // A truncated tag would weaken the check; it is refused outright.
    const shortTag = Buffer.from(tag, 'base64').subarray(0, 4).toString('base64');
    expect(() => box.open([v, iv, shortTag, ct].join(':'))).toThrow(SecretBoxError);
    expect(() => box.open('plain text')).toThrow(/not a sealed secret/);
    expect(() => box.open(`v2:${iv}:${tag}:${ct}`)).toThrow(/not a sealed secret/);
  });

  it('refuses a value sealed with another key', () => {
    const other = new SecretBox(randomBytes(32));
    expect(() => other.open(box.seal('x'))).toThrow(/different LATCH_ENCRYPTION_KEY/);
  });

  it('seals and opens records, naming the field that fails', () => {
    const sealed = box.sealRecord({ password: 'p', token: 't' });
    expect(Object.keys(sealed)).toEqual(['password', 'token']);
    expect(sealed.password).not.toBe('p');
    expect(box.openRecord(sealed)).toEqual({ password: 'p', token: 't' });
    const other = new SecretBox(randomBytes(32));
    expect(() => other.openRecord(sealed)).toThrow(/^password: cannot decrypt/);
  });

  it('requires a 32-byte key', () => {
    expect(() => new SecretBox(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('parseEncryptionKey', () => {
  it('accepts hex and base64 of 32 bytes only', () => {
    const key = randomBytes(32);
    expect(parseEncryptionKey(key.toString('hex'))).toEqual(key);
    expect(parseEncryptionKey(key.toString('base64'))).toEqual(key);
    expect(parseEncryptionKey(key.toString('base64url'))).toEqual(key);
    expect(parseEncryptionKey(` ${key.toString('base64')}\n`)).toEqual(key);
    expect(parseEncryptionKey(randomBytes(16).toString('base64'))).toBeUndefined();
    expect(parseEncryptionKey(randomBytes(31).toString('hex'))).toBeUndefined();
    expect(parseEncryptionKey(randomBytes(48).toString('base64'))).toBeUndefined();
    expect(parseEncryptionKey('correct horse battery staple')).toBeUndefined();
  });
});

describe('resolveEncryptionKey', () => {
  let dataDir: string;
  let logs: string[];
  const log = (m: string) => logs.push(m);
  beforeEach(() => {
    dataDir = path.join(mkdtempSync(path.join(os.tmpdir(), 'latch-secrets-')), 'nested', '.latch');
    logs = [];
  });
  afterEach(() => {
    rmSync(path.dirname(path.dirname(dataDir)), { recursive: true, force: true });
  });

  it('generates a key into the data dir in development and reuses it', () => {
    const first = resolveEncryptionKey({ nodeEnv: 'development', dataDir, log });
    expect(first).toHaveLength(32);
    const file = path.join(dataDir, 'encryption.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toContain(file);
    // The key itself never appears in the log.
    expect(logs[0]).not.toContain(first.toString('base64'));
    expect(logs[0]).not.toContain(first.toString('hex'));

    const second = resolveEncryptionKey({ nodeEnv: 'development', dataDir, log });
    expect(second).toEqual(first);
    expect(logs).toHaveLength(1);
    expect(parseEncryptionKey(readFileSync(file, 'utf8'))).toEqual(first);

    // Secrets sealed before a restart open after it.
    const sealed = new SecretBox(first).seal('s');
    expect(new SecretBox(second).open(sealed)).toBe('s');
  });

  it('prefers the configured key and touches no file', () => {
    const key = randomBytes(32);
    expect(
      resolveEncryptionKey({ configuredKey: key.toString('hex'), nodeEnv: 'production', dataDir, log }),
    ).toEqual(key);
    expect(
      resolveEncryptionKey({ configuredKey: key.toString('base64'), nodeEnv: 'test', dataDir, log }),
    ).toEqual(key);
    expect(() => statSync(dataDir)).toThrow();
    expect(logs).toEqual([]);
  });

  it('requires a configured key in production', () => {
    expect(() => resolveEncryptionKey({ nodeEnv: 'production', dataDir, log })).toThrow(
      /LATCH_ENCRYPTION_KEY is required in production.*openssl rand -base64 32/,
    );
    expect(() => statSync(dataDir)).toThrow();
  });

  it('rejects a configured key of the wrong length', () => {
    expect(() =>
      resolveEncryptionKey({
        configuredKey: randomBytes(16).toString('base64'),
        nodeEnv: 'development',
        dataDir,
        log,
      }),
    ).toThrow(/LATCH_ENCRYPTION_KEY must be 32 bytes, base64 or hex/);
  });

  it('refuses to replace a damaged key file', () => {
    resolveEncryptionKey({ nodeEnv: 'development', dataDir, log });
    const file = path.join(dataDir, 'encryption.key');
    writeFileSync(file, 'garbage\n');
    expect(() => resolveEncryptionKey({ nodeEnv: 'development', dataDir, log })).toThrow(
      /does not hold a 32-byte key/,
    );
    expect(readFileSync(file, 'utf8')).toBe('garbage\n');
  });
});
