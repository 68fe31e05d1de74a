/**
 * SIGTERM behind a backlog: Slack stops answering while Latch has messages to send. The process
 * must still stop, cleanly and within its bound, instead of waiting for the backlog; the messages
 * stay in the outbox, and the next process delivers them.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  addPgIntegration,
  createFixture,
  createPgDatabase,
  flow,
  person,
  schemaId,
  type Fixture,
} from '../support/fixture.js';
import type { LatchProcess } from '../support/latch-process.js';
import { startLatchOn } from '../support/latch-on-fixture.js';
import { startSlackStandIn, type SlackStandIn } from '../support/slack-stand-in.js';

const BOT_TOKEN = 'xoxb-shutdown-test';
const people = Array.from({ length: 5 }, (_, i) => person(`user${i}`));

let fx: Fixture;
let standIn: SlackStandIn;
let latch: LatchProcess | undefined;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  standIn = await startSlackStandIn();
  standIn.addToken(BOT_TOKEN, { teamId: 'T0LATCH' });
  people.forEach((p, i) => standIn.addUser({ id: `U0USER${i}`, email: p.email, realName: p.displayName! }));
  fx = await createFixture('shutdown', { clock: () => new Date() });
  const pg = await createPgDatabase('shut');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await fx.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
    }),
  );
}, 60_000);

afterAll(async () => {
  await latch?.stop('SIGKILL');
  await standIn?.close();
  await fx?.close();
  await dropDb?.();
});

async function start(): Promise<LatchProcess> {
  const started = await startLatchOn(fx, {
    slack: { apiUrl: standIn.url, botToken: BOT_TOKEN, signingSecret: 'shutdown-signing-secret' },
  });
  return started.process;
}

describe('SIGTERM with messages stuck on their way to Slack', () => {
  it('stops cleanly within its bound, and the next process delivers what was queued', async () => {
    latch = await start();
    // Slack answers no DM any more: every message Latch sends from now on hangs.
    standIn.setLatency(10 * 60_000, 'conversations.open');
    for (const p of people) {
      await fx.latch.requests.submit(p, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 60,
        source: 'api',
      });
    }
    // The process's worker grants them all and starts telling each requester.
    for (let i = 0; i < people.length; i++) {
      await standIn.waitForCall('conversations.open', (a) => String(a.users) === `U0USER${i}`, 30_000);
    }

    const sent = Date.now();
    latch.child.kill('SIGTERM');
    const exit = await Promise.race([
      latch.exited,
      new Promise<'still running'>((r) => setTimeout(() => r('still running'), 45_000)),
    ]);
    process.stderr.write(`[shutdown] exited ${Date.now() - sent} ms after SIGTERM\n`);
    expect(exit).toEqual({ code: 0, signal: null });
    const warning = latch
      .logLines()
      .find((l) => l.msg === 'stopped with messages still queued in the outbox');
    expect(warning).toMatchObject({ requests: people.length });
    expect(await fx.db.models.Request.countDocuments({ notifyAt: { $exists: true } })).toBe(people.length);

    // Slack is back; the next process sends every requester the message that was stuck.
    standIn.setLatency(0, 'conversations.open');
    const mark = standIn.mark();
    latch = await start();
    for (let i = 0; i < people.length; i++) {
      await standIn.waitForCall(
        'chat.postMessage',
        (a) => a.channel === `DU0USER${i}` && String(a.text).includes('granted'),
        { after: mark, timeoutMs: 30_000 },
      );
    }
  }, 120_000);
});
