import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { appendFile, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import mongoose from 'mongoose';
import {
  AUDIT_META_COLLECTION,
  AuditLog,
  AuditLogAppendOnlyError,
  GENESIS_HASH,
  canonicalJson,
  entryHash,
  hashedView,
  type AuditCheckpoint,
  type AuditEvent,
  type CheckpointWitness,
  type StoredAuditEntry,
} from '../../src/audit/audit-log.js';
import {
  checkpointLine,
  checkpointMacValid,
  FileCheckpointWitness,
  parseCheckpointLine,
} from '../../src/audit/checkpoints.js';

// Other test files share the server; every scenario gets its own database on one pool.
const runId = randomBytes(4).toString('hex');
/** The chain key; MongoDB never sees it. */
const key = randomBytes(32);
const tmpDirs: string[] = [];
let base: mongoose.Connection;
const extraConns: mongoose.Connection[] = [];
const dbNames: string[] = [];

function freshDb(label: string): mongoose.Connection {
  const name = `audit_${runId}_${label}`;
  dbNames.push(name);
  return base.useDb(name, { useCache: true });
}

function rawEntries(conn: mongoose.Connection) {
  return conn.db!.collection<StoredAuditEntry>('audit_log');
}

async function allEntries(conn: mongoose.Connection): Promise<StoredAuditEntry[]> {
  return rawEntries(conn)
    .find({}, { projection: { _id: 0 } })
    .sort({ seq: 1 })
    .toArray();
}

const alice = { type: 'user', id: 'U_ALICE' } as const;
const system = { type: 'system', id: 'worker' } as const;

function event(n: number, extra: Partial<AuditEvent> = {}): AuditEvent {
  return {
    actor: alice,
    action: 'request.submitted',
    subject: { type: 'request', id: `req-${n}` },
    details: { n },
    ...extra,
  };
}

beforeAll(async () => {
  base = await mongoose.createConnection(process.env.MONGODB_URI!, { dbName: `audit_${runId}` }).asPromise();
  dbNames.push(`audit_${runId}`);
});

afterAll(async () => {
  for (const name of dbNames) await base.useDb(name).dropDatabase();
  await Promise.all(extraConns.map((c) => c.close()));
  await base.close();
  for (const dir of tmpDirs) rmSync(dir, { recursive: true, force: true });
});

describe('AuditLog', () => {
  it('chains appended events, verifies, and lists the latest', async () => {
    const conn = freshDb('chain');
    const log = new AuditLog(conn, key);
    await log.append(event(1));
    await log.append([
      event(2, { action: 'request.approved', actor: { type: 'user', id: 'U_BOB' } }),
      event(3, {
        action: 'grant.revoked',
        actor: system,
        // Nested values, a Date, undefined and an empty object must hash the same after the BSON round trip.
        details: {
          reason: 'expired',
          when: new Date('2024-05-01T10:00:00Z'),
          gone: undefined,
          nested: { b: 1, a: [1, 'x', {}] },
        },
      }),
      { actor: system, action: 'settings.updated' },
    ]);

    const entries = await allEntries(conn);
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4]);
    expect(entries[0]!.prevHash).toBe(GENESIS_HASH);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
    expect(entries[2]!.details).toEqual({
      reason: 'expired',
      when: new Date('2024-05-01T10:00:00Z'),
      nested: { b: 1, a: [1, 'x', {}] },
    });
    expect(entries[3]!.details).toEqual({});
    expect(entries[3]!.subject).toBeUndefined();

    await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: 4, findings: [] });

    const latest = await log.latest(2);
    expect(latest.map((e) => e.seq)).toEqual([4, 3]);
    expect((await log.latest(10, { subjectId: 'req-2' })).map((e) => e.action)).toEqual(['request.approved']);
    expect((await log.latest(10, { action: 'request.submitted' })).map((e) => e.seq)).toEqual([1]);
  });

  it('keeps seq contiguous and the chain valid with 10 concurrent appenders', async () => {
    const name = `audit_${runId}_concurrent`;
    const conn = freshDb('concurrent');
    // A second pool on the same database stands in for another process.
    const other = await mongoose.createConnection(process.env.MONGODB_URI!, { dbName: name }).asPromise();
    extraConns.push(other);
    const appenders = Array.from({ length: 10 }, (_, i) => new AuditLog(i % 2 === 0 ? conn : other, key));
    const batches = 2;
    const perBatch = 3;

    await Promise.all(
      appenders.map(async (log, a) => {
        for (let b = 0; b < batches; b++) {
          await log.append(
            Array.from({ length: perBatch }, (_, i) => ({
              actor: system,
              action: 'grant.revoked',
              subject: { type: 'grant', id: `g-${a}` },
              details: { a, b, i },
            })),
          );
        }
      }),
    );

    const entries = await allEntries(conn);
    const total = appenders.length * batches * perBatch;
    expect(entries.map((e) => e.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    const keys = entries.map((e) => `${e.details.a}/${e.details.b}/${e.details.i}`);
    expect(new Set(keys).size).toBe(total);
    // Each appender's events land in the order it gave them, even when a batch was split by a conflict.
    for (let a = 0; a < appenders.length; a++) {
      const mine = entries
        .filter((e) => e.details.a === a)
        .map((e) => Number(e.details.b) * perBatch + Number(e.details.i));
      expect(mine).toEqual(Array.from({ length: batches * perBatch }, (_, i) => i));
    }
    await expect(new AuditLog(conn, key).verify()).resolves.toMatchObject({ ok: true, checked: total });
  });

  it('retries only the rest of a batch that a competitor cut in two', async () => {
    const conn = freshDb('partial');
    const log = new AuditLog(conn, key);
    await log.append(event(1));
    const head = (await allEntries(conn))[0]!;

    const at = new Date('2024-06-01T00:00:00Z');
    const batch = [1, 2, 3].map((i) => event(100 + i, { at, details: { i } }));
    // What our first entry will hash to, so the competitor's entry can chain onto it as a real one would.
    const ourFirstHash = entryHash(key, {
      seq: 2,
      at,
      actor: alice,
      action: 'request.submitted',
      subject: { type: 'request', id: 'req-101' },
      details: { i: 1 },
      prevHash: head.hash,
    });
    const theirs = {
      seq: 3,
      at: new Date('2024-06-01T00:00:01Z'),
      actor: { type: 'system', id: 'other-process' },
      action: 'grant.revoked',
      details: {},
      prevHash: ourFirstHash,
    } as const;

    // Between our head read and our insert, another writer takes seq 3 (after our seq 2 would land).
    const internals = log as unknown as { head: () => Promise<{ seq: number; hash: string } | null> };
    const realHead = internals.head.bind(log);
    let planted = false;
    internals.head = async () => {
      const h = await realHead();
      if (!planted) {
        planted = true;
        await rawEntries(conn).insertOne({ ...theirs, hash: entryHash(key, theirs) } as StoredAuditEntry);
      }
      return h;
    };

    await log.append(batch);

    const entries = await allEntries(conn);
    expect(entries.map((e) => [e.seq, e.actor.id, e.details.i])).toEqual([
      [1, 'U_ALICE', undefined],
      [2, 'U_ALICE', 1],
      [3, 'other-process', undefined],
      [4, 'U_ALICE', 2],
      [5, 'U_ALICE', 3],
    ]);
    await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: 5 });
  });

  describe('detects tampering', () => {
    async function kinds(log: AuditLog): Promise<[string, number | undefined][]> {
      const r = await log.verify();
      expect(r.ok).toBe(r.findings.length === 0);
      return r.findings.map((f) => [f.kind, f.seq]);
    }

    async function seeded(label: string): Promise<{ conn: mongoose.Connection; log: AuditLog }> {
      const conn = freshDb(label);
      const log = new AuditLog(conn, key);
      await log.append([1, 2, 3, 4, 5].map((n) => event(n)));
      await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: 5 });
      return { conn, log };
    }

    it('an edited entry', async () => {
      const { conn, log } = await seeded('edit');
      await rawEntries(conn).updateOne({ seq: 3 }, { $set: { 'details.n': 33 } });
      expect(await kinds(log)).toEqual([['altered', 3]]);
    });

    it('a deleted entry', async () => {
      const { conn, log } = await seeded('delete');
      await rawEntries(conn).deleteOne({ seq: 2 });
      const r = await log.verify();
      expect(r).toMatchObject({ ok: false, checked: 4 });
      expect(r.findings).toEqual([{ kind: 'removed', seq: 2, to: 2, message: 'entry 2 was removed' }]);
    });

    it('an edited entry whose own hash was recomputed with the key (an insider)', async () => {
      const { conn, log } = await seeded('rehash');
      const original = (await rawEntries(conn).findOne({ seq: 3 }, { projection: { _id: 0 } }))!;
      const forged = { ...original, details: { n: 33 } };
      await rawEntries(conn).updateOne(
        { seq: 3 },
        { $set: { details: forged.details, hash: entryHash(key, forged) } },
      );
      expect(await kinds(log)).toEqual([['broken link', 4]]);
    });
  });

  it('redacts secrets anywhere in details before they are stored or hashed', async () => {
    const conn = freshDb('secrets');
    const log = new AuditLog(conn, key);
    await log.append({
      actor: alice,
      action: 'flow.updated',
      subject: { type: 'integration', id: 'pg-prod' },
      details: {
        name: 'prod',
        password: 'hunter2',
        config: { host: 'db', apiToken: 'tok-123', nested: [{ clientSecret: 'sec-456' }] },
        awsCredentials: { key: 'AKIA-789' },
      },
    });
    const [stored] = await rawEntries(conn).find({}).toArray();
    expect(stored!.details).toEqual({
      name: 'prod',
      password: '[redacted]',
      config: { host: 'db', apiToken: '[redacted]', nested: [{ clientSecret: '[redacted]' }] },
      awsCredentials: '[redacted]',
    });
    expect(JSON.stringify(stored)).not.toMatch(/hunter2|tok-123|sec-456|AKIA-789/);
    await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: 1 });
  });

  it('exports JSONL that an external verifier can check', async () => {
    const conn = freshDb('export');
    const log = new AuditLog(conn, key);
    const day = (d: number) => new Date(Date.UTC(2024, 0, d));
    await log.append([1, 2, 3, 4].map((d) => event(d, { at: day(d), details: { d, when: day(d) } })));

    const collect = async (filter?: { from?: Date; to?: Date }) => {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      const count = await log.exportJsonl(out, filter);
      out.end();
      return { count, lines: Buffer.concat(chunks).toString('utf8').split('\n').filter(Boolean) };
    };

    const all = await collect();
    expect(all.count).toBe(4);
    expect(all.lines).toHaveLength(4);
    let prev = GENESIS_HASH;
    for (const [i, line] of all.lines.entries()) {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      const { hash, ...rest } = parsed;
      expect(rest.seq).toBe(i + 1);
      expect(rest.prevHash).toBe(prev);
      // Verifying an export needs the chain key: the hash is an HMAC, not a plain SHA-256.
      expect(createHmac('sha256', key).update(canonicalJson(rest)).digest('hex')).toBe(hash);
      expect(createHash('sha256').update(canonicalJson(rest)).digest('hex')).not.toBe(hash);
      prev = hash as string;
    }

    const ranged = await collect({ from: day(2), to: day(4) });
    expect(ranged.count).toBe(2);
    expect(ranged.lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([2, 3]);
  });

  it('refuses updates and deletes through the model', async () => {
    const conn = freshDb('readonly');
    const log = new AuditLog(conn, key);
    await log.append(event(1));
    const model = conn.models.AuditEntry!;
    await expect(model.updateOne({ seq: 1 }, { $set: { action: 'x' } })).rejects.toThrow(
      AuditLogAppendOnlyError,
    );
    await expect(model.findOneAndUpdate({ seq: 1 }, { $set: { action: 'x' } })).rejects.toThrow(
      /append-only/,
    );
    await expect(model.replaceOne({ seq: 1 }, { action: 'x' })).rejects.toThrow(/append-only/);
    await expect(model.deleteMany({})).rejects.toThrow(/append-only/);
    await expect(model.create({ seq: 2 })).rejects.toThrow(/append-only/);
    const doc = (await model.findOne({ seq: 1 }))!;
    doc.set('action', 'x');
    await expect(doc.save()).rejects.toThrow(/append-only/);
    await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: 1 });
  });
  describe('keyed chain, checkpoints, and numbers never reused', () => {
    function tmpDir(): string {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-audit-'));
      tmpDirs.push(dir);
      return dir;
    }

    /** What someone who can write to MongoDB but lacks the key computes: plain SHA-256. */
    function plainHash(entry: Omit<StoredAuditEntry, 'hash'>): string {
      return createHash('sha256')
        .update(canonicalJson(hashedView(entry)))
        .digest('hex');
    }

    async function waitFor(check: () => Promise<boolean>): Promise<void> {
      for (let i = 0; i < 250 && !(await check()); i++) await sleep(20);
      expect(await check()).toBe(true);
    }

    async function seqs(conn: mongoose.Connection): Promise<number[]> {
      return (await allEntries(conn)).map((e) => e.seq);
    }

    /** `n` entries written by a log whose checkpoints go to a file; closed, so the last one is in. */
    async function checkpointed(label: string, n: number) {
      const conn = freshDb(label);
      const witness = FileCheckpointWitness.inDataDir(tmpDir());
      const log = new AuditLog(conn, key, { witnesses: [witness] });
      await log.append(Array.from({ length: n }, (_, i) => event(i + 1)));
      await log.close();
      await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: n, newestCheckpoint: n });
      return { conn, log, witness };
    }

    /** Rewrites entries from `from` on, changing `details` of the first, chained with `hash`. */
    async function rechain(
      conn: mongoose.Connection,
      from: number,
      hash: (e: Omit<StoredAuditEntry, 'hash'>) => string,
    ): Promise<void> {
      const entries = await allEntries(conn);
      let prevHash = entries.find((e) => e.seq === from - 1)!.hash;
      for (const { hash: _old, ...e } of entries.filter((x) => x.seq >= from)) {
        const details = e.seq === from ? { n: 999 } : e.details;
        const newHash = hash({ ...e, details, prevHash });
        await rawEntries(conn).updateOne({ seq: e.seq }, { $set: { details, prevHash, hash: newHash } });
        prevHash = newHash;
      }
    }

    it('reports the last entry, and then the last five, cut from the tail behind the newest checkpoint', async () => {
      const { conn, log } = await checkpointed('tailcut', 7);

      await rawEntries(conn).deleteOne({ seq: 7 });
      const one = await log.verify();
      expect(one.ok).toBe(false);
      expect(one.findings).toEqual([
        { kind: 'tail cut', seq: 7, to: 7, message: 'entry 7 was removed; the newest checkpoint is at 7' },
      ]);

      await rawEntries(conn).deleteMany({ seq: { $gte: 3 } });
      await expect(log.verify()).resolves.toMatchObject({
        ok: false,
        checked: 2,
        findings: [
          {
            kind: 'tail cut',
            seq: 3,
            to: 7,
            message: 'entries 3..7 were removed; the newest checkpoint is at 7',
          },
        ],
      });
      // Without the file, the high-water mark in MongoDB still tells (unless it is deleted too).
      const noFile = await new AuditLog(conn, key).verify();
      expect(noFile.findings.map((f) => f.message)).toEqual([
        "entries 3..7 were removed; the log's high-water mark (7) is past the newest entry",
      ]);
      await conn.db!.collection(AUDIT_META_COLLECTION).deleteMany({});
      expect((await log.verify()).findings.map((f) => [f.kind, f.seq, f.to])).toEqual([['tail cut', 3, 7]]);
    });

    it('names an entry that was edited and the chain after it recomputed with plain SHA-256', async () => {
      const { conn, log } = await checkpointed('rechain', 5);
      await rechain(conn, 3, plainHash);
      // The links all hold now, as they would have for the unkeyed chain.
      const entries = await allEntries(conn);
      for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);

      const r = await log.verify();
      expect(r.ok).toBe(false);
      expect(r.findings[0]).toEqual({
        kind: 'altered',
        seq: 3,
        to: 5,
        message:
          'entry 3 was altered: its hash does not verify with the audit key, nor do entries 4..5 after it',
      });
      expect(r.findings.map((f) => [f.kind, f.seq])).toEqual([
        ['altered', 3],
        ['rewritten', 5],
      ]);
    });

    it('names a forged entry appended after the head', async () => {
      const { conn, log } = await checkpointed('forged', 5);
      const head = (await allEntries(conn)).at(-1)!;
      const forged = {
        seq: 6,
        at: new Date(),
        actor: alice,
        action: 'grant.revoked',
        details: {},
        prevHash: head.hash,
      } as const;
      await rawEntries(conn).insertOne({ ...forged, hash: plainHash(forged) } as StoredAuditEntry);

      const r = await log.verify();
      expect(r.findings).toEqual([
        {
          kind: 'forged',
          seq: 6,
          to: 6,
          message:
            'entry 6 is forged: its hash does not verify with the audit key, and no genuine entry or checkpoint comes after it',
        },
      ]);
    });

    it('never reuses the number of a deleted tail', async () => {
      const conn = freshDb('reuse');
      const dir = tmpDir();
      const a = new AuditLog(conn, key, { witnesses: [FileCheckpointWitness.inDataDir(dir)] });
      await a.append([1, 2, 3, 4, 5].map((n) => event(n)));
      await rawEntries(conn).deleteMany({ seq: { $gte: 4 } });

      // The writer remembers what it wrote...
      await a.append(event(6));
      expect(await seqs(conn)).toEqual([1, 2, 3, 6]);
      expect((await a.verify()).findings.map((f) => f.message)).toEqual(['entries 4..5 were removed']);
      await a.close();

      // ...another process learns it from the high-water mark in audit_meta...
      await rawEntries(conn).deleteOne({ seq: 6 });
      const b = new AuditLog(conn, key, { witnesses: [FileCheckpointWitness.inDataDir(dir)] });
      await b.append(event(7));
      expect(await seqs(conn)).toEqual([1, 2, 3, 7]);
      await b.close();

      // ...and with every entry and the mark deleted, a restart learns it from the checkpoint file.
      await rawEntries(conn).deleteMany({});
      await conn.db!.collection(AUDIT_META_COLLECTION).deleteMany({});
      const c = new AuditLog(conn, key, { witnesses: [FileCheckpointWitness.inDataDir(dir)] });
      await c.append(event(8));
      expect(await seqs(conn)).toEqual([8]);
      const r = await c.verify();
      expect(r.findings.map((f) => f.message)).toEqual(['entries 1..7 were removed']);
      await c.close();
    });

    it('writes checkpoints while entries are written, and the last one on close', async () => {
      const conn = freshDb('cadence');
      const witness = FileCheckpointWitness.inDataDir(tmpDir());
      const log = new AuditLog(conn, key, { witnesses: [witness], checkpointEveryMs: 50 });
      await log.append(event(1));
      await waitFor(async () => (await witness.read()).length > 0);
      await log.append([event(2), event(3)]);
      await waitFor(async () => (await witness.read()).some((l) => l.checkpoint?.seq === 3));

      await log.append(event(4));
      await log.close();
      const lines = await witness.read();
      const newest = lines.at(-1)!.checkpoint!;
      expect(newest).toMatchObject({ database: conn.name, seq: 4 });
      expect(newest.hash).toBe((await allEntries(conn)).at(-1)!.hash);
      for (const line of lines) expect(checkpointMacValid(key, line.checkpoint!)).toBe(true);
      // Nobody without the key can write a line that passes.
      expect(checkpointMacValid(randomBytes(32), newest)).toBe(false);
      const text = await readFile(witness.file, 'utf8');
      expect(parseCheckpointLine(text.trim().split('\n').at(-1)!)).toEqual(newest);
    });

    it('a failing witness neither fails nor holds up an append', async () => {
      const conn = freshDb('witnessfail');
      const warnings: string[] = [];
      const recorded: AuditCheckpoint[] = [];
      const failing: CheckpointWitness = {
        name: 'broken',
        record: () => Promise.reject(new Error('disk full')),
      };
      const memory: CheckpointWitness = { name: 'memory', record: async (cp) => void recorded.push(cp) };
      const log = new AuditLog(conn, key, {
        witnesses: [failing, memory],
        checkpointEveryMs: 20,
        log: { warn: (_obj, msg) => void warnings.push(msg) },
      });
      await log.append(event(1));
      await log.close();
      expect(recorded.map((cp) => cp.seq)).toEqual([1]);
      expect(warnings).toContain('audit checkpoint failed');
      await expect(log.verify()).resolves.toMatchObject({ ok: true, checked: 1 });
    });

    it('reports a chain rewritten with the key behind a checkpoint, and checkpoint lines forged without it', async () => {
      const { conn, log, witness } = await checkpointed('rewrite', 4);
      // An insider holding the key: every hash verifies, only the checkpoint disagrees.
      await rechain(conn, 2, (e) => entryHash(key, e));
      expect((await log.verify()).findings.map((f) => [f.kind, f.seq])).toEqual([['rewritten', 4]]);

      await appendFile(
        witness.file,
        checkpointLine({
          database: conn.name,
          seq: 9,
          hash: 'f'.repeat(64),
          at: new Date(),
          mac: '0'.repeat(64),
        }) + 'not json\n',
      );
      const r = await log.verify();
      // The forged line does not count: no tail cut to 9.
      expect(r.newestCheckpoint).toBe(4);
      expect(r.findings.map((f) => f.kind)).toEqual(['rewritten', 'bad checkpoint', 'bad checkpoint']);
      expect(r.findings[1]!.message).toMatch(/line \d+: the checkpoint of entry 9 is not genuine/);
    });
  });
});
