/**
 * Benchmark: reconciliation (docs/ARCHITECTURE.md, "Reconciliation") over N grants spread across
 * every connector with a conformance fixture (test/support/conformance/).
 *
 * For each connector, N/k grants are made on the real system through the connector, and as many
 * active requests holding them are written to the store in batches (cloned from one request made
 * through the real path, so they are what the grant sweep writes). 1% of the grants are then taken
 * away behind Latch's back (missing), 1% of the requests are marked ended while their access stays
 * (lingering), and a few accounts are given access by hand (standing). Each integration is then
 * reconciled once. It prints, per integration: the time, what was found, and the load on the
 * system as the calls and items the connector was asked for; and the floor: one bare listAccess()
 * of the same system, measured in the same run. It asserts nothing (exit 1 only on a real error).
 *
 *   npm run bench:reconcile -- [--count 10000] [--only postgresql,redis]
 *
 * Servers start as the tests start them (test/support/servers.ts; MONGODB_URI / PG_URL win).
 */
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { createLatch } from '../src/app.js';
import type { Connector, GrantHandle, GrantSpec } from '../src/connectors/types.js';
import { silentLogger } from '../src/logger.js';
import { connectDatabase } from '../src/store/db.js';
import type { RequestDoc } from '../src/store/models.js';
import type { ConformanceFixture } from '../test/support/connector-conformance.js';
import { CONFORMANCE_FIXTURES } from '../test/support/conformance/index.js';
import { flow, person } from '../test/support/fixture.js';
import { startServers, stopServers } from '../test/support/servers.js';
import { progress, runThenStop, type Stops } from './harness.js';
import { say, secs } from './active-grants.js';

const ADMIN = person('bench-admin');
const DRIFT_SHARE = 0.01;
const STANDING = 5;

function parseCli(): { count: number; only?: string[] } {
  const { values } = parseArgs({
    options: { count: { type: 'string', default: '10000' }, only: { type: 'string' } },
    strict: true,
  });
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1)
    throw new Error(`--count must be a whole number >= 1, got ${values.count}`);
  return { count, only: values.only?.split(',').map((s) => s.trim()) };
}

/** Counts what reconciliation asks of the system: calls and items per method. */
function counting(real: Connector): { connector: Connector; load: () => string } {
  const calls = new Map<string, { calls: number; items: number }>();
  const note = (method: string, items: number) => {
    const c = calls.get(method) ?? { calls: 0, items: 0 };
    c.calls++;
    c.items += items;
    calls.set(method, c);
  };
  const connector: Connector = Object.create(real) as Connector;
  connector.listAccess = () => (note('listAccess', 1), real.listAccess());
  connector.check = (s, h) => (note('check', 1), real.check(s, h));
  connector.revoke = (s, h) => (note('revoke', 1), real.revoke(s, h));
  if (real.checkMany)
    connector.checkMany = (items) => (note('checkMany', items.length), real.checkMany!(items));
  if (real.revokeMany)
    connector.revokeMany = (items) => (note('revokeMany', items.length), real.revokeMany!(items));
  const load = () =>
    [...calls]
      .map(
        ([m, c]) =>
          `${m} ${c.calls} call${c.calls === 1 ? '' : 's'} (${c.items} item${c.items === 1 ? '' : 's'})`,
      )
      .join(', ') || 'none';
  return { connector, load };
}

async function inBatches<T, R>(items: T[], size: number, f: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size)
    out.push(...(await Promise.all(items.slice(i, i + size).map(f))));
  return out;
}

