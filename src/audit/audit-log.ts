/**
 * Append-only, hash-chained audit log (DESIGN.md, "audit/").
 *
 * Every entry carries a dense `seq` and `hash = sha256(canonicalJson({seq, at, actor, action, subject,
 * details, prevHash}))`, with `prevHash` the previous entry's hash, so editing, removing or reordering
 * an entry anywhere but at the very end is visible to verify() and to anyone holding a JSONL export.
 *
 * Ordering without transactions: the unique index on `seq` is the only arbiter. A writer reads the head,
 * inserts its batch at head+1.. with one ordered insertMany, and on a duplicate `seq` re-reads the head
 * and chains what is left onto it.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { canonicalJson, normaliseDetails, sha256Hex } from './canonical-json.js';
import { auditEntryModel, type AuditEntryModel, type StoredAuditEntry } from './model.js';

export { AuditLogAppendOnlyError, type StoredAuditEntry } from './model.js';
export { canonicalJson } from './canonical-json.js';

export interface AuditEvent {
  actor: { type: 'user' | 'system'; id: string };
  /** Dotted verb, e.g. `request.submitted`, `grant.revoked`, `admin.denied`. */
  action: string;
  subject?: { type: string; id: string };
  /** Values under keys matching /password|secret|token|credential/i are replaced by '[redacted]'. */
  details?: Record<string, unknown>;
  /** When it happened; defaults to the time of append(). */
  at?: Date;
}

export type VerifyResult =
  | { ok: true; checked: number }
  | { ok: false; checked: number; seq: number; reason: 'hash mismatch' | 'broken link' | 'missing entry' };

/** prevHash of seq 1. */
export const GENESIS_HASH = '0'.repeat(64);

const PAGE_SIZE = 500;
const MAX_APPEND_ATTEMPTS = 50;
const MAX_LATEST = 1000;

type HashedFields = Omit<StoredAuditEntry, 'hash'>;
type PreparedEvent = Omit<StoredAuditEntry, 'seq' | 'prevHash' | 'hash'>;
type InsertDoc = StoredAuditEntry & { _id: mongoose.Types.ObjectId };

