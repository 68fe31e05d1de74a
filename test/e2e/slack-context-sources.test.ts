/**
 * Context sources edited from the App Home (docs/ARCHITECTURE.md, "Context sources"): an admin adds
 * an Okta source with only the required fields, sees it listed and synced, syncs it on demand,
 * edits it keeping the stored token by leaving it blank, and deletes it. Bad settings are shown
 * on their field and save nothing; a non-admin's forged submission and delete are refused.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, VIEW } from '../../blocks/slack/ids.js';
import { admin } from '../support/fixture.js';
import { startOktaStandIn, type OktaStandIn } from '../support/okta-stand-in.js';
import { plainInput, selectedValue } from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import { until } from '../support/wait.js';

const TOKEN = '00b-okta-console-token-1234567890';
const ada = { id: 'U0ADMIN', name: 'admin' };
const alice = { id: 'U0ALICE', name: 'alice' };

let h: SlackHarness;
let okta: OktaStandIn;
let editModal: Awaited<ReturnType<typeof clickToOpen>> | undefined;

beforeAll(async () => {
  h = await startSlackHarness('slack_ctx_sources');
  okta = await startOktaStandIn({ token: TOKEN });
  h.standIn.addUser({ id: ada.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice Liddell' });
  okta.addGroup('Engineering', ['alice@example.com']);
  okta.addGroup('DBA', ['admin@example.com']);
});

afterAll(async () => {
  await h?.close();
  await okta?.close();
});

const source = async (name: string) =>
  (await h.latch.queries.contextSources(admin)).find((s) => s.name === name);
const homeText = (a: Record<string, unknown>) => textOf((a.view as { blocks: unknown[] }).blocks);

describe('context sources in the App Home', () => {
  it('adds an Okta source with only the required fields, after showing a bad one its errors', async () => {
    const home = await openHome(h, ada, 'integrations');
    expect(textOf(home.blocks as unknown[])).toContain('Context sources');
    const modal = await clickToOpen(h, ada, home, ACTION.contextNew, 'new');
    expect(modal.callback_id).toBe(VIEW.contextSource);
    // The type's secret names are offered, blank: never a value.
    expect(textOf(modal.blocks as unknown[])).toContain('apiToken');

    const bad = await h.driver.viewSubmission(ada, modal, {
      name: { value: plainInput('okta') },
      type: { value: selectedValue('okta') },
      config: { value: plainInput('orgUrl: not a url\ncolour: blue\n') },
      secrets: { value: plainInput('apiToken:') },
      sync_every: { value: plainInput('60') },
      max_age: { value: plainInput('30') },
    });
    const errors = (bad.json as { errors: Record<string, string> }).errors;
    expect(bad.json).toMatchObject({ response_action: 'errors' });
    expect(errors.config).toMatch(/orgUrl: .*https/);
    expect(errors.config).toContain('colour: unknown field');
    expect(errors.secrets).toMatch(/apiToken: required/);
    expect(errors.max_age).toContain('longer than syncEveryMinutes');
    expect(await h.db.models.ContextSource.countDocuments()).toBe(0);

    const ok = await h.driver.viewSubmission(ada, modal, {
      name: { value: plainInput('okta') },
      type: { value: selectedValue('okta') },
      config: { value: plainInput(`orgUrl: ${okta.url}\n`) },
      secrets: { value: plainInput(`apiToken: ${TOKEN}`) },
    });
    expect(ok.status).toBe(200);
    expect(ok.json).toBeUndefined();
    // The defaults apply, and a first sync runs at once.
    const synced = await until('the first sync', async () => {
      const s = await source('okta');
      return s?.lastSuccessAt ? s : undefined;
    });
    expect(synced).toMatchObject({ type: 'okta', syncEveryMinutes: 15, maxAgeMinutes: 1440, groups: 2 });
    expect(synced.storedSecretNames).toEqual(['apiToken']);

    const listed = await openHome(h, ada, 'integrations');
    const text = textOf(listed.blocks as unknown[]);
    expect(text).toMatch(/\*okta\* · okta · 2 groups, 2 memberships/);
    expect(text).toContain('in sync');
    const buttons = buttonsOf(listed.blocks as unknown[]).map((b) => b.action_id);
    expect(buttons).toEqual(
      expect.arrayContaining([ACTION.contextSync, ACTION.contextEdit, ACTION.contextDelete]),
    );
    expect(JSON.stringify(h.standIn.calls())).not.toContain(TOKEN);
  });

  it('syncs it now from the App Home', async () => {
    okta.addGroup('SRE', ['alice@example.com']);
    const mark = h.standIn.mark();
    await h.driver.blockActions(ada, [{ action_id: ACTION.contextSync, value: 'okta' }], {
      view: h.standIn.homeOf(ada.id)!,
    });
    await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === ada.id && homeText(a).includes('3 groups, 3 memberships'),
      { after: mark },
    );
  });

  it('edits it: a secret left blank keeps its stored value', async () => {
    const home = await openHome(h, ada, 'integrations');
    const modal = await clickToOpen(h, ada, home, ACTION.contextEdit, 'okta');
    editModal = modal;
    expect(modal.callback_id).toBe(VIEW.contextSource);
    expect(JSON.stringify(modal)).not.toContain(TOKEN);
    expect(textOf(modal.blocks as unknown[])).toContain('Stored: apiToken');

    const res = await h.driver.viewSubmission(ada, modal, {
      type: { value: selectedValue('okta') },
      description: { value: plainInput('Our Okta org') },
      config: { value: plainInput(`orgUrl: ${okta.url}\n`) },
      secrets: { value: plainInput('apiToken: ') },
      sync_every: { value: plainInput('30') },
      max_age: { value: plainInput('1440') },
    });
    expect(res.status).toBe(200);
    expect(res.json).toBeUndefined();
    const edited = await until('the edit', async () => {
      const s = await source('okta');
      return s?.syncEveryMinutes === 30 ? s : undefined;
    });
    expect(edited.description).toBe('Our Okta org');
    // Okta still accepts the kept token (once the sync the save started is done).
    const report = await until('a sync of its own', async () => {
      const r = await h.latch.admin.syncContextSource(admin, 'okta');
      return 'busy' in r ? undefined : r;
    });
    expect(report).toMatchObject({ ok: true, groups: 3 });
  });

  it("refuses a non-admin's forged submission and delete, and audits them", async () => {
    // The admin's own edit modal, submitted by someone else.
    const modal = editModal!;
    const forged = await h.driver.viewSubmission(alice, modal, {
      type: { value: selectedValue('okta') },
      config: { value: plainInput('orgUrl: https://attacker.example.com\n') },
      secrets: { value: plainInput('apiToken: stolen') },
    });
    expect(forged.json).toMatchObject({ response_action: 'errors' });
    expect(JSON.stringify(forged.json)).toMatch(/admin/i);
    expect((await h.latch.queries.contextSourceForEdit(admin, 'okta'))!.config).toEqual({ orgUrl: okta.url });

    const mark = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.contextDelete, value: 'okta' }], {
      view: h.standIn.homeOf(ada.id)!,
    });
    const refused = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    expect(textOf((refused.args.view as { blocks: unknown[] }).blocks)).toMatch(/admin/i);
    expect(await source('okta')).toBeDefined();
    const denied = await h.latch.audit.latest(20, { action: 'admin.denied' });
    expect(denied.map((d) => (d.details as { attempted: string }).attempted)).toEqual(
      expect.arrayContaining(['context_source.save', 'context_source.delete']),
    );
  });

  it('deletes it, with its synced groups', async () => {
    const mark = h.standIn.mark();
    await h.driver.blockActions(ada, [{ action_id: ACTION.contextDelete, value: 'okta' }], {
      view: h.standIn.homeOf(ada.id)!,
    });
    await h.standIn.waitForCall(
      'views.publish',
      (a) => a.user_id === ada.id && homeText(a).includes('None yet'),
      { after: mark },
    );
    expect(await source('okta')).toBeUndefined();
    expect(await h.db.models.ContextGroup.countDocuments({ source: 'okta' })).toBe(0);
    expect(h.standIn.violations).toEqual([]);
  });

  it('says so when a source comes from the flows file', async () => {
    await h.latch.admin.saveContextSource('config-file', {
      name: 'okta',
      type: 'okta',
      config: { orgUrl: okta.url },
      secrets: { apiToken: TOKEN },
    });
    const home = await openHome(h, ada, 'integrations');
    expect(textOf(home.blocks as unknown[])).toContain('from the flows file');
    const modal = await clickToOpen(h, ada, home, ACTION.contextEdit, 'okta');
    expect(textOf(modal.blocks as unknown[])).toContain('Declared in the flows file');
  });
});
