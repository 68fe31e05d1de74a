/**
 * Append-only, hash-chained audit log (docs/ARCHITECTURE.md, "Audit log").
 *
 * Every entry carries a `seq` and `hash = HMAC-SHA256(chainKey, canonicalJson({seq, at, actor, action,
 * subject, details, prevHash}))`, with `prevHash` the previous entry's hash (entry-hash.ts). The chain
 * key is not in MongoDB (chain-key.ts), so an entry edited, inserted or appended there is named by
 * verify() even when the chain after it was recomputed.
 *
 * Numbers are never reused: the next entry takes one more than the highest seq known to have been
 * written, i.e. the newest entry in the collection, the `audit_meta` high-water mark (raised with $max
 * after every insert), the newest this process wrote, and the newest checkpoint its witnesses hold. A
 * tail deleted from MongoDB therefore stays a visible gap once Latch writes again.
 *
 * Checkpoints (checkpoints.ts) anchor the head outside MongoDB: while entries are written, the newest
 * entry this process wrote goes to the witnesses at least every `checkpointEveryMs` and on close(), off
 * the append path (a failing witness is logged, never fails an append).
 *
 * Ordering without transactions: the unique index on `seq` is the only arbiter. A writer reads the head,
 * inserts its batch at head+1.. with one ordered insertMany, and on a duplicate `seq` re-reads the head
 * and chains what is left onto it.
 */
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import { normaliseDetails } from './canonical-json.js';
import { AUDIT_KEY_BYTES } from './chain-key.js';
import {
  checkpointMac,
  newestCheckpoint,
  type AuditCheckpoint,
  type CheckpointWitness,
  type WitnessedCheckpoint,
} from './checkpoints.js';
import { entryHash, GENESIS_HASH, hashedView, type HashedFields } from './entry-hash.js';
import { auditEntryModel, type AuditEntryModel, type StoredAuditEntry } from './model.js';
import { verifyChain, type TrustedCheckpoint, type VerifyResult } from './verify.js';

export { AuditLogAppendOnlyError, type StoredAuditEntry } from './model.js';
export { canonicalJson } from './canonical-json.js';
export { entryHash, GENESIS_HASH, hashedView } from './entry-hash.js';
export type { AuditFinding, AuditFindingKind, TrustedCheckpoint, VerifyResult } from './verify.js';
export type { AuditCheckpoint, CheckpointWitness, WitnessedCheckpoint } from './checkpoints.js';

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

export interface AuditLogOptions {
  /** Where checkpoints go (the checkpoint file, the audit channel). None: no checkpoints are taken. */
  witnesses?: CheckpointWitness[];
  /** While entries are written, a checkpoint at least this often; default 60 s. */
  checkpointEveryMs?: number;
  /** For warnings (a witness or the high-water mark failed). The key is never logged. */
  log?: AuditWarnLog;
}

/** The part of a (pino) logger AuditLog uses. */
export interface AuditWarnLog {
  warn(obj: object, msg: string): void;
}

/** Collection of the high-water mark: `{ _id: 'head', seq }`, only ever raised with $max. */
export const AUDIT_META_COLLECTION = 'audit_meta';
const HIGH_WATER_ID = 'head';
export const DEFAULT_CHECKPOINT_EVERY_MS = 60_000;
/** close() waits this long at most for the last checkpoint. */
const CLOSE_WAIT_MS = 10_000;

const PAGE_SIZE = 500;
const MAX_APPEND_ATTEMPTS = 50;
const MAX_LATEST = 1000;

type PreparedEvent = Omit<StoredAuditEntry, 'seq' | 'prevHash' | 'hash'>;
type InsertDoc = StoredAuditEntry & { _id: mongoose.Types.ObjectId };
type HighWaterDoc = { _id: string; seq: number };

export class AuditLog {
  private readonly model: AuditEntryModel;
  private readonly meta: mongoose.Collection<HighWaterDoc>;
  readonly #key: Buffer;
  private readonly witnesses: CheckpointWitness[];
  private readonly checkpointEveryMs: number;
  private readonly log?: AuditWarnLog;
  private readonly queue: Array<{
    events: PreparedEvent[];
    resolve: () => void;
    reject: (err: unknown) => void;
  }> = [];
  private flushing: Promise<void> | undefined;
  /** Seq of the last head read; 0 before the first read. */
  private lastSeq = 0;
  /** Highest seq known to have been written (never lowered): the next entry goes above it. */
  private highWater = 0;
  /** Reads the witnesses' newest checkpoint into highWater, once. */
  private seeded: Promise<void> | undefined;
  /** The newest entry this process wrote: what the next checkpoint records. */
  private newest: { seq: number; hash: string } | undefined;
  /** Per witness, the seq of the last checkpoint it accepted. */
  private readonly witnessed = new Map<CheckpointWitness, number>();
  private lastCheckpointAt = Number.NEGATIVE_INFINITY;
  private checkpointTimer: NodeJS.Timeout | undefined;
  private checkpointing: Promise<void> = Promise.resolve();
  private closed = false;

