import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import mongoose from 'mongoose';
import {
  AuditLog,
  AuditLogAppendOnlyError,
  GENESIS_HASH,
  canonicalJson,
  entryHash,
  type AuditEvent,
  type StoredAuditEntry,
} from '../../src/audit/audit-log.js';

// Other test files share the server; every scenario gets its own database on one pool.
const runId = randomBytes(4).toString('hex');
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
});

describe('AuditLog', () => {
  it('chains appended events, verifies, and lists the latest', async () => {
    const conn = freshDb('chain');
    const log = new AuditLog(conn);
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

    await expect(log.verify()).resolves.toEqual({ ok: true, checked: 4 });

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
    const appenders = Array.from({ length: 10 }, (_, i) => new AuditLog(i % 2 === 0 ? conn : other));
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
    await expect(new AuditLog(conn).verify()).resolves.toEqual({ ok: true, checked: total });
  });

  it('retries only the rest of a batch that a competitor cut in two', async () => {
    const conn = freshDb('partial');
    const log = new AuditLog(conn);
    await log.append(event(1));
    const head = (await allEntries(conn))[0]!;

    const at = new Date('2024-06-01T00:00:00Z');
    const batch = [1, 2, 3].map((i) => event(100 + i, { at, details: { i } }));
    // What our first entry will hash to, so the competitor's entry can chain onto it as a real one would.
    const ourFirstHash = entryHash({
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
        await rawEntries(conn).insertOne({ ...theirs, hash: entryHash(theirs) } as StoredAuditEntry);
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
    await expect(log.verify()).resolves.toEqual({ ok: true, checked: 5 });
  });

  describe('detects tampering', () => {
    async function seeded(label: string): Promise<{ conn: mongoose.Connection; log: AuditLog }> {
      const conn = freshDb(label);
      const log = new AuditLog(conn);
      await log.append([1, 2, 3, 4, 5].map((n) => event(n)));
      await expect(log.verify()).resolves.toEqual({ ok: true, checked: 5 });
      return { conn, log };
    }

    it('an edited entry', async () => {
      const { conn, log } = await seeded('edit');
      await rawEntries(conn).updateOne({ seq: 3 }, { $set: { 'details.n': 33 } });
      await expect(log.verify()).resolves.toEqual({ ok: false, checked: 2, seq: 3, reason: 'hash mismatch' });
    });

    it('a deleted entry', async () => {
      const { conn, log } = await seeded('delete');
      await rawEntries(conn).deleteOne({ seq: 2 });
      await expect(log.verify()).resolves.toEqual({ ok: false, checked: 1, seq: 2, reason: 'missing entry' });
    });

    it('an edited entry whose own hash was recomputed', async () => {
      const { conn, log } = await seeded('rehash');
      const original = (await rawEntries(conn).findOne({ seq: 3 }, { projection: { _id: 0 } }))!;
      const forged = { ...original, details: { n: 33 } };
      await rawEntries(conn).updateOne(
        { seq: 3 },
        { $set: { details: forged.details, hash: entryHash(forged) } },
      );
      await expect(log.verify()).resolves.toEqual({ ok: false, checked: 3, seq: 4, reason: 'broken link' });
    });
  });

  it('redacts secrets anywhere in details before they are stored or hashed', async () => {
    const conn = freshDb('secrets');
    const log = new AuditLog(conn);
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
    await expect(log.verify()).resolves.toEqual({ ok: true, checked: 1 });
  });

  it('exports JSONL that an external verifier can check', async () => {
    const conn = freshDb('export');
    const log = new AuditLog(conn);
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
      expect(createHash('sha256').update(canonicalJson(rest)).digest('hex')).toBe(hash);
      prev = hash as string;
    }

    const ranged = await collect({ from: day(2), to: day(4) });
    expect(ranged.count).toBe(2);
    expect(ranged.lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([2, 3]);
  });

  it('refuses updates and deletes through the model', async () => {
    const conn = freshDb('readonly');
    const log = new AuditLog(conn);
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
    await expect(log.verify()).resolves.toEqual({ ok: true, checked: 1 });
  });
});
