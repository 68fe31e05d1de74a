import { describe, it, expect } from '@jest/globals';
import {
  flowSchema,
  settingsSchema,
  bundleSchema,
  type Flow,
  type FlowInput,
} from '../../src/domain/flow.js';
import type { Identity } from '../../src/domain/identity.js';
import type { Resource } from '../../src/domain/resource.js';
import {
  bundleTargets,
  eligibleTargets,
  evaluateFlows,
  fallbackFlow,
  isGrantee,
  matchBundleFlow,
  matchFlow,
  principalMatches,
  resourcesCoveredBy,
  selectorMatches,
  type TargetRef,
} from '../../src/domain/policy.js';

function flow(id: string, input: FlowInput): Flow {
  return { ...flowSchema.parse(input), id };
}
function person(id: string, groups: string[] = []): Identity {
  return { id, email: id, groups };
}
function resource(id: string, name: string, tags: Record<string, string>, integration = 'prod-pg'): Resource {
  return { id, integration, name, kind: 'schema', tags, owners: [], permissions: ['read', 'write', 'admin'] };
}

const billing = resource('db:app/schema:billing', 'billing.app', { env: 'prod', team: 'billing' });
const orders = resource('db:app/schema:orders', 'orders.app', { env: 'prod', team: 'shop' });
const audit = resource('db:app/schema:audit', 'audit.app', { env: 'prod', team: 'security' });
const stagingBilling = resource('db:app/schema:billing', 'billing.app', { env: 'staging' }, 'staging-pg');
const cache = {
  ...resource('redis:sessions:*', 'sessions', { env: 'prod' }, 'prod-redis'),
  permissions: ['read'],
};
const catalog = [billing, orders, audit, stagingBilling, cache];

const alice = person('alice@example.com', ['engineering']);
const carl = person('carl@example.com', ['engineering', 'contractors']);

// Monday 2025-01-06 10:00 in Berlin.
const mondayMorning = new Date('2025-01-06T09:00:00Z');

function target(r: Resource, permission: string): TargetRef {
  return { integration: r.integration, resourceId: r.id, permission };
}

const prodRead = flow('f-read', {
  name: 'Prod read',
  grantees: {
    include: [{ type: 'group', id: 'engineering' }],
    exclude: [{ type: 'group', id: 'contractors' }],
  },
  targets: [
    {
      integration: 'prod-pg',
      include: [{ tags: { env: 'prod' } }],
      exclude: [{ name: 'audit.app' }],
      permissions: ['read'],
    },
  ],
  duration: { maxMinutes: 240 },
});
const prodWrite = flow('f-write', {
  name: 'Prod write',
  grantees: { include: [{ type: 'group', id: 'engineering' }] },
  targets: [
    { integration: 'prod-pg', include: [{ id: 'db:app/schema:billing' }], permissions: ['read', 'write'] },
  ],
  approval: { steps: [{ approvers: [{ type: 'group', id: 'dba' }] }] },
  duration: { maxMinutes: 60 },
});

describe('grantees', () => {
  it('matches users case-insensitively, groups, and everyone', () => {
    expect(principalMatches({ type: 'user', id: 'Alice@Example.com' }, alice)).toBe(true);
    expect(principalMatches({ type: 'user', id: 'bob@example.com' }, alice)).toBe(false);
    expect(principalMatches({ type: 'group', id: 'engineering' }, alice)).toBe(true);
    expect(principalMatches({ type: 'group', id: 'dba' }, alice)).toBe(false);
    expect(principalMatches({ type: 'everyone' }, person('x@example.com'))).toBe(true);
  });

  it('needs an include match and no exclude match', () => {
    expect(isGrantee(prodRead, alice)).toBe(true);
    expect(isGrantee(prodRead, carl)).toBe(false);
    expect(isGrantee(prodRead, person('sam@example.com', ['sales']))).toBe(false);
    const everyoneButBob = flow('f', {
      name: 'All',
      grantees: { include: [{ type: 'everyone' }], exclude: [{ type: 'user', id: 'bob@example.com' }] },
      targets: [{ integration: 'prod-pg', permissions: ['read'] }],
      duration: { maxMinutes: 60 },
    });
    expect(isGrantee(everyoneButBob, person('sam@example.com'))).toBe(true);
    expect(isGrantee(everyoneButBob, person('BOB@example.com'))).toBe(false);
  });
});

