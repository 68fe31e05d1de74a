/**
 * Lifecycle webhooks end to end on the real stores (docs/ARCHITECTURE.md, "Lifecycle webhooks"):
 * a subscription made with only a name and a URL gets a request's life as signed events, in order,
 * over real HTTPS; a 500 is retried and the status shows each attempt; Retry-After is honoured; a
 * 4xx fails for good; one subscription's failing receiver never holds up another's; what is
 * pending survives a restart; bad input changes nothing; non-admins are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLatch, CONNECTOR_FACTORIES, type Latch } from '../../src/app.js';
import { silentLogger } from '../../src/logger.js';
import type { RequestDoc } from '../../src/store/models.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  refusalOf,
  schemaId,
  type Fixture,
} from '../support/fixture.js';
import {
  startWebhookReceiver,
  type ReceivedHook,
  type WebhookReceiver,
} from '../support/lifecycle-webhook-receiver.js';
import { until } from '../support/wait.js';

const alice = person('alice');
const bob = person('bob', ['sre']);
const MIN = 60_000;

let fx: Fixture;
let receiver: WebhookReceiver;
let other: WebhookReceiver;
let dropDb: () => Promise<void>;
let billing: string;
let siemId: string;

/** Whatever the background kicks have not done yet: the outbox, then the webhook queue. */
/** A second Latch on the same store, as after a restart or beside another worker. */
function anotherInstance(): Latch {
  return createLatch({
    db: fx.db,
    encryptionKey: fx.encryptionKey,
    log: silentLogger,
    clock: fx.clock.now,
    envAdmins: ['admin@example.com'],
    factories: CONNECTOR_FACTORIES,
    webhooks: { ca: receiver.ca, retryBaseMs: 1_000 },
  });
}

async function flush(latch: Latch = fx.latch): Promise<void> {
  await latch.outbox.deliverDue();
  await latch.webhooks!.deliverDue();
}

async function hooksFor(r: WebhookReceiver, requestId: string, n: number): Promise<ReceivedHook[]> {
  return until(`${n} webhooks for ${requestId}`, async () => {
    await flush();
    const got = r.received.filter((h) => h.json?.request?.id === requestId);
    return got.length >= n ? got : undefined;
  });
}

/** Waits until nothing is left to send (so a test's answers meet its own deliveries). */
async function settle(): Promise<void> {
  await until('everything sent', async () => {
    await flush();
    const [queued, outbox] = await Promise.all([
      fx.db.models.WebhookDelivery.countDocuments({ state: 'pending' }),
      fx.db.models.Request.countDocuments({ notifyAt: { $exists: true } }),
    ]);
    return queued + outbox === 0 ? true : undefined;
  });
}

const submit = (who = alice) =>
  fx.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
    durationMinutes: 60,
    justification: 'INC-7',
    source: 'api',
  });

async function status(id = siemId) {
  return (await fx.latch.queries.webhook(admin, id))!;
}

beforeAll(async () => {
  receiver = await startWebhookReceiver();
  other = await startWebhookReceiver();
  fx = await createFixture('webhooks', { webhooks: { ca: receiver.ca, retryBaseMs: 1_000 } });
  const pgDb = await createPgDatabase('wh');
  dropDb = pgDb.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pgDb.database] });
  billing = schemaId(pgDb.database);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'group', id: 'sre' }] }] },
      extension: { mode: 'direct', maxCount: 1 },
      duration: { maxMinutes: 240 },
    }),
  );
}, 120_000);

afterAll(async () => {
  await fx?.close();
  await receiver?.close();
  await other?.close();
  await dropDb?.();
});

