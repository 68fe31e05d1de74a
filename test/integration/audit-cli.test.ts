import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { canonicalJson, hashedView } from '../../src/audit/audit-log.js';
import { FileCheckpointWitness } from '../../src/audit/checkpoints.js';
import { createFixture, type Fixture } from '../support/fixture.js';

const run = promisify(execFile);
let fx: Fixture;
const dirs: string[] = [];

function tmpDir(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-auditcli-'));
  dirs.push(dir);
  return dir;
}

/** A data directory as `npm start` leaves it: the generated key file, and the checkpoints next to it. */
function dataDirFor(f: Fixture, dir: string): string {
  writeFileSync(path.join(dir, 'encryption.key'), f.encryptionKey.toString('base64') + '\n', { mode: 0o600 });
  return dir;
}

async function cli(
  f: Fixture,
  dataDir: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const u = new URL(process.env.MONGODB_URI!);
  u.pathname = `/${f.dbName}`;
  // The key comes from the data directory's key file, as after `npm start` in development.
  const env: NodeJS.ProcessEnv = { ...process.env, MONGODB_URI: u.toString(), LATCH_DATA_DIR: dataDir };
  delete env.LATCH_AUDIT_KEY;
  delete env.LATCH_ENCRYPTION_KEY;
  try {
    const r = await run('node', ['--import', 'tsx', 'src/cli/audit.ts', ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const dataDir = tmpDir();

beforeAll(async () => {
  fx = await createFixture('auditcli', { auditWitnesses: [FileCheckpointWitness.inDataDir(dataDir)] });
  dataDirFor(fx, dataDir);
  await fx.latch.audit.append([
    {
      actor: { type: 'user', id: 'a@example.com' },
      action: 'request.submitted',
      subject: { type: 'request', id: 'AR-1' },
    },
    {
      actor: { type: 'user', id: 'b@example.com' },
      action: 'request.approved',
      subject: { type: 'request', id: 'AR-1' },
    },
    {
      actor: { type: 'system', id: 'latch' },
      action: 'access.granted',
      subject: { type: 'request', id: 'AR-1' },
    },
  ]);
  await fx.latch.audit.checkpoint();
}, 60_000);
afterAll(async () => {
  await fx.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('npm run audit', () => {
  it('exports JSON lines, verifies an intact log, and names the entry that was tampered with', async () => {
    const exported = await cli(fx, dataDir, ['export']);
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual(['request.submitted', 'request.approved', 'access.granted']);

    const ok = await cli(fx, dataDir, ['verify']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('3 entries verified');
    expect(ok.stdout).toContain('the newest at entry 3');

    await fx.db.conn
      .db!.collection('audit_log')
      .updateOne({ seq: 2 }, { $set: { 'actor.id': 'mallory@example.com' } });
    const bad = await cli(fx, dataDir, ['verify']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('TAMPERED at entry 2: entry 2 was altered');
  });

  it('reports a tail cut behind the checkpoint and a forged entry, one line each, exit code 1', async () => {
    const dir = tmpDir();
    const f = await createFixture('auditcli2', { auditWitnesses: [FileCheckpointWitness.inDataDir(dir)] });
    try {
      dataDirFor(f, dir);
      const actor = { type: 'system', id: 'latch' } as const;
      await f.latch.audit.append(
        [1, 2, 3, 4, 5].map((n) => ({ actor, action: 'grant.revoked', details: { n } })),
      );
      await f.latch.audit.checkpoint();
      const raw = f.db.conn.db!.collection('audit_log');

      await raw.deleteMany({ seq: { $gte: 4 } });
      const cut = await cli(f, dir, ['verify']);
      expect(cut.code).toBe(1);
      expect(cut.stderr).toContain(
        'audit log TAMPERED at entry 4: entries 4..5 were removed; the newest checkpoint is at 5',
      );
      expect(cut.stdout).toBe('');

      // Someone without the key appends an entry after the head, hashed as the old chain was.
      const head = (await raw.find().sort({ seq: -1 }).limit(1).toArray())[0]!;
      const forged = {
        seq: 6,
        at: new Date(),
        actor: { type: 'user', id: 'mallory@example.com' },
        action: 'access.granted',
        details: {},
        prevHash: head.hash as string,
      } as const;
      const hash = createHash('sha256')
        .update(canonicalJson(hashedView(forged)))
        .digest('hex');
      await raw.insertOne({ ...forged, hash });
      const both = await cli(f, dir, ['verify']);
      expect(both.code).toBe(1);
      const findings = both.stderr.split('\n').filter((l) => l.startsWith('audit log TAMPERED'));
      expect(findings).toEqual([
        'audit log TAMPERED at entry 4: entries 4..5 were removed',
        'audit log TAMPERED at entry 6: entry 6 is forged: its hash does not verify with the audit key, and no genuine entry or checkpoint comes after it',
      ]);
      expect(both.stderr).not.toMatch(/\n\s+at /);

      // Without a key the log cannot be checked: one line, exit code 2, no stack trace.
      const noKey = await cli(f, tmpDir(), ['verify']);
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain('no audit key');
      expect(noKey.stderr).not.toMatch(/\n\s+at /);
      // A different key: nothing verifies.
      writeFileSync(path.join(dir, 'encryption.key'), randomBytes(32).toString('base64'));
      const wrongKey = await cli(f, dir, ['verify']);
      expect(wrongKey.code).toBe(1);
      expect(wrongKey.stderr).toContain('TAMPERED at entry 1');
    } finally {
      await f.close();
    }
  });
});