describe('resource selection', () => {
  it('selects by id, name, or every tag', () => {
    expect(selectorMatches({ id: 'db:app/schema:billing' }, billing)).toBe(true);
    expect(selectorMatches({ name: 'orders.app' }, billing)).toBe(false);
    expect(selectorMatches({ tags: { env: 'prod', team: 'billing' } }, billing)).toBe(true);
    expect(selectorMatches({ tags: { env: 'prod', team: 'billing' } }, orders)).toBe(false);
  });

  it('covers include (empty = all) minus exclude, within the integration only', () => {
    const [spec] = prodRead.targets;
    expect(resourcesCoveredBy(spec!, catalog)).toEqual([billing, orders]);
    expect(
      resourcesCoveredBy(
        { integration: 'prod-pg', include: [], exclude: [], permissions: ['read'] },
        catalog,
      ),
    ).toEqual([billing, orders, audit]);
  });
});

describe('evaluateFlows', () => {
  it('allows a grantee asking for a covered resource and permission', () => {
    const [read, write] = evaluateFlows(
      [prodRead, prodWrite],
      alice,
      target(billing, 'read'),
      catalog,
      mondayMorning,
    );
    expect(read).toEqual({ flow: prodRead, allowed: true });
    expect(write).toEqual({ flow: prodWrite, allowed: true });
  });

  it('explains each refusal', () => {
    const reasons = (who: Identity, t: TargetRef, flows = [prodRead]) =>
      evaluateFlows(flows, who, t, catalog, mondayMorning).map((d) => (d.allowed ? 'allowed' : d.reason));
    expect(reasons(carl, target(billing, 'read'))).toEqual(['You are not a grantee of flow Prod read']);
    expect(reasons(alice, target(audit, 'read'))).toEqual([
      'Flow Prod read does not cover audit.app in prod-pg',
    ]);
    expect(reasons(alice, target(stagingBilling, 'read'))).toEqual([
      'Flow Prod read does not cover billing.app in staging-pg',
    ]);
    expect(reasons(alice, target(billing, 'admin'))).toEqual([
      'Flow Prod read does not offer the admin permission on billing.app in prod-pg',
    ]);
    expect(reasons(alice, target(orders, 'write'), [prodWrite])).toEqual([
      'Flow Prod write does not cover orders.app in prod-pg',
    ]);
  });

  it('refuses under a disabled flow', () => {
    const off = { ...prodRead, enabled: false };
    expect(evaluateFlows([off], alice, target(billing, 'read'), catalog, mondayMorning)).toEqual([
      { flow: off, allowed: false, reason: 'Flow Prod read is disabled' },
    ]);
  });

  it('refuses outside the availability window, in the window’s zone', () => {
    const office = flow('f-office', {
      name: 'Office hours',
      grantees: { include: [{ type: 'everyone' }] },
      targets: [{ integration: 'prod-pg', permissions: ['read'] }],
      duration: { maxMinutes: 60 },
      availability: {
        timeZone: 'Europe/Berlin',
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        start: '09:00',
        end: '18:00',
      },
    });
    const t = target(billing, 'read');
    expect(evaluateFlows([office], alice, t, catalog, mondayMorning)[0]?.allowed).toBe(true);
    // 17:30 UTC on a Monday is 18:30 in Berlin.
    expect(evaluateFlows([office], alice, t, catalog, new Date('2025-01-06T17:30:00Z'))).toEqual([
      {
        flow: office,
        allowed: false,
        reason: 'Flow Office hours is only available Mon–Fri 09:00–18:00 (Europe/Berlin)',
      },
    ]);
  });
});

