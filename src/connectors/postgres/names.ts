import { createHash } from 'node:crypto';
import type { LoginMapping } from './config.js';

const MAX_IDENTIFIER_BYTES = 63;

/**
 * Deterministic role name for a grant, so a retried grant or a revoke without a handle finds the
 * same role. Anything lossy (case, punctuation, truncation) adds a hash of the raw grantId, so two
 * grantIds never share a role.
 */
export function temporaryRoleName(prefix: string, grantId: string): string {
  const cleaned = grantId.toLowerCase().replace(/[^a-z0-9_]/g, '_');
  const plain = prefix + cleaned;
  if (cleaned === grantId && Buffer.byteLength(plain) <= MAX_IDENTIFIER_BYTES) return plain;
  const hash = createHash('sha256').update(grantId).digest('hex').slice(0, 10);
  return `${cutToBytes(plain, MAX_IDENTIFIER_BYTES - hash.length - 1)}_${hash}`;
}

/**
 * The NOLOGIN group role that holds one permission on one schema (or a whole database, schema
 * null); temporary logins get it by membership. One per target and permission, so its ACL entries
 * do not multiply with the grants.
 */
export function groupRoleName(
  prefix: string,
  database: string,
  schema: string | null,
  permission: string,
): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([database, schema, permission]))
    .digest('hex')
    .slice(0, 16);
  return `${cutToBytes(prefix, MAX_IDENTIFIER_BYTES - hash.length - 4)}grp_${hash}`;
}

export function isGroupRoleName(prefix: string, role: string): boolean {
  const p = cutToBytes(prefix, MAX_IDENTIFIER_BYTES - 16 - 4);
  return role.startsWith(p) && /^grp_[0-9a-f]{16}$/.test(role.slice(p.length));
}

/** The longest prefix of `text` within `max` UTF-8 bytes, never splitting a character. */
function cutToBytes(text: string, max: number): string {
  let out = '';
  for (const ch of text) {
    if (Buffer.byteLength(out + ch) > max) break;
    out += ch;
  }
  return out;
}

export interface PgTarget {
  database: string;
  /** null for a whole-database resource. */
  schema: string | null;
}

// Only `/` (the separator) and `%` (the escape) are encoded, so ordinary names give the plain ids
// `db:app/schema:billing` while any name still parses back unambiguously.
const encodePart = (s: string): string => s.replace(/[%/]/g, (c) => (c === '%' ? '%25' : '%2F'));
const decodePart = (s: string): string =>
  s.replace(/%(25|2F)/gi, (_m, hex: string) => (hex === '25' ? '%' : '/'));

export const databaseResourceId = (database: string): string => `db:${encodePart(database)}`;
export const schemaResourceId = (database: string, schema: string): string =>
  `${databaseResourceId(database)}/schema:${encodePart(schema)}`;

export function parseResourceId(id: string): PgTarget {
  const m = /^db:([^/]+)(?:\/schema:([^/]+))?$/.exec(id);
  if (!m?.[1]) {
    throw new Error(
      `not a PostgreSQL resource id: ${JSON.stringify(id)} (expected db:<database>[/schema:<schema>])`,
    );
  }
  return { database: decodePart(m[1]), schema: m[2] === undefined ? null : decodePart(m[2]) };
}

/**
 * Emails are case-insensitive and unquoted PostgreSQL names are lowercase, so logins are matched
 * lowercased. A derived name PostgreSQL would cut at 63 bytes is refused: two people whose names
 * share the first 63 bytes would otherwise be given (and have revoked) the same login.
 */
export function loginForEmail(mapping: LoginMapping, email: string): string {
  const normalised = email.trim().toLowerCase();
  let login: string;
  if (mapping === 'email') login = normalised;
  else if (mapping === 'email_localpart') {
    const at = normalised.lastIndexOf('@');
    if (at <= 0)
      throw new Error(`cannot derive a PostgreSQL login from ${JSON.stringify(email)}: not an email`);
    login = normalised.slice(0, at);
  } else {
    const hit = Object.entries(mapping.map).find(([key]) => key.trim().toLowerCase() === normalised);
    if (!hit) throw new Error(`no PostgreSQL login is mapped for ${email} (loginMapping.map)`);
    login = hit[1];
  }
  const bytes = Buffer.byteLength(login);
  if (bytes > MAX_IDENTIFIER_BYTES) {
    throw new Error(
      `cannot use ${JSON.stringify(login)} as the PostgreSQL login of ${email}: it is ${bytes} bytes and ` +
        `PostgreSQL cuts names at ${MAX_IDENTIFIER_BYTES}, where it could be someone else's login. ` +
        'Map this person explicitly (loginMapping: { map: { email: login } }).',
    );
  }
  return login;
}
