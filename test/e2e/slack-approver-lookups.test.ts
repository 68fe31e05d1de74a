/**
 * A step with a hundred named approvers (the most a step may name): every one of them gets a card,
 * and Slack is asked who they are once, not once per approver per notification.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MAX_APPROVERS_PER_STEP } from '../../src/domain/limits.js';
import { addPgIntegration, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

const alice = { id: 'U0ALICE', name: 'alice' };
const approvers = Array.from({ length: MAX_APPROVERS_PER_STEP }, (_, i) => ({
  id: `U0APPR${String(i).padStart(3, '0')}`,
  email: `approver${i}@example.com`,
}));

let h: SlackHarness;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_lookups');
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  for (const a of approvers) h.standIn.addUser({ id: a.id, email: a.email, realName: a.email });
  const pg = await createPgDatabase('sllk');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Hundred approvers',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: approvers.map((a) => ({ type: 'user' as const, id: a.email })) }] },
    }),
  );
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

describe('a hundred approvers', () => {
  it('all get a card, with each looked up in Slack at most once across notifications', async () => {
    const who = await h.slack.deps.directory.identity('T0LATCH', alice.id);
    for (let round = 0; round < 2; round++) {
      const r = await h.latch.requests.submit(who, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 60,
        source: 'slack',
      });
      for (const a of approvers)
        await h.standIn.waitForCall(
          'chat.postMessage',
          (c) => c.channel === 'D' + a.id && String(c.text).includes(r.id),
          20_000,
        );
      await h.latch.requests.cancel(who, r.id);
    }
    const lookups = h.standIn.calls('users.lookupByEmail');
    expect(lookups.length).toBeLessThanOrEqual(approvers.length);
    expect(new Set(lookups.map((c) => String(c.args.email))).size).toBe(lookups.length);
  }, 120_000);
});
