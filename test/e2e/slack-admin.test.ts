/**
 * The admin console in App Home: settings (admins from a user group, audit channel), adding an
 * integration with a write-only secret, and revoking everything with a confirmation and a reason.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { createPgDatabase, flow, roleExists, schemaId } from '../support/fixture.js';
import {
  checkboxes,
  multiStaticSelected,
  plainInput,
  selectedValue,
  usersSelected,
} from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';

const admin = { id: 'U0ADMIN', name: 'admin' };
const dora = { id: 'U0DORA', name: 'dora' };
const alice = { id: 'U0ALICE', name: 'alice' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let database: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_admin');
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: dora.id, email: 'dora@example.com', realName: 'Dora' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  h.standIn.addUserGroup({ id: 'S0ADMINS', handle: 'latch-admins', users: [dora.id] });
  ({ database, drop: dropDb } = await createPgDatabase('slka'));
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

describe('the admin console', () => {
  it('edits settings: a user group of admins and an audit channel', async () => {
    const settingsHome = await openHome(h, admin, 'settings');
    const modal = await clickToOpen(h, admin, settingsHome, ACTION.settingsEdit, 'edit');
    expect(modal.callback_id).toBe(VIEW.settings);
    const res = await h.driver.viewSubmission(admin, modal, {
      admins: { value: usersSelected([admin.id]) },
      admin_groups: { value: multiStaticSelected(['latch-admins']) },
      fallback: { value: checkboxes(['on']) },
      fallback_approvers: { value: usersSelected([]) },
      self_extension: { value: selectedValue('never') },
      warning: { value: plainInput('5') },
      audit_channel: { value: { type: 'conversations_select', selected_conversation: 'C0AUDIT' } },
    });
    expect(res.status).toBe(200);
    const settings = await h.latch.ctx.settings();
    expect(settings).toMatchObject({
      admins: ['admin@example.com', '@latch-admins'],
      selfExtension: 'never',
      expiryWarningMinutes: 5,
      auditChannel: 'C0AUDIT',
    });
    // Dora is an admin through the user group: her home has the console.
    const doraHome = await openHome(h, dora);
    expect(buttonsOf(doraHome.blocks as unknown[]).map((b) => b.action_id)).toContain(
      `${ACTION.section}:flows`,
    );
  });

  it('adds an integration whose secret is never shown again', async () => {
    const integrations = await openHome(h, admin, 'integrations');
    const modal = await clickToOpen(h, admin, integrations, ACTION.integrationNew, 'new');
    const u = new URL(process.env.PG_URL!);
    const config = `host: ${u.hostname}\nport: ${u.port}\nuser: ${decodeURIComponent(u.username)}\ndatabase: postgres\ndatabases:\n  - ${database}\n`;
    const bad = await h.driver.viewSubmission(admin, modal, {
      name: { value: plainInput('pg') },
      type: { value: selectedValue('postgresql') },
      description: { value: plainInput('') },
      config: { value: plainInput('host: [unclosed') },
      secrets: { value: plainInput('') },
    });
    expect(bad.json).toMatchObject({
      response_action: 'errors',
      errors: { config: expect.stringContaining('YAML') },
    });
    const ok = await h.driver.viewSubmission(admin, modal, {
      name: { value: plainInput('pg') },
      type: { value: selectedValue('postgresql') },
      description: { value: plainInput('test cluster') },
      config: { value: plainInput(config) },
      secrets: { value: plainInput('password=Sup3r-Secret-Value') },
    });
    expect(ok.status).toBe(200);
    expect(await h.db.models.Resource.countDocuments({ integration: 'pg' })).toBeGreaterThan(0);

    const refreshed = await openHome(h, admin, 'integrations');
    expect(textOf(refreshed.blocks as unknown[])).toContain('pg');
    const edit = await clickToOpen(h, admin, refreshed, ACTION.integrationEdit, 'pg');
    expect(JSON.stringify(edit)).not.toContain('Sup3r-Secret-Value');
    expect(textOf(edit.blocks as unknown[])).toContain('Stored: password');
    expect(JSON.stringify(h.standIn.calls())).not.toContain('Sup3r-Secret-Value');
  });

  it('revokes everything only with the typed confirmation and a reason, and tells people why', async () => {
    await h.latch.admin.saveFlow(
      'config-file',
      flow({
        name: 'Billing auto',
        targets: [{ integration: 'pg', include: [{ id: schemaId(database) }], permissions: ['read'] }],
        duration: { choicesMinutes: [60] },
      }),
    );
    const identity = await h.slack.deps.directory.identity('T0LATCH', alice.id);
    const r = await h.latch.requests.submit(identity, {
      targets: [{ integration: 'pg', resourceId: schemaId(database), permission: 'read' }],
      durationMinutes: 60,
      source: 'slack',
    });
    await h.latch.sweeps.tickUrgent();
    const username = h.notifier.of('access.granted', r.id)[0]!.credentials[0]!.values.username!;
    expect(await roleExists(username)).toBe(true);
    // The audit channel heard about it, and holds checkpoints of the audit log's head.
    await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'C0AUDIT' && String(a.text).includes(r.id),
    );
    const checkpoint = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'C0AUDIT' && String(a.text).startsWith('Audit log checkpoint'),
    );
    const [, seq, hash] = /entry (\d+) has hash ([0-9a-f]{64})/.exec(String(checkpoint.args.text))!;
    const verified = await h.latch.audit.verify({
      trusted: [{ seq: Number(seq), hash: hash!, where: 'the audit channel' }],
    });
    expect(verified.ok).toBe(true);

    const active = await openHome(h, admin, 'active');
    expect(textOf(active.blocks as unknown[])).toContain(r.id);
    const modal = await clickToOpen(h, admin, active, ACTION.revokeAll, 'all');
    expect(modal.callback_id).toBe(VIEW.revokeAll);
    const wrong = await h.driver.viewSubmission(admin, modal, {
      [BLOCK.reason]: { value: plainInput('Credentials leak, rotating everything') },
      [BLOCK.confirm]: { value: plainInput('revoke all') },
    });
    expect(wrong.json).toMatchObject({
      response_action: 'errors',
      errors: { [BLOCK.confirm]: expect.any(String) },
    });
    expect((await h.db.models.Request.findOne({ number: r.number }).lean())!.state).toBe('active');

    const right = await h.driver.viewSubmission(admin, modal, {
      [BLOCK.reason]: { value: plainInput('Credentials leak, rotating everything') },
      [BLOCK.confirm]: { value: plainInput('REVOKE ALL') },
    });
    expect(right.status).toBe(200);
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(username)).toBe(false);
    const told = await h.standIn.waitForCall(
      'chat.postMessage',
      (a) => a.channel === 'D' + alice.id && String(a.text).includes('revoked'),
    );
    expect(textOf(told.args.blocks as unknown[])).toContain('Credentials leak, rotating everything');
    expect(h.standIn.violations).toEqual([]);
  });
});
