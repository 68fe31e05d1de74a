/**
 * The requester's manager as an approver (docs/ARCHITECTURE.md, "Flows that use context"): who
 * manages whom comes from Okta's `managerId` and Graph's `manager`, read by a sync against local
 * stand-ins that page and throttle as the real APIs do; flows ask that person, through the core as
 * every channel uses it.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { Identity } from '../../src/domain/identity.js';
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
import { startGraphStandIn, type GraphStandIn } from '../support/graph-stand-in.js';
import { startOktaStandIn, type OktaStandIn } from '../support/okta-stand-in.js';

const OKTA_TOKEN = '00a-okta-test-token-0123456789';
const ENTRA = { tenantId: 'contoso.example', clientId: 'app-1', clientSecret: 'entra-secret-value-123' };
const alice = person('alice');
const bob = person('bob');
const carol = person('carol');
const dave = person('dave');
const erin = person('erin');
const frank = person('frank');
const gina = person('gina');
const heidi = person('heidi');
const ivan = person('ivan');

let fx: Fixture;
let okta: OktaStandIn;
let graph: GraphStandIn;
let dropDb: () => Promise<void>;
let billing: string;

const quickSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 20)));

function ask(who: Identity) {
  return fx.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
    durationMinutes: 60,
    source: 'api',
  });
}

async function onlyFlow(approvers: unknown[]): Promise<void> {
  for (const f of await fx.latch.queries.flows(admin)) await fx.latch.admin.deleteFlow(admin, f.id);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Manager read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers }] } as never,
    }),
  );
}

/** Ends every open request, so each test asks afresh. */
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

function askedUsers(id: string): string[] {
  return [...fx.notifier.of('approval.needed', id)[0]!.approvers.users].sort();
}

beforeAll(async () => {
  fx = await createFixture('managers', { contextSleep: quickSleep });
  okta = await startOktaStandIn({ token: OKTA_TOKEN });
  graph = await startGraphStandIn({ ...ENTRA, maxPage: 2 });
  const pg = await createPgDatabase('mgr');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await fx.latch.admin.updateSettings(admin, {
    fallback: { enabled: false, approvers: [], maxMinutes: 240 },
  });
});

afterAll(async () => {
  await fx?.close();
  await okta?.close();
  await graph?.close();
  await dropDb?.();
});

describe('managers from Okta', () => {
  beforeAll(async () => {
    okta.addGroup('Managers', [bob.email, dave.email, frank.email]);
    okta.addGroup('Engineering', [alice.email, carol.email, erin.email, gina.email, heidi.email]);
    // Orgs fill managerId with the manager's login, Okta id or employee number.
    okta.setManager(alice.email, bob.email, 'login');
    okta.setManager(carol.email, dave.email, 'id');
    okta.setManager(erin.email, frank.email, 'employeeNumber');
    okta.setManager(gina.email, 'E-no-such-person', 'raw');
    okta.addUser('judy@example.com', 'DEPROVISIONED');
    okta.addMember('Managers', 'judy@example.com');
    okta.addMember('Engineering', ivan.email);
    okta.setManager(ivan.email, 'judy@example.com', 'login');
    await fx.latch.admin.saveContextSource(admin, {
      name: 'okta',
      type: 'okta',
      config: { orgUrl: okta.url, usersPageSize: 2 },
      secrets: { apiToken: OKTA_TOKEN },
    });
    const report = await fx.latch.admin.syncContextSource(admin, 'okta');
    expect(report).toMatchObject({ ok: true });
    expect(report.ok && report.warnings).toEqual([
      "1 person's managerId names nobody in the synced groups (by Okta id, login or employeeNumber); they have no manager in Latch",
    ]);
  });
  beforeEach(endAll);

  it('asks only the requester’s manager, and only the manager can approve', async () => {
    await onlyFlow([{ type: 'manager' }]);
    const r = await ask(alice);
    expect(r.state).toBe('pending');
    expect(askedUsers(r.id)).toEqual([bob.email]);
    expect(r.routing).toContain("the requester's manager");
    const refused = await refusalOf(fx.latch.requests.approve(dave, r.id));
    expect(refused.code).toBe('forbidden');
    expect((await refusalOf(fx.latch.requests.approve(alice, r.id))).code).toBe('forbidden');
    expect((await fx.latch.requests.approve(bob, r.id)).state).toBe('approved');
  });

  it('finds the manager named by Okta id or by employee number', async () => {
    await onlyFlow([{ type: 'manager' }]);
    expect(askedUsers((await ask(carol)).id)).toEqual([dave.email]);
    expect(askedUsers((await ask(erin)).id)).toEqual([frank.email]);
  });

  it('refuses, with the reason, someone whose identity provider names no manager', async () => {
    await onlyFlow([{ type: 'manager' }]);
    for (const who of [heidi, gina, ivan]) {
      const refused = await refusalOf(ask(who));
      expect(refused.code).toBe('forbidden');
      expect(refused.message).toContain(
        "Manager read needs your manager's approval, and your identity provider names no manager for you",
      );
    }
    expect(await fx.latch.db.models.Request.countDocuments({ 'requester.id': heidi.id })).toBe(0);
  });

  it('lets the other approvers of the step decide for someone without a manager', async () => {
    await onlyFlow([{ type: 'manager' }, { type: 'group', id: 'okta:Managers' }]);
    const r = await ask(heidi);
    expect(r.state).toBe('pending');
    expect(askedUsers(r.id)).toEqual([bob.email, dave.email, frank.email]);
    expect((await fx.latch.requests.approve(frank, r.id)).state).toBe('approved');
  });

  it('keeps asking the manager named when the request was made after Okta names another', async () => {
    await onlyFlow([{ type: 'manager' }]);
    const r = await ask(alice);
    okta.setManager(alice.email, dave.email, 'login');
    expect(await fx.latch.admin.syncContextSource(admin, 'okta')).toMatchObject({ ok: true });
    expect((await refusalOf(fx.latch.requests.approve(dave, r.id))).code).toBe('forbidden');
    expect((await fx.latch.requests.approve(bob, r.id)).state).toBe('approved');
    // A new request asks the new manager.
    await endAll();
    const next = await ask(alice);
    expect(askedUsers(next.id)).toEqual([dave.email]);
  });
});

