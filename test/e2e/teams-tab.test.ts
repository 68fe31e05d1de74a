/**
 * The Teams personal tab in a real browser: Debian's headless Chromium, driven by playwright-core,
 * opens a host page that stands in for Teams. It frames the tab (same origin, as Teams' own origin
 * check in the SDK accepts) and answers the Teams JavaScript SDK's postMessage protocol as the
 * Teams client does: `initialize` with a frame context, `authentication.getAuthToken` with an Entra
 * token the stand-in signed for the person. The tab then shows and changes real state: a grant on
 * PostgreSQL, a request made from its form, and an admin's revoke that drops the login role.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';
import { teamsTab } from '../../src/channels/teams/tab/index.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { silentLogger } from '../../src/logger.js';
import { BotFrameworkStandIn, TAB_HOST } from '../support/bot-framework-stand-in.js';
import { startOktaStandIn } from '../support/okta-stand-in.js';
import { until } from '../support/wait.js';
import { startWebhookReceiver, type WebhookReceiver } from '../support/lifecycle-webhook-receiver.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  roleExists,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

const CHROMIUM = '/usr/bin/chromium';
const APP_ID = '3e2d1c0b-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const ada = person('ada');
const PEOPLE = {
  ada: { username: 'Ada@Example.com', oid: '6f1b2c3d-0000-4000-8000-00000000000a', name: 'Ada Lovelace' },
  admin: { username: 'admin@example.com', oid: '6f1b2c3d-0000-4000-8000-00000000000b', name: 'The Admin' },
};

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let web: WebServer;
let browser: BrowserContext;
let profile: string;
let dropDb: () => Promise<void>;
let billing: string;
let database: string;
let granted: RequestView;
let grantedRole: string;
let receiver: WebhookReceiver;

/**
 * The Teams client's side of the SDK's protocol, in the page that frames the tab. The SDK posts
 * `{id, uuidAsString, func, args}` to its parent and takes `{id, uuidAsString, args}` back:
 * `initialize` answers [frame context, client type, runtime config (JSON), client SDK version],
 * `authentication.getAuthToken` answers [true, token].
 */
function hostPage(token: string): string {
  const runtime = {
    apiVersion: 4,
    supports: { pages: { appButton: {}, tabs: {}, config: {}, backStack: {} } },
  };
  return `<!doctype html>
<html><head><meta charset="utf-8"><title>Teams stand-in</title></head>
<body>
<iframe id="tab" title="Latch" src="/teams/tab" style="width: 1100px; height: 1400px; border: 0"></iframe>
<script>
  const TOKEN = ${JSON.stringify(token)};
  const RUNTIME = ${JSON.stringify(JSON.stringify(runtime))};
  window.asked = [];
  window.addEventListener('message', (event) => {
    const m = event.data;
    if (!m || typeof m.func !== 'string' || typeof m.id !== 'number') return;
    window.asked.push(m.func);
    const reply = (args) => event.source.postMessage({ id: m.id, uuidAsString: m.uuidAsString, args }, event.origin);
    if (m.func === 'initialize') reply(['content', 'web', RUNTIME, '2.0.0']);
    else if (m.func === 'authentication.getAuthToken') reply([true, TOKEN]);
  });
</script>
</body></html>`;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `${CHROMIUM} not found: the Teams tab test needs Debian's chromium (apt-get install -y chromium; .ci/run installs it)`,
    );
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  receiver = await startWebhookReceiver();
  fx = await createFixture('teams_tab', { webhooks: { ca: receiver.ca } });
  ({ database, drop: dropDb } = await createPgDatabase('tab'));
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });
  billing = schemaId(database);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'admin@example.com' }] }] },
      requireJustification: true,
    }),
  );
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing write (auto)',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['write'] }],
      duration: { choicesMinutes: [60] },
    }),
  );
  // Ada already holds a grant: a real login role on PostgreSQL.
  const asked = await fx.latch.requests.submit(ada, {
    targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
    durationMinutes: 60,
    justification: 'month end',
    source: 'api',
  });
  await fx.latch.sweeps.tickUrgent();
  granted = (await fx.latch.queries.myAccess(ada)).active.find((a) => a.request.id === asked.id)!.request;
  expect(granted.state).toBe('active');
  grantedRole = fx.notifier.of('access.granted', asked.id)[0]!.credentials[0]!.values.username!;
  expect(await roleExists(grantedRole)).toBe(true);

  const tab = teamsTab({
    config: { appId: APP_ID, appType: 'SingleTenant', tenantId: TENANT_ID },
    core: fx.latch,
    log: silentLogger,
    hosts: [TAB_HOST],
    authority: standIn.entraAuthority,
  });
  const tokens = {
    ada: await standIn.signUserToken(PEOPLE.ada),
    admin: await standIn.signUserToken({ ...PEOPLE.admin, version: 1 }),
  };
  web = await startWebServer(fx.latch, {
    port: 0,
    routes: [
      tab.routes,
      (router) =>
        router.on('GET', '/teams-stand-in/:who', (_req, res, params) => {
          const token = tokens[params.who as keyof typeof tokens];
          res.writeHead(token ? 200 : 404, { 'content-type': 'text/html; charset=utf-8' });
          res.end(token ? hostPage(token) : 'nobody');
        }),
    ],
  });
  profile = mkdtempSync(path.join(os.tmpdir(), 'latch-chromium-'));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await web?.close(1_000);
  await standIn?.close();
  await fx?.close();
  await receiver?.close();
  await dropDb?.();
});

