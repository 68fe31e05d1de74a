/**
 * Entra ID nested groups in flows, through Slack end to end (docs/ARCHITECTURE.md, "Context
 * sources"): Ivy is in Entra's SRE group, which is nested in Platform; a flow for Platform lets her
 * ask with /access, and Entra's DBA group is asked in Slack by email. Someone in neither group is
 * offered nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { addPgIntegration, admin, createPgDatabase, flow, schemaId } from '../support/fixture.js';
import { startGraphStandIn, type GraphStandIn } from '../support/graph-stand-in.js';
import { multiExternalSelected, plainInput, selectedValue } from '../support/slack-driver.js';
import {
  buttonsOf,
  startSlackHarness,
  textOf,
  type SlackHarness,
  openRequestModal,
} from '../support/slack-harness.js';

const SECRET = 'entra-e2e-secret-value-123';
const ivy = { id: 'U0IVY', name: 'ivy' };
const cara = { id: 'U0CARA', name: 'cara' };
const olga = { id: 'U0OLGA', name: 'olga' };

let h: SlackHarness;
let graph: GraphStandIn;
let dropDb: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  h = await startSlackHarness('slack_entra');
  graph = await startGraphStandIn({
    tenantId: 'contoso.example',
    clientId: 'app-1',
    clientSecret: SECRET,
    maxPage: 2,
  });
  h.standIn.addUser({ id: ivy.id, email: 'ivy@example.com', realName: 'Ivy Nested' });
  h.standIn.addUser({ id: cara.id, email: 'cara@example.com', realName: 'Cara DBA' });
  h.standIn.addUser({ id: olga.id, email: 'olga@example.com', realName: 'Olga Outside' });
  graph.addGroup('Platform');
  graph.addGroup('SRE');
  graph.addGroup('DBA');
  graph.addMember('SRE', 'ivy@example.com');
  graph.addMember('Platform', 'group:SRE');
  graph.addMember('DBA', 'cara@example.com');
  graph.addUser('olga@example.com');
  const pg = await createPgDatabase('sentra');
  dropDb = pg.drop;
  await addPgIntegration(h.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await h.latch.admin.updateSettings(admin, { fallback: { enabled: false, approvers: [], maxMinutes: 240 } });
  await h.latch.admin.saveContextSource(admin, {
    name: 'entra',
    type: 'entra',
    config: { tenantId: 'contoso.example', clientId: 'app-1', graphUrl: graph.url, loginUrl: graph.url },
    secrets: { clientSecret: SECRET },
  });
  await h.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Platform billing',
      grantees: { include: [{ type: 'group', id: 'entra:Platform' }] },
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'group', id: 'entra:DBA' }] }] },
    }),
  );
  expect(await h.latch.admin.syncContextSource(admin, 'entra')).toMatchObject({ ok: true });
});

afterAll(async () => {
  await h?.close();
  await graph?.close();
  await dropDb?.();
});

describe('Entra ID nested groups through Slack', () => {
  it('lets a member of a group nested in the flow’s group ask, and asks the Entra approvers in Slack', async () => {
    const view = await openRequestModal(h, ivy);
    expect(view.callback_id).toBe(VIEW.request);
    const search = await h.driver.blockSuggestion(ivy, {
      action_id: ACTION.resources,
      block_id: BLOCK.resources,
      value: 'billing',
      view,
    });
    const [option] = (search.json as { options: Array<{ value: string; text: { text: string } }> }).options;
    const submit = await h.driver.viewSubmission(ivy, view, {
      [BLOCK.resources]: {
        [ACTION.resources]: multiExternalSelected([{ value: option!.value, text: option!.text.text }]),
      },
      [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
      [BLOCK.duration]: { [ACTION.duration]: selectedValue('60', '1 hour') },
      [BLOCK.justification]: { [ACTION.justification]: plainInput('CHG-12') },
    });
    expect(textOf((submit.json as { view: { blocks: unknown[] } }).view.blocks)).toContain('is submitted');
    const card = await h.standIn.waitForCall('chat.postMessage', (a) => a.channel === 'D' + cara.id);
    expect(buttonsOf(card.args.blocks as unknown[]).map((b) => b.action_id)).toContain(ACTION.approve);
    expect(textOf(card.args.blocks as unknown[])).toContain('entra:Platform');
    expect(h.standIn.violations).toEqual([]);
  });

  it('offers nothing to someone in neither group', async () => {
    const view = await openRequestModal(h, olga);
    expect(view.callback_id).toBe(VIEW.notice);
  });
});
