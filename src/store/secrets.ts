/**
 * Encryption of integration secrets at rest: AES-256-GCM, a fresh 96-bit IV per value, and a version
 * prefix so the format (or the key scheme) can change later without guessing what a stored value is.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { registerSecret } from '../secret-scrubber.js';

const VERSION = 'v1';
const ALGORITHM = 'aes-256-gcm';
const KEY_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_FILE_NAME = 'encryption.key';
const GENERATE_HINT = 'generate one with: openssl rand -base64 32';

export class SecretBoxError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretBoxError';
  }
}

export class SecretBox {
  readonly #key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== KEY_BYTES) {
      throw new SecretBoxError(`encryption key must be ${KEY_BYTES} bytes, got ${key.length}`);
    }
    // A private copy: the caller's buffer may be reused or zeroed.
    this.#key = Buffer.from(key);
    for (const form of ['base64', 'base64url', 'hex'] as const) registerSecret(key.toString(form));
  }

  /** Returns `v1:<iv>:<tag>:<ciphertext>`, each part base64. */
  seal(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.#key, iv);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, iv.toString('base64'), tag.toString('base64'), ct.toString('base64')].join(':');
  }

  open(sealed: string): string {
    const parts = sealed.split(':');
    if (parts.length !== 4 || parts[0] !== VERSION) {
      throw new SecretBoxError(`not a sealed secret (expected "${VERSION}:<iv>:<tag>:<ciphertext>")`);
    }
    const [, ivB64, tagB64, ctB64] = parts as [string, string, string, string];
    const iv = Buffer.from(ivB64, 'base64');
    const tag = Buffer.from(tagB64, 'base64');
    const ct = Buffer.from(ctB64, 'base64');
    // GCM would accept a short tag and so weaken the check; insist on the full length.
    if (iv.length !== IV_BYTES || tag.length !== TAG_BYTES) {
      throw new SecretBoxError('not a sealed secret (bad IV or tag length)');
    }
    try {
      const decipher = createDecipheriv(ALGORITHM, this.#key, iv, { authTagLength: TAG_BYTES });
      decipher.setAuthTag(tag);
      return Buffer.concat([decipher.update(ct), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretBoxError(
        'cannot decrypt secret: it was sealed with a different LATCH_ENCRYPTION_KEY, or it has been tampered with',
      );
    }
  }

  /** Integration secrets; each value is masked in the logs from now on (secret-scrubber.ts). */
  sealRecord(record: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(record).map(([k, v]) => {
        registerSecret(v);
        return [k, this.seal(v)];
      }),
    );
  }

  /** Integration secrets; each value is masked in the logs from now on (secret-scrubber.ts). */
  openRecord(record: Record<string, string>): Record<string, string> {
    return Object.fromEntries(
      Object.entries(record).map(([k, v]) => {
        try {
          const value = this.open(v);
          registerSecret(value);
          return [k, value];
        } catch (err) {
          // Say which field failed; the value itself stays out of the message.
          throw new SecretBoxError(`${k}: ${(err as Error).message}`);
        }
      }),
    );
  }

  static isSealed(value: string): boolean {
    return value.startsWith(`${VERSION}:`) && value.split(':').length === 4;
  }
}

/**
 * Parses a 32-byte key written as 64 hex characters or as base64 (standard or URL-safe, padding
 * optional). Returns undefined for anything else, so callers can word their own error.
 */
export function parseEncryptionKey(text: string): Buffer | undefined {
  const s = text.trim();
  // Checked first: 64 hex characters are also valid base64 (of 48 bytes), never the other way round.
  if (/^[0-9a-fA-F]{64}$/.test(s)) return Buffer.from(s, 'hex');
  if (/^[A-Za-z0-9+/]{43}=?$/.test(s) || /^[A-Za-z0-9_-]{43}=?$/.test(s)) {
    const key = Buffer.from(s, s.includes('-') || s.includes('_') ? 'base64url' : 'base64');
    return key.length === KEY_BYTES ? key : undefined;
  }
  return undefined;
}

export interface ResolveKeyOptions {
  configuredKey?: string;
  nodeEnv: string;
  dataDir: string;
  log: (msg: string) => void;
}

/**
 * The key comes from LATCH_ENCRYPTION_KEY; outside production a missing one is generated once into
 * the data directory, so `npm start` works with no setup and secrets survive restarts.
 */
export function resolveEncryptionKey(opts: ResolveKeyOptions): Buffer {
  const configured = opts.configuredKey?.trim();
  if (configured) {
    const key = parseEncryptionKey(configured);
    if (!key)
      throw new SecretBoxError(`LATCH_ENCRYPTION_KEY must be 32 bytes, base64 or hex (${GENERATE_HINT})`);
    return key;
  }
  if (opts.nodeEnv === 'production') {
    throw new SecretBoxError(
      `LATCH_ENCRYPTION_KEY is required in production: it encrypts integration secrets at rest (${GENERATE_HINT})`,
    );
  }

  const file = path.resolve(opts.dataDir, KEY_FILE_NAME);
  if (existsSync(file)) return readKeyFile(file, opts.log);

  mkdirSync(path.dirname(file), { recursive: true });
  const key = randomBytes(KEY_BYTES);
  // Write to a private temporary name, then link it into place: link() fails if the file exists, so
  // when two processes start together exactly one key wins and nobody reads a half-written file.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, key.toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  try {
    linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readKeyFile(file, opts.log);
  } finally {
    unlinkSync(tmp);
  }
  opts.log(
    `Generated a new encryption key in ${file}. Back it up: without it, stored integration secrets cannot ` +
      `be decrypted. In production set LATCH_ENCRYPTION_KEY instead.`,
  );
  return key;
}

function readKeyFile(file: string, log: (msg: string) => void): Buffer {
  const key = parseEncryptionKey(readFileSync(file, 'utf8'));
  if (!key) {
    // Never regenerate over it: secrets sealed with the old key would be lost for good.
    throw new SecretBoxError(`${file} does not hold a 32-byte key (base64 or hex); fix or remove it`);
  }
  if (process.platform !== 'win32' && (statSync(file).mode & 0o077) !== 0) {
    log(`Warning: ${file} is readable by other users; run: chmod 600 ${file}`);
  }
  return key;
}
