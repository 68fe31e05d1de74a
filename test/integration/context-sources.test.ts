/**
 * Identity-provider groups in flows (docs/ARCHITECTURE.md, "Context sources"), through the core
 * as every channel uses it, against local stand-ins of Okta and Microsoft Graph that page,
 * rate-limit and fail as the real APIs do.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { applyDeclaredConfig } from '../../src/config/apply.js';
import { parseFlowsFile, FlowsFileError } from '../../src/config/flows-file.js';
import { CONTEXT_VALIDATORS } from '../../src/app.js';
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

const MIN = 60_000;
const OKTA_TOKEN = '00a-okta-test-token-0123456789';
const alice = person('alice');
const bob = person('bob');
const dave = person('dave');
const erin = person('erin');
const eve = person('eve');

let fx: Fixture;
let okta: OktaStandIn;
let graph: GraphStandIn;
let dropDb: () => Promise<void>;
let billing: string;
let wholeDb: string;

// Backoffs after 5xx are cut short; waits for a rate limit still last until the API allows more.
const quickSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, Math.min(ms, 20)));

function ask(who = alice, resourceId = billing) {
  return fx.latch.requests.submit(who, {
    targets: [{ integration: 'pg', resourceId, permission: 'read' }],
    durationMinutes: 60,
    source: 'api',
  });
}

async function offeredFlows(who: typeof alice): Promise<string[]> {
  const { offers } = await fx.latch.queries.offers(who);
  return [...new Set(offers.flatMap((o) => o.flows.map((f) => f.flow.name)))].sort();
}

async function sync(name: string) {
  const report = await fx.latch.admin.syncContextSource(admin, name);
  return report;
}

async function status(name: string) {
  return (await fx.latch.queries.contextSources(admin)).find((s) => s.name === name)!;
}

beforeAll(async () => {
  fx = await createFixture('context', { contextSleep: quickSleep });
  okta = await startOktaStandIn({ token: OKTA_TOKEN });
  graph = await startGraphStandIn({
    tenantId: 'contoso.example',
    clientId: 'app-1',
    clientSecret: 'entra-secret-value-123',
    maxPage: 2,
  });
  const pg = await createPgDatabase('ctx');
  dropDb = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  wholeDb = `db:${pg.database}`;
  // Only flows decide here: without a fallback, someone no flow lists can ask for nothing.
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

describe('Okta', () => {
  beforeAll(async () => {
    okta.addGroup('Engineering', ['alice@example.com', 'dave@example.com']);
    okta.addGroup('DBA', ['bob@example.com', 'carol@example.com']);
    okta.addUser('gone@example.com', 'DEPROVISIONED');
    okta.addMember('Engineering', 'gone@example.com');
    for (let i = 0; i < 5; i++)
      okta.addGroup(`Team ${i}`, [
        `member${i}a@example.com`,
        `member${i}b@example.com`,
        `member${i}c@example.com`,
      ]);
    await fx.latch.admin.saveContextSource(admin, {
      name: 'okta',
      type: 'okta',
      config: { orgUrl: okta.url, groupsPageSize: 3, usersPageSize: 2 },
      secrets: { apiToken: OKTA_TOKEN },
    });
    await fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Engineering read',
        grantees: { include: [{ type: 'group', id: 'okta:Engineering' }] },
        targets: [{ integration: 'pg', include: [{ id: billing }, { id: wholeDb }], permissions: ['read'] }],
        approval: { steps: [{ approvers: [{ type: 'group', id: 'okta:DBA' }] }] },
      }),
    );
  });

  it('follows every page and waits out rate limits, then reports its counts', async () => {
    okta.setRateLimit({ limit: 6, windowMs: 1000 });
    okta.failNext(429, 1, /\/users$/);
    okta.failNext(503, 1, /\/groups$/);
    const before = okta.counts();
    const report = await sync('okta');
    okta.setRateLimit(undefined);
    expect(report).toMatchObject({ ok: true, groups: 7, memberships: 2 + 2 + 15 });
    const during = {
      requests: okta.counts().requests - before.requests,
      rateLimited: okta.counts().rateLimited - before.rateLimited,
    };
    expect(during.rateLimited).toBeGreaterThanOrEqual(1);
    // 3 pages of groups, then 1 or 2 pages of users for each group (Engineering has 3, DBA 2).
    const pages = okta.requests.slice(before.requests).filter((r) => r.status === 200);
    expect(pages.filter((r) => r.path.startsWith('/api/v1/groups?'))).toHaveLength(3);
    expect(pages.filter((r) => r.path.includes('/users'))).toHaveLength(2 + 1 + 5 * 2);
    expect(await status('okta')).toMatchObject({
      groups: 7,
      memberships: 19,
      requests: during.requests,
      rateLimited: during.rateLimited,
      stale: false,
      lastError: undefined,
    });
  });

  it('gives people their groups as okta:<group>, and deprovisioned users none', async () => {
    expect(await offeredFlows(alice)).toEqual(['Engineering read']);
    expect(await offeredFlows(eve)).toEqual([]);
    expect(await offeredFlows(person('gone'))).toEqual([]);
    // A channel cannot claim a synced group for someone: only the sync says who is in it.
    expect(await offeredFlows(person('eve', ['okta:Engineering']))).toEqual([]);
  });

  it('asks the members of an Okta approver group by email, and lets them (and only them) approve', async () => {
    const r = await ask(alice);
    const needed = fx.notifier.of('approval.needed', r.id)[0]!;
    expect(needed.approvers.users.sort()).toEqual(['bob@example.com', 'carol@example.com']);
    expect(needed.approvers.groups).toEqual([]);
    expect(r.requester.groups).toContain('okta:Engineering');
    expect((await refusalOf(fx.latch.requests.approve(eve, r.id))).code).toBe('forbidden');
    // Bob's chat knows nothing of Okta; the core adds his groups.
    expect((await fx.latch.requests.approve(bob, r.id)).state).toBe('approved');
  });

  it('keeps the previous memberships when a sync fails, and reports the error', async () => {
    const before = await status('okta');
    okta.removeMember('Engineering', 'dave@example.com');
    // Okta answers 500 to member lists, again and again: the sync gives up after its retries.
    okta.failNext(500, 200, /\/users$/);
    const report = await sync('okta');
    expect(report.ok).toBe(false);
    expect(report).toMatchObject({ error: expect.stringContaining('500') });
    const after = await status('okta');
    expect(after.lastError).toContain('500');
    expect(after.lastErrorAt).toBeDefined();
    expect(after.lastSuccessAt).toEqual(before.lastSuccessAt);
    expect(after.memberships).toBe(before.memberships);
    // Dave keeps his access to the flow until a sync succeeds.
    expect(await offeredFlows(dave)).toEqual(['Engineering read']);
  });

  it('takes a flow away from someone removed from its Okta group at the next sync', async () => {
    okta.clearFailures();
    const report = await sync('okta');
    expect(report).toMatchObject({ ok: true });
    expect(await offeredFlows(dave)).toEqual([]);
    const refused = await refusalOf(ask(dave, wholeDb));
    expect(refused.code).toBe('forbidden');
    expect(refused.message).toContain('You are not a grantee of flow Engineering read');
    expect((await status('okta')).lastError).toBeUndefined();
  });
});

describe('Microsoft Entra ID', () => {
  beforeAll(async () => {
    graph.addGroup('Platform');
    graph.addGroup('SRE');
    graph.addGroup('On call');
    graph.addMember('SRE', 'dave@example.com');
    graph.addMember('SRE', 'frank@example.com');
    graph.addMember('On call', 'grace@example.com');
    graph.addMember('Platform', 'group:SRE');
    graph.addMember('SRE', 'group:On call');
    graph.addUser('mallory@example.com', { accountEnabled: false });
    graph.addMember('SRE', 'mallory@example.com');
    await fx.latch.admin.saveContextSource(admin, {
      name: 'entra',
      type: 'entra',
      config: { tenantId: 'contoso.example', clientId: 'app-1', graphUrl: graph.url, loginUrl: graph.url },
      secrets: { clientSecret: 'entra-secret-value-123' },
    });
    await fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Platform read',
        grantees: { include: [{ type: 'group', id: 'entra:Platform' }] },
        targets: [{ integration: 'pg', include: [{ id: billing }, { id: wholeDb }], permissions: ['read'] }],
      }),
    );
  });

  it('lets a member of a group nested two deep ask, after a full sync through throttling', async () => {
    graph.failNext(429, 1, { path: /transitiveMembers$/, retryAfter: 1 });
    graph.failNext(503, 1, { path: /^\/v1\.0\/groups$/, retryAfter: 0 });
    const report = await sync('entra');
    expect(report).toMatchObject({ ok: true, mode: 'full', groups: 3 });
    expect(report.ok && report.stats.rateLimited).toBe(1);
    const grace = person('grace');
    expect(await offeredFlows(grace)).toEqual(['Platform read']);
    expect((await ask(grace)).state).toBe('approved');
    expect(await offeredFlows(person('mallory'))).toEqual([]);
    expect(await offeredFlows(eve)).toEqual([]);
  });

  it('picks up an added and a removed member with a delta sync, nested groups included', async () => {
    graph.addMember('On call', 'erin@example.com');
    graph.removeMember('SRE', 'frank@example.com');
    const before = graph.requests.length;
    const report = await sync('entra');
    expect(report).toMatchObject({ ok: true, mode: 'delta' });
    const paths = graph.requests.slice(before).map((r) => r.path);
    expect(paths.some((p) => p.startsWith('/v1.0/groups/delta?$deltatoken='))).toBe(true);
    expect(paths.some((p) => p.startsWith('/v1.0/groups?'))).toBe(false);
    expect(await offeredFlows(erin)).toEqual(['Platform read']);
    expect(await offeredFlows(person('frank'))).toEqual([]);
    expect(await offeredFlows(dave)).toEqual(['Platform read']);
  });

  it('does nothing more than read the delta when nothing changed', async () => {
    const before = graph.requests.length;
    const report = await sync('entra');
    expect(report).toMatchObject({ ok: true, mode: 'delta', unchanged: true });
    const graphCalls = graph.requests.slice(before).filter((r) => r.path.startsWith('/v1.0/'));
    expect(graphCalls.map((r) => r.path.split('?')[0])).toEqual(['/v1.0/groups/delta']);
  });

  it('falls back to a full sync when Graph no longer knows the delta token', async () => {
    graph.expireDeltaTokens();
    graph.addMember('Platform', 'heidi@example.com');
    const report = await sync('entra');
    expect(report).toMatchObject({ ok: true, mode: 'full' });
    expect(await offeredFlows(person('heidi'))).toEqual(['Platform read']);
  });

  it('reports a refused sign-in and keeps the groups it had', async () => {
    await fx.latch.admin.saveContextSource(admin, {
      name: 'entra',
      type: 'entra',
      config: { tenantId: 'contoso.example', clientId: 'app-1', graphUrl: graph.url, loginUrl: graph.url },
      secrets: { clientSecret: 'a-wrong-secret-value' },
    });
    const report = await sync('entra');
    expect(report).toMatchObject({ ok: false, error: expect.stringContaining('AADSTS7000215') });
    expect(JSON.stringify(await status('entra'))).not.toContain('a-wrong-secret-value');
    expect(await offeredFlows(erin)).toEqual(['Platform read']);
  });
});

describe('a stale source', () => {
  it('still lets its groups ask, but approvers decide instead of the flow, and admins are told once', async () => {
    await fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Engineering auto',
        grantees: { include: [{ type: 'group', id: 'okta:Engineering' }] },
        targets: [{ integration: 'pg', include: [{ id: wholeDb }], permissions: ['read'] }],
      }),
    );
    // Fresh: Ivan's Engineering membership approves his request by itself.
    const ivan = person('ivan');
    okta.addMember('Engineering', ivan.email);
    expect((await sync('okta')).ok).toBe(true);
    expect((await ask(ivan, wholeDb)).state).toBe('approved');

    // A day and more without a successful sync (Okta answers 401 from now on).
    await fx.latch.admin.saveContextSource(admin, {
      name: 'okta',
      type: 'okta',
      config: { orgUrl: okta.url, groupsPageSize: 3, usersPageSize: 2 },
      secrets: { apiToken: 'a-revoked-okta-token' },
    });
    fx.clock.advance(24 * 60 * MIN + MIN);
    expect((await sync('okta')).ok).toBe(false);
    expect(await fx.latch.contextSync.checkStale()).toEqual([]); // already reported by the failed sync
    const stale = await fx.latch.audit.latest(10, { action: 'context.source_stale' });
    expect(stale.filter((e) => e.subject?.id === 'okta')).toHaveLength(1);
    expect((await status('okta')).stale).toBe(true);

    // Alice may still ask, and her groups still show, but an admin must approve.
    const held = await ask(alice, wholeDb);
    expect(held.requester.groups).toContain('okta:Engineering');
    expect(held.state).toBe('pending');
    const withheld = await fx.latch.audit.latest(10, { action: 'request.auto_approval_withheld' });
    expect(withheld[0]).toMatchObject({
      subject: { id: held.id },
      details: { staleGroups: ['okta:Engineering'] },
    });
    expect(fx.notifier.of('approval.needed', held.id)[0]!.approvers.users).toEqual(['admin@example.com']);
    expect((await fx.latch.requests.approve(admin, held.id)).state).toBe('approved');

    // Okta works again: the source is fresh, admins are told, and the flow approves by itself.
    await fx.latch.admin.saveContextSource(admin, {
      name: 'okta',
      type: 'okta',
      config: { orgUrl: okta.url, groupsPageSize: 3, usersPageSize: 2 },
      secrets: { apiToken: OKTA_TOKEN },
    });
    expect((await sync('okta')).ok).toBe(true);
    expect((await fx.latch.audit.latest(10, { action: 'context.source_fresh' }))[0]).toBeDefined();
    expect((await status('okta')).stale).toBe(false);
  });
});

describe('the flows file', () => {
  const env = { OKTA2_TOKEN: OKTA_TOKEN };
  const text = (group: string) => `
contextSources:
  - name: okta2
    type: okta
    config:
      orgUrl: ${okta?.url ?? 'https://example.okta.com'}
    secrets:
      apiToken: { env: OKTA2_TOKEN }
    syncEveryMinutes: 30
flows:
  - name: From the file
    grantees:
      include:
        - type: group
          id: ${group}
    targets:
      - integration: pg
        permissions: [read]
    duration: { maxMinutes: 60 }
`;

  it('refuses an unknown source in a group name, with its line, and writes nothing', () => {
    let error: unknown;
    try {
      parseFlowsFile(text('otka2:Engineering'), {
        source: 'latch.config.yaml',
        env,
        known: { integrations: ['pg'], bundles: [] },
        contextTypes: CONTEXT_VALIDATORS,
      });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FlowsFileError);
    expect((error as FlowsFileError).problems).toEqual([
      expect.objectContaining({
        line: 15,
        path: 'flows[0].grantees.include[0].id',
        message: expect.stringContaining('unknown context source "otka2"'),
      }),
    ]);
  });

  it('creates the source with its secret sealed, and leaves it alone when applied again', async () => {
    const declared = parseFlowsFile(text('okta2:Engineering'), {
      source: 'latch.config.yaml',
      env,
      known: { integrations: ['pg'], bundles: [] },
      contextTypes: CONTEXT_VALIDATORS,
    });
    const first = await applyDeclaredConfig(fx.latch.ctx, fx.latch.admin, declared);
    expect(first.contextSources).toBe(1);
    const stored = await fx.db.models.ContextSource.findOne({ name: 'okta2' }).lean();
    expect(JSON.stringify(stored)).not.toContain(env.OKTA2_TOKEN);
    expect(stored).toMatchObject({ syncEveryMinutes: 30, maxAgeMinutes: 1440 });
    const again = await applyDeclaredConfig(fx.latch.ctx, fx.latch.admin, declared);
    expect(again.contextSources).toBe(0);
    expect((await sync('okta2')).ok).toBe(true);
    expect(await offeredFlows(alice)).toContain('From the file');
  });
});
