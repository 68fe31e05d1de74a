/**
 * Asking for someone else (docs/ARCHITECTURE.md, "Asking for someone else"), through the core as
 * every channel uses it: a flow's `requestFor` says whom a grantee may ask for; the person it is
 * for becomes the requester, is told, and may decline it at any stage. Groups and who manages whom
 * come from a source of type `okta` whose reads are replaced by what the test sets.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { CONTEXT_TYPES } from '../../src/context/index.js';
import type { ContextSourceType } from '../../src/context/types.js';
import type { FlowInput } from '../../src/domain/flow.js';
import type { Identity } from '../../src/domain/identity.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  refusalOf,
  roleExists,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

const alice = person('alice');
const bob = person('bob');
const carol = person('carol');
const dave = person('dave');

/** What the identity provider says on the next sync. */
let groups: Record<string, string[]> = {};
let managers: Array<{ email: string; manager: string }> = [];
const idpType: ContextSourceType = {
  validate: () => [],
  sync: async () => ({
    groups: Object.entries(groups).map(([name, members]) => ({ id: `G${name}`, name, members })),
    managers,
    state: {},
    mode: 'full',
  }),
};

let fx: Fixture;
let dropDb: () => Promise<void>;
let billing: string;

async function onlyFlow(input: Partial<FlowInput> & Pick<FlowInput, 'name'>): Promise<void> {
  for (const f of await fx.latch.queries.flows(admin)) await fx.latch.admin.deleteFlow(admin, f.id);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: carol.email }] }] },
      ...input,
    }),
  );
}

function askFor(asker: Identity, onBehalfOf: string | undefined, justification = 'needs the invoices') {
  return fx.latch.requests.submit(asker, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
    durationMinutes: 60,
    justification,
    source: 'api',
    ...(onBehalfOf ? { onBehalfOf } : {}),
  });
}

async function endAll(): Promise<void> {
  const open = await fx.latch.db.models.Request.find({
    state: { $in: ['pending', 'approved', 'active'] },
  }).lean();
  for (const r of open) {
    const id = `AR-${r.number}`;
    if (r.state === 'pending')
      await fx.latch.requests.cancel({ id: r.requester.id, email: r.requester.email, groups: [] }, id);
    else await fx.latch.requests.revoke(admin, id);
  }
  for (let i = 0; i < 3; i++) await fx.latch.sweeps.tickUrgent();
}

beforeAll(async () => {
  fx = await createFixture('onbehalf', { contextTypes: { ...CONTEXT_TYPES, okta: idpType } });
  const pg = await createPgDatabase('onbehalf');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await fx.latch.admin.updateSettings(admin, {
    fallback: { enabled: false, approvers: [], maxMinutes: 240 },
  });
  groups = { engineering: [alice.email, bob.email, carol.email] };
  managers = [{ email: bob.email, manager: alice.email }];
  await fx.latch.admin.saveContextSource(admin, {
    name: 'idp',
    type: 'okta',
    syncEveryMinutes: 5,
    maxAgeMinutes: 60,
  });
  expect(await fx.latch.admin.syncContextSource(admin, 'idp')).toMatchObject({ ok: true });
});

afterAll(async () => {
  await fx?.close();
  await dropDb?.();
});

describe('a flow that lets anyone be asked for', () => {
  beforeAll(async () => {
    await onlyFlow({
      name: 'Billing read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'anyone',
    });
  });
  beforeEach(endAll);

  it('makes the other person the requester, keeps who asked, tells them, and audits the asker', async () => {
    const r = await askFor(alice, 'Bob@Example.com');
    expect(r.state).toBe('pending');
    expect(r.requester.id).toBe(bob.email);
    expect(r.requester.groups).toEqual(['idp:engineering']);
    expect(r.askedBy).toMatchObject({ id: alice.id, email: alice.email });
    const told = fx.notifier.of('request.for_you', r.id);
    expect(told).toHaveLength(1);
    expect(told[0]!.request.justification).toBe('needs the invoices');
    // Bob's "my access" lists it; Alice's does not.
    expect((await fx.latch.queries.myAccess(bob)).pending.map((x) => x.id)).toContain(r.id);
    expect((await fx.latch.queries.myAccess(alice)).pending.map((x) => x.id)).not.toContain(r.id);
    const [audit] = await fx.latch.audit.latest(10, { subjectId: r.id, action: 'request.submitted' });
    expect(audit).toMatchObject({ actor: { id: alice.id }, details: { for: bob.email } });
  });

  it('refuses someone who is not a grantee of the flow, judged by their synced groups', async () => {
    const refused = await refusalOf(askFor(alice, dave.email));
    expect(refused.code).toBe('forbidden');
    expect(refused.field).toBe('onBehalfOf');
    expect(refused.message).toContain('dave@example.com may not have access under Billing read');
    expect(await fx.latch.db.models.Request.countDocuments({ 'requester.id': dave.email })).toBe(0);
  });

  it('refuses an asker who is not a grantee themselves', async () => {
    const refused = await refusalOf(askFor(dave, bob.email));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toContain('not a grantee');
  });

  it('does not let the asker approve what they asked for, and lets them cancel it while it waits', async () => {
    await onlyFlow({
      name: 'Billing read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'anyone',
      approval: {
        steps: [
          {
            approvers: [
              { type: 'user', id: alice.email },
              { type: 'user', id: carol.email },
            ],
          },
        ],
      },
    });
    const r = await askFor(alice, bob.email);
    const refused = await refusalOf(fx.latch.requests.approve(alice, r.id));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toContain('You cannot approve a request you asked for');
    expect((await fx.latch.requests.cancel(alice, r.id)).state).toBe('cancelled');
  });

  it('refuses a flow where only one approver can approve, and it is the asker', async () => {
    await onlyFlow({
      name: 'Billing read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'anyone',
      approval: { steps: [{ approvers: [{ type: 'user', id: alice.email }] }] },
    });
    const refused = await refusalOf(askFor(alice, bob.email));
    expect(refused.message).toContain('could never approve this request');
  });
});