/** The tab as `who` sees it, framed by the Teams stand-in. */
async function openTab(who: keyof typeof PEOPLE): Promise<{ page: Page; tab: FrameLocator }> {
  const page = await browser.newPage();
  page.setDefaultTimeout(10_000);
  await page.goto(`http://127.0.0.1:${web.port}/teams-stand-in/${who}`);
  const tab = page.frameLocator('#tab');
  await tab.getByText(`Signed in as ${PEOPLE[who].username.toLowerCase()}`).waitFor();
  return { page, tab };
}

describe('the Teams personal tab', () => {
  it("signs in through the Teams SDK and shows the person's access", async () => {
    const { page, tab } = await openTab('ada');
    const mine = tab.getByRole('list', { name: 'Your active access' });
    await expect(
      mine.getByText(`${granted.id} · write on ${granted.targets[0]!.resourceName} (pg)`).count(),
    ).resolves.toBe(1);
    await expect(mine.getByText(/^Until /).count()).resolves.toBe(1);
    await expect(mine.getByRole('button', { name: 'Revoke' }).count()).resolves.toBe(1);
    // Not an admin: no console.
    await expect(tab.getByRole('button', { name: 'Active access' }).count()).resolves.toBe(0);
    const asked = (await page.evaluate('window.asked')) as string[];
    expect(asked).toEqual(expect.arrayContaining(['initialize', 'authentication.getAuthToken']));
    await page.close();
  });

  it('asks for access from its form, with the errors next to the fields, and the request is made', async () => {
    const { page, tab } = await openTab('ada');
    await tab.getByRole('button', { name: 'Request access' }).click();
    await tab.getByRole('checkbox', { name: `${granted.targets[0]!.resourceName} · pg` }).check();
    await tab.getByLabel('Access flow').selectOption({ label: 'Billing read' });
    await tab.getByLabel('Permission').locator('option[value="read"]:checked').waitFor({ state: 'attached' });
    // The flow requires a justification: the refusal is shown on that field.
    await tab.getByRole('button', { name: 'Request', exact: true }).click();
    await expect(
      tab
        .locator('#error-justification')
        .getByText(/justification/i)
        .textContent(),
    ).resolves.toMatch(/justification/i);

    await tab.getByLabel('Why do you need it?').fill('INC-7: reconcile invoices');
    await tab.getByRole('button', { name: 'Request', exact: true }).click();
    const said = tab.getByRole('status').getByText(/is submitted/);
    await said.waitFor();
    const text = (await said.textContent()) ?? '';
    const id = /AR-\d+/.exec(text)?.[0];
    expect(text).toContain('Waiting for admin@example.com');

    const pending = (await fx.latch.queries.myAccess(ada)).pending.find((r) => r.id === id);
    expect(pending).toMatchObject({
      state: 'pending',
      source: 'teams',
      justification: 'INC-7: reconcile invoices',
      flowName: 'Billing read',
      targets: [expect.objectContaining({ resourceId: billing, permission: 'read' })],
    });
    await tab.getByRole('list', { name: 'Your open requests' }).getByText(`${id} · read on`).waitFor();
    await page.close();
  });

  it("lets an admin revoke someone's grant from the console, and the login role is gone from PostgreSQL", async () => {
    const { page, tab } = await openTab('admin');
    await tab.getByRole('button', { name: 'Active access' }).click();
    const item = tab
      .getByRole('list', { name: 'Active access across the organisation' })
      .getByRole('listitem')
      .filter({ hasText: granted.id });
    await item.getByText(`${granted.id} · ada · write on ${granted.targets[0]!.resourceName} (pg)`).waitFor();
    await item.getByRole('button', { name: 'Revoke', exact: true }).click();
    await item.getByPlaceholder('Reason (the requester sees it)').fill('rotation');
    await item.getByRole('button', { name: 'Yes, revoke' }).click();
    await tab.getByRole('status').getByText(`${granted.id} is being revoked.`).waitFor();

    // The worker's revoke sweep takes it off PostgreSQL.
    for (let i = 0; i < 20 && (await roleExists(grantedRole)); i++) await fx.latch.sweeps.tickUrgent();
    expect(await roleExists(grantedRole)).toBe(false);
    const revoked = fx.notifier.of('access.revoked', granted.id)[0]!.request;
    expect(revoked).toMatchObject({
      state: 'revoked',
      endedBy: 'admin@example.com',
      endReasonText: 'rotation',
    });
    await page.close();
  });

  it('lets an admin change a setting in the console, the optional ones left empty, and it is saved', async () => {
    const { page, tab } = await openTab('admin');
    await tab.getByRole('button', { name: 'Settings' }).click();
    const warning = tab.getByLabel('Warn this many minutes before expiry (0 = off)');
    await expect(warning.inputValue()).resolves.toBe('15');
    await warning.fill('45');
    await tab.getByRole('button', { name: 'Save' }).click();
    await tab.getByRole('status').getByText('Settings are saved.').waitFor();
    expect(await fx.latch.queries.settings(admin)).toEqual({
      admins: [],
      fallback: { enabled: true, approvers: [], maxMinutes: 240 },
      expiryWarningMinutes: 45,
      selfExtension: 'flow',
    });
    // A mistake is shown under its field, and nothing is saved.
    await tab.getByLabel('Audit channel (optional)').fill('#general');
    await tab.getByRole('button', { name: 'Save' }).click();
    await tab.getByText(/^Give a Slack channel id/).waitFor();
    expect((await fx.latch.queries.settings(admin)).auditChannel).toBeUndefined();
    await page.close();
  });

  it('lets an admin create a flow from the console with only the required fields', async () => {
    const { page, tab } = await openTab('admin');
    await tab.getByRole('button', { name: 'Access flows' }).click();
    await tab.getByRole('button', { name: 'New flow' }).click();
    await tab.getByLabel('Name', { exact: true }).fill('Made in Teams');
    await tab.getByRole('checkbox', { name: 'Everyone' }).check();
    await tab.getByLabel('Integration').selectOption('pg');
    await tab.getByRole('checkbox', { name: 'read', exact: true }).check();
    await tab.getByRole('button', { name: 'Save' }).click();
    await tab.getByRole('status').getByText('Made in Teams is saved.').waitFor();
    await tab.getByRole('list', { name: 'Access flows' }).getByText('Made in Teams').waitFor();
    const made = (await fx.latch.queries.flows(admin)).find((f) => f.name === 'Made in Teams');
    expect(made).toMatchObject({
      grantees: { include: [{ type: 'everyone' }] },
      targets: [{ integration: 'pg', include: [], permissions: ['read'] }],
      approval: { steps: [] },
      duration: { maxMinutes: 240 },
    });
    await page.close();
  });

  it('lets an admin edit an integration from its form, the password field left empty, and it still connects', async () => {
    const { page, tab } = await openTab('admin');
    await tab.getByRole('button', { name: 'Integrations' }).click();
    await tab.getByRole('list', { name: 'Integrations' }).getByRole('button', { name: 'Edit' }).click();
    await expect(tab.getByLabel('Host', { exact: true }).inputValue()).resolves.toBe('127.0.0.1');
    await expect(tab.getByLabel('Password (secret)').inputValue()).resolves.toBe('');
    await tab.getByLabel('Connection pool size (optional)').fill('3');
    await tab.getByRole('button', { name: 'Save' }).click();
    await tab
      .getByRole('status')
      .getByText(/^pg is saved: \d+ resources found\.$/)
      .waitFor();
    expect((await fx.latch.queries.integrationForEdit(admin, 'pg'))?.config).toMatchObject({ poolSize: 3 });
    await page.close();
  });

  it('lets an admin add a context source with only the required fields, and delete it', async () => {
    const token = 'tab-browser-okta-token-31';
    const okta = await startOktaStandIn({ token });
    okta.addGroup('Engineering', ['ada@example.com']);
    const { page, tab } = await openTab('admin');
    try {
      await tab.getByRole('button', { name: 'Integrations' }).click();
      await tab.getByRole('button', { name: 'Add context source' }).click();
      // A new source starts from the first type's example: the admin puts in their org's URL.
      await expect(tab.getByLabel('Configuration (YAML)').inputValue()).resolves.toContain('orgUrl:');
      await tab.getByLabel('Name', { exact: true }).fill('okta');
      await tab.getByLabel('Configuration (YAML)').fill('orgUrl: not a url');
      await tab.getByRole('button', { name: 'Save' }).click();
      // Both mistakes are shown on their fields, and nothing is saved.
      await tab.getByText(/^orgUrl: an https URL/).waitFor();
      await tab.getByText(/^required/).waitFor();
      expect(await fx.latch.queries.contextSourceForEdit(admin, 'okta')).toBeNull();

      await tab.getByLabel('Configuration (YAML)').fill(`orgUrl: ${okta.url}`);
      await tab.getByLabel('apiToken (secret)').fill(token);
      await tab.getByRole('button', { name: 'Save' }).click();
      await tab
        .getByRole('status')
        .getByText(/^okta is saved/)
        .waitFor();
      const sources = tab.getByRole('list', { name: 'Context sources' });
      await sources.getByText(/^okta · okta · /).waitFor();
      expect(await fx.latch.queries.contextSourceForEdit(admin, 'okta')).toMatchObject({
        config: { orgUrl: okta.url },
        storedSecretNames: ['apiToken'],
        syncEveryMinutes: 15,
      });
      // Its first sync was started by the save; wait for it before deleting.
      for (let i = 0; i < 100; i++) {
        const s = (await fx.latch.queries.contextSources(admin)).find((x) => x.name === 'okta');
        if (s?.lastSuccessAt || s?.lastError) break;
        await new Promise((r) => setTimeout(r, 100));
      }

      await sources.getByRole('button', { name: 'Delete' }).click();
      await sources.getByRole('button', { name: 'Yes, delete' }).click();
      await tab.getByRole('status').getByText('okta is deleted.').waitFor();
      expect(await fx.latch.queries.contextSourceForEdit(admin, 'okta')).toBeNull();
    } finally {
      await page.close();
      await okta.close();
    }
  });

  it('lets an admin reconcile an integration and convert the standing access it found', async () => {
    // An integration of its own prefix: the cluster's other Latch logins are not its standing access.
    const prefix = `tb${Date.now().toString(36)}_`;
    await addPgIntegration(fx.latch, 'pg-standing', { databases: [database], rolePrefix: prefix });
    const login = `hand_${prefix}`;
    const { default: pg } = await import('pg');
    const sql = async (text: string, db = 'postgres') => {
      const u = new URL(process.env.PG_URL!);
      u.pathname = `/${db}`;
      const c = new pg.Client({ connectionString: u.toString() });
      await c.connect();
      try {
        return await c.query(text);
      } finally {
        await c.end();
      }
    };
    await sql(`CREATE ROLE ${login} LOGIN`);
    await sql(`GRANT USAGE ON SCHEMA billing TO ${login}`, database);
    const { page, tab } = await openTab('admin');
    try {
      await tab.getByRole('button', { name: 'Standing access' }).click();
      const runs = tab.getByRole('list', { name: 'Reconciliation' });
      await runs
        .getByRole('listitem')
        .filter({ hasText: 'pg-standing' })
        .getByRole('button', { name: 'Reconcile now' })
        .click();
      await tab.getByRole('status').getByText('pg-standing is reconciled.').waitFor();
      const item = tab
        .getByRole('list', { name: 'Standing access' })
        .getByRole('listitem')
        .filter({ hasText: login });
      await item.getByText(`${login} · owner unknown`).waitFor();
      await item.getByRole('button', { name: 'Convert…' }).click();
      await tab.getByText('is removed now, when you convert').waitFor();
      await expect(tab.getByLabel('Name of the new flow').inputValue()).resolves.toMatch(/\.billing read$/);
      // Only the required field: whose it is.
      await tab.getByLabel("The person's email").fill('ada@example.com');
      await tab.getByRole('button', { name: 'Remove access and convert' }).click();
      await tab.getByRole('status').getByText(`${login}'s access is removed`).waitFor();
      const { rows } = await sql(
        `SELECT has_schema_privilege('${login}', 'billing', 'USAGE') AS ok`,
        database,
      );
      expect(rows[0].ok).toBe(false);
      await tab.getByRole('heading', { name: /^Standing access \(\d+\)$/ }).waitFor();
    } finally {
      await page.close();
      await sql(`DROP ROLE IF EXISTS ${login}`, database).catch(() => undefined);
    }
  });

  it('lets an admin add a webhook with only a name and a URL, shows its secret once, and lists its deliveries', async () => {
    const { page, tab } = await openTab('admin');
    try {
      await tab.getByRole('button', { name: 'Webhooks' }).click();
      await tab.getByRole('button', { name: 'Add webhook' }).click();
      await tab.getByLabel('Name', { exact: true }).fill('SIEM');
      await tab.getByLabel('URL', { exact: true }).fill('http://siem.example.com/latch');
      await tab.getByRole('button', { name: 'Save' }).click();
      // The mistake is shown on its field, and nothing is saved.
      await tab.getByText(/^Use https/).waitFor();
      expect(await fx.latch.queries.webhooks(admin)).toEqual([]);

      await tab.getByLabel('URL', { exact: true }).fill(receiver.url);
      await tab.getByRole('button', { name: 'Save' }).click();
      await tab.getByRole('status').getByText('SIEM is saved.').waitFor();
      const secret = await tab.locator('[data-secret]').textContent();
      expect(secret).toMatch(/^whsec_/);
      receiver.secret = secret!;
      expect(await fx.latch.queries.webhooks(admin)).toEqual([
        expect.objectContaining({ name: 'SIEM', url: receiver.url, events: [], enabled: true }),
      ]);

      // Someone with nothing open: the event is a new request's.
      const wendy = person('wendy');
      const req = await fx.latch.requests.submit(wendy, {
        targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
        durationMinutes: 60,
        justification: 'webhook check',
        source: 'api',
      });
      const [hook] = await until('the signed event', async () => {
        await fx.latch.outbox.deliverDue();
        await fx.latch.webhooks!.deliverDue();
        const got = receiver.accepted().filter((h) => h.json.request.id === req.id);
        return got.length ? got : undefined;
      });
      expect(hook!.json.type).toBe('request.created');

      // Done: the secret is gone from the page for good, and the delivery is listed.
      await tab.getByRole('button', { name: 'Done' }).click();
      // The page redraws after the click: wait for the secret to go, rather than count at once.
      await tab.locator('[data-secret]').waitFor({ state: 'detached' });
      await tab
        .getByRole('list', { name: 'Last deliveries to SIEM' })
        .getByText(new RegExp(`request\\.created · ${req.id} · ✓ 200 · 1 attempt`))
        .waitFor();
      // Earlier tests of this file may have made the flow approve by itself: end it either way.
      if (req.state === 'pending') await fx.latch.requests.cancel(wendy, req.id);
      else {
        await fx.latch.sweeps.tickUrgent();
        await fx.latch.requests.revoke(admin, req.id);
      }
    } finally {
      await page.close();
    }
  });
});
