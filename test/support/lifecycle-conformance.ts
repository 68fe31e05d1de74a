/**
 * What every connector must do with the lifecycle around it (docs/ARCHITECTURE.md, "Connectors" and
 * "Reconciliation"), run with the same ConformanceFixture as the connector conformance suite:
 * overlapping grants, drift in both directions, and standing access converted to a flow.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { GrantHandle } from '../../src/connectors/types.js';
import type { Identity } from '../../src/domain/identity.js';
import { grantSpec } from '../../src/lifecycle/requests/index.js';
import type { RequestDoc } from '../../src/store/models.js';
import type { ConformanceFixture } from './connector-conformance.js';
import { admin, createFixture, flow, type Fixture } from './fixture.js';

const MIN = 60_000;

export function describeLifecycleConformance(
  name: string,
  makeFixture: () => Promise<ConformanceFixture>,
): void {
  describe(`${name}: through the lifecycle`, () => {
    let f: ConformanceFixture;
    let fx: Fixture;
    let flowId: string;
    const integration = `sys-${randomBytes(2).toString('hex')}`;

    const flowDef = (reapplyOnDrift: boolean) =>
      flow({
        name: 'Conformance',
        targets: [
          { integration, include: [{ id: f.target.resourceId }], permissions: [f.target.permission] },
        ],
        duration: { maxMinutes: 240 },
        reapplyOnDrift,
      });

    beforeAll(async () => {
      f = await makeFixture();
      fx = await createFixture(`lc_${name.toLowerCase().replace(/\W/g, '')}`);
      await fx.latch.admin.saveIntegration('config-file', { name: integration, ...f.integration });
      await fx.latch.admin.discover('config-file', integration);
      flowId = (await fx.latch.admin.saveFlow(admin, flowDef(false))).id;
    });
    afterAll(async () => {
      await fx?.close();
      await f?.close();
    });

    async function newPerson(): Promise<Identity> {
      const email = await f.person();
      return { id: `U${randomBytes(4).toString('hex')}`, email, displayName: email, groups: [] };
    }

    async function grant(who: Identity, minutes: number): Promise<RequestDoc> {
      const req = await fx.latch.requests.submit(who, {
        targets: [{ integration, resourceId: f.target.resourceId, permission: f.target.permission }],
        durationMinutes: minutes,
        source: 'api',
      });
      await fx.latch.sweeps.tickUrgent();
      const doc = await load(req.id);
      expect(doc.state).toBe('active');
      return doc;
    }

    const load = async (id: string | number) =>
      (await fx.db.models.Request.findOne({
        number: typeof id === 'number' ? id : Number(id.slice(3)),
      }).lean<RequestDoc>())!;
    const present = (doc: RequestDoc) => f.present(grantSpec(doc, 0), doc.targets[0]!.handle as GrantHandle);

    it('overlapping grants: the first to expire leaves the access, the second removes it', async () => {
      const who = await newPerson();
      // The same person from two apps: two requester ids, one account on the system.
      const first = await grant(who, 30);
      const second = await grant({ ...who, id: `${who.id}-teams` }, 60);
      expect(await present(first)).toBe(true);

      fx.clock.advance(31 * MIN);
      await fx.latch.sweeps.tickUrgent();
      expect((await load(first.number)).state).toBe('expired');
      expect(await present(second)).toBe(true);

      fx.clock.advance(30 * MIN);
      await fx.latch.sweeps.tickUrgent();
      expect((await load(second.number)).state).toBe('expired');
      expect(await present(second)).toBe(false);
      expect(await present(first)).toBe(false);
    });

    it('access removed behind its back is reported once, as drift, and the request stays active', async () => {
      const doc = await grant(await newPerson(), 60);
      await f.removeBehindBack(grantSpec(doc, 0), doc.targets[0]!.handle as GrantHandle);
      const [report] = await fx.latch.admin.reconcileNow(admin, integration);
      expect(report).toMatchObject({ ok: true, missing: 1, reapplied: 0 });
      const after = await load(doc.number);
      expect(after.state).toBe('active');
      expect(after.targets[0]!.driftAt).toBeInstanceOf(Date);
      const told = fx.notifier.events.filter(
        (e) => e.type === 'access.drift' && e.request.id === `AR-${doc.number}`,
      );
      expect(told).toHaveLength(1);
      expect(told[0]).toMatchObject({ drift: { kind: 'missing', action: 'reported' } });
      expect(await fx.latch.audit.latest(5, { action: 'drift.missing' })).toHaveLength(1);
      // Reported once, not at every run.
      const [again] = await fx.latch.admin.reconcileNow(admin, integration);
      expect(again!.missing).toBe(0);
      await fx.latch.requests.revoke(admin, `AR-${doc.number}`);
      await fx.latch.sweeps.tickUrgent();
    });

    it('when the flow says so, missing access is granted again and keeps its expiry', async () => {
      await fx.latch.admin.saveFlow(admin, flowDef(true), flowId);
      try {
        const doc = await grant(await newPerson(), 60);
        await f.removeBehindBack(grantSpec(doc, 0), doc.targets[0]!.handle as GrantHandle);
        expect(await present(doc)).toBe(false);
        const [report] = await fx.latch.admin.reconcileNow(admin, integration);
        expect(report).toMatchObject({ ok: true, missing: 1, reapplied: 1 });
        await fx.latch.sweeps.tickUrgent();
        const after = await load(doc.number);
        expect(after.state).toBe('active');
        expect(after.expiresAt!.getTime()).toBe(doc.expiresAt!.getTime());
        expect(await present(after)).toBe(true);
        fx.clock.advance(61 * MIN);
        await fx.latch.sweeps.tickUrgent();
        expect((await load(doc.number)).state).toBe('expired');
        expect(await present(after)).toBe(false);
      } finally {
        await fx.latch.admin.saveFlow(admin, flowDef(false), flowId);
      }
    });

    it('access Latch ended that is back on the system (a lost revoke) is revoked by reconciliation', async () => {
      const doc = await grant(await newPerson(), 30);
      fx.clock.advance(31 * MIN);
      await fx.latch.sweeps.tickUrgent();
      const ended = await load(doc.number);
      expect(ended.state).toBe('expired');
      // The revoke is undone on the system: as if a backup were restored, or the revoke never landed.
      const connector = await fx.latch.registry.get(integration);
      const again = await connector.grant(grantSpec(ended, 0));
      expect(await f.present(grantSpec(ended, 0), again.handle)).toBe(true);
      expect(connector.accessKey(again.handle)).toBe(ended.targets[0]!.accessKey);

      const [report] = await fx.latch.admin.reconcileNow(admin, integration);
      expect(report).toMatchObject({ ok: true, revoked: 1, revokeFailed: 0 });
      expect(await f.present(grantSpec(ended, 0), again.handle)).toBe(false);
      expect(await fx.latch.audit.latest(5, { action: 'drift.revoked' })).toHaveLength(1);
      expect((await load(doc.number)).state).toBe('expired');
    });

    it('access given by hand is listed as standing access and converted: removed, and a flow covers it', async () => {
      const standing = await f.createStanding();
      await fx.latch.admin.reconcileNow(admin, integration);
      const listed = await fx.latch.queries.standingAccess(admin, { integration });
      const item = listed.items.find(
        (e) => e.account === standing.account && e.resourceId === standing.resourceId,
      );
      expect(item).toMatchObject({ permission: standing.permission, madeByLatch: false });

      const email = item!.email ?? 'owner-of-standing@example.com';
      const { flow: made } = await fx.latch.admin.convertStanding(admin, {
        integration,
        key: item!.key,
        person: item!.email ? undefined : email,
        flow: { mode: 'new', name: `Standing ${standing.account}`.slice(0, 80) },
      });
      expect(made.targets[0]).toMatchObject({ integration, permissions: [standing.permission] });
      expect(made.grantees.include).toEqual([{ type: 'user', id: email.toLowerCase() }]);
      const connector = await fx.latch.registry.get(integration);
      expect((await connector.listAccess()).find((e) => e.key === item!.key)).toBeUndefined();
      expect(
        (await fx.latch.queries.standingAccess(admin, { integration })).items.find(
          (e) => e.key === item!.key,
        ),
      ).toBeUndefined();
      expect(await fx.latch.audit.latest(5, { action: 'standing.converted' })).toHaveLength(1);
      // Converting what is gone is refused, and changes nothing.
      await expect(
        fx.latch.admin.convertStanding(admin, {
          integration,
          key: item!.key,
          flow: { mode: 'new', name: 'Again' },
        }),
      ).rejects.toThrow(/no longer listed/);
    });
  });
}