describe('managers from Microsoft Entra ID', () => {
  const kim = person('kim');
  const lee = person('lee');
  const max = person('max');
  const nora = person('nora');
  beforeAll(async () => {
    graph.addGroup('Staff');
    for (const p of [kim, lee, max, nora]) graph.addMember('Staff', p.email);
    graph.setManager(kim.email, lee.email);
    graph.setManager(max.email, nora.email);
    await fx.latch.admin.saveContextSource(admin, {
      name: 'entra',
      type: 'entra',
      config: {
        tenantId: ENTRA.tenantId,
        clientId: ENTRA.clientId,
        graphUrl: graph.url,
        loginUrl: graph.url,
      },
      secrets: { clientSecret: ENTRA.clientSecret },
    });
    await onlyFlow([{ type: 'manager' }]);
  });
  beforeEach(endAll);

  it('reads every page of users with their managers, through throttling', async () => {
    graph.failNext(429, 1, { path: /^\/v1\.0\/users$/, retryAfter: 1 });
    const before = graph.requests.length;
    const report = await fx.latch.admin.syncContextSource(admin, 'entra');
    expect(report).toMatchObject({ ok: true, mode: 'full' });
    expect(report.ok && report.stats.rateLimited).toBe(1);
    const pages = graph.requests.slice(before).filter((r) => r.path.startsWith('/v1.0/users?'));
    // Four users, two a page, one page throttled first.
    expect(pages.map((r) => r.status)).toEqual([429, 200, 200]);
    expect(pages[0]!.path).toContain('$expand=manager(');
    expect(askedUsers((await ask(kim)).id)).toEqual([lee.email]);
    expect(askedUsers((await ask(max)).id)).toEqual([nora.email]);
    expect((await refusalOf(ask(lee))).message).toContain('names no manager for you');
  });

  it('keeps the managers through a delta sync that writes new groups', async () => {
    graph.addMember('Staff', 'olga@example.com');
    const before = graph.requests.length;
    const report = await fx.latch.admin.syncContextSource(admin, 'entra');
    expect(report).toMatchObject({ ok: true, mode: 'delta', unchanged: false });
    expect(graph.requests.slice(before).some((r) => r.path.startsWith('/v1.0/users'))).toBe(false);
    const r = await ask(kim);
    expect(askedUsers(r.id)).toEqual([lee.email]);
    expect((await fx.latch.requests.approve(lee, r.id)).state).toBe('approved');
  });

  it('reads no managers when the source is told not to', async () => {
    await fx.latch.admin.saveContextSource(admin, {
      name: 'entra',
      type: 'entra',
      config: {
        tenantId: ENTRA.tenantId,
        clientId: ENTRA.clientId,
        graphUrl: graph.url,
        loginUrl: graph.url,
        managers: false,
      },
      secrets: { clientSecret: ENTRA.clientSecret },
    });
    // A changed config starts afresh: this is a full sync.
    const before = graph.requests.length;
    expect(await fx.latch.admin.syncContextSource(admin, 'entra')).toMatchObject({ ok: true, mode: 'full' });
    expect(graph.requests.slice(before).some((r) => r.path.startsWith('/v1.0/users'))).toBe(false);
    expect((await refusalOf(ask(kim))).message).toContain('names no manager for you');
  });
});