async function run(stops: Stops): Promise<void> {
  const args = parseCli();
  const t0 = Date.now();
  await startServers();
  stops.push(['servers', () => stopServers()]);
  const chosen = CONFORMANCE_FIXTURES.filter(([type]) => !args.only || args.only.includes(type));
  if (chosen.length === 0) throw new Error(`no connector matches --only ${args.only?.join(',')}`);
  const db = await connectDatabase(process.env.MONGODB_URI!, {
    dbName: `bench_reconcile_${randomBytes(3).toString('hex')}`,
  });
  stops.push(['bench database', async () => (await db.conn.dropDatabase(), db.close())]);
  const latch = createLatch({
    db,
    encryptionKey: randomBytes(32),
    log: silentLogger,
    envAdmins: [ADMIN.email],
  });
  stops.push(['Latch', () => latch.close()]);
  progress(`servers ready in ${secs(Date.now() - t0)}`);

  const perConnector = Math.floor(args.count / chosen.length);
  say(
    `reconciliation of ${perConnector * chosen.length} grants across ${chosen.length} connectors (${perConnector} each; ${DRIFT_SHARE * 100}% missing, ${DRIFT_SHARE * 100}% lingering, ${STANDING} standing each)`,
  );
  let number = 1_000_000;
  for (const [type, make] of chosen) {
    const f: ConformanceFixture = await make();
    stops.push([`${type} fixture`, () => f.close()]);
    const name = `bench-${type.replace(/[^a-z0-9]+/g, '-').replace(/-$/, '')}`;
    await latch.admin.saveIntegration('config-file', { name, ...f.integration });
    await latch.admin.discover('config-file', name);
    await latch.admin.saveFlow(
      ADMIN,
      flow({
        name: `Bench ${type}`,
        targets: [
          { integration: name, include: [{ id: f.target.resourceId }], permissions: [f.target.permission] },
        ],
        duration: { maxMinutes: 600 },
      }),
    );
    // One request through the real path: the template the others are cloned from.
    const email = await f.person();
    const first = await latch.requests.submit(
      { id: `U-${type}`, email, displayName: email, groups: [] },
      {
        targets: [{ integration: name, resourceId: f.target.resourceId, permission: f.target.permission }],
        durationMinutes: 600,
        source: 'api',
      },
    );
    await latch.sweeps.tickUrgent();
    const template = await db.models.Request.findOne({
      number: Number(first.id.slice(3)),
    }).lean<RequestDoc>();
    if (template?.state !== 'active') throw new Error(`${type}: the template request did not become active`);

    const connector = f.connector();
    stops.push([`${type} connector`, () => connector.close()]);
    const tGrant = Date.now();
    const specs: GrantSpec[] = await inBatches(
      Array.from({ length: perConnector - 1 }, () => null),
      20,
      () => f.spec(),
    );
    const handles: GrantHandle[] = (await inBatches(specs, 20, (s) => connector.grant(s))).map(
      (r) => r.handle,
    );
    progress(`${type}: ${specs.length} grants made on the system in ${secs(Date.now() - tGrant)}`);
    const drifted = Math.max(1, Math.round(perConnector * DRIFT_SHARE));
    const docs = specs.map((spec, i) => {
      // A clone without the template's identity, open-request key and pending messages.
      const rest: Record<string, unknown> = { ...template };
      for (const k of ['_id', 'openKey', 'outbox', 'notifyAt']) delete rest[k];
      const lingering = i >= specs.length - drifted;
      return {
        ...rest,
        number: ++number,
        requester: { ...template.requester, id: `bench-${type}-${i}`, email: spec.requesterEmail },
        state: lingering ? 'expired' : 'active',
        endReason: lingering ? 'expired' : null,
        targets: [
          {
            ...template.targets[0]!,
            grantState: lingering ? 'revoked' : 'active',
            handle: handles[i],
            accessKey: connector.accessKey(handles[i]!),
          },
        ],
        outbox: [],
      };
    });
    for (let i = 0; i < docs.length; i += 500)
      await db.models.Request.insertMany(docs.slice(i, i + 500), { ordered: false });
    await inBatches(specs.slice(0, drifted), 10, (s) => f.removeBehindBack(s, handles[specs.indexOf(s)]!));
    for (let i = 0; i < STANDING; i++) await f.createStanding();

    // The floor: reading the system once, and reading Latch's grants once, with nothing else.
    const floorStart = performance.now();
    const listed = await connector.listAccess();
    const floorMs = performance.now() - floorStart;
    const storeStart = performance.now();
    const held = await db.models.Request.find({ state: 'active', 'targets.integration': name })
      .select({ targets: 1 })
      .lean();
    const storeMs = performance.now() - storeStart;

    const { connector: counted, load } = counting(await latch.registry.get(name));
    const registry = latch.registry as unknown as { get(n: string): Promise<Connector> };
    const realGet = registry.get.bind(registry);
    registry.get = async (n: string) => (n === name ? counted : realGet(n));
    const start = performance.now();
    const [report] = await latch.admin.reconcileNow('config-file', name);
    const ms = performance.now() - start;
    registry.get = realGet;
    say(
      `${type.padEnd(10)} ${perConnector} grants: reconciled in ${secs(ms)} (floor ${secs(floorMs + storeMs)}: one listAccess of ${listed.length} entries ${secs(floorMs)}, reading ${held.length} grants from the store ${secs(storeMs)})` +
        ` · found ${report!.missing} missing, ${report!.revoked} lingering revoked, ${report!.standing} standing, ${report!.matched} matched` +
        ` · load on the system: ${load()}`,
    );
  }
}

void runThenStop(run);