describe('subscribing', () => {
  it('refuses bad input on its field and saves nothing', async () => {
    const issues = await fx.latch.admin.webhookIssues(admin, {
      name: '',
      url: 'http://hooks.example.com/latch',
      events: ['request.created', 'request.exploded'],
      secret: 'short',
    });
    expect(Object.fromEntries(issues.map((i) => [i.field, i.message]))).toEqual({
      name: 'Give the subscription a name.',
      url: expect.stringContaining('plain http is allowed only to this machine'),
      events: expect.stringContaining('Known events'),
      secret: expect.stringContaining('At least 16 characters'),
    });
    const refused = await refusalOf(
      fx.latch.admin.createWebhook(admin, { name: 'x', url: 'ftp://hooks.example.com' }),
    );
    expect([refused.code, refused.field]).toEqual(['invalid', 'url']);
    const withCredentials = await fx.latch.admin.webhookIssues(admin, {
      name: 'x',
      url: 'https://user:pw@hooks.example.com/',
    });
    expect(withCredentials).toEqual([{ field: 'url', message: expect.stringContaining('credentials') }]);
    // Plain http to this machine is fine.
    expect(await fx.latch.admin.webhookIssues(admin, { name: 'x', url: 'http://127.0.0.1:9/h' })).toEqual([]);
    expect(await fx.latch.queries.webhooks(admin)).toEqual([]);
  });

  it('refuses non-admins, and audits it', async () => {
    const err = await refusalOf(fx.latch.admin.createWebhook(alice, { name: 'mine', url: receiver.url }));
    expect(err.code).toBe('forbidden');
    expect((await refusalOf(fx.latch.queries.webhooks(alice))).code).toBe('forbidden');
    const denied = await fx.latch.audit.latest(5, { action: 'admin.denied' });
    expect(denied.map((d) => (d.details as { attempted: string }).attempted)).toEqual(
      expect.arrayContaining(['webhook.save', 'webhook.list']),
    );
    expect(await fx.latch.queries.webhooks(admin)).toEqual([]);
  });

  it('with only a name and a URL: every event, enabled, and a secret Latch generates and shows once', async () => {
    const saved = await fx.latch.admin.createWebhook(admin, { name: 'SIEM', url: receiver.url });
    expect(saved.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    expect(saved.webhook).toMatchObject({ name: 'SIEM', url: receiver.url, events: [], enabled: true });
    siemId = saved.webhook.id;
    receiver.secret = saved.secret!;
    // Write-only from now on: sealed at rest, in no view, in no audit entry.
    const stored = await fx.db.models.WebhookSubscription.findById(siemId).lean();
    expect(stored!.secret).not.toContain(saved.secret);
    expect(JSON.stringify(await fx.latch.queries.webhooks(admin))).not.toContain(saved.secret);
    const audit = await fx.latch.audit.latest(5, { action: 'webhook.created' });
    expect(audit[0]).toMatchObject({
      subject: { type: 'webhook', id: 'SIEM' },
      details: { url: receiver.url, events: [], enabled: true, signingKey: 'generated' },
    });
    expect(JSON.stringify(audit)).not.toContain(saved.secret);
    // A duplicate name is refused on its field.
    const dup = await refusalOf(fx.latch.admin.createWebhook(admin, { name: 'SIEM', url: other.url }));
    expect([dup.code, dup.field]).toEqual(['invalid', 'name']);
  });
});

describe('delivery', () => {
  it("sends a request's whole life as signed events, in order, each with its own id", async () => {
    const req = await submit();
    await fx.latch.requests.approve(bob, req.id);
    await fx.latch.sweeps.tickUrgent();
    await fx.latch.requests.extend(alice, req.id, 30);
    await fx.latch.requests.revoke(alice, req.id, 'done');
    await fx.latch.sweeps.tickUrgent();
    const hooks = await hooksFor(receiver, req.id, 5);
    expect(hooks.map((h) => h.json.type)).toEqual([
      'request.created',
      'request.approved',
      'access.granted',
      'access.extended',
      'access.revoked',
    ]);
    expect(hooks.map((h) => h.signature)).toEqual([null, null, null, null, null]);
    expect(new Set(hooks.map((h) => h.json.id)).size).toBe(5);
    for (const h of hooks) {
      expect(h.headers['latch-event']).toBe(h.json.type);
      expect(h.headers['latch-event-id']).toBe(h.json.id);
      expect(h.headers['content-type']).toBe('application/json');
      expect(h.path).toBe('/hooks/latch');
    }
    const [created, approved, granted, extended, revoked] = hooks.map((h) => h.json);
    expect(created).toMatchObject({
      by: 'alice@example.com',
      request: {
        id: req.id,
        requester: { email: 'alice@example.com' },
        flow: 'Billing read',
        justification: 'INC-7',
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      },
    });
    expect(Date.parse(created.occurredAt)).toBe(fx.clock.current.getTime());
    expect(approved.by).toBe('bob@example.com');
    expect(granted.request.grantedAt).toEqual(expect.any(String));
    // One-time credentials are for the requester only.
    expect(hooks[2]!.body).not.toMatch(/credentials|password/i);
    expect(extended.by).toBe('alice@example.com');
    expect(revoked).toMatchObject({
      by: 'alice@example.com',
      request: { state: 'revoked', endReason: 'revoked' },
    });
  });

  it('tells an expiry and a denial apart from a revoke', async () => {
    const denied = await submit();
    await fx.latch.requests.reject(bob, denied.id, 'Use the replica');
    const [, deny] = await hooksFor(receiver, denied.id, 2);
    expect(deny!.json).toMatchObject({
      type: 'request.denied',
      by: 'bob@example.com',
      reason: 'Use the replica',
    });

    const req = await submit();
    await fx.latch.requests.approve(bob, req.id);
    await fx.latch.sweeps.tickUrgent();
    fx.clock.advance(61 * MIN);
    await fx.latch.sweeps.tickUrgent();
    const hooks = await hooksFor(receiver, req.id, 4);
    expect(hooks[3]!.json).toMatchObject({ type: 'access.expired', request: { state: 'expired' } });
    expect(hooks[3]!.json.by).toBeUndefined();
  });

  it('retries a 500, and the status shows each attempt', async () => {
    await settle();
    receiver.answerNext({ status: 500 });
    const req = await submit();
    const [first] = await hooksFor(receiver, req.id, 1);
    expect(first!.status).toBe(500);
    const pending = (await status()).recent.find((d) => d.requestId === req.id)!;
    expect(pending).toMatchObject({
      event: 'request.created',
      state: 'pending',
      attempts: 1,
      lastStatus: 500,
      lastError: 'HTTP 500',
    });
    expect(pending.nextAttemptAt!.getTime()).toBe(fx.clock.current.getTime() + 1_000);
    expect((await status()).pending).toBe(1);
    // Not before its time...
    await flush();
    expect(receiver.received.filter((h) => h.json.request.id === req.id)).toHaveLength(1);
    // ...then again, with the same body and id.
    fx.clock.advance(1_000);
    const [, second] = await hooksFor(receiver, req.id, 2);
    expect(second!.status).toBe(200);
    expect(second!.signature).toBeNull();
    expect(second!.body).toBe(first!.body);
    const done = (await status()).recent.find((d) => d.requestId === req.id)!;
    expect(done).toMatchObject({ state: 'delivered', attempts: 2, lastStatus: 200 });
    expect(done.lastError).toBeUndefined();
    expect(done.nextAttemptAt).toBeUndefined();
    await fx.latch.requests.cancel(alice, req.id);
    await hooksFor(receiver, req.id, 2);
  });

  it('honours Retry-After, and holds back that request’s later events meanwhile', async () => {
    await settle();
    receiver.answerNext({ status: 503, headers: { 'retry-after': '120' } });
    const req = await submit();
    await hooksFor(receiver, req.id, 1);
    const d = (await status()).recent.find((x) => x.requestId === req.id)!;
    expect(d.nextAttemptAt!.getTime()).toBe(fx.clock.current.getTime() + 120_000);
    await fx.latch.requests.approve(bob, req.id);
    fx.clock.advance(60_000);
    await flush();
    // The approval waits behind the creation: a receiver never sees them out of order.
    expect(receiver.received.filter((h) => h.json.request.id === req.id)).toHaveLength(1);
    fx.clock.advance(60_000);
    const hooks = await hooksFor(receiver, req.id, 3);
    expect(hooks.map((h) => h.json.type)).toEqual(['request.created', 'request.created', 'request.approved']);
    await fx.latch.requests.revoke(bob, req.id);
    await fx.latch.sweeps.tickUrgent();
  });

  it('fails for good on a 4xx, and goes on with the next event', async () => {
    await settle();
    receiver.answerNext({ status: 410 });
    const req = await submit();
    await hooksFor(receiver, req.id, 1);
    const failed = (await status()).recent.find((d) => d.requestId === req.id)!;
    expect(failed).toMatchObject({ state: 'failed', attempts: 1, lastStatus: 410, lastError: 'HTTP 410' });
    expect(failed.nextAttemptAt).toBeUndefined();
    // A failed event holds nothing back: the approval goes, and the 410 is never tried again.
    await fx.latch.requests.approve(bob, req.id);
    fx.clock.advance(10 * MIN);
    const hooks = await hooksFor(receiver, req.id, 2);
    await flush();
    expect(
      receiver.received.filter((h) => h.json.request.id === req.id).map((h) => [h.json.type, h.status]),
    ).toEqual([
      ['request.created', 410],
      ['request.approved', 200],
    ]);
    expect(hooks).toHaveLength(2);
    await fx.latch.requests.revoke(alice, req.id);
  });

  it("keeps one subscription's failing receiver from holding up another's, and honours its events", async () => {
    const grants = await fx.latch.admin.createWebhook(admin, {
      name: 'Grants only',
      url: other.url,
      events: ['access.granted'],
    });
    other.secret = grants.secret!;
    await settle();
    receiver.answerNext({ status: 500 }, { status: 500 });
    const req = await submit();
    await fx.latch.requests.approve(bob, req.id);
    await fx.latch.sweeps.tickUrgent();
    const [granted] = await hooksFor(other, req.id, 1);
    expect(granted!.json.type).toBe('access.granted');
    expect(granted!.signature).toBeNull();
    // Signed with its own secret, not the other subscription's.
    expect(receiver.received.filter((h) => h.json.request.id === req.id)).toHaveLength(1);
    fx.clock.advance(MIN);
    await flush();
    fx.clock.advance(MIN);
    const hooks = await hooksFor(receiver, req.id, 5);
    expect(hooks.map((h) => h.json.type)).toEqual([
      'request.created',
      'request.created',
      'request.created',
      'request.approved',
      'access.granted',
    ]);
    await fx.latch.admin.deleteWebhook(admin, grants.webhook.id);
    await fx.latch.requests.revoke(bob, req.id);
    await fx.latch.sweeps.tickUrgent();
    await hooksFor(receiver, req.id, 6);
  });

  it('retries a receiver that cannot be reached, with the connection error as status', async () => {
    const down = await fx.latch.admin.createWebhook(admin, { name: 'Down', url: 'https://127.0.0.1:9/x' });
    const req = await submit();
    const d = await until('the failed attempt', async () => {
      await flush();
      const got = (await status(down.webhook.id)).recent[0];
      return got?.attempts ? got : undefined;
    });
    expect(d).toMatchObject({ state: 'pending', attempts: 1, requestId: req.id });
    expect(d.lastStatus).toBeUndefined();
    expect(d.lastError).toMatch(/ECONNREFUSED/);
    await fx.latch.admin.deleteWebhook(admin, down.webhook.id);
    expect(await fx.db.models.WebhookDelivery.countDocuments({ subscription: down.webhook.id })).toBe(0);
    await fx.latch.requests.cancel(alice, req.id);
  });

  it('never lets events waiting behind a backoff crowd out deliveries that can go', async () => {
    await settle();
    const down = await fx.latch.admin.createWebhook(admin, {
      name: 'Down too',
      url: 'https://127.0.0.1:9/x',
    });
    // An instance that looks at one due delivery per round.
    const c = createLatch({
      db: fx.db,
      encryptionKey: fx.encryptionKey,
      log: silentLogger,
      clock: fx.clock.now,
      envAdmins: ['admin@example.com'],
      factories: CONNECTOR_FACTORIES,
      webhooks: { ca: receiver.ca, retryBaseMs: 60_000, batchSize: 1 },
    });
    try {
      const stuck = await c.requests.submit(alice, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 60,
        source: 'api',
      });
      await until('the first failed try', async () => {
        await flush(c);
        const d = (await status(down.webhook.id)).recent.find((x) => x.requestId === stuck.id);
        return d?.attempts ? d : undefined;
      });
      // The next event of that request queues behind it for the receiver that is down...
      await c.requests.approve(bob, stuck.id);
      await until('it queued', async () => {
        await c.outbox.deliverDue();
        return (await status(down.webhook.id)).pending === 2 ? true : undefined;
      });
      // ...and another request's events, queued later, still reach the receiver that is up.
      fx.clock.advance(1_000);
      const other = await c.requests.submit(person('carol'), {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 60,
        source: 'api',
      });
      await until('the other request at the receiver that is up', async () => {
        await flush(c);
        return receiver.accepted().some((h) => h.json.request.id === other.id) ? true : undefined;
      });
      await c.requests.cancel(person('carol'), other.id);
      await c.requests.revoke(alice, stuck.id);
      await c.outbox.drain();
    } finally {
      await c.close();
    }
    await fx.latch.admin.deleteWebhook(admin, down.webhook.id);
  });

  it('signs with a rotated secret at once, and sends nothing to a disabled subscription', async () => {
    const rotated = await fx.latch.admin.rotateWebhookSecret(admin, siemId);
    expect(rotated.secret).toMatch(/^whsec_/);
    const req = await submit();
    const [hook] = await hooksFor(receiver, req.id, 1);
    expect(hook!.signature).toBe('bad signature');
    receiver.secret = rotated.secret!;
    expect(await fx.latch.audit.latest(1, { action: 'webhook.secret_rotated' })).toHaveLength(1);

    await fx.latch.admin.updateWebhook(admin, siemId, { name: 'SIEM', url: receiver.url, enabled: false });
    const before = receiver.received.length;
    await fx.latch.requests.cancel(alice, req.id);
    const quiet = await submit();
    await flush();
    expect(receiver.received.length).toBe(before);
    expect((await status()).recent.some((d) => d.requestId === quiet.id)).toBe(false);
    await fx.latch.requests.cancel(alice, quiet.id);
    // The edit kept the stored secret: enabled again, it signs with the rotated one.
    await fx.latch.admin.updateWebhook(admin, siemId, { name: 'SIEM', url: receiver.url });
    const again = await submit();
    const [signed] = await hooksFor(receiver, again.id, 1);
    expect(signed!.signature).toBeNull();
    await fx.latch.requests.cancel(alice, again.id);
  });

  it('keeps the last deliveries of each subscription, up to its bound', async () => {
    await settle();
    expect(
      await fx.db.models.WebhookDelivery.countDocuments({ subscription: siemId, state: { $ne: 'pending' } }),
    ).toBeGreaterThan(2);
    // An instance that keeps two: its next delivery trims the history to the newest two.
    const c = createLatch({
      db: fx.db,
      encryptionKey: fx.encryptionKey,
      log: silentLogger,
      clock: fx.clock.now,
      envAdmins: ['admin@example.com'],
      factories: CONNECTOR_FACTORIES,
      webhooks: { ca: receiver.ca, keep: 2 },
    });
    try {
      const req = await c.requests.submit(alice, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 60,
        source: 'api',
      });
      await until('the delivery through the trimming instance', async () => {
        await flush(c);
        const recent = (await status()).recent;
        return recent.length === 2 && recent[0]!.requestId === req.id && recent[0]!.state === 'delivered'
          ? true
          : undefined;
      });
      await c.requests.cancel(alice, req.id);
    } finally {
      await c.outbox.drain();
      await c.close();
    }
  });
});

