/**
 * The outbox across a crash: a grant's message (with the only copy of its one-time credentials,
 * sealed) is written with the grant itself. Slack is failing when the grant happens, the process is
 * killed with SIGKILL right after, and the next process still tells the requester, whose Show
 * credentials button still works.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ACTION } from '../../blocks/slack/ids.js';
import {
  addPgIntegration,
  createFixture,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
  type Fixture,
} from '../support/fixture.js';
import type { LatchProcess } from '../support/latch-process.js';
import { startLatchOn, waitFor } from '../support/latch-on-fixture.js';
import { SlackDriver } from '../support/slack-driver.js';
import { buttonsOf, textOf } from '../support/slack-harness.js';
import { startSlackStandIn, type SlackStandIn } from '../support/slack-stand-in.js';

const BOT_TOKEN = 'xoxb-outbox-crash';
const SIGNING_SECRET = 'outbox-crash-signing-secret';
const TEAM = 'T0LATCH';
const alice = { id: 'U0ALICE', name: 'alice' };

let fx: Fixture;
let standIn: SlackStandIn;
let latch: LatchProcess | undefined;
let dropDb: () => Promise<void>;
let billing: string;
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'latch-outbox-crash-'));

async function start(): Promise<{ process: LatchProcess; url: string }> {
  const started = await startLatchOn(fx, {
    slack: { apiUrl: standIn.url, botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET },
    dataDir,
  });
  return { process: started.process, url: started.slackUrl };
}

beforeAll(async () => {
  standIn = await startSlackStandIn();
  standIn.addToken(BOT_TOKEN, { teamId: TEAM });
  standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  fx = await createFixture('outbox_crash', { clock: () => new Date() });
  const pg = await createPgDatabase('oxc');
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

describe('a process killed right after a grant', () => {
  it('leaves the granted message and the sealed credentials in the outbox; the next process delivers them', async () => {
    // Slack fails every DM for now (a retryable error): the granted message cannot go out.
    for (let i = 0; i < 100; i++) standIn.failNext('conversations.open', 'internal_error');
    const first = await start();
    latch = first.process;
    const req = await fx.latch.requests.submit(person('alice'), {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    const granted = await waitFor('granted, with its message waiting in the outbox', async () => {
      const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
      return doc?.state === 'active' && doc.outbox?.some((e: { type: string }) => e.type === 'access.granted')
        ? doc
        : undefined;
    });
    // Delivery was tried, and failed; the kill comes right after the failure is recorded.
    await standIn.waitForCall('conversations.open', (a) => a.users === alice.id);
    await waitFor('the failed attempt recorded', async () => {
      const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
      const released = (doc?.notifyLease?.until?.getTime() ?? 0) <= Date.now();
      return released && (doc?.outbox ?? []).some((e: { attempts?: number }) => (e.attempts ?? 0) >= 1);
    });
    await latch.stop('SIGKILL');
    const killedAt = Date.now();

    const entry = granted.outbox!.find((e: { type: string }) => e.type === 'access.granted')!;
    expect(entry.credentials).toMatch(/^v1:/); // sealed, as integration secrets are
    const role = String(granted.targets[0]!.handle!.role);
    expect(await roleExists(role)).toBe(true);

    // Slack is back; a new process delivers the message, and the button opens the credentials.
    standIn.clearFailures('conversations.open');
    const second = await start();
    latch = second.process;
    const dm = await standIn.waitForCall(
      'chat.postMessage',
      (a) =>
        a.channel === 'D' + alice.id &&
        buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.showCredentials),
      // The dead process's hold on the outbox (9 s) and on the sweeps (5 s) run out first.
      45_000,
    );
    process.stderr.write(`[outbox-crash] delivered ${Date.now() - killedAt} ms after the kill\n`);
    const show = buttonsOf(dm.args.blocks as unknown[]).find((b) => b.action_id === ACTION.showCredentials)!;
    const message = standIn.messagesTo(alice.id).find((m) => m.ts === dm.response.ts)!;
    const driver = new SlackDriver({
      url: second.url,
      signingSecret: SIGNING_SECRET,
      teamId: TEAM,
      responseUrlBase: standIn.hooksUrl,
    });
    const mark = standIn.mark();
    await driver.blockActions(alice, [{ action_id: ACTION.showCredentials, value: show.value }], {
      message: { ts: message.ts, channel: message.channel, blocks: message.blocks ?? [] },
    });
    const modal = await standIn.waitForCall('views.open', undefined, { after: mark });
    const shown = textOf([modal.args.view]);
    expect(shown).toContain(role);
    const password = /password[^`]*`([^`]+)`/i.exec(shown)?.[1];
    expect(password).toBeDefined();

    // The outbox let go of its copy once the message went out; the password is nowhere in MongoDB.
    const after = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(after!.outbox ?? []).toEqual([]);
    expect(JSON.stringify(after)).not.toContain(password!);
    // Exactly one granted message, though delivery was tried before and after the crash.
    const grantedDms = standIn
      .calls('chat.postMessage')
      .filter((c) => c.args.channel === 'D' + alice.id && String(c.args.text).includes('granted'));
    expect(grantedDms).toHaveLength(1);
  }, 120_000);
});
