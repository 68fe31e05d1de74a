/**
 * Messages go to Slack through the durable outbox: in order for each request, once each, and when
 * Slack rate-limits, after its Retry-After, with later events of the request waiting behind.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { addPgIntegration, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import { startSlackHarness, type SlackHarness } from '../support/slack-harness.js';

const alice = { id: 'U0ALICE', name: 'alice' };
const bob = { id: 'U0BOB', name: 'bob' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_outbox');
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUser({ id: bob.id, email: 'bob@example.com', realName: 'Bob' });
  const pg = await createPgDatabase('slob');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
    }),
  );
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

async function until<T>(what: string, check: () => Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await check();
    if (v) return v;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${what}: not reached`);
}

describe('the outbox', () => {
  it('waits out a rate limit, keeps the request’s later events behind it, and sends each message once, in order', async () => {
    // The first message Latch sends is refused with 429 and Retry-After: 30.
    h.standIn.failNext('chat.postMessage', 'ratelimited', { retryAfter: 30 });
    const mark = h.standIn.mark();
    const alicesId = await h.slack.deps.directory.identity('T0LATCH', alice.id);
    const r = await h.latch.requests.submit(alicesId, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'slack',
    });
    const number = r.number;
    const waiting = await until('the rate limit recorded', async () => {
      const doc = await h.db.models.Request.findOne({ number }).lean();
      return doc?.outbox?.[0]?.attempts === 1 && doc.notifyLease?.until?.getTime() === 0 ? doc : undefined;
    });
    // Retry-After is honoured: nothing is due for 30 seconds.
    expect(waiting.notifyAt!.getTime()).toBe(h.clock.now().getTime() + 30_000);

    // Bob approves meanwhile; his decision queues behind the held-up messages.
    await h.latch.requests.approve(await h.slack.deps.directory.identity('T0LATCH', bob.id), r.id);
    expect(await h.latch.outbox.deliverDue()).toBe(0);
    const held = await h.db.models.Request.findOne({ number }).lean();
    expect(held!.outbox!.map((e: { type: string }) => e.type)).toEqual([
      'request.submitted',
      'approval.needed',
      'request.approved',
    ]);
    expect(held!.notifyAt!.getTime()).toBe(waiting.notifyAt!.getTime());
    expect(h.standIn.calls('chat.postMessage').filter((c) => c.index >= mark)).toHaveLength(1);

    // Once the wait is over, everything goes out in order. Bob decided before his card could go
    // out, so none is sent for a request that no longer waits for him.
    h.clock.advance(30_000);
    expect(await h.latch.outbox.deliverDue()).toBe(1);
    const calls = h.standIn.calls().filter((c) => c.index >= mark);
    expect(calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'D' + bob.id)).toEqual(
      [],
    );
    const toAlice = calls.filter((c) => c.method === 'chat.postMessage' && c.args.channel === 'D' + alice.id);
    // The refused attempt, then only what is still news: the approval, once.
    expect(toAlice.map((c) => String(c.args.text))).toEqual([
      expect.stringContaining('submitted'),
      expect.stringContaining('approved'),
    ]);
    expect(calls.findIndex((c) => String(c.args.text).includes('approved'))).toBeGreaterThan(
      calls.findIndex((c) => String(c.args.text).includes('submitted')),
    );
    const done = await h.db.models.Request.findOne({ number }).lean();
    expect(done!.outbox).toEqual([]);
    expect(done!.notifyAt).toBeUndefined();
  });
});