describe('fallbackFlow', () => {
  it('lets everyone ask for anything, approved by the admins, for at most 4 hours', () => {
    const fb = fallbackFlow(settingsSchema.parse({ admins: ['Ada@example.com', 'root@example.com'] }));
    expect(fb.id).toBe('fallback');
    expect(fb.name).toBe('Fallback flow');
    expect(isGrantee(fb, person('anyone@example.com'))).toBe(true);
    expect(fb.approval.steps).toEqual([
      {
        approvers: [
          { type: 'user', id: 'ada@example.com' },
          { type: 'user', id: 'root@example.com' },
        ],
        rule: { type: 'any' },
      },
    ]);
    expect(fb.approval.allowSelfApproval).toBe(false);
    expect(fb.duration.maxMinutes).toBe(240);
    expect(fb.duration.allowIndefinite).toBe(false);
    expect(evaluateFlows([fb], alice, target(cache, 'read'), catalog, mondayMorning)[0]?.allowed).toBe(true);
  });

  it('uses the configured approvers and maximum', () => {
    const fb = fallbackFlow(
      settingsSchema.parse({
        admins: ['ada@example.com'],
        fallback: { approvers: [{ type: 'group', id: 'security' }], maxMinutes: 30 },
      }),
    );
    expect(fb.approval.steps[0]?.approvers).toEqual([{ type: 'group', id: 'security' }]);
    expect(fb.duration.maxMinutes).toBe(30);
  });
});

describe('matchFlow', () => {
  const settings = settingsSchema.parse({ admins: ['ada@example.com'] });
  const fallbackOff = settingsSchema.parse({ admins: ['ada@example.com'], fallback: { enabled: false } });

  it('prefers the flow that needs no approval, whatever the order', () => {
    const r = matchFlow(
      [prodWrite, prodRead],
      settings,
      alice,
      target(billing, 'read'),
      catalog,
      mondayMorning,
    );
    expect(r).toEqual({ ok: true, flow: prodRead, viaFallback: false });
  });

  it('prefers fewer approval steps, then the first listed', () => {
    const twoSteps = flow('f-two', {
      name: 'Two steps',
      grantees: { include: [{ type: 'everyone' }] },
      targets: [{ integration: 'prod-pg', permissions: ['write'] }],
      approval: {
        steps: [
          { approvers: [{ type: 'group', id: 'dba' }] },
          { approvers: [{ type: 'group', id: 'security' }] },
        ],
      },
      duration: { maxMinutes: 60 },
    });
    const oneStepAgain = { ...prodWrite, id: 'f-write-2' };
    const r = matchFlow(
      [twoSteps, prodWrite, oneStepAgain],
      settings,
      alice,
      target(billing, 'write'),
      catalog,
      mondayMorning,
    );
    expect(r).toEqual({ ok: true, flow: prodWrite, viaFallback: false });
  });

  it('falls back when no flow covers the request', () => {
    const r = matchFlow([prodRead], settings, alice, target(audit, 'admin'), catalog, mondayMorning);
    expect(r.ok && r.viaFallback && r.flow.id).toBe('fallback');
  });

  it('explains every flow and the switched-off fallback', () => {
    const r = matchFlow(
      [prodRead, prodWrite],
      fallbackOff,
      carl,
      target(audit, 'admin'),
      catalog,
      mondayMorning,
    );
    expect(r).toEqual({
      ok: false,
      reasons: [
        'You are not a grantee of flow Prod read',
        'Flow Prod write does not cover audit.app in prod-pg',
        'The fallback flow is switched off',
      ],
    });
    expect(matchFlow([], fallbackOff, carl, target(audit, 'admin'), catalog, mondayMorning)).toEqual({
      ok: false,
      reasons: ['No access flow covers audit.app in prod-pg', 'The fallback flow is switched off'],
    });
  });

  it('does not fall back when there is nobody to approve', () => {
    const r = matchFlow([], settingsSchema.parse({}), alice, target(audit, 'read'), catalog, mondayMorning);
    expect(r).toEqual({
      ok: false,
      reasons: [
        'No access flow covers audit.app in prod-pg',
        'The fallback flow has no approvers (no admins are configured)',
      ],
    });
  });

  it('considers only the named flow', () => {
    const t = target(billing, 'read');
    expect(matchFlow([prodRead, prodWrite], settings, alice, t, catalog, mondayMorning, 'f-write')).toEqual({
      ok: true,
      flow: prodWrite,
      viaFallback: false,
    });
    expect(matchFlow([prodRead], settings, carl, t, catalog, mondayMorning, 'f-read')).toEqual({
      ok: false,
      reasons: ['You are not a grantee of flow Prod read'],
    });
    expect(matchFlow([prodRead], settings, alice, t, catalog, mondayMorning, 'nope')).toEqual({
      ok: false,
      reasons: ['There is no flow with id nope'],
    });
  });

  it('never matches, not even the fallback, a resource or permission that does not exist', () => {
    expect(
      matchFlow(
        [prodRead],
        settings,
        alice,
        { integration: 'prod-pg', resourceId: 'gone', permission: 'read' },
        catalog,
        mondayMorning,
      ),
    ).toEqual({ ok: false, reasons: ['There is no resource gone in prod-pg'] });
    expect(matchFlow([prodRead], settings, alice, target(cache, 'write'), catalog, mondayMorning)).toEqual({
      ok: false,
      reasons: ['sessions in prod-redis does not support the write permission'],
    });
  });
});

