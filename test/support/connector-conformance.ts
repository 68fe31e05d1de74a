/**
 * The conformance suite every connector passes (docs/ARCHITECTURE.md, "Connectors"): a new
 * connector is added by writing a ConformanceFixture for it and calling describeConformance from
 * its test file. The suite only talks to the connector through the Connector contract; the fixture
 * is the oracle, reading and changing the real system without the connector.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import {
  PartialGrantError,
  type Connector,
  type GrantHandle,
  type GrantSpec,
} from '../../src/connectors/types.js';

export interface ConformanceFixture {
  /** The integration's settings as an admin saves them (the lifecycle tests register it with these). */
  integration: { type: string; config: Record<string, unknown>; secrets: Record<string, string> };
  /** A resource discovery finds, and a permission it offers, for requests through the lifecycle. */
  target: { resourceId: string; permission: string };
  /** The email of a new person the system knows (an account made where grants go to existing accounts). */
  person(): Promise<string>;
  /** The connector under test, built from `integration` as the registry builds it. */
  connector(): Connector;
  /**
   * A grant nobody holds yet (a new grantId, and a new person where grants go to existing
   * accounts). `hostile`, when given, goes wherever the connector takes names from outside: the
   * grantId always, and the account or person's name where the system can hold it.
   */
  spec(opts?: { hostile?: string }): Promise<GrantSpec>;
  /** Reads the system without the connector: does this grant's access exist now? */
  present(spec: GrantSpec, handle: GrantHandle): Promise<boolean>;
  /**
   * Everything on the system the connector could change, as comparable lines (accounts,
   * memberships, ACL users...): a failed grant or a hostile name must leave it as it was.
   */
  snapshot(): Promise<string[]>;
  /** Arranges that the next grant of `spec` fails after it has changed something; returns the undo. */
  failPartWay(spec: GrantSpec): Promise<() => Promise<void>>;
  /** Takes the grant's access away straight on the system, behind Latch's back. */
  removeBehindBack(spec: GrantSpec, handle: GrantHandle): Promise<void>;
  /** Gives access by hand, outside Latch; listAccess must list it as not Latch's. */
  createStanding(): Promise<{ account: string; resourceId: string; permission: string }>;
  close(): Promise<void>;
}

/** Names that have broken integrations: quotes and statement separators, unicode, the over-long. */
export const HOSTILE_NAMES: Array<{ label: string; text: string; mayRefuse?: boolean }> = [
  { label: 'quotes and a semicolon', text: `o'brien"; DROP TABLE users; --` },
  { label: 'backslashes and glob characters', text: 'a\\b*c?[d]' },
  { label: 'unicode', text: 'zoë-名前-🙂' },
  // Systems cap names (63 bytes in PostgreSQL, 32 for MariaDB users...): refusing is fine, cutting silently is not.
  { label: 'over-long', text: 'x'.repeat(300), mayRefuse: true },
];

const LIMIT = 20;
async function inBatches<T, R>(items: T[], f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += LIMIT)
    out.push(...(await Promise.all(items.slice(i, i + LIMIT).map(f))));
  return out;
}

const sorted = (lines: string[]) => [...lines].sort();

