/**
 * Policy as stored must never take Latch down: a null where a field is optional reads as absent,
 * and a flow or settings document that does not parse is set aside (logged), not thrown at every
 * reader of every flow.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { admin, createFixture, flow, person, type Fixture } from '../support/fixture.js';

let fx: Fixture;

beforeAll(async () => {
  fx = await createFixture('stored_policy');
  await fx.latch.admin.saveIntegration('config-file', {
    name: 'pg',
    type: 'postgresql',
    config: { host: '127.0.0.1', port: 5432, user: 'postgres' },
  });
});

afterAll(async () => {
  await fx?.close();
});

describe('stored flows', () => {
  it('are saved without null fields, read a stored null as absent, and set aside one that does not parse', async () => {
    const saved = await fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'No window',
        targets: [{ integration: 'pg', permissions: ['read'] }],
        availability: undefined,
      }),
    );
    const raw = await fx.db.models.Flow.findById(saved.id).lean();
    expect(raw!.definition).not.toHaveProperty('availability');

    // As an older version stored it: availability null.
    await fx.db.models.Flow.collection.updateOne(
      { name: 'No window' },
      { $set: { 'definition.availability': null } },
    );
    // And one edited by hand into something no schema accepts.
    await fx.db.models.Flow.collection.insertOne({
      name: 'Broken',
      definition: { name: 'Broken', grantees: 'everyone' },
      enabled: true,
    });
    const flows = await fx.latch.ctx.flows();
    expect(flows.map((f) => f.name)).toEqual(['No window']);
    expect(flows[0]!.availability).toBeUndefined();

    // Requests are still matched against the readable flow (this resource simply does not exist).
    const refusal = await fx.latch.requests
      .submit(person('alice'), {
        targets: [{ integration: 'pg', resourceId: 'db:none', permission: 'read' }],
        durationMinutes: 60,
        source: 'api',
      })
      .catch((err: Error) => err.message);
    expect(String(refusal)).toMatch(/not a known resource/);
  });
});

describe('stored settings', () => {
  it('with a null or invalid field are repaired on read, and the admin check still works', async () => {
    await fx.db.models.Settings.collection.updateOne(
      { _id: 'global' as never },
      { $set: { value: { auditChannel: null, expiryWarningMinutes: 'soon', admins: ['dora@example.com'] } } },
      { upsert: true },
    );
    const settings = await fx.latch.ctx.settings();
    expect(settings.auditChannel).toBeUndefined();
    expect(settings.expiryWarningMinutes).toBe(15);
    expect(await fx.latch.ctx.isAdmin(person('dora'))).toBe(true);
    expect(await fx.latch.ctx.isAdmin(admin)).toBe(true);
  });
});
