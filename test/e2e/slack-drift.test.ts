/**
 * Drift reaches the admins in Slack (docs/ARCHITECTURE.md, "Reconciliation"): a role dropped behind
 * Latch's back on PostgreSQL is reported to every admin by DM, once, and the lost revoke of an ended
 * request is revoked and told too.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import {
  addPgIntegration,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
} from '../support/fixture.js';
import { startSlackHarness, textOf, type SlackHarness } from '../support/slack-harness.js';
import { grantSpec } from '../../src/lifecycle/requests/index.js';
import type { RequestDoc } from '../../src/store/models.js';

const ada = { id: 'U0ADA', email: 'ada@example.com' };
const eve = { id: 'U0EVE', email: 'eve@example.com' };
const admin = person('ada');

let h: SlackHarness;
let db: { database: string; drop(): Promise<void> };

beforeAll(async () => {
  h = await startSlackHarness('slack_drift', { envAdmins: [ada.email] });
  h.standIn.addUser({ id: ada.id, email: ada.email, realName: 'Ada Admin' });
  h.standIn.addUser({ id: eve.id, email: eve.email, realName: 'Eve' });
  db = await createPgDatabase('drift');
  await addPgIntegration(h.latch, 'pg', { databases: [db.database] });
  await h.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: schemaId(db.database) }], permissions: ['read'] }],
    }),
  );
});

afterAll(async () => {
  await h?.close();
  await db?.drop();
});

const dmsToAda = (after: number) =>
  h.standIn
    .calls('chat.postMessage')
    .filter((c) => c.index >= after && c.args.channel === 'D' + ada.id && c.response.ok === true)
    .map((c) => textOf(c.args.blocks as unknown[]))
    .filter((t) => t.includes('Drift on'));

async function activeGrant(): Promise<RequestDoc> {
  const req = await h.latch.requests.submit(
    { id: eve.id, email: eve.email, displayName: 'Eve', groups: [] },
    {
      targets: [{ integration: 'pg', resourceId: schemaId(db.database), permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    },
  );
  await h.latch.sweeps.tickUrgent();
  const doc = await h.db.models.Request.findOne({ number: Number(req.id.slice(3)) }).lean<RequestDoc>();
  expect(doc!.state).toBe('active');
  return doc!;
}

describe('drift told to admins in Slack', () => {
  it('a role dropped behind Latch’s back: every admin is told once, the request stays active', async () => {
    const doc = await activeGrant();
    const role = String(doc.targets[0]!.handle!.role);
    const c = new pg.Client({ connectionString: process.env.PG_URL });
    await c.connect();
    await c.query(`DROP ROLE ${pg.escapeIdentifier(role)}`);
    await c.end();

    const mark = h.standIn.mark();
    await h.latch.admin.reconcileNow(admin, 'pg');
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + ada.id, { after: mark });
    const told = dmsToAda(mark);
    expect(told).toHaveLength(1);
    expect(told[0]).toContain(`Drift on AR-${doc.number}`);
    expect(told[0]).toContain('missing on the system');
    await h.latch.admin.reconcileNow(admin, 'pg');
    await h.latch.outbox.kick();
    expect(dmsToAda(mark)).toHaveLength(1);
    await h.latch.requests.revoke(admin, `AR-${doc.number}`);
    await h.latch.sweeps.tickUrgent();
  });

  it('access back after its request ended is revoked, and the admins are told', async () => {
    const doc = await activeGrant();
    await h.latch.requests.revoke(admin, `AR-${doc.number}`);
    await h.latch.sweeps.tickUrgent();
    const ended = await h.db.models.Request.findOne({ _id: doc._id }).lean<RequestDoc>();
    expect(ended!.state).toBe('revoked');
    const role = String(ended!.targets[0]!.handle!.role);
    expect(await roleExists(role)).toBe(false);
    // The revoke is undone behind Latch's back.
    const connector = await h.latch.registry.get('pg');
    await connector.grant(grantSpec(ended!, 0));
    expect(await roleExists(role)).toBe(true);

    const mark = h.standIn.mark();
    const [report] = await h.latch.admin.reconcileNow(admin, 'pg');
    expect(report).toMatchObject({ revoked: 1 });
    expect(await roleExists(role)).toBe(false);
    await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + ada.id, { after: mark });
    expect(dmsToAda(mark)[0]).toContain('had ended in Latch but was still on the system');
  });
});