export function describeConformance(
  name: string,
  makeFixture: () => Promise<ConformanceFixture>,
  opts: { revokeManyCount?: number } = {},
): void {
  describe(`${name}: connector conformance`, () => {
    let f: ConformanceFixture;
    let c: Connector;
    beforeAll(async () => {
      f = await makeFixture();
      c = f.connector();
    });
    afterAll(async () => {
      await c?.close();
      await f?.close();
    });

    it('grants, checks and revokes; granting twice and revoking twice are harmless', async () => {
      const spec = await f.spec();
      const first = await c.grant(spec);
      expect(await f.present(spec, first.handle)).toBe(true);
      const second = await c.grant(spec);
      expect(await f.present(spec, second.handle)).toBe(true);
      expect(c.accessKey(second.handle)).toBe(c.accessKey(first.handle));
      expect(await c.check(spec, second.handle)).toBe(true);
      const afterGrants = await f.snapshot();

      await c.revoke(spec, second.handle);
      expect(await f.present(spec, second.handle)).toBe(false);
      expect(await c.check(spec, second.handle)).toBe(false);
      await c.revoke(spec, second.handle);
      await c.revoke(spec, first.handle);
      expect(await f.present(spec, first.handle)).toBe(false);
      // The second grant made nothing the first had not: one revoke removed it all.
      expect((await f.snapshot()).length).toBeLessThan(afterGrants.length);
    });

    it('a grant that fails part-way leaves nothing (or names what it left, which revoke removes)', async () => {
      const spec = await f.spec();
      const before = sorted(await f.snapshot());
      const undo = await f.failPartWay(spec);
      let error: unknown;
      try {
        await c.grant(spec);
      } catch (err) {
        error = err;
      } finally {
        await undo();
      }
      expect(error).toBeInstanceOf(Error);
      if (error instanceof PartialGrantError) await c.revoke(spec, error.handle);
      expect(sorted(await f.snapshot())).toEqual(before);
      // Once the fault is gone, the same grant goes through.
      const granted = await c.grant(spec);
      expect(await f.present(spec, granted.handle)).toBe(true);
      await c.revoke(spec, granted.handle);
      expect(sorted(await f.snapshot())).toEqual(before);
    });

    describe('hostile names', () => {
      for (const { label, text, mayRefuse } of HOSTILE_NAMES) {
        it(`${label}: granted and revoked exactly, or refused with a reason; nothing else changes`, async () => {
          const spec = await f.spec({ hostile: text });
          const before = sorted(await f.snapshot());
          let granted: Awaited<ReturnType<Connector['grant']>> | undefined;
          let refusal: unknown;
          try {
            granted = await c.grant(spec);
          } catch (err) {
            refusal = err;
          }
          if (granted) {
            expect(await f.present(spec, granted.handle)).toBe(true);
            expect(await c.check(spec, granted.handle)).toBe(true);
            await c.revoke(spec, granted.handle);
            expect(await f.present(spec, granted.handle)).toBe(false);
          } else {
            if (!mayRefuse) throw refusal;
            expect(refusal).toBeInstanceOf(Error);
            expect((refusal as Error).message.length).toBeGreaterThan(10);
          }
          expect(sorted(await f.snapshot())).toEqual(before);
        });
      }
    });

    it(`revokeMany of ${opts.revokeManyCount ?? 200}: each item its own outcome, in order, harmless twice`, async () => {
      const specs = await inBatches(
        Array.from({ length: opts.revokeManyCount ?? 200 }, () => null),
        () => f.spec(),
      );
      const granted = await inBatches(specs, (s) => c.grant(s));
      const items = specs.map((spec, i) => ({ spec, handle: granted[i]!.handle }));
      const present = await inBatches(items, (it) => f.present(it.spec, it.handle));
      expect(present.every(Boolean)).toBe(true);
      const revokeMany =
        c.revokeMany?.bind(c) ??
        ((all: typeof items) => inBatches(all, (it) => c.revoke(it.spec, it.handle).then(() => null)));
      expect(await revokeMany(items)).toEqual(items.map(() => null));
      const after = await inBatches(items, (it) => f.present(it.spec, it.handle));
      expect(after.some(Boolean)).toBe(false);
      expect(await revokeMany(items)).toEqual(items.map(() => null));
    });

    it('checkMany agrees with the system, in order, for granted, removed behind its back, revoked and never granted', async () => {
      const specs = await Promise.all(Array.from({ length: 6 }, () => f.spec()));
      const granted = await Promise.all(specs.slice(0, 5).map((s) => c.grant(s)));
      const items = specs.map((spec, i) => ({ spec, handle: granted[i]?.handle ?? {} }));
      await f.removeBehindBack(items[1]!.spec, items[1]!.handle);
      await c.revoke(items[3]!.spec, items[3]!.handle);
      const truth = await Promise.all(items.slice(0, 5).map((it) => f.present(it.spec, it.handle)));
      expect(truth).toEqual([true, false, true, false, true]);
      const checkMany =
        c.checkMany?.bind(c) ??
        ((all: typeof items) => Promise.all(all.map((it) => c.check(it.spec, it.handle))));
      // A grant never made has no handle yet: the connector must find nothing, not throw.
      expect(await checkMany(items)).toEqual([...truth, false]);
      await Promise.all(items.slice(0, 5).map((it) => c.revoke(it.spec, it.handle)));
    });

    it('overlapping grants: two grants of the same access either hold separate things, or share one by shareKey', async () => {
      const spec = await f.spec();
      const other: GrantSpec = { ...spec, grantId: `${spec.grantId}-b`, requestId: `${spec.requestId}-b` };
      const a = await c.grant(spec);
      const b = await c.grant(other);
      const shareA = a.handle.shareKey;
      if (typeof shareA === 'string' && shareA === b.handle.shareKey) {
        // One thing on the system: the lifecycle revokes it only when neither holds it.
        expect(c.accessKey(a.handle)).toBe(c.accessKey(b.handle));
        expect(await f.present(other, b.handle)).toBe(true);
        await c.revoke(other, b.handle);
      } else {
        expect(c.accessKey(a.handle)).not.toBe(c.accessKey(b.handle));
        await c.revoke(spec, a.handle);
        expect(await f.present(other, b.handle)).toBe(true);
        await c.revoke(other, b.handle);
      }
      expect(await f.present(spec, a.handle)).toBe(false);
      expect(await f.present(other, b.handle)).toBe(false);
    });

    it("listAccess lists Latch's grants by their accessKey, and access given by hand as not Latch's; revoking that entry removes it", async () => {
      const spec = await f.spec();
      const granted = await c.grant(spec);
      const standing = await f.createStanding();
      const entries = await c.listAccess();
      const ours = entries.find((e) => e.key === c.accessKey(granted.handle));
      expect(ours).toMatchObject({ resourceId: spec.resource.id, permission: spec.permission });
      const theirs = entries.find(
        (e) => e.account === standing.account && e.resourceId === standing.resourceId,
      );
      expect(theirs).toMatchObject({ permission: standing.permission, madeByLatch: false });
      expect(entries.filter((e) => e.key === theirs!.key)).toHaveLength(1);

      const asSpec: GrantSpec = {
        grantId: `standing-${randomBytes(3).toString('hex')}`,
        requestId: 'standing',
        requesterEmail: theirs!.email ?? '',
        resource: { id: theirs!.resourceId, name: theirs!.resourceId, kind: 'resource' },
        permission: theirs!.permission,
        expiresAt: null,
      };
      await c.revoke(asSpec, theirs!.handle);
      await c.revoke(spec, granted.handle);
      const left = await c.listAccess();
      expect(left.find((e) => e.key === theirs!.key)).toBeUndefined();
      expect(left.find((e) => e.key === c.accessKey(granted.handle))).toBeUndefined();
    });

    it('reports health without throwing', async () => {
      const h = await c.health();
      expect(h.ok).toBe(true);
      expect(typeof h.message).toBe('string');
    });
  });
}
