import { createHash } from 'node:crypto';
import type { LoginMapping } from './config.js';

/** MariaDB 10.6+ takes user names up to 128 characters. */
export const MAX_USER_CHARS = 128;
/** MySQL 5.7/8 cap user names at 32 characters: temporary users fit both servers. */
export const MAX_TEMPORARY_USER_CHARS = 32;

/**
 * Deterministic user name for a grant, so a retried grant or a revoke without a handle finds the
 * same user. Anything lossy (case, punctuation, cutting) adds a hash of the raw grantId, so two
 * grantIds never share a user.
 */
export function temporaryUserName(prefix: string, grantId: string): string {
  const cleaned = grantId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const plain = prefix + cleaned;
  if (cleaned === grantId && plain.length <= MAX_TEMPORARY_USER_CHARS) return plain;
  const hash = createHash('sha256').update(grantId).digest('hex').slice(0, 10);
  return `${plain.slice(0, MAX_TEMPORARY_USER_CHARS - hash.length - 1)}_${hash}`;
}

/** Temporary users are plain lowercase ASCII: anything else carrying the prefix was not made by Latch. */
export const isTemporaryUserName = (prefix: string, user: string): boolean =>
  user.startsWith(prefix) && user.length <= MAX_TEMPORARY_USER_CHARS && /^[a-z0-9_]+$/.test(user);

/** The one-shot event that drops a temporary user at its expiry (at most 64 characters). */
export const expiryEventName = (user: string): string => `expire_${user}`;

export const databaseResourceId = (database: string): string => `db:${database}`;

export function parseResourceId(id: string): string {
  const m = /^db:(.+)$/s.exec(id);
  if (!m?.[1]) throw new Error(`not a MySQL resource id: ${JSON.stringify(id)} (expected db:<database>)`);
  return m[1];
}

/**
 * In a database-level GRANT, `_` and `%` are wildcards: `GRANT ... ON my_db.*` also opens `myXdb`.
 * Latch grants on the escaped name, which matches exactly one database.
 */
export const databasePattern = (database: string): string => database.replace(/[\\_%]/g, '\\$&');
/** The database a stored grant pattern names, when read literally. */
export const patternDatabase = (pattern: string): string => pattern.replace(/\\([\\_%])/g, '$1');

/**
 * Emails are case-insensitive, so accounts are matched lowercased. A name MariaDB would refuse or
 * alter (too long, or holding characters its user table cannot store) is refused here with the reason.
 */
export function accountForEmail(mapping: LoginMapping, email: string): string {
  const normalised = email.trim().toLowerCase();
  let user: string;
  if (mapping === 'email') user = normalised;
  else if (mapping === 'email_localpart') {
    const at = normalised.lastIndexOf('@');
    if (at <= 0) throw new Error(`cannot derive a MySQL account from ${JSON.stringify(email)}: not an email`);
    user = normalised.slice(0, at);
  } else {
    const hit = Object.entries(mapping.map).find(([key]) => key.trim().toLowerCase() === normalised);
    if (!hit) throw new Error(`no MySQL account is mapped for ${email} (loginMapping.map)`);
    user = hit[1];
  }
  if (user.length > MAX_USER_CHARS) {
    throw new Error(
      `cannot use a ${user.length}-character name as the MySQL account of ${email}: MariaDB takes at most ` +
        `${MAX_USER_CHARS}. Map this person explicitly (loginMapping: { map: { email: account } }).`,
    );
  }
  if (/[\u{10000}-\u{10FFFF}]/u.test(user)) {
    throw new Error(
      `cannot use ${JSON.stringify(user)} as the MySQL account of ${email}: MariaDB stores characters such as ` +
        'emoji as "?", so it could be someone else\'s account. Map this person explicitly.',
    );
  }
  return user;
}