describe('a flow for direct reports', () => {
  beforeAll(async () => {
    await onlyFlow({
      name: 'Team read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'reports',
    });
  });
  beforeEach(endAll);

  it('lets a manager ask for their report', async () => {
    const r = await askFor(alice, bob.email);
    expect(r.requester.id).toBe(bob.email);
    expect(r.askedBy?.id).toBe(alice.email);
  });

  it('refuses it when the step asks the manager, who is the asker: nobody else could approve', async () => {
    await onlyFlow({
      name: 'Team read by manager',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'reports',
      approval: { steps: [{ approvers: [{ type: 'manager' }] }] },
    });
    const refused = await refusalOf(askFor(alice, bob.email));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toContain('Team read by manager could never approve this request');
    await onlyFlow({
      name: 'Team read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'reports',
    });
  });

  it('refuses someone who is not a direct report, and says so', async () => {
    const refused = await refusalOf(askFor(alice, carol.email));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toBe(
      'Team read only lets you ask for your direct reports; carol@example.com is not one.',
    );
    // Bob is not Alice's manager.
    const reversed = await refusalOf(askFor(bob, alice.email));
    expect(reversed.message).toContain('only lets you ask for your direct reports');
  });
});

describe('a flow left at the default', () => {
  beforeAll(async () => {
    await onlyFlow({ name: 'Self only' });
  });
  beforeEach(endAll);

  it('lets people ask only for themselves', async () => {
    const stored = (await fx.latch.queries.flows(admin)).find((f) => f.name === 'Self only');
    expect(stored?.requestFor).toBe('self');
    const refused = await refusalOf(askFor(alice, bob.email));
    expect(refused.message).toBe('Self only only lets you ask for yourself, not for bob@example.com.');
    // Naming oneself is asking for oneself.
    const own = await askFor(alice, alice.email);
    expect(own.requester.id).toBe(alice.email);
    expect(own.askedBy).toBeUndefined();
  });
});

describe('declining', () => {
  beforeEach(endAll);

  it('ends a waiting request, tells the asker, and only the person it is for may do it', async () => {
    await onlyFlow({
      name: 'Billing read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'anyone',
    });
    const r = await askFor(alice, bob.email);
    for (const who of [alice, carol, admin]) {
      const refused = await refusalOf(fx.latch.requests.decline(who, r.id));
      expect(refused.code).toBe('forbidden');
      expect(refused.message).toBe(`Only the person ${r.id} is for can decline it.`);
    }
    const declined = await fx.latch.requests.decline(bob, r.id);
    expect(declined.state).toBe('cancelled');
    expect(declined.declinedAt).toBeDefined();
    expect(fx.notifier.of('request.declined', r.id)).toEqual([expect.objectContaining({ by: bob.email })]);
    const [audit] = await fx.latch.audit.latest(10, { subjectId: r.id, action: 'request.declined' });
    expect(audit).toMatchObject({
      actor: { id: bob.email },
      details: { askedBy: alice.email, was: 'pending' },
    });
    // Nothing is left to approve.
    expect((await refusalOf(fx.latch.requests.approve(carol, r.id))).message).toContain('cancelled');
  });

  it('revokes access already granted', async () => {
    await onlyFlow({
      name: 'Billing read auto',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'anyone',
      approval: { steps: [] },
    });
    const r = await askFor(alice, bob.email);
    expect(r.state).toBe('approved');
    await fx.latch.sweeps.tickUrgent();
    const granted = await fx.latch.db.models.Request.findOne({ number: r.number }).lean();
    expect(granted!.state).toBe('active');
    expect(granted!.targets[0]!.handle).toBeTruthy();
    const role = granted!.targets[0]!.handle!.role as string;
    expect(await roleExists(role)).toBe(true);

    const declined = await fx.latch.requests.decline(bob, r.id);
    expect(declined.state).toBe('revoking');
    for (let i = 0; i < 3; i++) await fx.latch.sweeps.tickUrgent();
    const ended = await fx.latch.db.models.Request.findOne({ number: r.number }).lean();
    expect(ended!.state).toBe('revoked');
    expect(ended!.endReasonText).toBe('declined by the person it was for');
    expect(await roleExists(role)).toBe(false);
    expect(fx.notifier.of('request.declined', r.id)).toHaveLength(1);
  });

  it('is refused for a request someone made for themselves', async () => {
    await onlyFlow({
      name: 'Billing read',
      grantees: { include: [{ type: 'group', id: 'idp:engineering' }] },
      requestFor: 'anyone',
    });
    const r = await askFor(bob, undefined);
    const refused = await refusalOf(fx.latch.requests.decline(bob, r.id));
    expect(refused.message).toBe(`You asked for ${r.id} yourself: cancel or revoke it instead.`);
  });
});