describe('eligibleTargets', () => {
  it('lists what the person may ask for now, per flow, with the permissions on offer', () => {
    const all = eligibleTargets(
      [prodRead, prodWrite, fallbackFlow(settingsSchema.parse({}))],
      alice,
      catalog,
      mondayMorning,
    );
    expect(all.map((e) => [e.flow.id, e.resource.name, e.permissions])).toEqual([
      ['f-read', 'billing.app', ['read']],
      ['f-read', 'orders.app', ['read']],
      ['f-write', 'billing.app', ['read', 'write']],
    ]);
  });

  it('leaves out flows the person may not use and permissions the resource lacks', () => {
    expect(eligibleTargets([prodRead], carl, catalog, mondayMorning)).toEqual([]);
    expect(eligibleTargets([{ ...prodRead, enabled: false }], alice, catalog, mondayMorning)).toEqual([]);
    const redisWrite = flow('f-redis', {
      name: 'Redis',
      grantees: { include: [{ type: 'everyone' }] },
      targets: [{ integration: 'prod-redis', permissions: ['write'] }],
      duration: { maxMinutes: 60 },
    });
    expect(eligibleTargets([redisWrite], alice, catalog, mondayMorning)).toEqual([]);
  });
});

describe('bundles', () => {
  const onCallKit = bundleSchema.parse({
    name: 'on-call kit',
    targets: [
      { integration: 'prod-pg', resource: 'db:app/schema:billing', permission: 'read' },
      { integration: 'prod-redis', resource: 'redis:sessions:*', permission: 'read' },
    ],
  });
  const onCallFlow = flow('f-oncall', {
    name: 'On-call',
    grantees: { include: [{ type: 'group', id: 'engineering' }] },
    bundles: ['on-call kit'],
    duration: { maxMinutes: 120 },
  });

  it('expands into targets', () => {
    expect(bundleTargets(onCallKit)).toEqual([
      { integration: 'prod-pg', resourceId: 'db:app/schema:billing', permission: 'read' },
      { integration: 'prod-redis', resourceId: 'redis:sessions:*', permission: 'read' },
    ]);
  });

  it('matches only flows that include the bundle', () => {
    const off = settingsSchema.parse({ fallback: { enabled: false } });
    expect(matchBundleFlow([prodRead, onCallFlow], off, alice, 'on-call kit', mondayMorning)).toEqual({
      ok: true,
      flow: onCallFlow,
      viaFallback: false,
    });
    expect(matchBundleFlow([prodRead], off, alice, 'on-call kit', mondayMorning)).toEqual({
      ok: false,
      reasons: [
        'Flow Prod read does not include the bundle on-call kit',
        'The fallback flow is switched off',
      ],
    });
  });
});
