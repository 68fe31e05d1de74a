/**
 * A new admin's first hour, as Slack submits it: every admin form is sent with only its required
 * fields filled in and everything else left as the modal offered it (empty optional fields come
 * back as null or [] from Slack). Afterwards Latch must still work: Settings reopens, App Home
 * renders, /access opens, and a request is granted on PostgreSQL.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { createPgDatabase, roleExists } from '../support/fixture.js';
import {
  checkboxes,
  formState,
  multiExternalSelected,
  plainInput,
  selectedValue,
} from '../support/slack-driver.js';
import {
  buttonsOf,
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';
import type { SlackView } from '../support/slack-stand-in.js';

const admin = { id: 'U0ADMIN', name: 'admin' };
const alice = { id: 'U0ALICE', name: 'alice' };

let h: SlackHarness;
let dropDb: () => Promise<void>;
let database: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_defaults');
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
  h.standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice' });
  ({ database, drop: dropDb } = await createPgDatabase('sldf'));
});

afterAll(async () => {
  await h?.close();
  await dropDb?.();
});

/** Submits as Slack does after the person filled in only `filled`; the modal must close (empty 200). */
async function submitOnly(
  user: typeof admin,
  view: SlackView,
  filled: Record<string, Record<string, unknown>>,
) {
  const res = await h.driver.viewSubmission(user, view, formState(view, filled));
  expect({ status: res.status, body: res.body }).toEqual({ status: 200, body: '' });
}

