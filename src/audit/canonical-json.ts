/**
 * Canonical JSON and value normalisation for hashed audit entries.
 *
 * The hash of an entry must be the same before it is written and after it has been read back through
 * BSON (which does not keep key order and turns some JS values into others), and an external verifier
 * working from the JSONL export must get the same bytes. So entries are normalised to a JSON-like
 * shape *before* hashing and storing, and the hash is taken over a key-sorted serialisation.
 */
import { createHash } from 'node:crypto';

const SECRET_KEY = /password|secret|token|credential/i;
export const REDACTED = '[redacted]';

/** Serialises with object keys sorted at every level; Dates become ISO strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      out[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return out;
  }
  return value;
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/**
 * Deep-copies `details` into values that survive a BSON round trip unchanged and serialise the same
 * way in JSON, redacting secrets on the way. Anything that would change shape in storage (undefined,
 * functions, bigint, ObjectId, Buffer, NaN, invalid dates) is turned into its stable form here, so
 * what is hashed is exactly what is stored.
 */
export function normaliseDetails(details: Record<string, unknown> | undefined): Record<string, unknown> {
  if (details === undefined || details === null) return {};
  const out = normaliseValue(details, new Set());
  return out !== null && typeof out === 'object' && !Array.isArray(out) && !(out instanceof Date)
    ? (out as Record<string, unknown>)
    : { value: out };
}

function normaliseValue(value: unknown, seen: Set<object>): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value;
    case 'number':
      // JSON has no NaN/Infinity and BSON would keep them, so hashed and exported forms would differ.
      return Number.isFinite(value) ? value : null;
    case 'bigint':
      // BSON would store a Long and hand back a lossy number.
      return value.toString();
    case 'undefined':
    case 'function':
    case 'symbol':
      return undefined;
  }
  if (value === null) return null;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : new Date(value.getTime());
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  const obj = value as object;
  if (seen.has(obj)) return '[circular]';
  seen.add(obj);
  try {
    if (Array.isArray(obj)) {
      // BSON keeps array positions, storing undefined as null; do the same up front.
      return obj.map((item) => {
        const v = normaliseValue(item, seen);
        return v === undefined ? null : v;
      });
    }
    const proto = Object.getPrototypeOf(obj) as unknown;
    const toJSON = (obj as { toJSON?: unknown }).toJSON;
    if (proto !== Object.prototype && proto !== null && typeof toJSON === 'function') {
      // ObjectId, Decimal128, mongoose documents, URL...: their JSON form is their stable form.
      return normaliseValue((toJSON as () => unknown).call(obj), seen);
    }
    if (obj instanceof Map) return normaliseValue(Object.fromEntries(obj), seen);
    if (obj instanceof Set) return normaliseValue([...obj], seen);
    const out: Record<string, unknown> = {};
    for (const [key, raw] of Object.entries(obj)) {
      if (SECRET_KEY.test(key)) {
        out[key] = REDACTED;
        continue;
      }
      const v = normaliseValue(raw, seen);
      if (v !== undefined) out[key] = v;
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}
