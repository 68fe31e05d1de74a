import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createFixture, type Fixture } from '../support/fixture.js';

const run = promisify(execFile);
let fx: Fixture;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const u = new URL(process.env.MONGODB_URI!);
  u.pathname = `/${fx.dbName}`;
  try {
    const r = await run('node', ['--import', 'tsx', 'src/cli/audit.ts', ...args], {
      env: { ...process.env, MONGODB_URI: u.toString() },
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(async () => {
  fx = await createFixture('auditcli');
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
}, 60_000);
afterAll(async () => fx.close());

describe('npm run audit', () => {
  it('exports JSON lines, verifies an intact log, and names the entry that was tampered with', async () => {
    const exported = await cli(['export']);
    expect(exported.code).toBe(0);
    const lines = exported.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => l.action)).toEqual(['request.submitted', 'request.approved', 'access.granted']);

    const ok = await cli(['verify']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('3 entries verified');

    await fx.db.conn
      .db!.collection('audit_log')
      .updateOne({ seq: 2 }, { $set: { 'actor.id': 'mallory@example.com' } });
    const bad = await cli(['verify']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('TAMPERED at entry 2');
  });
});
