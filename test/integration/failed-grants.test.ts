/**
 * A grant that fails part-way leaves nothing behind: the temporary login created before its
 * privileges is gone when the request ends `failed`, so "nothing is left granted" is true.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createPostgresConnector, temporaryRoleName } from '../../src/connectors/postgres/index.js';
import {
  PartialGrantError,
  type Connector,
  type ConnectorFactory,
  type GrantSpec,
} from '../../src/connectors/types.js';
import {
  addPgIntegration,
  createFixture,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
  withDatabase,
  type Fixture,
} from '../support/fixture.js';

const alice = person('alice');
let fx: Fixture;
let database: string;
let dropDb: () => Promise<void>;

beforeAll(async () => {
  fx = await createFixture('failed_grants');
  ({ database, drop: dropDb } = await createPgDatabase('fg'));
  const c = new pg.Client({ connectionString: withDatabase(process.env.PG_URL!, database) });
  await c.connect();
  await c.query('CREATE SCHEMA doomed');
  await c.end();
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });
  await fx.latch.admin.saveFlow(
    'config-file',
    flow({
      name: 'Doomed read',
      targets: [
        { integration: 'pg', include: [{ id: schemaId(database, 'doomed') }], permissions: ['read'] },
      ],
    }),
  );
  // Discovered, then gone: every grant's privileges now fail after its login was created.
  const d = new pg.Client({ connectionString: withDatabase(process.env.PG_URL!, database) });
  await d.connect();
  await d.query('DROP SCHEMA doomed');
  await d.end();
});

afterAll(async () => {
  await fx?.close();
  await dropDb?.();
});

describe('a grant whose privileges fail', () => {
  it('ends failed with no login left on PostgreSQL, and the requester is told so truthfully', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: schemaId(database, 'doomed'), permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    const role = temporaryRoleName('latch_', `${String(doc!._id)}-0`);
    for (let attempt = 0; attempt < 5; attempt++) {
      await fx.latch.sweeps.tickUrgent();
      // After each failed attempt nothing may be left, not only at the end.
      expect(await roleExists(role)).toBe(false);
      fx.clock.advance(60_000);
    }
    await fx.latch.sweeps.tickUrgent();
    const end = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(end!.state).toBe('failed');
    expect(await roleExists(role)).toBe(false);
    const told = fx.notifier.of('request.failed', req.id);
    expect(told).toHaveLength(1);
    expect(told[0]!.error).toMatch(/doomed/);
  });
});

describe('a grant that cannot undo itself', () => {
  let partial: Fixture;
  beforeAll(async () => {
    // The real connector grants, then reports that it failed and could not clean up: what it made
    // is named in the error, as the connector contract asks.
    const wrap: ConnectorFactory = (integration) => {
      const real = createPostgresConnector(integration);
      return Object.assign(Object.create(real) as Connector, {
        grant: async (spec: GrantSpec) => {
          const { handle } = await real.grant(spec);
          throw new PartialGrantError('privileges failed; the login could not be removed yet', handle);
        },
      });
    };
    partial = await createFixture('partial_grants', { factories: { postgresql: wrap } });
    await addPgIntegration(partial.latch, 'pg', { databases: [database] });
    await partial.latch.admin.saveFlow(
      'config-file',
      flow({
        name: 'Billing read',
        targets: [{ integration: 'pg', include: [{ id: schemaId(database) }], permissions: ['read'] }],
      }),
    );
  });
  afterAll(async () => {
    await partial?.close();
  });

  it('has what it left removed by the revoke path before the request ends failed', async () => {
    const req = await partial.latch.requests.submit(alice, {
      targets: [{ integration: 'pg', resourceId: schemaId(database), permission: 'read' }],
      durationMinutes: 60,
      source: 'api',
    });
    const doc = await partial.db.models.Request.findOne({ number: req.number }).lean();
    const role = temporaryRoleName('latch_', `${String(doc!._id)}-0`);
    for (let attempt = 0; attempt < 5; attempt++) {
      await partial.latch.sweeps.tickUrgent();
      partial.clock.advance(60_000);
    }
    await partial.latch.sweeps.tickUrgent();
    const end = await partial.db.models.Request.findOne({ number: req.number }).lean();
    expect(end!.state).toBe('failed');
    expect(end!.targets[0]!.grantState).toBe('revoked');
    expect(await roleExists(role)).toBe(false);
    expect(partial.notifier.of('request.failed', req.id)).toHaveLength(1);
  });
});
