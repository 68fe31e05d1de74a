import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  createWebhookConnector,
  validateWebhookSettings,
  webhookConfigSchema,
  WebhookConnector,
} from '../../src/connectors/webhook/index.js';
import { PartialGrantError, type GrantSpec } from '../../src/connectors/types.js';
import { REDACTED, scrub } from '../../src/secret-scrubber.js';
import { SIGNATURE_HEADER, signatureHeader } from '../../src/webhooks/signing.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

// The conformance suites run from connector-conformance.test.ts (fixture: support/conformance/webhook-fixture.ts).

const s = randomBytes(3).toString('hex');
let n = 0;
function spec(extra: Partial<GrantSpec> = {}): GrantSpec {
  n += 1;
  return {
    grantId: `w-${s}-${n}`,
    requestId: `r-${s}-${n}`,
    requesterEmail: `p${n}-${s}@example.com`,
    resource: { id: 'app-prod', name: 'App (production)', kind: 'app' },
    permission: 'read',
    expiresAt: new Date(Date.now() + 3_600_000),
    ...extra,
  };
}

const wire = (sp: GrantSpec) => ({
  grantId: sp.grantId,
  requesterEmail: sp.requesterEmail,
  resourceId: sp.resource.id,
  permission: sp.permission,
});

describe('webhook connector', () => {
  let receiver: WebhookReceiver;
  let members: WebhookReceiver;
  const waits: number[] = [];

  /** A connector whose retries record their waits instead of sleeping, with the jitter at its lowest. */
  function connector(config: Record<string, unknown> = {}, secret?: string, on = receiver) {
    const parsed = webhookConfigSchema.parse({ url: on.url, backoffMs: 100, ...config });
    return new WebhookConnector('test', parsed, secret ?? on.secret, {
      sleep: async (ms) => void waits.push(ms),
      random: () => 0,
    });
  }
  const callsFor = (grantId: string, r = receiver) => r.calls.filter((c) => c.grantIds.includes(grantId));

  beforeAll(async () => {
    receiver = await startWebhookReceiver({ mode: 'accounts', pageSize: 3 });
    members = await startWebhookReceiver({ mode: 'membership' });
  });
  afterAll(async () => {
    await receiver?.close();
    await members?.close();
  });

  describe('settings', () => {
    const secrets = { signingSecret: 'a-long-enough-secret' };

    it('accepts just a URL and a secret, and fills in the defaults', () => {
      expect(validateWebhookSettings({ url: 'https://access.example.com/latch' }, secrets)).toEqual([]);
      expect(webhookConfigSchema.parse({ url: 'https://access.example.com/latch' })).toEqual({
        url: 'https://access.example.com/latch',
        timeoutMs: 10_000,
        retries: 3,
        backoffMs: 500,
        batchSize: 100,
      });
    });

    it('refuses http to another machine, but takes it to loopback', () => {
      const issues = validateWebhookSettings({ url: 'http://access.example.com/latch' }, secrets);
      expect(issues).toEqual([
        { path: ['config', 'url'], message: expect.stringContaining('must use https') },
      ]);
      for (const url of ['http://127.0.0.1:8080/x', 'http://localhost/x', 'http://[::1]:9000/'])
        expect([url, validateWebhookSettings({ url }, secrets)]).toEqual([url, []]);
      expect(() =>
        createWebhookConnector({ name: 'x', type: 'webhook', config: { url: 'http://10.0.0.5/' }, secrets }),
      ).toThrow(/must use https/);
    });

    it('says what is wrong with the rest, never showing the secret', () => {
      const issues = validateWebhookSettings(
        { url: 'ftp://x', retries: -1, timeout: 5, resources: [{ id: 'a', name: 'A', permissions: [] }] },
        { signingSecret: 'short-secret' },
      );
      expect(issues).toEqual(
        expect.arrayContaining([
          { path: ['config', 'url'], message: 'must use https' },
          expect.objectContaining({ path: ['config', 'retries'] }),
          expect.objectContaining({ path: ['config', 'resources', 0, 'permissions'] }),
          { path: ['config', 'timeout'], message: 'unknown field', unknownField: true },
          { path: ['secrets', 'signingSecret'], message: 'invalid value (not shown)' },
        ]),
      );
      expect(validateWebhookSettings({ url: 'https://x.example' }, {})).toEqual([
        { path: ['secrets', 'signingSecret'], message: 'required (expected string)' },
      ]);
      expect(JSON.stringify(issues)).not.toContain('short-secret');
    });
  });

  it('discovers what the endpoint lists, else the static resources when it does not do discovery', async () => {
    expect(await connector().discover()).toEqual(receiver.resources);
    const resources = [{ id: 'billing', name: 'Billing', permissions: ['read'] }];
    receiver.unimplemented.add('discover');
    try {
      expect(await connector({ resources }).discover()).toEqual([{ ...resources[0], kind: 'resource' }]);
      await expect(connector().discover()).rejects.toThrow(
        /refused discover \(HTTP 501\): discover is not implemented/,
      );
    } finally {
      receiver.unimplemented.delete('discover');
    }
    // A wrong secret is not "does not do discovery" either.
    await expect(connector({ resources }, 'not-the-secret-at-all-0000').discover()).rejects.toThrow(
      /HTTP 401/,
    );
    // Nor is an outage: the static list would hide resources the endpoint normally has.
    const clear = receiver.fail({ how: 'error', action: 'discover', status: 503 });
    try {
      await expect(connector({ resources, retries: 1 }).discover()).rejects.toThrow(
        /did not answer discover after 2 attempts: HTTP 503/,
      );
    } finally {
      clear();
    }
  });

  it('passes the endpoint’s credentials to the requester and masks them in logs', async () => {
    const sp = spec();
    const { handle, credentials } = await connector().grant(sp);
    expect(credentials).toEqual({ username: expect.stringMatching(/^tmp_/), password: expect.any(String) });
    expect(scrub(`password=${credentials!.password}`)).toBe(`password=${REDACTED}`);
    expect(handle).toMatchObject({
      grantId: sp.grantId,
      key: `account:${credentials!.username}`,
      account: credentials!.username,
    });
    expect(handle.shareKey).toBeUndefined();
    await connector().revoke(sp, handle);
    expect(receiver.holds(wire(sp))).toBe(false);
  });

  it('a wrong signing secret: the endpoint refuses, the grant fails saying why, once, and nothing is made', async () => {
    const sp = spec();
    const bad = connector({}, 'not-the-secret-at-all-0000');
    await expect(bad.grant(sp)).rejects.toThrow(
      /refused grant \(HTTP 401\): bad signature \(is signingSecret the same on both sides\?\)/,
    );
    expect(callsFor(sp.grantId).map((c) => c.status)).toEqual([401]);
    expect(receiver.holds(wire(sp))).toBe(false);
    const health = await bad.health();
    expect(health).toEqual({ ok: false, message: expect.stringContaining('HTTP 401') });
  });

  it('the receiver refuses a replayed request whose signed timestamp is old', async () => {
    const body = JSON.stringify({ version: 1, action: 'health', id: 'replayed', integration: 'test' });
    const post = (at: Date) =>
      fetch(receiver.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: signatureHeader(receiver.secret, body, at),
        },
        body,
      });
    expect((await post(new Date())).status).toBe(200);
    const old = await post(new Date(Date.now() - 10 * 60_000));
    expect([old.status, await old.json()]).toEqual([401, { error: 'signature timestamp too old' }]);
  });

  it('retries 5xx with exponential backoff, then succeeds; every retry is the same call', async () => {
    const sp = spec();
    waits.length = 0;
    receiver.fail({ how: 'error', action: 'grant', grantId: sp.grantId, count: 2, status: 502 });
    const { handle } = await connector().grant(sp);
    const calls = callsFor(sp.grantId);
    expect(calls.map((c) => c.status)).toEqual([502, 502, 200]);
    expect(new Set(calls.map((c) => c.id)).size).toBe(1);
    // backoffMs 100, doubled, times the lowest jitter (0.5).
    expect(waits).toEqual([50, 100]);
    expect(receiver.holds(wire(sp))).toBe(true);
    await connector().revoke(sp, handle);
  });

  it('honours Retry-After on 429 and 503', async () => {
    const sp = spec();
    waits.length = 0;
    receiver.fail({
      how: 'error',
      action: 'grant',
      grantId: sp.grantId,
      count: 1,
      status: 429,
      retryAfter: '2',
    });
    receiver.fail({
      how: 'error',
      action: 'grant',
      grantId: sp.grantId,
      count: 1,
      status: 503,
      retryAfter: '1',
    });
    const { handle } = await connector().grant(sp);
    expect(waits).toEqual([2000, 1000]);
    await connector().revoke(sp, handle);
  });

  it('gives up after the last retry; a 5xx may follow part of the work, so the grant is undone', async () => {
    const sp = spec();
    const clear = receiver.fail({
      how: 'error',
      action: 'grant',
      grantId: sp.grantId,
      status: 500,
      error: 'db down',
    });
    try {
      await expect(connector({ retries: 2 }).grant(sp)).rejects.toThrow(
        /did not answer grant after 3 attempts: HTTP 500: db down; whatever it may have made was revoked again/,
      );
    } finally {
      clear();
    }
    // A 5xx may come after part of the work: the undo was sent.
    expect(callsFor(sp.grantId).map((c) => [c.action, c.undo, c.status])).toEqual([
      ['grant', false, 500],
      ['grant', false, 500],
      ['grant', false, 500],
      ['revoke', true, 200],
    ]);
    expect(receiver.holds(wire(sp))).toBe(false);
  });

  it('a 4xx is not retried, and its reason is shown', async () => {
    const sp = spec({ permission: 'superuser' });
    await expect(connector().grant(sp)).rejects.toThrow(
      'the webhook endpoint refused grant (HTTP 422): app-prod has no permission "superuser"',
    );
    expect(callsFor(sp.grantId).map((c) => c.status)).toEqual([422]);
  });

  it('a grant applied but never answered (timeouts) is revoked again before it fails', async () => {
    const sp = spec();
    const clear = receiver.fail({ how: 'apply-then-timeout', action: 'grant', grantId: sp.grantId });
    try {
      const err = await connector({ retries: 1, timeoutMs: 300 })
        .grant(sp)
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(Error);
      expect(err).not.toBeInstanceOf(PartialGrantError);
      expect((err as Error).message).toMatch(
        /no answer within 300 ms; whatever it may have made was revoked again/,
      );
    } finally {
      clear();
    }
    expect(receiver.holds(wire(sp))).toBe(false);
    expect(callsFor(sp.grantId).map((c) => [c.action, c.undo])).toEqual([
      ['grant', false],
      ['grant', false],
      ['revoke', true],
    ]);
  });

  it('when the undo fails too: PartialGrantError with a handle that revoke later removes', async () => {
    const sp = spec();
    const clearGrant = receiver.fail({ how: 'apply-then-error', action: 'grant', grantId: sp.grantId });
    const clearRevoke = receiver.fail({ how: 'error', action: 'revoke', grantId: sp.grantId });
    let err: unknown;
    try {
      err = await connector({ retries: 1 })
        .grant(sp)
        .catch((e: unknown) => e);
    } finally {
      clearGrant();
      clearRevoke();
    }
    expect(err).toBeInstanceOf(PartialGrantError);
    expect((err as PartialGrantError).message).toMatch(/undoing whatever it may have made failed too/);
    expect(receiver.holds(wire(sp))).toBe(true);
    await connector().revoke(sp, (err as PartialGrantError).handle);
    expect(receiver.holds(wire(sp))).toBe(false);
  });

  it('an undo leaves a membership that another grant holds', async () => {
    const c = connector({ retries: 0 }, undefined, members);
    const first = spec();
    members.addPerson(first.requesterEmail);
    const held = await c.grant(first);
    expect(held.handle.shareKey).toBe(held.handle.key);
    const second = { ...first, grantId: `${first.grantId}-b` };
    const clear = members.fail({ how: 'apply-then-error', action: 'grant', grantId: second.grantId });
    try {
      await expect(c.grant(second)).rejects.toThrow(/revoked again/);
    } finally {
      clear();
    }
    expect(members.holds(wire(first))).toBe(true);
    await c.revoke(first, held.handle);
    expect(members.holds(wire(first))).toBe(false);
  });

  it('revokeMany of 200 is two POSTs of 100; checkMany likewise; one refused item does not hold back the rest', async () => {
    const c = connector();
    const specs = Array.from({ length: 200 }, () => spec());
    const granted = await Promise.all(specs.map((sp) => c.grant(sp)));
    const items = specs.map((sp, i) => ({ spec: sp, handle: granted[i]!.handle }));
    const before = receiver.calls.length;
    expect(await c.checkMany(items)).toEqual(items.map(() => true));
    // A handle pointing at an account the endpoint protects (data from the store is not trusted).
    const hostile = {
      spec: spec(),
      handle: { grantId: 'x', key: 'k', endpoint: JSON.stringify({ account: 'admin' }) },
    };
    const outcomes = await c.revokeMany([...items.slice(0, 150), hostile, ...items.slice(150)]);
    expect(outcomes[150]).toEqual(new Error('the webhook endpoint could not revoke: admin is protected'));
    expect(outcomes.filter((o) => o !== null)).toHaveLength(1);
    const posts = receiver.calls.slice(before);
    // Batches go out side by side, so in any order.
    expect(posts.map((p) => `${p.action} of ${p.batch}`).sort()).toEqual([
      'check of 100',
      'check of 100',
      'revoke of 1',
      'revoke of 100',
      'revoke of 100',
    ]);
    expect(specs.some((sp) => receiver.holds(wire(sp)))).toBe(false);
    expect(await c.checkMany(items)).toEqual(items.map(() => false));
  });

  it('a handle naming a protected account is refused by the endpoint with its reason', async () => {
    await expect(
      connector().revoke(spec(), { grantId: 'x', key: 'k', endpoint: JSON.stringify({ account: 'admin' }) }),
    ).rejects.toThrow('the webhook endpoint refused revoke (HTTP 403): admin is protected');
  });

  it('lists access over pages: Latch’s grants by their key, and access given by hand', async () => {
    const c = connector();
    const specs = [spec(), spec(), spec(), spec()];
    const granted = await Promise.all(specs.map((sp) => c.grant(sp)));
    const svc = receiver.giveStanding('app-staging', 'write');
    const before = receiver.calls.length;
    const entries = await c.listAccess();
    // pageSize 3: more than one page was read.
    expect(receiver.calls.slice(before).filter((x) => x.action === 'list').length).toBeGreaterThan(1);
    for (const [i, g] of granted.entries())
      expect(entries.find((e) => e.key === c.accessKey(g.handle))).toMatchObject({
        resourceId: 'app-prod',
        permission: 'read',
        email: specs[i]!.requesterEmail,
        madeByLatch: true,
      });
    const theirs = entries.find((e) => e.account === svc);
    expect(theirs).toMatchObject({ resourceId: 'app-staging', permission: 'write', madeByLatch: false });
    await c.revokeMany([
      ...specs.map((sp, i) => ({ spec: sp, handle: granted[i]!.handle })),
      { spec: spec(), handle: theirs!.handle },
    ]);
    expect((await c.listAccess()).filter((e) => e.account === svc)).toEqual([]);
  });

  it('extend tells the endpoint the new expiry; one that does not implement extend is fine', async () => {
    const c = connector();
    const sp = spec();
    const { handle } = await c.grant(sp);
    const later = new Date(Date.now() + 7_200_000);
    await c.extend(sp, handle, later);
    expect(receiver.calls.at(-1)).toMatchObject({ action: 'extend', status: 200, grantIds: [sp.grantId] });
    receiver.unimplemented.add('extend');
    try {
      await c.extend(sp, handle, null);
      expect(receiver.calls.at(-1)).toMatchObject({ action: 'extend', status: 501 });
    } finally {
      receiver.unimplemented.delete('extend');
    }
    await c.revoke(sp, handle);
    await expect(c.extend(sp, handle, later)).rejects.toThrow(/HTTP 404/);
  });

  it('health: ok when the endpoint answers, not ok (without throwing) when nothing listens', async () => {
    expect(await connector().health()).toEqual({ ok: true, message: expect.stringContaining('answered') });
    const gone = await startWebhookReceiver();
    const url = gone.url;
    await gone.close();
    const h = await connector({}, undefined, { ...receiver, url }).health();
    expect(h).toEqual({ ok: false, message: expect.stringContaining('ECONNREFUSED') });
    // Never reached, so nothing to undo: the grant fails without a revoke.
    await expect(connector({ retries: 1 }, undefined, { ...receiver, url }).grant(spec())).rejects.toThrow(
      /^the webhook endpoint did not answer grant after 2 attempts: ECONNREFUSED[^;]*$/,
    );
  });
});
