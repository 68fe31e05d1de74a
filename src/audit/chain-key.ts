/**
 * The audit chain key: every entry's `hash` is an HMAC-SHA256 under it, and every checkpoint is MACed
 * with it, so someone who can write to MongoDB but does not hold the key cannot recompute the chain
 * after editing, inserting or appending an entry.
 *
 * The key is LATCH_AUDIT_KEY when set (32 bytes, base64 or hex, parsed like LATCH_ENCRYPTION_KEY), else
 * derived from the encryption key with HKDF-SHA256, so an install with only LATCH_ENCRYPTION_KEY (or
 * the generated development key file) needs nothing more. The key is never logged.
 */
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { KEY_FILE_NAME, parseEncryptionKey } from '../store/secrets.js';

export const AUDIT_KEY_BYTES = 32;
/** HKDF info of the key derived from the encryption key; a new scheme gets a new string. */
export const AUDIT_KEY_INFO = 'latch audit chain v1';

export class AuditKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuditKeyError';
  }
}

/** The chain key derived from the encryption key (HKDF-SHA256, empty salt, AUDIT_KEY_INFO). */
export function deriveAuditKey(encryptionKey: Buffer): Buffer {
  return Buffer.from(hkdfSync('sha256', encryptionKey, Buffer.alloc(0), AUDIT_KEY_INFO, AUDIT_KEY_BYTES));
}

/** LATCH_AUDIT_KEY as given (base64 or hex of 32 bytes); throws a message that never echoes the value. */
export function parseAuditKey(text: string): Buffer {
  const key = parseEncryptionKey(text);
  if (!key)
    throw new AuditKeyError(
      'LATCH_AUDIT_KEY must be 32 bytes, base64 or hex (generate one with: openssl rand -base64 32)',
    );
  return key;
}

/** The key Latch uses: the configured audit key, else the one derived from the encryption key. */
export function resolveAuditKey(opts: { auditKey?: string | Buffer; encryptionKey: Buffer }): Buffer {
  if (opts.auditKey !== undefined && opts.auditKey !== '') {
    const key = typeof opts.auditKey === 'string' ? parseAuditKey(opts.auditKey) : opts.auditKey;
    if (key.length !== AUDIT_KEY_BYTES)
      throw new AuditKeyError(`the audit key must be ${AUDIT_KEY_BYTES} bytes, got ${key.length}`);
    return Buffer.from(key);
  }
  return deriveAuditKey(opts.encryptionKey);
}

/**
 * For tools that run beside Latch (the audit CLI): LATCH_AUDIT_KEY, else LATCH_ENCRYPTION_KEY, else the
 * development key file in the data directory. Never generates a key: a missing one is an error.
 */
export function auditKeyFromEnvironment(env: NodeJS.ProcessEnv, dataDir: string): Buffer {
  const auditKey = env.LATCH_AUDIT_KEY?.trim();
  if (auditKey) return parseAuditKey(auditKey);
  const encryption = env.LATCH_ENCRYPTION_KEY?.trim();
  if (encryption) {
    const key = parseEncryptionKey(encryption);
    if (!key) throw new AuditKeyError('LATCH_ENCRYPTION_KEY must be 32 bytes, base64 or hex');
    return deriveAuditKey(key);
  }
  const file = path.resolve(dataDir, KEY_FILE_NAME);
  if (!existsSync(file)) {
    throw new AuditKeyError(
      `no audit key: set LATCH_AUDIT_KEY or LATCH_ENCRYPTION_KEY as Latch has them, or LATCH_DATA_DIR to ` +
        `the data directory that holds ${KEY_FILE_NAME} (looked in ${path.dirname(file)})`,
    );
  }
  const key = parseEncryptionKey(readFileSync(file, 'utf8'));
  if (!key) throw new AuditKeyError(`${file} does not hold a 32-byte key (base64 or hex)`);
  return deriveAuditKey(key);
}

export function hmacHex(key: Buffer, text: string): string {
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

/** Constant-time comparison of an expected hex MAC with a stored value of any shape. */
export function macEquals(expectedHex: string, stored: unknown): boolean {
  if (typeof stored !== 'string' || stored.length !== expectedHex.length || !/^[0-9a-f]*$/.test(stored))
    return false;
  const a = Buffer.from(expectedHex, 'hex');
  const b = Buffer.from(stored, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
