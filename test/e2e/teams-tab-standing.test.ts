/**
 * Standing access and reconciliation in the Teams tab console over HTTP (docs/ARCHITECTURE.md,
 * "Reconciliation", "Personal tab"): logins given privileges by hand on the test PostgreSQL are
 * found by a reconciliation started from the tab, listed page by page, and one is converted as the
 * page's form sends it (a new flow under the name it offers, the person's email): the privileges
 * are gone and the person asks for the schema from the tab and gets it. Mistakes come back on
 * their fields and change nothing; a non-admin is refused at every route. The flow form's re-apply
 * option round-trips.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  roleExists,
  schemaId,
  withDatabase,
  type Fixture,
} from '../support/fixture.js';
import { startTabServer, tabRequest, type Json } from '../support/teams-tab-server.js';

const APP_ID = '4d3c2b1a-6a55-4a3c-9d1e-2f3a4b5c6d7f';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db48';
const PEOPLE = {
  ada: { username: 'ada@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000001a2' },
  admin: { username: 'admin@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000001e2' },
};
type Who = keyof typeof PEOPLE;
const ident = pg.escapeIdentifier;
const s = randomBytes(3).toString('hex');

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let web: WebServer;
let dropDb: () => Promise<void>;
let database: string;
let tokens: Record<Who, string>;
const logins: string[] = [];

async function sql(text: string, db = 'postgres') {
  const c = new pg.Client({ connectionString: withDatabase(process.env.PG_URL!, db) });
  await c.connect();
  try {
    return await c.query(text);
  } finally {
    await c.end();
  }
}

async function standingLogin(): Promise<string> {
  const login = `tabstanding_${s}_${logins.length + 1}`;
  logins.push(login);
  await sql(`CREATE ROLE ${ident(login)} LOGIN`);
  await sql(
    `GRANT USAGE ON SCHEMA billing TO ${ident(login)}; GRANT SELECT ON ALL TABLES IN SCHEMA billing TO ${ident(login)}`,
    database,
  );
  return login;
}

async function canRead(login: string): Promise<boolean> {
  const { rows } = await sql(
    `SELECT has_schema_privilege(${pg.escapeLiteral(login)}, 'billing', 'USAGE') AS ok`,
    database,
  );
  return rows[0].ok === true;
}

const call = (who: Who, method: 'GET' | 'POST', path: string, body?: unknown) =>
  tabRequest(web, tokens[who], method, path, body);

beforeAll(async () => {
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  fx = await createFixture('teams_tab_standing');
  ({ database, drop: dropDb } = await createPgDatabase('tabst'));
  await addPgIntegration(fx.latch, 'pg', { databases: [database], rolePrefix: `ts${s}_` });
  web = await startTabServer(fx.latch, {
    appId: APP_ID,
    tenantId: TENANT_ID,
    authority: standIn.entraAuthority,
  });
  tokens = {
    ada: await standIn.signUserToken(PEOPLE.ada),
    admin: await standIn.signUserToken(PEOPLE.admin),
  };
}, 60_000);

afterAll(async () => {
  await web?.close(1_000);
  await standIn?.close();
  await fx?.close();
  await dropDb?.();
  for (const login of logins) await sql(`DROP ROLE IF EXISTS ${ident(login)}`).catch(() => undefined);
});

describe('standing access in the tab', () => {
  let first = '';
  let second = '';

  it('lists what a reconciliation started from the tab found, page by page, with the run', async () => {
    first = await standingLogin();
    second = await standingLogin();
    const ran = await call('admin', 'POST', '/admin/reconcile', { integration: 'pg' });
    expect(ran.status).toBe(200);
    expect(ran.body.reports).toEqual([expect.objectContaining({ integration: 'pg', ok: true, standing: 2 })]);
    const status = await call('admin', 'GET', '/admin/reconcile');
    expect(status.body.integrations).toEqual([
      {
        name: 'pg',
        status: expect.objectContaining({ ok: true, counts: expect.objectContaining({ standing: 2 }) }),
      },
    ]);

    const all = await call('admin', 'GET', '/admin/standing');
    expect(all.status).toBe(200);
    expect(all.body.total).toBe(2);
    expect(all.body.items.map((i: Json) => i.account).sort()).toEqual([first, second]);
    expect(all.body.items[0]).toMatchObject({
      integration: 'pg',
      resourceId: schemaId(database),
      resourceName: `${database}.billing`,
      permission: 'read',
      madeByLatch: false,
    });
    expect(all.body.items[0].email).toBeUndefined();
    const page1 = await call('admin', 'GET', '/admin/standing?limit=1');
    const page2 = await call('admin', 'GET', '/admin/standing?limit=1&offset=1');
    expect([page1.body.total, page1.body.items.length, page2.body.items.length]).toEqual([2, 1, 1]);
    expect(page1.body.items[0].key).not.toBe(page2.body.items[0].key);
  });

  it('puts each mistake on its field and changes nothing', async () => {
    const { items } = (await call('admin', 'GET', '/admin/standing')).body;
    const item = items.find((i: Json) => i.account === first);
    const flowsBefore = (await fx.latch.queries.flows(admin)).length;
    const convert = (extra: Json) =>
      call('admin', 'POST', '/admin/standing/convert', {
        integration: 'pg',
        key: item.key,
        flow: { mode: 'new', name: 'Billing read' },
        ...extra,
      });

    const noEmail = await convert({ person: '' });
    expect(noEmail.status).toBe(400);
    expect(noEmail.body.fields).toEqual({ person: expect.stringContaining('give the person') });
    const badEmail = await convert({ person: 'ada at example' });
    expect([badEmail.status, badEmail.body.fields]).toEqual([400, { person: 'not an email address' }]);
    const noName = await convert({ person: 'ada@example.com', flow: { mode: 'new', name: '  ' } });
    expect([noName.status, noName.body.fields]).toEqual([400, { 'flow.name': 'Give the new flow a name.' }]);
    const noFlow = await convert({ person: 'ada@example.com', flow: { mode: 'extend' } });
    expect([noFlow.status, noFlow.body.fields]).toEqual([
      400,
      { 'flow.flowId': 'Choose the flow to add it to.' },
    ]);
    const goneFlow = await convert({
      person: 'ada@example.com',
      flow: { mode: 'extend', flowId: '000000000000000000000000' },
    });
    expect([goneFlow.status, goneFlow.body.fields]).toEqual([
      400,
      { 'flow.flowId': 'That flow no longer exists.' },
    ]);

    expect(await canRead(first)).toBe(true);
    expect((await fx.latch.queries.flows(admin)).length).toBe(flowsBefore);
    expect((await call('admin', 'GET', '/admin/standing')).body.total).toBe(2);
  });

  it('converts one as the page sends it: removed, and the person asks for it from the tab', async () => {
    const { items } = (await call('admin', 'GET', '/admin/standing')).body;
    const item = items.find((i: Json) => i.account === first);
    expect(await canRead(first)).toBe(true);
    // The page's defaults: a new flow named after what it covers; the email typed in.
    const done = await call('admin', 'POST', '/admin/standing/convert', {
      integration: item.integration,
      key: item.key,
      person: 'Ada@Example.com',
      flow: { mode: 'new', name: `${item.resourceName} ${item.permission}` },
    });
    expect([done.status, done.body.error]).toEqual([200, undefined]);
    expect(done.body).toMatchObject({
      flow: { name: `${database}.billing read`, enabled: true },
      removed: { account: first },
    });
    expect(await canRead(first)).toBe(false);
    expect(await canRead(second)).toBe(true);
    const left = (await call('admin', 'GET', '/admin/standing')).body;
    expect(left.items.map((i: Json) => i.account)).toEqual([second]);

    const key = `pg|${schemaId(database)}`;
    const form = await call('ada', 'POST', '/options', { selected: [key], flowId: done.body.flow.id });
    expect(form.body.selectedFlowId).toBe(done.body.flow.id);
    const made = await call('ada', 'POST', '/requests', {
      selected: [key],
      flowId: done.body.flow.id,
      permission: 'read',
      duration: form.body.selectedDuration ?? form.body.durations[0],
    });
    expect([made.status, made.body.error]).toEqual([200, undefined]);
    const id = made.body.request.id as string;
    // The admin who converted it approves (the new flow's approver).
    const approved = await call('admin', 'POST', `/requests/${id}/approve`, {});
    expect([approved.status, approved.body.error]).toEqual([200, undefined]);
    await fx.latch.sweeps.tickUrgent();
    const doc = await fx.db.models.Request.findOne({ number: Number(id.slice(3)) }).lean();
    expect(doc!.state).toBe('active');
    const role = String(doc!.targets[0]!.handle!.role);
    expect(await roleExists(role)).toBe(true);
    await fx.latch.requests.revoke(admin, id);
    await fx.latch.sweeps.tickUrgent();
    expect(await roleExists(role)).toBe(false);
  });

  it('refuses a non-admin at every route, and nothing changes', async () => {
    const { items } = (await call('admin', 'GET', '/admin/standing')).body;
    const item = items[0];
    const tries = [
      await call('ada', 'GET', '/admin/standing'),
      await call('ada', 'GET', '/admin/reconcile'),
      await call('ada', 'POST', '/admin/reconcile', {}),
      await call('ada', 'POST', '/admin/standing/convert', {
        integration: 'pg',
        key: item.key,
        person: 'ada@example.com',
        flow: { mode: 'new', name: 'Mine now' },
      }),
      // Refused before the body is read: a broken one gets the same answer.
      await call('ada', 'POST', '/admin/standing/convert', { nonsense: true }),
    ];
    expect(tries.map((t) => [t.status, t.body.error])).toEqual(
      tries.map(() => [403, 'Only Latch admins can do that.']),
    );
    expect(await canRead(second)).toBe(true);
    expect((await fx.latch.queries.flows(admin)).some((f) => f.name === 'Mine now')).toBe(false);
  });
});

describe('the flow form’s "Re-apply access removed outside Latch"', () => {
  it('is off on a new flow, saved when ticked, kept by an untouched edit, and cleared', async () => {
    const blank = await call('admin', 'GET', '/admin/flows/new');
    expect(blank.body.form.reapplyOnDrift).toBe(false);
    const form = {
      ...blank.body.form,
      name: 'Reapplied billing',
      people: 'ada@example.com',
      targets: [{ ...blank.body.form.targets[0], integration: 'pg', permissions: ['read'] }],
      reapplyOnDrift: true,
    };
    const saved = await call('admin', 'POST', '/admin/flows', form);
    expect([saved.status, saved.body.error]).toEqual([200, undefined]);
    const id = saved.body.flow.id as string;
    const stored = async () => (await fx.latch.queries.flows(admin)).find((f) => f.id === id)!.reapplyOnDrift;
    expect(await stored()).toBe(true);

    const edit = await call('admin', 'GET', `/admin/flows/${id}/edit`);
    expect(edit.body.form.reapplyOnDrift).toBe(true);
    const untouched = await call('admin', 'POST', `/admin/flows/${id}`, edit.body.form);
    expect(untouched.status).toBe(200);
    expect(await stored()).toBe(true);

    const cleared = await call('admin', 'POST', `/admin/flows/${id}`, {
      ...edit.body.form,
      reapplyOnDrift: false,
    });
    expect(cleared.status).toBe(200);
    expect(await stored()).toBe(false);
  });
});
