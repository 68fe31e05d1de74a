/**
 * The acking front (src/web/front/): Slack gets its acknowledgement of a slash command even while
 * Latch's own event loop is busy, and the front changes nothing else: forged or unsigned requests
 * are still refused by Latch with the reason, and other routes answer as before.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { VIEW } from '../../blocks/slack/ids.js';
import { sign } from '../support/slack-driver.js';
import { SIGNING_SECRET, startSlackHarness, TEAM, type SlackHarness } from '../support/slack-harness.js';

const alice = { id: 'U0ALICE', name: 'alice' };
let h: SlackHarness;

beforeAll(async () => {
  h = await startSlackHarness('ack_front');
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
});

afterAll(async () => {
  await h?.close();
});

/** A signed `/access` as Slack sends it. */
function signedCommand(triggerId: string): { body: string; headers: Record<string, string> } {
  const body = new URLSearchParams({
    token: 'x',
    team_id: TEAM,
    user_id: alice.id,
    user_name: alice.name,
    command: '/access',
    text: '',
    response_url: `${h.standIn.hooksUrl}/commands/1`,
    trigger_id: triggerId,
  }).toString();
  const ts = Math.floor(Date.now() / 1000);
  return {
    body,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-slack-request-timestamp': String(ts),
      'x-slack-signature': sign(SIGNING_SECRET, ts, body),
    },
  };
}

/**
 * Sends the request from another process (Slack is not in Latch's process), after saying it is
 * ready; resolves with the answer's status and the wall-clock time it arrived.
 */
function sendFromElsewhere(
  request: { url: string; body: string; headers: Record<string, string> },
  onReady: () => void,
): Promise<{ status: number; at: number }> {
  const script = `
    const r = JSON.parse(process.env.REQUEST);
    console.log('ready');
    setTimeout(async () => {
      const res = await fetch(r.url, { method: 'POST', headers: r.headers, body: r.body });
      await res.text();
      console.log(JSON.stringify({ status: res.status, at: Date.now() }));
    }, 100);`;
  const child = spawn(process.execPath, ['-e', script], {
    env: { ...process.env, REQUEST: JSON.stringify(request) },
  });
  let out = '';
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.startsWith('ready\n') && !out.includes('{')) onReady();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (code !== 0 || !line) reject(new Error(`sender failed (exit ${code}): ${out}`));
      else resolve(JSON.parse(line) as { status: number; at: number });
    });
  });
}

describe('the acking front', () => {
  it('acknowledges /access while Latch is busy, then Latch opens and fills the modal', async () => {
    const triggerId = `${Date.now()}.front.${Math.random().toString(36).slice(2)}`;
    const mark = h.standIn.mark();
    let unblockedAt = 0;
    const answer = await sendFromElsewhere(
      { url: `${h.baseUrl}/slack/events`, ...signedCommand(triggerId) },
      () => {
        // Latch's whole event loop stops for two seconds: nothing of the app can run meanwhile.
        const until = Date.now() + 2_000;
        while (Date.now() < until) {
          /* busy */
        }
        unblockedAt = Date.now();
      },
    );
    expect(answer.status).toBe(200);
    expect(answer.at).toBeLessThan(unblockedAt);
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(opened.args.trigger_id).toBe(triggerId);
    const filled = await h.standIn.waitForCall('views.update', undefined, { after: mark });
    // No flow offers anything yet, so the loading modal becomes the notice that says so.
    expect((filled.args.view as { callback_id?: string }).callback_id).toBe(VIEW.notice);
  });

  it('does not acknowledge what Latch would refuse: a bad signature gets Latch’s 401 and reason', async () => {
    const cmd = signedCommand('1.bad.sig');
    const res = await fetch(`${h.baseUrl}/slack/events`, {
      method: 'POST',
      headers: { ...cmd.headers, 'x-slack-signature': 'v0=' + '0'.repeat(64) },
      body: cmd.body,
    });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'bad signature' });
  });

  it('passes every other route through unchanged', async () => {
    expect((await fetch(`${h.baseUrl}/healthz`)).status).toBe(200);
    expect(await (await fetch(`${h.baseUrl}/healthz`)).json()).toEqual({ ok: true });
    const missing = await fetch(`${h.baseUrl}/no/such/page`);
    expect([missing.status, await missing.json()]).toEqual([404, { error: 'not found' }]);
    const wrongMethod = await fetch(`${h.baseUrl}/slack/events`);
    expect([wrongMethod.status, wrongMethod.headers.get('allow')]).toEqual([405, 'POST']);
    const metrics = await fetch(`${h.baseUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toMatch(/text\/plain/);
    expect(await metrics.text()).toMatch(/latch_requests/);
  });
});
