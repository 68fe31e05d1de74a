/**
 * What an audit entry's `hash` is: HMAC-SHA256 under the chain key (see chain-key.ts) over the
 * canonical JSON of the entry without its hash (hashedView), `prevHash` included. Without the key
 * nobody can produce a hash that verifies, so an entry edited, inserted or appended directly in
 * MongoDB is named by verify() even when the chain after it was recomputed with plain SHA-256.
 */
import { canonicalJson } from './canonical-json.js';
import { hmacHex } from './chain-key.js';
import type { StoredAuditEntry } from './model.js';

/** prevHash of seq 1 (and of the first entry written after every entry before it was removed). */
export const GENESIS_HASH = '0'.repeat(64);

export type HashedFields = Omit<StoredAuditEntry, 'hash'>;

/**
 * Exactly the object that is MACed; also the shape of an exported JSONL line minus `hash`, so an
 * external verifier holding the key can do
 * `const { hash, ...rest } = line; hmacSha256(key, canonicalJson(rest)) === hash`.
 */
export function hashedView(entry: HashedFields): Record<string, unknown> {
  return {
    seq: entry.seq,
    at: entry.at instanceof Date ? isoOrNull(entry.at) : (entry.at ?? null),
    actor: entry.actor ?? null,
    action: entry.action ?? null,
    subject: entry.subject ?? null,
    details: entry.details ?? {},
    prevHash: entry.prevHash ?? null,
  };
}

export function entryHash(key: Buffer, entry: HashedFields): string {
  return hmacHex(key, canonicalJson(hashedView(entry)));
}

/** entryHash, or null for a stored value canonicalJson cannot serialise (itself tampering). */
export function safeEntryHash(key: Buffer, entry: HashedFields): string | null {
  try {
    return entryHash(key, entry);
  } catch {
    return null;
  }
}

function isoOrNull(d: Date): string | null {
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}