describe("a new admin's defaults", () => {
  it('saves every admin form with only its required fields, and Latch keeps working', async () => {
    // Settings, untouched: no audit channel. Saving must not break any later read.
    const settingsModal = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'settings'),
      ACTION.settingsEdit,
      'edit',
    );
    expect(settingsModal.callback_id).toBe(VIEW.settings);
    await submitOnly(admin, settingsModal, {});
    const stored = await h.db.models.Settings.findById('global').lean();
    expect(stored!.value).not.toHaveProperty('auditChannel');
    expect(await h.latch.ctx.settings()).toMatchObject({ expiryWarningMinutes: 15, selfExtension: 'flow' });
    // The admin can open Settings again, and the console still renders.
    const again = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'settings'),
      ACTION.settingsEdit,
      'edit',
    );
    expect(again.callback_id).toBe(VIEW.settings);

    // An integration: name and configuration are all that is required.
    const u = new URL(process.env.PG_URL!);
    const integrationModal = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'integrations'),
      ACTION.integrationNew,
      'new',
    );
    await submitOnly(admin, integrationModal, {
      name: plainInput('pg'),
      config: plainInput(
        `host: ${u.hostname}\nport: ${u.port}\nuser: ${decodeURIComponent(u.username)}\ndatabases:\n  - ${database}\n`,
      ),
    });
    expect(await h.db.models.Resource.countDocuments({ integration: 'pg' })).toBeGreaterThan(0);

    // A flow: a name, who may ask, and what. No approvers, so requests are approved automatically.
    const flowModal = await clickToOpen(h, admin, await openHome(h, admin, 'flows'), ACTION.flowNew, 'new');
    await submitOnly(admin, flowModal, {
      name: plainInput('Billing'),
      grantees_everyone: checkboxes(['everyone']),
      integration: selectedValue('pg'),
      permissions: {
        type: 'multi_static_select',
        selected_options: [optionOf(flowModal, 'permissions', 'read')],
      },
    });
    const flows = await h.latch.ctx.flows();
    expect(flows.map((f) => f.name)).toEqual(['Billing']);

    // Alice asks with only the required fields of /access, and gets access on PostgreSQL.
    const mark = h.standIn.mark();
    await h.driver.command(alice, '/access', '');
    const opened = await h.standIn.waitForCall('views.open', undefined, { after: mark });
    const viewId = (opened.response.view as { id: string }).id;
    await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: mark });
    const requestModal = h.standIn.view(viewId)!;
    const search = await h.driver.blockSuggestion(alice, {
      action_id: ACTION.resources,
      block_id: BLOCK.resources,
      value: 'billing',
      view: requestModal,
    });
    const found = (search.json as { options: Array<{ value: string; text: { text: string } }> }).options;
    expect(found.length).toBeGreaterThan(0);
    // Choosing a resource redraws the modal with the permission and durations of the flow.
    const chosen = {
      [BLOCK.resources]: multiExternalSelected([{ value: found[0]!.value, text: found[0]!.text.text }]),
    };
    const redraw = h.standIn.mark();
    await h.driver.blockActions(alice, [{ action_id: ACTION.resources, block_id: BLOCK.resources }], {
      view: { ...requestModal, state: { values: formState(requestModal, chosen) } },
    });
    await h.standIn.waitForCall('views.update', (a) => a.view_id === viewId, { after: redraw });
    const filledIn = h.standIn.view(viewId)!;
    const res = await h.driver.viewSubmission(alice, filledIn, formState(filledIn));
    expect(res.json).toMatchObject({ response_action: 'update' });
    await h.latch.sweeps.tickUrgent();
    const granted = h.notifier.of('access.granted');
    expect(granted).toHaveLength(1);
    expect(await roleExists(granted[0]!.credentials[0]!.values.username!)).toBe(true);

    // App Home renders for both, with the grant in Alice's and in the admins' active list.
    expect(textOf((await openHome(h, alice)).blocks as unknown[])).toContain(granted[0]!.request.id);
    const active = await openHome(h, admin, 'active');
    expect(textOf(active.blocks as unknown[])).toContain(granted[0]!.request.id);

    // The admin's revoke form, reason left empty where allowed, and the console still works after.
    const revokeButton = buttonsOf(active.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.adminRevoke,
    )!;
    const revokeModal = await clickToOpen(h, admin, active, ACTION.adminRevoke, revokeButton.value!);
    await submitOnly(admin, revokeModal, filledIfRequired(revokeModal, BLOCK.reason, 'Done with it'));
    await h.latch.sweeps.tickUrgent();
    expect(await roleExists(granted[0]!.credentials[0]!.values.username!)).toBe(false);
    expect(h.standIn.violations).toEqual([]);
  });

  it('saves the edit forms untouched without changing anything, and clears a cleared audit channel', async () => {
    const [before] = await h.latch.ctx.flows();
    const flowEdit = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'flows'),
      ACTION.flowEdit,
      before!.id,
    );
    await submitOnly(admin, flowEdit, {});
    const [after] = await h.latch.ctx.flows();
    expect(after).toEqual(before);

    const stored = await h.db.models.Integration.findOne({ name: 'pg' }).lean();
    const integrationEdit = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'integrations'),
      ACTION.integrationEdit,
      'pg',
    );
    await submitOnly(admin, integrationEdit, {});
    const kept = await h.db.models.Integration.findOne({ name: 'pg' }).lean();
    expect(kept!.config).toEqual(stored!.config);
    expect(kept!.secrets).toEqual(stored!.secrets);

    // An audit channel set, then cleared again: absent, not null.
    const settingsModal = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'settings'),
      ACTION.settingsEdit,
      'edit',
    );
    await submitOnly(admin, settingsModal, {
      audit_channel: { type: 'conversations_select', selected_conversation: 'C0AUDIT' },
    });
    expect((await h.latch.ctx.settings()).auditChannel).toBe('C0AUDIT');
    const again = await clickToOpen(
      h,
      admin,
      await openHome(h, admin, 'settings'),
      ACTION.settingsEdit,
      'edit',
    );
    await submitOnly(admin, again, {
      audit_channel: { type: 'conversations_select', selected_conversation: null },
    });
    expect((await h.db.models.Settings.findById('global').lean())!.value).not.toHaveProperty('auditChannel');
    expect((await h.latch.ctx.settings()).auditChannel).toBeUndefined();
  });
});

function optionOf(view: SlackView, blockId: string, text: string): unknown {
  const block = (
    view.blocks as Array<{ block_id?: string; element?: { options?: Array<{ text: { text: string } }> } }>
  ).find((b) => b.block_id === blockId);
  const found = block?.element?.options?.find((o) => o.text.text === text);
  if (!found) throw new Error(`${blockId} offers no ${text}`);
  return found;
}

function filledIfRequired(
  view: SlackView,
  blockId: string,
  value: string,
): Record<string, Record<string, unknown>> {
  const block = (view.blocks as Array<{ block_id?: string; optional?: boolean }>).find(
    (b) => b.block_id === blockId,
  );
  return block && !block.optional ? { [blockId]: plainInput(value) } : {};
}