describe('a restart', () => {
  it('delivers the events an earlier instance left in the outbox', async () => {
    await settle();
    // Instance A writes events but never delivers its outbox (no delivery slots), then stops.
    const a = createLatch({
      db: fx.db,
      encryptionKey: fx.encryptionKey,
      log: silentLogger,
      clock: fx.clock.now,
      envAdmins: ['admin@example.com'],
      factories: CONNECTOR_FACTORIES,
      outbox: { concurrency: 0 },
      webhooks: { ca: receiver.ca, retryBaseMs: 1_000 },
    });
    const before = receiver.received.length;
    const req = await a.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    await a.requests.approve(bob, req.id);
    await a.outbox.deliverDue();
    expect(receiver.received.length).toBe(before);
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean<RequestDoc>();
    expect(doc!.outbox!.map((e) => e.type)).toEqual(
      expect.arrayContaining(['request.submitted', 'request.approved']),
    );
    await a.close();

    // Instance B, started later, sends them, in order.
    const b = anotherInstance();
    try {
      const hooks = await until('the events through instance B', async () => {
        await flush(b);
        const got = receiver.received.filter((h) => h.json.request.id === req.id);
        return got.length >= 2 ? got : undefined;
      });
      expect(hooks.map((h) => [h.json.type, h.signature])).toEqual([
        ['request.created', null],
        ['request.approved', null],
      ]);
      await b.requests.revoke(alice, req.id);
    } finally {
      await b.outbox.drain();
      await b.close();
    }
  });

  it('sends deliveries an earlier instance queued but could not send', async () => {
    await settle();
    receiver.answerNext({ status: 502 });
    const req = await submit();
    await hooksFor(receiver, req.id, 1);
    expect((await status()).recent.find((d) => d.requestId === req.id)!.state).toBe('pending');
    // Another instance on the same store, once the backoff is over, sends it.
    const b = anotherInstance();
    try {
      fx.clock.advance(MIN);
      await b.sweeps.tickUrgent();
      const hooks = await until('the retry through instance B', async () => {
        await b.webhooks!.deliverDue();
        const got = receiver.received.filter((h) => h.json.request.id === req.id);
        return got.length >= 2 ? got : undefined;
      });
      expect(hooks.map((h) => h.status)).toEqual([502, 200]);
      expect((await status()).recent.find((d) => d.requestId === req.id)).toMatchObject({
        state: 'delivered',
        attempts: 2,
      });
    } finally {
      await b.outbox.drain();
      await b.close();
    }
    await fx.latch.requests.cancel(alice, req.id);
  });
});
