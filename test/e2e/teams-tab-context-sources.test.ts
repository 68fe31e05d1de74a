/**
 * Context sources edited in the Teams tab's console over HTTP (docs/ARCHITECTURE.md, "Context
 * sources", "Personal tab"), as the page does: added with only the required fields against the
 * Okta stand-in, edited keeping the stored token when it is left blank, deleted. Bad settings are
 * a 400 with each reason on its field and save nothing; non-admins get 403 at every route; the
 * token never comes back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';
import { admin, createFixture, type Fixture } from '../support/fixture.js';
import { startOktaStandIn, type OktaStandIn } from '../support/okta-stand-in.js';
import { until } from '../support/wait.js';
import { startTabServer, tabRequest, type Json } from '../support/teams-tab-server.js';

const APP_ID = '4d3c2b1a-6a55-4a3c-9d1e-2f3a4b5c6d7f';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db48';
const PEOPLE = {
  ada: { username: 'ada@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000001a2' },
  admin: { username: 'admin@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000001e2' },
};
type Who = keyof typeof PEOPLE;
const TOKEN = 'tab-okta-console-token-7h3';

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let web: WebServer;
let okta: OktaStandIn;
let tokens: Record<Who, string>;
const answers: string[] = [];

beforeAll(async () => {
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  fx = await createFixture('teams_tab_ctx');
  okta = await startOktaStandIn({ token: TOKEN });
  okta.addGroup('Engineering', ['ada@example.com']);
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
  await okta?.close();
  await fx?.close();
});

async function call(who: Who, method: 'GET' | 'POST', path: string, body?: unknown) {
  return tabRequest(web, tokens[who], method, path, body, { seen: (text) => answers.push(text) });
}

const listed = async () => (await call('admin', 'GET', '/admin/integrations')).body.sources as Json[];

describe('context sources in the tab console', () => {
  it('adds an Okta source from only the required fields, after a 400 with each reason on its field', async () => {
    const blank = await call('admin', 'GET', '/admin/context-sources/new');
    expect(blank.status).toBe(200);
    expect(blank.body.types).toEqual(
      expect.arrayContaining([expect.objectContaining({ type: 'okta', secrets: ['apiToken'] })]),
    );

    const bad = await call('admin', 'POST', '/admin/context-sources', {
      name: 'Okta!',
      type: 'okta',
      config: 'orgUrl: not a url\ncolour: blue\n',
      secrets: { apiToken: '' },
      syncEveryMinutes: '60',
      maxAgeMinutes: '30',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual({
      name: expect.stringContaining('lower-case letters'),
      config: expect.stringMatching(/orgUrl: .*https.*; colour: unknown field/),
      'secrets.apiToken': expect.stringContaining('required'),
      maxAgeMinutes: expect.stringContaining('longer than syncEveryMinutes'),
    });
    const notYaml = await call('admin', 'POST', '/admin/context-sources', {
      name: 'okta',
      type: 'okta',
      config: 'orgUrl: [unclosed',
      syncEveryMinutes: 'often',
    });
    expect(notYaml.status).toBe(400);
    expect(notYaml.body.fields).toEqual({
      config: expect.stringContaining('Not valid YAML'),
      syncEveryMinutes: 'Give a whole number of minutes, or leave it empty.',
    });
    expect(await listed()).toEqual([]);

    // What a new admin fills in: a name, the type, the org URL and the token.
    const saved = await call('admin', 'POST', '/admin/context-sources', {
      name: 'okta',
      type: 'okta',
      config: `orgUrl: ${okta.url}\n`,
      secrets: { apiToken: TOKEN },
    });
    expect([saved.status, saved.body.error]).toEqual([200, undefined]);
    expect(saved.body.saved).toBe('okta');
    // Its first sync starts at once; the list shows it done.
    const synced = await until('the first sync', async () => {
      const s = (await listed()).find((x) => x.name === 'okta');
      return s?.lastSuccessAt ? s : undefined;
    });
    expect(synced).toMatchObject({
      type: 'okta',
      groups: 1,
      memberships: 1,
      stale: false,
      origin: 'console',
    });
    const stored = await fx.latch.queries.contextSourceForEdit(admin, 'okta');
    expect(stored).toMatchObject({
      syncEveryMinutes: 15,
      maxAgeMinutes: 1440,
      storedSecretNames: ['apiToken'],
    });

    const again = await call('admin', 'POST', '/admin/context-sources', {
      name: 'okta',
      type: 'okta',
      config: `orgUrl: ${okta.url}\n`,
      secrets: { apiToken: TOKEN },
    });
    expect(again.status).toBe(400);
    expect(again.body.fields).toEqual({ name: 'A source called okta already exists; edit it instead.' });
  });

  it('edits it: the stored token is named, never shown, and kept when left blank', async () => {
    const edit = await call('admin', 'GET', '/admin/context-sources/okta/edit');
    expect(edit.status).toBe(200);
    expect(edit.body.source).toMatchObject({
      name: 'okta',
      type: 'okta',
      storedSecretNames: ['apiToken'],
      config: `orgUrl: ${okta.url}\n`,
      origin: 'console',
    });
    const saved = await call('admin', 'POST', '/admin/context-sources/okta', {
      type: 'okta',
      description: 'Our Okta org',
      config: edit.body.source.config,
      secrets: { apiToken: '' },
      syncEveryMinutes: '30',
      maxAgeMinutes: 720,
    });
    expect([saved.status, saved.body.error]).toEqual([200, undefined]);
    expect(await fx.latch.queries.contextSourceForEdit(admin, 'okta')).toMatchObject({
      description: 'Our Okta org',
      syncEveryMinutes: 30,
      maxAgeMinutes: 720,
    });
    // Okta still takes the kept token.
    okta.addGroup('SRE', ['admin@example.com']);
    const outcome = await until('a sync of its own', async () => {
      const r = await call('admin', 'POST', '/admin/context-sources/okta/sync', {});
      return r.body.outcome?.error?.includes('running') ? undefined : r.body.outcome;
    });
    expect(outcome).toEqual({ ok: true, groups: 2, memberships: 2 });

    expect((await call('admin', 'GET', '/admin/context-sources/nope/edit')).status).toBe(404);
    expect((await call('admin', 'POST', '/admin/context-sources/nope', { type: 'okta' })).status).toBe(404);
  });

  it('refuses non-admins at every route, and changes nothing', async () => {
    const before = await fx.latch.queries.contextSourceForEdit(admin, 'okta');
    const routes: Array<[method: 'GET' | 'POST', path: string, body?: unknown]> = [
      ['GET', '/admin/context-sources/new'],
      ['GET', '/admin/context-sources/okta/edit'],
      ['POST', '/admin/context-sources', { name: 'mine', type: 'okta', config: 'orgUrl: https://x.example' }],
      ['POST', '/admin/context-sources/okta', { type: 'okta', config: 'orgUrl: https://evil.example' }],
      ['POST', '/admin/context-sources/okta/delete'],
      ['POST', '/admin/context-sources', 'nonsense'],
    ];
    for (const [method, path, body] of routes) {
      const res = await call('ada', method, path, body);
      expect([method, path, res.status, res.body]).toEqual([
        method,
        path,
        403,
        { error: 'Only Latch admins can do that.' },
      ]);
    }
    expect(await fx.latch.queries.contextSourceForEdit(admin, 'okta')).toEqual(before);
    expect(await fx.latch.queries.contextSourceForEdit(admin, 'mine')).toBeNull();
  });

  it('deletes it, with its synced groups', async () => {
    const res = await call('admin', 'POST', '/admin/context-sources/okta/delete', {});
    expect([res.status, res.body]).toEqual([200, { deleted: 'okta', sources: [] }]);
    expect(await fx.db.models.ContextGroup.countDocuments({ source: 'okta' })).toBe(0);
    expect((await call('admin', 'POST', '/admin/context-sources/okta/delete', {})).status).toBe(404);
  });

  it('marks a source the flows file wrote', async () => {
    await fx.latch.admin.saveContextSource('config-file', {
      name: 'okta',
      type: 'okta',
      config: { orgUrl: okta.url },
      secrets: { apiToken: TOKEN },
    });
    expect((await call('admin', 'GET', '/admin/context-sources/okta/edit')).body.source.origin).toBe(
      'config',
    );
    expect((await listed())[0]).toMatchObject({ name: 'okta', origin: 'config' });
  });

  it('never sent the token back', () => {
    expect(answers.length).toBeGreaterThan(20);
    expect(answers.filter((a) => a.includes(TOKEN))).toEqual([]);
  });
});
