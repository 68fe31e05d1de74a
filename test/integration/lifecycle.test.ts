/**
 * The access lifecycle on the real stores: requests move through their states by the use-cases and
 * the sweeps, and access really appears and disappears on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
  withDatabase,
  refusalOf as rejected,
  type Fixture,
} from '../support/fixture.js';

const alice = person('alice', ['engineering']);
const bob = person('bob', ['sre']);
const carol = person('carol', ['sre']);
const dave = person('dave', ['sre', 'dba']);
const mallory = person('mallory');

let fx: Fixture;
let database: string;
let dropDb: () => Promise<void>;
let billing: string;
let wholeDb: string;

const MIN = 60_000;

async function activate(id: string): Promise<void> {
  await fx.latch.sweeps.tickUrgent();
  const doc = await fx.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean();
  expect(doc?.state).toBe('active');
}

async function stateOf(id: string): Promise<string> {
  const doc = await fx.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean();
  return doc!.state;
}

beforeAll(async () => {
  fx = await createFixture('lifecycle');
  ({ database, drop: dropDb } = await createPgDatabase('lc'));
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });
  billing = schemaId(database);
  wholeDb = `db:${database}`;
  const a = fx.latch.admin;
  await a.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'group', id: 'sre' }] }] },
      extension: { mode: 'direct', maxCount: 1 },
      duration: { maxMinutes: 120 },
    }),
  );
  await a.saveFlow(
    admin,
    flow({
      name: 'Billing write (auto)',
      grantees: { include: [{ type: 'group', id: 'engineering' }] },
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['write'] }],
      duration: { choicesMinutes: [30, 60] },
      extension: { mode: 'approval', maxCount: 2 },
    }),
  );
  await a.saveFlow(
    admin,
    flow({
      name: 'Whole database admin',
      targets: [{ integration: 'pg', include: [{ id: wholeDb }], permissions: ['admin'] }],
      approval: {
        steps: [
          { approvers: [{ type: 'group', id: 'sre' }], rule: { type: 'all' } },
          {
            approvers: [
              { type: 'user', id: 'dave@example.com' },
              { type: 'user', id: 'bob@example.com' },
              { type: 'user', id: 'carol@example.com' },
            ],
            rule: { type: 'quorum', count: 2 },
          },
        ],
      },
    }),
  );
}, 120_000);

afterAll(async () => {
  await fx.close();
  await dropDb();
});

describe('a flow with approval', () => {
  it('runs from request to a real PostgreSQL login and back, ending with the role gone and its session cut off', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      justification: 'INC-42',
      source: 'api',
    });
    expect(req.id).toMatch(/^AR-\d+$/);
    expect(req.state).toBe('pending');
    const asked = fx.notifier.of('approval.needed', req.id);
    expect(asked[0]?.approvers.groups).toEqual(['sre']);

    // Nothing is granted before approval.
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('pending');

    const approved = await fx.latch.requests.approve(bob, req.id);
    expect(approved.state).toBe('approved');
    expect(fx.notifier.of('request.approved', req.id)).toHaveLength(1);
    await activate(req.id);

    const granted = fx.notifier.of('access.granted', req.id)[0]!;
    const creds = granted.credentials[0]!.values;
    expect(granted.request.expiresAt!.getTime() - fx.clock.current.getTime()).toBe(60 * MIN);
    const session = new pg.Client({
      host: creds.host,
      port: Number(creds.port),
      user: creds.username,
      password: creds.password,
      database: creds.database,
    });
    await session.connect();
    const rows = await session.query('SELECT sum(amount)::int AS total FROM billing.invoices');
    expect(rows.rows[0].total).toBe(30);
    await expect(session.query('INSERT INTO billing.invoices (amount) VALUES (1)')).rejects.toThrow(
      /permission denied/,
    );
    session.on('error', () => {});

    // Credentials are handed to the requester only: neither the request nor the audit log holds them.
    const stored = JSON.stringify(await fx.db.models.Request.findOne({ number: req.number }).lean());
    expect(stored).not.toContain(creds.password);
    const audit = JSON.stringify(await fx.latch.audit.latest(50));
    expect(audit).not.toContain(creds.password);

    // Warning before the end, then expiry.
    fx.clock.advance(50 * MIN);
    await fx.latch.sweeps.tickRelaxed();
    const warning = fx.notifier.of('access.expiring', req.id);
    expect(warning).toHaveLength(1);
    expect(warning[0]!.extension.allowed).toBe(true);
    await fx.latch.sweeps.tickRelaxed();
    expect(fx.notifier.of('access.expiring', req.id)).toHaveLength(1);

    fx.clock.advance(11 * MIN);
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('expired');
    expect(await roleExists(creds.username!)).toBe(false);
    await expect(session.query('SELECT 1')).rejects.toThrow();
    await session.end().catch(() => {});
    expect(fx.notifier.of('access.revoked', req.id)[0]?.request.state).toBe('expired');

    const actions = (await fx.latch.audit.latest(200, { subjectId: req.id })).map((e) => e.action).reverse();
    expect(actions).toEqual(['request.submitted', 'request.approved', 'access.granted', 'access.expired']);
    expect((await fx.latch.audit.verify()).ok).toBe(true);

    // Ended requests can be asked again.
    const again = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    expect(again.state).toBe('pending');
    await fx.latch.requests.cancel(alice, again.id);
  });

  it('refuses a second open request for the same access, naming the open one', async () => {
    const first = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    const err = await rejected(
      fx.latch.requests.submit(alice, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 30,
        source: 'slack',
      }),
    );
    expect(err.code).toBe('conflict');
    expect(err.message).toContain(first.id);
    await fx.latch.requests.cancel(alice, first.id);
  });

  it('refuses self-approval and approvers who are not in the step', async () => {
    const req = await fx.latch.requests.submit(bob, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    const self = await rejected(fx.latch.requests.approve(bob, req.id));
    expect(self.code).toBe('forbidden');
    expect(self.message).toMatch(/your own request/);
    const outsider = await rejected(fx.latch.requests.approve(mallory, req.id));
    expect(outsider.code).toBe('forbidden');
    expect(await stateOf(req.id)).toBe('pending');
    const refusals = await fx.latch.audit.latest(10, { action: 'action.refused' });
    expect(refusals.some((e) => e.actor.id === 'mallory@example.com')).toBe(true);
    await fx.latch.requests.approve(carol, req.id);
    expect(await stateOf(req.id)).toBe('approved');
    await fx.latch.requests.revoke(bob, req.id);
    expect(await stateOf(req.id)).toBe('revoked');
  });

  it('lets an approver deny with a reason, which the requester is told; the reason is required', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    const noReason = await rejected(fx.latch.requests.reject(bob, req.id, '  '));
    expect(noReason.code).toBe('invalid');
    const denied = await fx.latch.requests.reject(bob, req.id, 'Use the replica instead');
    expect(denied.state).toBe('rejected');
    expect(fx.notifier.of('request.rejected', req.id)[0]?.reason).toBe('Use the replica instead');
    const late = await rejected(fx.latch.requests.approve(carol, req.id));
    expect(late.code).toBe('conflict');
    expect(late.message).toContain('denied');
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('rejected');
  });

  it('lets only the requester cancel a pending request', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    expect((await rejected(fx.latch.requests.cancel(bob, req.id))).code).toBe('forbidden');
    const cancelled = await fx.latch.requests.cancel(alice, req.id);
    expect(cancelled.state).toBe('cancelled');
    expect((await rejected(fx.latch.requests.approve(bob, req.id))).message).toContain('cancelled');
  });

  it('reminds approvers and times out a request nobody decides', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    fx.clock.advance(61 * MIN);
    await fx.latch.sweeps.tickRelaxed();
    expect(fx.notifier.of('approval.needed', req.id).filter((e) => e.reminder)).toHaveLength(1);
    fx.clock.advance(24 * 60 * MIN);
    await fx.latch.sweeps.tickRelaxed();
    expect(await stateOf(req.id)).toBe('timed_out');
    expect(fx.notifier.of('request.timed_out', req.id)).toHaveLength(1);
    expect((await rejected(fx.latch.requests.approve(bob, req.id))).message).toContain('timed out');
  });

  it('applies 20 concurrent approvals exactly once and grants once', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    const approvers = Array.from({ length: 20 }, (_, i) => person(`sre${i}`, ['sre']));
    const results = await Promise.allSettled(approvers.map((p) => fx.latch.requests.approve(p, req.id)));
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    for (const r of results)
      if (r.status === 'rejected') expect((r.reason as Error).message).toMatch(/already approved/);
    await Promise.all([fx.latch.sweeps.tickUrgent(), fx.latch.sweeps.tickUrgent()]);
    expect(await stateOf(req.id)).toBe('active');
    expect(fx.notifier.of('access.granted', req.id)).toHaveLength(1);
    expect(fx.notifier.of('request.approved', req.id)).toHaveLength(1);
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(doc!.approvals).toHaveLength(1);
    // An approver of this request may revoke it; a member of the approver group who did not approve may not.
    const winner = approvers[results.findIndex((r) => r.status === 'fulfilled')]!;
    const bystander = approvers.find((p) => p !== winner)!;
    expect((await rejected(fx.latch.requests.revoke(bystander, req.id))).code).toBe('forbidden');
    await fx.latch.requests.revoke(winner, req.id, 'not needed any more');
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('revoked');
    const entry = (
      await fx.latch.audit.latest(5, { subjectId: req.id, action: 'request.revoke_requested' })
    )[0];
    expect(entry?.actor.id).toBe(winner.id);
    expect(entry?.details).toMatchObject({ as: 'approver' });
  });
});

describe('an auto-approved flow', () => {
  it('grants without approval, lets the requester revoke, and removes the login', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
      durationMinutes: 30,
      source: 'cli',
    });
    expect(req.state).toBe('approved');
    expect(req.flowName).toBe('Billing write (auto)');
    await activate(req.id);
    const creds = fx.notifier.of('access.granted', req.id)[0]!.credentials[0]!.values;
    const c = new pg.Client({
      connectionString: withDatabase(
        `postgres://${creds.username}:${encodeURIComponent(creds.password!)}@${creds.host}:${creds.port}`,
        creds.database!,
      ),
    });
    await c.connect();
    await c.query('INSERT INTO billing.invoices (amount) VALUES (5)');
    await c.end();
    expect((await rejected(fx.latch.requests.revoke(mallory, req.id))).code).toBe('forbidden');
    await fx.latch.requests.revoke(alice, req.id, 'done early');
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('revoked');
    expect(await roleExists(creds.username!)).toBe(false);
    expect(fx.notifier.of('access.revoked', req.id)[0]?.request.endReasonText).toBe('done early');
  });

  it('refuses durations the flow does not offer; non-grantees go to the fallback flow', async () => {
    const dur = await rejected(
      fx.latch.requests.submit(alice, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
        durationMinutes: 45,
        source: 'api',
      }),
    );
    expect(dur.code).toBe('invalid');
    expect(dur.field).toBe('duration');
    const outsider = await fx.latch.requests.submit(mallory, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
      durationMinutes: 30,
      source: 'api',
    });
    expect(outsider.viaFallback).toBe(true);
    expect(outsider.state).toBe('pending');
    await fx.latch.requests.cancel(mallory, outsider.id);
  });
});

describe('extensions', () => {
  it('extends directly within the limits and refuses beyond them', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    await fx.latch.requests.approve(bob, req.id);
    await activate(req.id);
    const before = (await fx.db.models.Request.findOne({ number: req.number }).lean())!.expiresAt!;
    const tooLong = await rejected(fx.latch.requests.extend(alice, req.id, 500));
    expect(tooLong.code).toBe('invalid');
    expect((await rejected(fx.latch.requests.extend(mallory, req.id, 30))).code).toBe('forbidden');
    const extended = await fx.latch.requests.extend(alice, req.id, 30);
    expect(extended.expiresAt!.getTime()).toBe(before.getTime() + 30 * MIN);
    expect(fx.notifier.of('access.extended', req.id)).toHaveLength(1);
    // The login's own expiry moved too.
    const role = fx.notifier.of('access.granted', req.id)[0]!.credentials[0]!.values.username!;
    const c = new pg.Client({ connectionString: process.env.PG_URL });
    await c.connect();
    const r = await c.query('SELECT rolvaliduntil FROM pg_roles WHERE rolname = $1', [role]);
    await c.end();
    expect(new Date(r.rows[0].rolvaliduntil).getTime()).toBe(extended.expiresAt!.getTime());
    const second = await rejected(fx.latch.requests.extend(alice, req.id, 30));
    expect(second.code).toBe('forbidden');
    expect(second.message).toMatch(/extend/i);
    // Revoked at the new expiry, not the old one.
    fx.clock.advance(61 * MIN);
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('active');
    fx.clock.advance(30 * MIN);
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(req.id)).toBe('expired');
    expect(await roleExists(role)).toBe(false);
  });

  it('asks for approval when the flow says so', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
      durationMinutes: 30,
      source: 'api',
    });
    await activate(req.id);
    const before = (await fx.db.models.Request.findOne({ number: req.number }).lean())!.expiresAt!;
    await fx.latch.requests.extend(alice, req.id, 30);
    expect(fx.notifier.of('extension.requested', req.id)).toHaveLength(1);
    expect((await fx.db.models.Request.findOne({ number: req.number }).lean())!.expiresAt!.getTime()).toBe(
      before.getTime(),
    );
    const byAdmin = await fx.latch.requests.approveExtension(admin, req.id);
    expect(byAdmin.expiresAt!.getTime()).toBe(before.getTime() + 30 * MIN);
    await fx.latch.requests.revoke(admin, req.id, 'cleanup');
    await fx.latch.sweeps.tickUrgent();
  });
});

describe('approval rules', () => {
  it('needs all of step one, then a quorum of two in step two', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: wholeDb, permission: 'admin' }],
      durationMinutes: 30,
      source: 'api',
    });
    await fx.latch.requests.approve(bob, req.id);
    let doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    // A single group entry under "all" is satisfied by one member of the group.
    expect(doc!.step).toBe(1);
    expect(fx.notifier.of('approval.needed', req.id).at(-1)!.approvers.users).toEqual(
      expect.arrayContaining(['dave@example.com']),
    );
    await fx.latch.requests.approve(dave, req.id);
    doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(doc!.state).toBe('pending');
    expect((await rejected(fx.latch.requests.approve(dave, req.id))).message).toMatch(/already approved/);
    await fx.latch.requests.approve(carol, req.id);
    expect(await stateOf(req.id)).toBe('approved');
    await fx.latch.requests.cancel(alice, req.id).catch(() => {});
    await fx.latch.requests.revoke(admin, req.id);
  });
});

describe('the fallback flow', () => {
  it('sends uncovered requests to admins for at most 4 hours, and refuses them when switched off', async () => {
    const uncovered = { integration: 'pg', resourceId: wholeDb, permission: 'read' };
    const tooLong = await rejected(
      fx.latch.requests.submit(alice, { targets: [uncovered], durationMinutes: 300, source: 'api' }),
    );
    expect(tooLong.field).toBe('duration');
    const req = await fx.latch.requests.submit(alice, {
      targets: [uncovered],
      durationMinutes: 240,
      source: 'api',
    });
    expect(req.viaFallback).toBe(true);
    expect(fx.notifier.of('approval.needed', req.id)[0]!.approvers.users).toEqual(['admin@example.com']);
    expect((await rejected(fx.latch.requests.approve(bob, req.id))).code).toBe('forbidden');
    await fx.latch.requests.approve(admin, req.id);
    await activate(req.id);
    await fx.latch.requests.revoke(admin, req.id);
    await fx.latch.sweeps.tickUrgent();

    expect(
      (
        await rejected(
          fx.latch.admin.updateSettings(alice, {
            fallback: { enabled: false, approvers: [], maxMinutes: 240 },
          }),
        )
      ).code,
    ).toBe('forbidden');
    await fx.latch.admin.updateSettings(admin, {
      fallback: { enabled: false, approvers: [], maxMinutes: 240 },
    });
    const off = await rejected(
      fx.latch.requests.submit(alice, { targets: [uncovered], durationMinutes: 60, source: 'api' }),
    );
    expect(off.code).toBe('forbidden');
    expect(off.message).toMatch(/fallback flow is switched off/);
    const notGrantee = await rejected(
      fx.latch.requests.submit(mallory, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
        durationMinutes: 30,
        source: 'api',
      }),
    );
    expect(notGrantee.message).toMatch(/not a grantee of flow Billing write/);
    expect(await fx.db.models.Request.countDocuments({ 'requester.id': mallory.id, state: 'pending' })).toBe(
      0,
    );
    await fx.latch.admin.updateSettings(admin, {
      fallback: { enabled: true, approvers: [], maxMinutes: 240 },
    });
    const actions = (await fx.latch.audit.latest(20, { action: 'settings.updated' })).map((e) => e.actor.id);
    expect(actions).toEqual(['admin@example.com', 'admin@example.com']);
  });
});

describe('revoke everything', () => {
  it('is for admins only, needs a reason, and revokes every active grant', async () => {
    const carolReq = await fx.latch.requests.submit(carol, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    await fx.latch.requests.approve(bob, carolReq.id);
    const aliceReq = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
      durationMinutes: 60,
      source: 'api',
    });
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(carolReq.id)).toBe('active');
    expect(await stateOf(aliceReq.id)).toBe('active');
    const roles = [carolReq.id, aliceReq.id].map(
      (id) => fx.notifier.of('access.granted', id)[0]!.credentials[0]!.values.username!,
    );

    expect((await rejected(fx.latch.requests.revokeAll(alice, 'because'))).code).toBe('forbidden');
    expect((await rejected(fx.latch.requests.revokeAll(admin, ''))).code).toBe('invalid');
    const r = await fx.latch.requests.revokeAll(admin, 'Incident 7: credentials leaked');
    expect(r.revoking).toBeGreaterThanOrEqual(2);
    await fx.latch.sweeps.tickUrgent();
    expect(await stateOf(carolReq.id)).toBe('revoked');
    expect(await stateOf(aliceReq.id)).toBe('revoked');
    for (const role of roles) expect(await roleExists(role)).toBe(false);
    expect(await fx.db.models.Request.countDocuments({ state: 'active' })).toBe(0);
    const panic = await fx.latch.audit.latest(5, { action: 'access.revoke_all' });
    expect(panic[0]!.details).toMatchObject({ reason: 'Incident 7: credentials leaked' });
  });
});

describe('existing logins', () => {
  it('keeps a group membership while another active grant of the same person still needs it', async () => {
    const suffix = Math.random().toString(36).slice(2, 8);
    const login = `erin_${suffix}`;
    const group = `analysts_${suffix}`;
    const c = new pg.Client({ connectionString: process.env.PG_URL });
    await c.connect();
    await c.query(
      `CREATE ROLE ${pg.escapeIdentifier(login)} LOGIN; CREATE ROLE ${pg.escapeIdentifier(group)} NOLOGIN`,
    );
    const pgc = new pg.Client({ connectionString: withDatabase(process.env.PG_URL!, database) });
    await pgc.connect();
    await pgc.query('CREATE SCHEMA IF NOT EXISTS ops');
    await pgc.end();
    const isMember = async () =>
      (
        await c.query(
          'SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE g.rolname = $1 AND u.rolname = $2',
          [group, login],
        )
      ).rowCount === 1;
    try {
      await addPgIntegration(fx.latch, 'pg-existing', {
        databases: [database],
        mode: 'existing_login',
        roleMap: { read: group },
        loginMapping: { map: { 'erin@example.com': login } },
      });
      await fx.latch.admin.saveFlow(
        admin,
        flow({
          name: 'Analysts',
          targets: [{ integration: 'pg-existing', include: [], permissions: ['read'] }],
        }),
      );
      const erin = person('erin');
      const ask = (schema: string) =>
        fx.latch.requests.submit(erin, {
          targets: [
            { integration: 'pg-existing', resourceId: schemaId(database, schema), permission: 'read' },
          ],
          durationMinutes: 60,
          source: 'api',
        });
      const one = await ask('billing');
      const two = await ask('ops');
      await fx.latch.sweeps.tickUrgent();
      expect(await stateOf(one.id)).toBe('active');
      expect(await stateOf(two.id)).toBe('active');
      expect(fx.notifier.of('access.granted', one.id)[0]!.credentials).toEqual([]);
      expect(await isMember()).toBe(true);

      await fx.latch.requests.revoke(erin, one.id);
      await fx.latch.sweeps.tickUrgent();
      expect(await stateOf(one.id)).toBe('revoked');
      expect(await isMember()).toBe(true);

      await fx.latch.requests.revoke(erin, two.id);
      await fx.latch.sweeps.tickUrgent();
      expect(await stateOf(two.id)).toBe('revoked');
      expect(await isMember()).toBe(false);
    } finally {
      await c.query(
        `DROP ROLE IF EXISTS ${pg.escapeIdentifier(login)}; DROP ROLE IF EXISTS ${pg.escapeIdentifier(group)}`,
      );
      await c.end();
    }
  });
});