  /**
   * @param key the chain key (resolveAuditKey): 32 bytes that MongoDB does not hold.
   */
  constructor(
    private readonly conn: mongoose.Connection,
    key: Buffer,
    opts: AuditLogOptions = {},
  ) {
    if (!Buffer.isBuffer(key) || key.length !== AUDIT_KEY_BYTES)
      throw new TypeError(`AuditLog: the chain key must be a ${AUDIT_KEY_BYTES}-byte Buffer`);
    this.model = auditEntryModel(conn);
    this.meta = conn.collection<HighWaterDoc>(AUDIT_META_COLLECTION);
    // A private copy: the caller's buffer may be reused or zeroed.
    this.#key = Buffer.from(key);
    this.witnesses = [...(opts.witnesses ?? [])];
    this.checkpointEveryMs = Math.max(1, opts.checkpointEveryMs ?? DEFAULT_CHECKPOINT_EVERY_MS);
    this.log = opts.log;
  }

  /** Adds a witness after construction (e.g. a chat channel started later). */
  addWitness(witness: CheckpointWitness): void {
    this.witnesses.push(witness);
    // Its checkpoints may raise the floor for the next number.
    this.seeded = undefined;
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
      this.flushing ??= this.flush();
    });
  }

  private async flush(): Promise<void> {
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
      this.flushing = undefined;
    }
  }

  private async appendPrepared(prepared: PreparedEvent[]): Promise<void> {
    let pending = prepared;
    await ensureIndexes(this.model);
    await this.seedFromWitnesses();
    // Read before the head: the mark is raised only after its entries are in, so any entry it counts
    // that the head read below does not see was deleted, and its number must not be taken again.
    const floor = await this.readHighWater();
    let written: InsertDoc | undefined;
    try {
      for (let attempt = 1; ; attempt++) {
        const head = await this.head();
        const docs = chainOnto(this.#key, head, Math.max(floor, this.highWater), pending);
        try {
          await this.model.insertMany(docs, { ordered: true, lean: true });
          written = docs[docs.length - 1]!;
          this.lastSeq = written.seq;
          return;
        } catch (err) {
          if (!isDuplicateKey(err)) throw err;
          // Ordered insert stops at the first conflict, so what landed is a prefix that correctly
          // continues the head we read; only the rest needs to go after the new head.
          const landed = await this.landedPrefix(docs);
          if (landed > 0) written = docs[landed - 1]!;
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
    } finally {
      if (written) await this.wrote(written);
    }
  }

  /** After entries up to `last` are in: raise the high-water marks and arrange a checkpoint. */
  private async wrote(last: { seq: number; hash: string }): Promise<void> {
    this.highWater = Math.max(this.highWater, last.seq);
    if (!this.newest || last.seq > this.newest.seq) this.newest = { seq: last.seq, hash: last.hash };
    this.scheduleCheckpoint();
    await this.raiseHighWater(last.seq);
  }

  private async readHighWater(): Promise<number> {
    const doc = await this.meta.findOne({ _id: HIGH_WATER_ID });
    return typeof doc?.seq === 'number' && Number.isSafeInteger(doc.seq) ? doc.seq : 0;
  }

  /** Never throws: the entries are in, and the other marks (memory, checkpoints) still hold. */
  private async raiseHighWater(seq: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.meta.updateOne({ _id: HIGH_WATER_ID }, { $max: { seq } }, { upsert: true });
        return;
      } catch (err) {
        // Two first upserts at once: one inserts, the other retries as an update.
        if (isDuplicateKey(err) && attempt < 3) continue;
        this.log?.warn({ err, seq }, 'audit: raising the high-water mark failed');
        return;
      }
    }
  }

  /** The witnesses' newest checkpoint is a floor for the next number (the tail may be gone from MongoDB). */
  private seedFromWitnesses(): Promise<void> {
    this.seeded ??= (async () => {
      for (const w of this.witnesses) {
        const read = w.readRecent ?? w.read;
        if (!read) continue;
        try {
          const cp = newestCheckpoint(this.#key, this.conn.name, await read.call(w));
          if (cp) this.highWater = Math.max(this.highWater, cp.seq);
        } catch (err) {
          this.log?.warn({ err, witness: w.name }, 'audit: reading checkpoints failed');
        }
      }
    })();
    return this.seeded;
  }

  private scheduleCheckpoint(): void {
    if (this.witnesses.length === 0 || this.closed || this.checkpointTimer) return;
    // The first write after a quiet spell is checkpointed at once, later ones within the interval.
    const delay = Math.max(0, this.lastCheckpointAt + this.checkpointEveryMs - Date.now());
    this.checkpointTimer = setTimeout(() => {
      this.checkpointTimer = undefined;
      void this.checkpoint();
    }, delay);
    this.checkpointTimer.unref();
  }

  /**
   * Records the newest entry this process wrote with every witness that does not have it yet. Runs
   * one at a time; never rejects (a failing witness is logged and gets the next checkpoint).
   */
  checkpoint(): Promise<void> {
    this.checkpointing = this.checkpointing.then(() => this.writeCheckpoint());
    return this.checkpointing;
  }

  private async writeCheckpoint(): Promise<void> {
    const newest = this.newest;
    if (!newest) return;
    const due = this.witnesses.filter((w) => (this.witnessed.get(w) ?? 0) < newest.seq);
    if (due.length === 0) return;
    this.lastCheckpointAt = Date.now();
    const body = { database: this.conn.name, seq: newest.seq, hash: newest.hash, at: new Date() };
    const cp: AuditCheckpoint = { ...body, mac: checkpointMac(this.#key, body) };
    await Promise.all(
      due.map(async (w) => {
        try {
          await w.record(cp);
          this.witnessed.set(w, Math.max(this.witnessed.get(w) ?? 0, cp.seq));
        } catch (err) {
          this.log?.warn({ err, witness: w.name, seq: cp.seq }, 'audit checkpoint failed');
        }
      }),
    );
  }

  /**
   * Waits for appends under way, stops the checkpoint timer and writes the last checkpoint. Appends
   * after close() still work but are not checkpointed.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.checkpointTimer);
    this.checkpointTimer = undefined;
    await this.flushing?.catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), CLOSE_WAIT_MS);
      timer.unref();
    });
    const late = await Promise.race([this.checkpoint().then(() => false), timedOut]);
    clearTimeout(timer);
    if (late)
      this.log?.warn({ waitedMs: CLOSE_WAIT_MS }, 'audit: the last checkpoint did not finish in time');
  }

  /**
   * Checks every entry with the chain key and against checkpoints: by default those the witnesses
   * can read back (the checkpoint file); `checkpoints` replaces them, `trusted` adds ones taken on
   * trust (e.g. copied from the audit channel). See verify.ts for the findings.
   */
  async verify(
    opts: { checkpoints?: WitnessedCheckpoint[]; trusted?: TrustedCheckpoint[] } = {},
  ): Promise<VerifyResult> {
    const witnessed = opts.checkpoints ?? (await this.readWitnesses());
    // Read before the entries, like append does: entries it counts and the walk misses were deleted.
    const highWater = await this.readHighWater();
    return verifyChain(this.entries(), {
      key: this.#key,
      database: this.conn.name,
      witnessed,
      trusted: opts.trusted,
      highWater,
    });
  }

  private async readWitnesses(): Promise<WitnessedCheckpoint[]> {
    const all: WitnessedCheckpoint[] = [];
    for (const w of this.witnesses) if (w.read) all.push(...(await w.read()));
    return all;
  }

  /** Every entry in seq order, a page at a time. */
  private async *entries(): AsyncGenerator<StoredAuditEntry> {
    let afterSeq = 0;
    for (;;) {
      const page = await this.model
        .find({ seq: { $gt: afterSeq } })
        .sort({ seq: 1 })
        .limit(PAGE_SIZE)
        .select({ _id: 0 })
        .lean<StoredAuditEntry[]>();
      const last = page.at(-1);
      if (!last) return;
      yield* page;
      afterSeq = last.seq;
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

/**
 * One insertMany's worth of entries continuing `head`, numbered above `floor` too: after a deleted
 * tail the first one links to the surviving head but leaves the gap, which verify() reports.
 */
function chainOnto(
  key: Buffer,
  head: { seq: number; hash: string } | null,
  floor: number,
  events: PreparedEvent[],
): InsertDoc[] {
  let seq = Math.max(head?.seq ?? 0, floor);
  let prevHash = head?.hash ?? GENESIS_HASH;
  return events.map((event) => {
    seq++;
    const fields: HashedFields = { seq, ...event, prevHash };
    const hash = entryHash(key, fields);
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
