/**
 * A webhook integration as a new admin sets it up (only the URL and the signing secret) carries
 * requests through Latch: granted on the endpoint with its credentials delivered, revoked there,
 * for both a temporary account per grant and a shared membership.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createFixture, flow, person, refusalOf, type Fixture } from '../support/fixture.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/webhook-receiver.js';

const alice = person('alice');
let fx: Fixture;
let accounts: WebhookReceiver;
let members: WebhookReceiver;

async function stateOf(id: string): Promise<string | undefined> {
  const doc = await fx.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean();
  return doc?.state;
}

beforeAll(async () => {
  fx = await createFixture('webhook');
  accounts = await startWebhookReceiver({ mode: 'accounts' });
  members = await startWebhookReceiver({ mode: 'membership' });
  members.addPerson(alice.email);
  for (const [name, r] of [
    ['hook', accounts],
    ['groups', members],
  ] as const) {
    await fx.latch.admin.saveIntegration('config-file', {
      name,
      type: 'webhook',
      config: { url: r.url },
      secrets: { signingSecret: r.secret },
    });
    await fx.latch.admin.discover('config-file', name);
    await fx.latch.admin.saveFlow(
      'config-file',
      flow({
        name: `${name} read`,
        targets: [{ integration: name, include: [{ id: 'app-prod' }], permissions: ['read'] }],
      }),
    );
  }
}, 120_000);

afterAll(async () => {
  await fx?.close();
  await accounts?.close();
  await members?.close();
});

const on = (integration: string) => ({
  targets: [{ integration, resourceId: 'app-prod', permission: 'read' }],
  durationMinutes: 60,
  source: 'api' as const,
});

describe('a webhook integration through Latch', () => {
  it('refuses an http URL to another machine when it is saved, naming the field', async () => {
    const err = await refusalOf(
      fx.latch.admin.saveIntegration('config-file', {
        name: 'plain',
        type: 'webhook',
        config: { url: 'http://access.example.com/latch' },
        secrets: { signingSecret: 'a-long-enough-secret' },
      }),
    );
    expect(err.message).toMatch(/url.*must use https/);
    expect(await fx.db.models.Integration.findOne({ name: 'plain' }).lean()).toBeNull();
  });

  it('grants on the endpoint, hands its credentials to the requester, and revokes there', async () => {
    const req = await fx.latch.requests.submit(alice, on('hook'));
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('active');
    const creds = fx.notifier.of('access.granted', req.id)[0]!.credentials[0]!.values;
    expect(creds.username).toMatch(/^tmp_/);
    expect(accounts.lines()).toEqual([`account ${creds.username} app-prod read`]);

    await fx.latch.requests.revoke(alice, req.id, 'done');
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('revoked');
    expect(accounts.lines()).toEqual([]);
  });

  it('a shared membership (handle with shareKey) is granted and, once nobody holds it, revoked', async () => {
    const req = await fx.latch.requests.submit(alice, on('groups'));
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('active');
    const doc = await fx.db.models.Request.findOne({ number: Number(req.id.slice(3)) }).lean();
    expect(doc!.targets[0]!.handle).toMatchObject({ shareKey: expect.stringMatching(/^member:/) });
    expect(members.lines()).toEqual([`member ${alice.email} app-prod read`]);

    await fx.latch.requests.revoke(alice, req.id);
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('revoked');
    expect(members.lines()).toEqual([]);
  });
});