/**
 * Exactly the object that is hashed; also the shape of an exported JSONL line minus `hash`, so an
 * external verifier can do `const { hash, ...rest } = line; sha256(canonicalJson(rest)) === hash`.
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

export function entryHash(entry: HashedFields): string {
  return sha256Hex(canonicalJson(hashedView(entry)));
}

export class AuditLog {
  private readonly model: AuditEntryModel;
  private readonly queue: Array<{
    events: PreparedEvent[];
    resolve: () => void;
    reject: (err: unknown) => void;
  }> = [];
  private flushing = false;
  /** Highest seq known to exist; 0 before the first read. */
  private lastSeq = 0;

  constructor(conn: mongoose.Connection) {
    this.model = auditEntryModel(conn);
  }

  /**
   * Appends events. Appends made at the same time in this process are coalesced into one batch, so
   * they never race each other for the next seq; only other processes can collide, and those
   * collisions are retried below.
   */
  append(events: AuditEvent | AuditEvent[]): Promise<void> {
    const list = Array.isArray(events) ? events : [events];
    if (list.length === 0) return Promise.resolve();
    let prepared: PreparedEvent[];
    try {
      // Validate and freeze `at` once, so a retry after a conflict hashes the same event content.
      prepared = list.map(prepareEvent);
    } catch (err) {
      return Promise.reject(err);
    }
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ events: prepared, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const waiting = this.queue.splice(0, this.queue.length);
        try {
          await this.appendPrepared(waiting.flatMap((w) => w.events));
          for (const w of waiting) w.resolve();
        } catch (err) {
          for (const w of waiting) w.reject(err);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async appendPrepared(prepared: PreparedEvent[]): Promise<void> {
    let pending = prepared;
    await ensureIndexes(this.model);

    for (let attempt = 1; ; attempt++) {
      const head = await this.head();
      const docs = chainOnto(head, pending);
      try {
        await this.model.insertMany(docs, { ordered: true, lean: true });
        this.lastSeq = docs[docs.length - 1]!.seq;
        return;
      } catch (err) {
        if (!isDuplicateKey(err)) throw err;
        // Ordered insert stops at the first conflict, so what landed is a prefix that correctly
        // continues the head we read; only the rest needs to go after the new head.
        const landed = await this.landedPrefix(docs);
        pending = pending.slice(landed);
        if (pending.length === 0) return;
        if (attempt >= MAX_APPEND_ATTEMPTS) {
          throw new Error(
            `audit append: gave up after ${attempt} attempts lost to concurrent writers (${pending.length} event(s) not written)`,
            { cause: err },
          );
        }
        // Writers that collided all read the same head; jitter spreads their next reads apart.
        await sleep(Math.random() * Math.min(200, 5 * 2 ** Math.min(attempt, 6)));
      }
    }
  }

  async verify(): Promise<VerifyResult> {
    let expectedSeq = 1;
    let prevHash = GENESIS_HASH;
    let checked = 0;
    for (;;) {
      const page = await this.model
        .find({ seq: { $gte: expectedSeq } })
        .sort({ seq: 1 })
        .limit(PAGE_SIZE)
        .select({ _id: 0 })
        .lean<StoredAuditEntry[]>();
      if (page.length === 0) return { ok: true, checked };
      for (const entry of page) {
        if (entry.seq !== expectedSeq)
          return { ok: false, checked, seq: expectedSeq, reason: 'missing entry' };
        if (safeHash(entry) !== entry.hash)
          return { ok: false, checked, seq: entry.seq, reason: 'hash mismatch' };
        if (entry.prevHash !== prevHash) return { ok: false, checked, seq: entry.seq, reason: 'broken link' };
        prevHash = entry.hash;
        expectedSeq++;
        checked++;
      }
    }
  }

  /**
   * Writes entries in seq order, one JSON object per line (see hashedView, plus `hash`), with `at` in
   * [from, to). The stream is left open. Returns the number of lines written.
   */
  async exportJsonl(out: NodeJS.WritableStream, filter?: { from?: Date; to?: Date }): Promise<number> {
    const at: Record<string, Date> = {};
    if (filter?.from) at.$gte = filter.from;
    if (filter?.to) at.$lt = filter.to;
    let count = 0;
    let afterSeq = 0;
    for (;;) {
      const page = await this.model
        .find({ seq: { $gt: afterSeq }, ...(Object.keys(at).length > 0 ? { at } : {}) })
        .sort({ seq: 1 })
        .limit(PAGE_SIZE)
        .select({ _id: 0 })
        .lean<StoredAuditEntry[]>();
      const last = page.at(-1);
      if (!last) return count;
      for (const entry of page) {
        const line = JSON.stringify({ ...hashedView(entry), hash: entry.hash }) + '\n';
        if (!out.write(line)) await once(out, 'drain');
        count++;
      }
      afterSeq = last.seq;
    }
  }

  /** Newest first. */
  async latest(limit: number, filter?: { subjectId?: string; action?: string }): Promise<StoredAuditEntry[]> {
    const n = Math.min(MAX_LATEST, Math.floor(limit));
    if (!(n > 0)) return [];
    const query: Record<string, string> = {};
    if (filter?.subjectId !== undefined) query['subject.id'] = filter.subjectId;
    if (filter?.action !== undefined) query.action = filter.action;
    return this.model.find(query).sort({ seq: -1 }).limit(n).select({ _id: 0 }).lean<StoredAuditEntry[]>();
  }

  private async head(): Promise<{ seq: number; hash: string } | null> {
    // The log only grows, so the head is at or after the last seq this process saw; bounding the
    // range keeps this lookup from walking the whole index on stores that do not stop early.
    const find = (filter: Record<string, unknown>) =>
      this.model
        .findOne(filter, { _id: 0, seq: 1, hash: 1 })
        .sort({ seq: -1 })
        .lean<{ seq: number; hash: string }>();
    // Nothing at or after lastSeq means entries were deleted under us; fall back to the full lookup.
    const head = (await find({ seq: { $gte: this.lastSeq } })) ?? (this.lastSeq > 0 ? await find({}) : null);
    this.lastSeq = head?.seq ?? 0;
    return head;
  }

  /** How many of `docs`, from the front, are in the collection (looked up by the _ids we chose). */
  private async landedPrefix(docs: InsertDoc[]): Promise<number> {
    const found = await this.model
      .find({ _id: { $in: docs.map((d) => d._id) } }, { _id: 1 })
      .lean<{ _id: mongoose.Types.ObjectId }[]>();
    const present = new Set(found.map((d) => d._id.toHexString()));
    let prefix = 0;
    while (prefix < docs.length && present.has(docs[prefix]!._id.toHexString())) prefix++;
    if (present.size !== prefix) {
      // Only possible if the server ignored `ordered`: later entries chain onto ones that never landed.
      throw new Error(
        `audit append: server stored a non-contiguous part of an ordered batch (${present.size} of ${docs.length}); run verify()`,
      );
    }
    return prefix;
  }
}

/** One insertMany's worth of entries continuing `head`. */
function chainOnto(head: { seq: number; hash: string } | null, events: PreparedEvent[]): InsertDoc[] {
  let seq = head?.seq ?? 0;
  let prevHash = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    seq++;
    const fields: HashedFields = { seq, ...event, prevHash };
    const hash = entryHash(fields);
    prevHash = hash;
    // Fresh _ids let landedPrefix tell our entries from a competitor's at the same seq.
    return { _id: new mongoose.Types.ObjectId(), ...fields, hash };
  });
}

function prepareEvent(event: AuditEvent): PreparedEvent {
  const { actor, action, subject } = event;
  if (!actor || (actor.type !== 'user' && actor.type !== 'system') || !nonEmptyString(actor.id)) {
    throw new TypeError(`audit event: actor must be { type: 'user' | 'system', id: string }`);
  }
  if (!nonEmptyString(action)) throw new TypeError('audit event: action must be a non-empty string');
  if (subject !== undefined && (!nonEmptyString(subject?.type) || !nonEmptyString(subject.id))) {
    throw new TypeError('audit event: subject must be { type: string, id: string }');
  }
  const at = event.at ?? new Date();
  if (!(at instanceof Date) || Number.isNaN(at.getTime()))
    throw new TypeError('audit event: at must be a valid Date');
  // Build fresh objects with only known keys: lean insertMany stores exactly what was hashed, and an
  // `undefined` property would be stored as null.
  const prepared: PreparedEvent = {
    at: new Date(at.getTime()),
    actor: { type: actor.type, id: actor.id },
    action,
    details: normaliseDetails(event.details),
  };
  if (subject !== undefined) prepared.subject = { type: subject.type, id: subject.id };
  return prepared;
}

function nonEmptyString(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

function isoOrNull(d: Date): string | null {
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function safeHash(entry: StoredAuditEntry): string | null {
  try {
    return entryHash(entry);
  } catch {
    // A stored value canonicalJson cannot serialise is itself tampering.
    return null;
  }
}

function isDuplicateKey(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; writeErrors?: { code?: unknown }[]; message?: unknown };
  if (e.code === 11000) return true;
  if (Array.isArray(e.writeErrors) && e.writeErrors.some((w) => w?.code === 11000)) return true;
  return typeof e.message === 'string' && e.message.includes('E11000');
}

/**
 * The unique `seq` index is what makes concurrent appends safe, so it must exist before the first
 * insert even where autoIndex is off. Once per model (i.e. per connection).
 */
const indexesReady = new WeakMap<AuditEntryModel, Promise<void>>();
function ensureIndexes(model: AuditEntryModel): Promise<void> {
  let ready = indexesReady.get(model);
  if (!ready) {
    ready = model
      .init()
      .then(() => model.createIndexes())
      .then(() => undefined);
    // A failure (e.g. server down) should not stick: the next append tries again.
    ready.catch(() => indexesReady.delete(model));
    indexesReady.set(model, ready);
  }
  return ready;
}
