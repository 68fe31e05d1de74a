/**
 * The Teams tab console's editors over HTTP (docs/ARCHITECTURE.md, "Personal tab"): settings,
 * flows and integrations, edited as the page does, with forms as a new admin fills them (only the
 * required fields, defaults everywhere) and with every option the forms offer. What they save is
 * then used through the core and the tab: requests are made and approved under the flows, the
 * integration connects to the test PostgreSQL. Non-admins are refused at every route and change
 * nothing; secrets never come back.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONNECTOR_FACTORIES } from '../../src/app.js';
import { SecretBox } from '../../src/store/secrets.js';
import type { WebServer } from '../../src/web/server.js';
import { BotFrameworkStandIn } from '../support/bot-framework-stand-in.js';
import { startOktaStandIn } from '../support/okta-stand-in.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  person,
  schemaId,
  type Fixture,
} from '../support/fixture.js';
import { startTabServer, tabRequest, type Json } from '../support/teams-tab-server.js';

const APP_ID = '4d3c2b1a-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const PEOPLE = {
  ada: { username: 'ada@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000a2' },
  bob: { username: 'bob@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000b2' },
  carol: { username: 'carol@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000c2' },
  dave: { username: 'dave@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000d2' },
  admin: { username: 'admin@example.com', oid: '6f1b2c3d-0000-4000-8000-0000000000e2' },
};
type Who = keyof typeof PEOPLE;
/** The password given to integrations added through the tab (the test cluster trusts any). */
const SECRET = 'Tab-s3cret-never-shown-9f2';

let fx: Fixture;
let standIn: BotFrameworkStandIn;
let web: WebServer;
let dropDb: () => Promise<void>;
let database: string;
let billing: string;
let tokens: Record<Who, string>;
/** Every answer the API gave in this file, to check that no secret ever came back. */
const answers: string[] = [];

beforeAll(async () => {
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  fx = await createFixture('teams_tab_admin');
  ({ database, drop: dropDb } = await createPgDatabase('tabadmin'));
  await addPgIntegration(fx.latch, 'pg', { databases: [database] });
  billing = schemaId(database);
  await fx.latch.admin.saveBundle(admin, {
    name: 'billing-read',
    targets: [{ integration: 'pg', resource: billing, permission: 'read' }],
  });
  web = await startTabServer(fx.latch, {
    appId: APP_ID,
    tenantId: TENANT_ID,
    authority: standIn.entraAuthority,
  });
  tokens = Object.fromEntries(
    await Promise.all(
      (Object.keys(PEOPLE) as Who[]).map(async (w) => [w, await standIn.signUserToken(PEOPLE[w])]),
    ),
  ) as Record<Who, string>;
}, 60_000);

afterAll(async () => {
  await web?.close(1_000);
  await standIn?.close();
  await fx?.close();
  await dropDb?.();
});

async function call(who: Who, method: 'GET' | 'POST', path: string, body?: unknown) {
  return tabRequest(web, tokens[who], method, path, body, { seen: (text) => answers.push(text) });
}

const billingKey = () => `pg|${billing}`;

/** The new-flow form as the page gets it, with what the admin filled in. */
async function newFlow(fill: (form: Json) => void) {
  const blank = await call('admin', 'GET', '/admin/flows/new');
  expect(blank.status).toBe(200);
  const form = blank.body.form;
  fill(form);
  return call('admin', 'POST', '/admin/flows', form);
}

/** A flow from the new-flow form; its id. */
async function createFlow(fill: (form: Json) => void): Promise<string> {
  const saved = await newFlow(fill);
  expect([saved.status, saved.body.error]).toEqual([200, undefined]);
  return saved.body.flow.id as string;
}

/** Only the required fields: a name, who may ask, an integration and a permission. */
function required(name: string, who = 'ada@example.com') {
  return (form: Json) => {
    form.name = name;
    form.people = who;
    form.targets[0].integration = 'pg';
    form.targets[0].permissions = ['read'];
  };
}

/** Ends what Ada holds or waits for, so that she may ask for billing again. */
async function clearAda() {
  const ada = person('ada');
  const mine = await fx.latch.queries.myAccess(ada);
  for (const r of mine.pending) await fx.latch.requests.cancel(ada, r.id);
  for (const { request: r } of mine.active)
    if (r.state === 'active') await fx.latch.requests.revoke(ada, r.id, 'next test');
  for (let i = 0; i < 10 && (await fx.latch.queries.myAccess(ada)).active.length; i++)
    await fx.latch.sweeps.tickUrgent();
  expect(await fx.latch.queries.myAccess(ada)).toEqual({ active: [], pending: [] });
}

/** Ada asks for billing under the flow from the tab's request form, its defaults left alone. */
async function askUnder(flowId: string, extra: Record<string, unknown> = {}) {
  await clearAda();
  const form = await call('ada', 'POST', '/options', { selected: [billingKey()], flowId });
  expect(form.body.selectedFlowId).toBe(flowId);
  const made = await call('ada', 'POST', '/requests', {
    selected: [billingKey()],
    flowId,
    permission: form.body.permissions[0],
    duration: form.body.selectedDuration ?? form.body.durations[0],
    justification: 'INC-42',
    ...extra,
  });
  expect([made.status, made.body.error]).toEqual([200, undefined]);
  return made.body as { request: { id: string; state: string }; auto: boolean; waitingOn: string };
}

async function approve(who: Who, id: string, reason?: string) {
  const r = await call(who, 'POST', `/requests/${id}/approve`, reason ? { reason } : {});
  expect([r.status, r.body.error]).toEqual([200, undefined]);
  return r.body.request as { state: string };
}

/** The request once the sweeps have run: granted means Latch gave the access on PostgreSQL. */
async function settled(id: string) {
  await fx.latch.sweeps.tickUrgent();
  const mine = await fx.latch.queries.myAccess(person('ada'));
  return mine.active.find((a) => a.request.id === id)?.request ?? mine.pending.find((r) => r.id === id);
}

async function storedFlow(id: string) {
  return (await fx.latch.queries.flows(admin)).find((f) => f.id === id);
}

describe('settings', () => {
  it('saves with only the required fields, every optional one empty, and Latch keeps working', async () => {
    // Optional fields set first, so that leaving them empty has something to clear.
    const set = await call('admin', 'POST', '/admin/settings', {
      admins: 'ops@example.com',
      fallbackEnabled: true,
      fallbackApprovers: 'sec@example.com',
      selfExtension: 'flow',
      expiryWarningMinutes: '15',
      auditChannel: 'C0123ABCDE',
    });
    expect([set.status, set.body.error]).toEqual([200, undefined]);
    expect(set.body.settings.auditChannel).toBe('C0123ABCDE');

    // As the page sends the form with every optional field left empty.
    const emptied = await call('admin', 'POST', '/admin/settings', {
      admins: '',
      fallbackEnabled: true,
      fallbackApprovers: '',
      selfExtension: 'flow',
      expiryWarningMinutes: '15',
      auditChannel: '',
    });
    expect([emptied.status, emptied.body.error]).toEqual([200, undefined]);
    expect(emptied.body.settings).toEqual({
      admins: [],
      fallback: { enabled: true, approvers: [], maxMinutes: 240 },
      expiryWarningMinutes: 15,
      selfExtension: 'flow',
    });
    expect(emptied.body.envAdmins).toEqual(['admin@example.com']);
    // And as an API caller that leaves them out altogether.
    const omitted = await call('admin', 'POST', '/admin/settings', {
      fallbackEnabled: true,
      selfExtension: 'flow',
      expiryWarningMinutes: 15,
    });
    expect(omitted.body.settings).toEqual(emptied.body.settings);

    // Latch keeps working: the settings read back, the admin is still one, a request goes through.
    expect((await call('admin', 'GET', '/admin/settings')).body.settings).toEqual(emptied.body.settings);
    expect((await call('admin', 'GET', '/me')).body.isAdmin).toBe(true);
    const flowId = await createFlow(required('After settings'));
    const asked = await askUnder(flowId);
    expect(asked.auto).toBe(true);
    expect((await settled(asked.request.id))?.state).toBe('active');
  });

  it('saves every field the form offers, and they take effect', async () => {
    const saved = await call('admin', 'POST', '/admin/settings', {
      admins: 'ops@example.com, @platform\n6f1b2c3d-0000-4000-8000-0000000000d2',
      fallbackEnabled: false,
      fallbackApprovers: 'sec@example.com @secops',
      fallbackMaxMinutes: 60,
      selfExtension: 'approval',
      expiryWarningMinutes: '30',
      auditChannel: 'c0123abcde',
    });
    expect([saved.status, saved.body.error]).toEqual([200, undefined]);
    expect(saved.body.settings).toEqual({
      admins: ['ops@example.com', '@platform', '6f1b2c3d-0000-4000-8000-0000000000d2'],
      fallback: {
        enabled: false,
        approvers: [
          { type: 'user', id: 'sec@example.com' },
          { type: 'group', id: 'secops' },
        ],
        maxMinutes: 60,
      },
      expiryWarningMinutes: 30,
      selfExtension: 'approval',
      auditChannel: 'C0123ABCDE',
    });
    // Dave is named by his Entra object id: the tab's console is his now.
    expect((await call('dave', 'GET', '/me')).body.isAdmin).toBe(true);
    expect((await call('dave', 'GET', '/admin/settings')).status).toBe(200);
    expect(await fx.latch.queries.isAdmin(person('ops'))).toBe(true);
    expect(await fx.latch.queries.isAdmin(person('someone', ['platform']))).toBe(true);
    // The fallback flow is off, and at most an hour.
    const fallback = (await fx.latch.queries.offers(person('ada'))).flows.find((f) => f.id === 'fallback');
    expect(fallback).toMatchObject({ enabled: false, duration: { maxMinutes: 60 } });

    await call('admin', 'POST', '/admin/settings', {
      fallbackEnabled: true,
      selfExtension: 'flow',
      expiryWarningMinutes: '15',
    });
    expect((await call('dave', 'GET', '/me')).body.isAdmin).toBe(false);
  });

  it('puts a mistake next to its field and changes nothing', async () => {
    const before = (await call('admin', 'GET', '/admin/settings')).body.settings;
    const bad = await call('admin', 'POST', '/admin/settings', {
      admins: 'ops@example.com bob',
      fallbackEnabled: false,
      fallbackApprovers: 'security team',
      selfExtension: 'never',
      expiryWarningMinutes: 'soon',
      auditChannel: '#general',
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual({
      admins: 'bob is not an email address, an Entra object id or an @group.',
      fallbackApprovers: 'security is not an email address or an @group.',
      expiryWarningMinutes: 'Give a whole number of minutes between 0 (off) and 10080 (a week).',
      auditChannel: expect.stringMatching(/^Give a Slack channel id/),
    });
    const cleared = await call('admin', 'POST', '/admin/settings', {
      fallbackEnabled: true,
      selfExtension: 'flow',
      expiryWarningMinutes: '',
    });
    expect(cleared.body.fields).toEqual({
      expiryWarningMinutes: 'Give a whole number of minutes between 0 (off) and 10080 (a week).',
    });
    expect((await call('admin', 'GET', '/admin/settings')).body.settings).toEqual(before);
  });
});

describe('flows', () => {
  it('creates a flow from only the required fields, and a request under it is made and approved', async () => {
    const blank = await call('admin', 'GET', '/admin/flows/new');
    expect(blank.body.form).toMatchObject({
      maxMinutes: '240',
      timeoutHours: '24',
      extensionMode: 'none',
      requestFor: 'self',
      steps: [{ people: '', rule: 'any' }],
    });
    expect(blank.body.choices.integrations).toContain('pg');
    expect(blank.body.choices.resources).toContainEqual(
      expect.objectContaining({ integration: 'pg', id: billing, permissions: ['read', 'write', 'admin'] }),
    );
    const id = await createFlow(required('Required only'));
    expect(await storedFlow(id)).toMatchObject({
      name: 'Required only',
      enabled: true,
      grantees: { include: [{ type: 'user', id: 'ada@example.com' }], exclude: [] },
      targets: [{ integration: 'pg', include: [], permissions: ['read'] }],
      approval: { steps: [], timeoutMinutes: 1440, reminderMinutes: 60 },
      duration: { maxMinutes: 240, choicesMinutes: [], allowIndefinite: false },
      extension: { mode: 'none', maxCount: 1 },
      requestFor: 'self',
    });
    expect((await storedFlow(id))?.approval).not.toHaveProperty('escalation');
    const asked = await askUnder(id);
    expect(asked.auto).toBe(true);
    expect((await settled(asked.request.id))?.state).toBe('active');

    // The same with one approver named: Bob approves from the tab.
    const withApprover = await createFlow((form) => {
      required('Required plus approver')(form);
      form.steps[0].people = 'bob@example.com';
    });
    const waiting = await askUnder(withApprover);
    expect(waiting).toMatchObject({ auto: false, waitingOn: 'bob@example.com' });
    expect((await approve('bob', waiting.request.id)).state).not.toBe('pending');
    expect((await settled(waiting.request.id))?.state).toBe('active');
  });

  it('saves who may be asked for, keeps it on edit, and reads a form without it as only themselves', async () => {
    const id = await createFlow((form) => {
      required('For reports')(form);
      form.requestFor = 'reports';
    });
    expect((await storedFlow(id))?.requestFor).toBe('reports');
    const edit = await call('admin', 'GET', `/admin/flows/${id}/edit`);
    expect(edit.body.form.requestFor).toBe('reports');
    // An older page (or an API caller) that does not send the field.
    const older = await createFlow((form) => {
      required('Without the field')(form);
      delete form.requestFor;
    });
    expect((await storedFlow(older))?.requestFor).toBe('self');
    const wrong = await newFlow((form) => {
      required('Wrong value')(form);
      form.requestFor = 'everybody';
    });
    expect(wrong.status).toBe(400);
  });

  it.each([
    ['any', { people: 'bob@example.com, carol@example.com', rule: 'any' }, ['bob']],
    ['all', { people: 'bob@example.com, carol@example.com', rule: 'all' }, ['bob', 'carol']],
    [
      'quorum',
      { people: 'bob@example.com carol@example.com dave@example.com', rule: 'quorum', quorum: '2' },
      ['bob', 'dave'],
    ],
  ] as const)(
    'with the "%s" rule, approves a request once enough approvers agree',
    async (rule, step, approvers) => {
      const id = await createFlow((form) => {
        required(`Rule ${rule}`)(form);
        Object.assign(form.steps[0], step);
      });
      expect((await storedFlow(id))?.approval.steps[0]?.rule).toEqual(
        rule === 'quorum' ? { type: 'quorum', count: 2 } : { type: rule },
      );
      const asked = await askUnder(id);
      for (const [i, who] of approvers.entries()) {
        const state = (await approve(who, asked.request.id)).state;
        expect([who, state]).toEqual([who, i === approvers.length - 1 ? 'approved' : 'pending']);
      }
      expect((await settled(asked.request.id))?.state).toBe('active');
    },
  );

  it.each(['none', 'direct', 'approval'] as const)(
    'with extensions "%s", approves a request, and extends it as the flow says',
    async (mode) => {
      const id = await createFlow((form) => {
        required(`Extensions ${mode}`)(form);
        form.steps[0].people = 'bob@example.com';
        form.extensionMode = mode;
      });
      const asked = await askUnder(id);
      await approve('bob', asked.request.id);
      expect((await settled(asked.request.id))?.state).toBe('active');
      const offer = (await call('ada', 'GET', '/me')).body.mine.active.find(
        (a: Json) => a.request.id === asked.request.id,
      ).extension;
      if (mode === 'none') {
        expect(offer.allowed).toBe(false);
        expect(
          (await call('ada', 'POST', `/requests/${asked.request.id}/extend`, { minutes: 60 })).status,
        ).toBe(403);
        return;
      }
      expect(offer).toMatchObject({ allowed: true, needsApproval: mode === 'approval' });
      const extended = await call('ada', 'POST', `/requests/${asked.request.id}/extend`, { minutes: 60 });
      expect([extended.status, extended.body.error]).toEqual([200, undefined]);
      if (mode === 'approval') {
        // Asked, not yet extended: Bob, the flow's approver, agrees.
        expect(fx.notifier.of('extension.requested', asked.request.id)).toHaveLength(1);
        expect((await settled(asked.request.id))?.extensionCount).toBe(0);
        await fx.latch.requests.approveExtension(person('bob'), asked.request.id);
      }
      const after = await settled(asked.request.id);
      expect(after?.extensionCount).toBe(1);
    },
  );

  it('saves every option the form offers, and a request under the flow goes through both steps', async () => {
    const id = await createFlow((form) => {
      form.name = 'Everything';
      form.description = 'Billing, carefully';
      form.everyone = true;
      form.people = 'ada@example.com';
      form.groups = '@finance';
      form.targets[0] = {
        integration: 'pg',
        resources: [billing],
        selectors: 'env=prod & team=billing, invoices',
        permissions: ['read', 'write'],
      };
      form.bundles = ['billing-read'];
      form.steps = [
        { people: 'ada@example.com', groups: 'dba', owners: false, rule: 'any', quorum: '' },
        { people: 'bob@example.com', groups: '', owners: true, manager: true, rule: 'any', quorum: '' },
      ];
      form.timeoutHours = '8';
      form.reminderMinutes = '30';
      form.escalateMinutes = '120';
      form.escalatePeople = 'carol@example.com';
      form.escalateGroups = '@oncall';
      form.maxMinutes = '480';
      form.choices = [60, 120];
      form.indefinite = true;
      form.extensionMode = 'direct';
      form.extensionCount = '3';
      form.requireJustification = true;
      form.requireReason = true;
      form.allowSelfApproval = true;
    });
    const flow = await storedFlow(id);
    expect(flow).toMatchObject({
      description: 'Billing, carefully',
      grantees: {
        include: [
          { type: 'everyone' },
          { type: 'user', id: 'ada@example.com' },
          { type: 'group', id: 'finance' },
        ],
      },
      targets: [
        {
          integration: 'pg',
          include: [{ id: billing }, { tags: { env: 'prod', team: 'billing' } }, { name: 'invoices' }],
          permissions: ['read', 'write'],
        },
      ],
      bundles: ['billing-read'],
      approval: {
        steps: [
          {
            approvers: [
              { type: 'user', id: 'ada@example.com' },
              { type: 'group', id: 'dba' },
            ],
            rule: { type: 'any' },
          },
          {
            approvers: [
              { type: 'user', id: 'bob@example.com' },
              { type: 'resource_owner' },
              { type: 'manager' },
            ],
            rule: { type: 'any' },
          },
        ],
        requireReason: true,
        allowSelfApproval: true,
        timeoutMinutes: 480,
        reminderMinutes: 30,
        escalation: {
          afterMinutes: 120,
          to: [
            { type: 'user', id: 'carol@example.com' },
            { type: 'group', id: 'oncall' },
          ],
        },
      },
      duration: { maxMinutes: 480, choicesMinutes: [60, 120], allowIndefinite: true },
      requireJustification: true,
      extension: { mode: 'direct', maxCount: 3 },
    });

    // The form reads back as it was filled in, and saving it unchanged changes nothing.
    const edit = await call('admin', 'GET', `/admin/flows/${id}/edit`);
    expect(edit.body.form.name).toBe('Everything');
    expect(edit.body.form.targets[0].selectors).toBe('env=prod & team=billing, invoices');
    expect(edit.body.form.steps[1].manager).toBe(true);
    const again = await call('admin', 'POST', `/admin/flows/${id}`, edit.body.form);
    expect([again.status, again.body.error]).toEqual([200, undefined]);
    expect(await storedFlow(id)).toEqual(flow);

    // Ada asks (justified), approves her own first step (a reason is required), Bob the second.
    const asked = await askUnder(id, { justification: 'quarter close' });
    const noReason = await call('ada', 'POST', `/requests/${asked.request.id}/approve`, {});
    expect(noReason.status).toBe(400);
    expect((await approve('ada', asked.request.id, 'my own, allowed')).state).toBe('pending');
    expect((await approve('bob', asked.request.id, 'fine')).state).toBe('approved');
    expect((await settled(asked.request.id))?.state).toBe('active');
  });

  it('edits a flow: the change is saved, what the form does not show is kept', async () => {
    const id = await createFlow(required('To edit'));
    const edit = await call('admin', 'GET', `/admin/flows/${id}/edit`);
    expect(edit.body.kept).toEqual([]);
    const form = edit.body.form;
    form.name = 'Edited';
    form.targets[0].permissions = ['write'];
    form.steps[0].people = 'carol@example.com';
    const saved = await call('admin', 'POST', `/admin/flows/${id}`, form);
    expect([saved.status, saved.body.flow.name]).toEqual([200, 'Edited']);
    expect(await storedFlow(id)).toMatchObject({
      name: 'Edited',
      targets: [{ permissions: ['write'] }],
      approval: {
        steps: [{ approvers: [{ type: 'user', id: 'carol@example.com' }], rule: { type: 'any' } }],
      },
    });
  });

  it('refuses a quorum larger than its approvers on that field, and saves nothing', async () => {
    const count = (await fx.latch.queries.flows(admin)).length;
    const bad = await newFlow((form) => {
      required('Impossible quorum')(form);
      form.steps[0] = {
        people: 'bob@example.com, carol@example.com',
        groups: '',
        owners: false,
        rule: 'quorum',
        quorum: '3',
      };
    });
    expect(bad.status).toBe(400);
    expect(bad.body.fields).toEqual({
      'steps.0.quorum': 'a quorum of 3 can never be reached: this step names 2 approvers',
    });
    expect(bad.body.error).toBe('a quorum of 3 can never be reached: this step names 2 approvers');
    expect(await fx.latch.queries.flows(admin)).toHaveLength(count);
  });

  it('puts every other mistake on its field, and saves nothing', async () => {
    const count = (await fx.latch.queries.flows(admin)).length;
    const empty = await newFlow(() => {});
    expect(empty.body.fields).toEqual({
      name: 'Give the flow a name.',
      grantees: 'Choose who may ask: people, groups or everyone.',
      targets: 'Choose an integration (or at least one bundle).',
    });
    const wrong = await newFlow((form) => {
      required('Wrong')(form);
      form.people = 'ada';
      form.targets[0].permissions = [];
      form.steps[0].people = 'bob@example.com';
      form.steps[0].rule = 'quorum';
      form.timeoutHours = '0';
      form.extensionCount = 'many';
    });
    expect(wrong.body.fields).toEqual({
      grantees: 'ada is not an email address.',
      'targets.0.permissions': 'Choose at least one permission.',
      'steps.0.quorum': 'Give how many must approve: a whole number from 1 to 100.',
      timeoutHours: 'Give a whole number of hours between 1 and 720.',
      extensionCount: 'Give a whole number between 0 and 100.',
    });
    const durations = await newFlow((form) => {
      required('Durations')(form);
      form.maxMinutes = '60';
      form.choices = [30, 120];
    });
    expect(durations.body.fields).toEqual({ choices: 'every choice must be within maxMinutes' });
    const noLimit = await newFlow((form) => {
      required('No limit')(form);
      form.maxMinutes = '';
    });
    expect(noLimit.body.fields).toEqual({ maxMinutes: 'set maxMinutes, choicesMinutes or allowIndefinite' });
    const lateEscalation = await newFlow((form) => {
      required('Late escalation')(form);
      form.timeoutHours = '2';
      form.escalateMinutes = '120';
      form.escalatePeople = 'carol';
    });
    expect(lateEscalation.body.fields).toEqual({ escalateTo: 'carol is not an email address.' });
    const afterTimeout = await newFlow((form) => {
      required('Late escalation')(form);
      form.timeoutHours = '2';
      form.escalateMinutes = '120';
    });
    expect(afterTimeout.body.fields).toEqual({
      escalateMinutes: 'escalation must come before the time-out: escalate after less than 120 minutes',
    });
    const taken = await newFlow(required('Required only'));
    expect(taken).toEqual({
      status: 409,
      body: {
        error: 'A flow called Required only already exists.',
        fields: { name: 'A flow called Required only already exists.' },
      },
    });
    const gone = await newFlow((form) => {
      required('Gone')(form);
      form.targets[0].integration = 'nowhere';
    });
    expect(gone.body.fields).toEqual({ targets: 'There is no integration called nowhere.' });
    expect(await fx.latch.queries.flows(admin)).toHaveLength(count);
  });

  it('deletes a flow', async () => {
    const id = await createFlow(required('Short-lived'));
    const deleted = await call('admin', 'POST', `/admin/flows/${id}/delete`);
    expect(deleted.status).toBe(200);
    expect(deleted.body.flows.map((f: Json) => f.id)).not.toContain(id);
    expect(await storedFlow(id)).toBeUndefined();
    expect((await call('admin', 'POST', `/admin/flows/${id}/delete`)).status).toBe(404);
  });
});

describe('integrations', () => {
  const pgUrl = () => new URL(process.env.PG_URL!);

  /** The PostgreSQL form as a new admin fills it: host, user and password; defaults elsewhere. */
  function pgForm(name: string) {
    const u = pgUrl();
    return {
      name,
      type: 'postgresql',
      description: '',
      values: {
        host: u.hostname,
        port: u.port,
        user: decodeURIComponent(u.username),
        database: '',
        ssl: false,
        mode: '',
        databases: database,
        rolePrefix: '',
        poolSize: '',
        'roleMap.read': '',
        'roleMap.write': '',
        'roleMap.admin': '',
        loginMapping: '',
      },
      other: '',
      secrets: { password: SECRET },
    };
  }

  async function storedPassword(name: string): Promise<string | undefined> {
    const doc = await fx.db.models.Integration.findOne({ name }).lean();
    const sealed = (doc?.secrets as Record<string, string> | undefined)?.password;
    return sealed ? new SecretBox(fx.encryptionKey).open(sealed) : undefined;
  }

  it("offers each type's form", async () => {
    const blank = await call('admin', 'GET', '/admin/integrations/new');
    expect(blank.body.types).toEqual(Object.keys(CONNECTOR_FACTORIES));
    expect(blank.body.forms.postgresql.fields.map((f: Json) => f.key)).toEqual(
      expect.arrayContaining(['host', 'port', 'user', 'database', 'mode', 'databases']),
    );
    expect(blank.body.forms.postgresql.secrets).toEqual([expect.objectContaining({ key: 'password' })]);
  });

  it('adds an integration with a secret, then edits it with the secret left blank: the secret is kept', async () => {
    const added = await call('admin', 'POST', '/admin/integrations', pgForm('pg-tab'));
    expect([added.status, added.body.error, added.body.discoveryError]).toEqual([200, undefined, undefined]);
    expect(added.body.resources).toBeGreaterThan(0);
    expect(added.body.integrations).toContainEqual(
      expect.objectContaining({ name: 'pg-tab', healthy: true, resources: added.body.resources }),
    );
    expect(await storedPassword('pg-tab')).toBe(SECRET);
    const u = pgUrl();
    expect((await fx.latch.queries.integrationForEdit(admin, 'pg-tab'))?.config).toEqual({
      host: u.hostname,
      port: Number(u.port),
      user: decodeURIComponent(u.username),
      databases: [database],
    });

    const edit = await call('admin', 'GET', '/admin/integrations/pg-tab/edit');
    expect(edit.body.integration).toEqual({
      name: 'pg-tab',
      type: 'postgresql',
      description: '',
      values: { host: u.hostname, port: u.port, user: decodeURIComponent(u.username), databases: database },
      other: '',
      storedSecretNames: ['password'],
    });
    const form = {
      ...pgForm('pg-tab'),
      description: 'the test cluster',
      values: { ...edit.body.integration.values, poolSize: '4' },
      secrets: { password: '' },
    };
    const edited = await call('admin', 'POST', '/admin/integrations/pg-tab', form);
    expect([edited.status, edited.body.error, edited.body.discoveryError]).toEqual([
      200,
      undefined,
      undefined,
    ]);
    expect(await storedPassword('pg-tab')).toBe(SECRET);
    expect(await fx.latch.queries.integrationForEdit(admin, 'pg-tab')).toMatchObject({
      description: 'the test cluster',
      config: expect.objectContaining({ poolSize: 4 }),
      storedSecretNames: ['password'],
    });

    // It still connects: discovery on demand, health, and a grant under a flow made in the tab.
    const again = await call('admin', 'POST', '/admin/integrations/pg-tab/discover');
    expect([again.status, again.body.resources]).toEqual([200, added.body.resources]);
    const flowId = await createFlow((f) => {
      required('On pg-tab')(f);
      f.targets[0].integration = 'pg-tab';
      f.targets[0].resources = [billing];
    });
    await clearAda();
    const made = await call('ada', 'POST', '/requests', {
      selected: [`pg-tab|${billing}`],
      flowId,
      permission: 'read',
      duration: 60,
    });
    expect([made.status, made.body.error]).toEqual([200, undefined]);
    expect((await settled(made.body.request.id))?.state).toBe('active');
  });

  it('puts each mistake on its field and stores nothing', async () => {
    const badPort = await call('admin', 'POST', '/admin/integrations', {
      ...pgForm('pg-bad'),
      values: { ...pgForm('pg-bad').values, port: 'abc', host: '' },
      other: 'hots: db.internal',
    });
    expect(badPort.status).toBe(400);
    expect(badPort.body.fields).toEqual({
      'config.port': 'Give a whole number.',
      'config.host': 'Host is required.',
    });
    const core = await call('admin', 'POST', '/admin/integrations', {
      ...pgForm('pg-bad'),
      values: { ...pgForm('pg-bad').values, poolSize: '500', rolePrefix: 'Bad-Prefix' },
      other: 'hots: db.internal',
    });
    expect(core.body.fields).toEqual({
      'config.poolSize': expect.stringMatching(/100/),
      'config.rolePrefix': 'must be lowercase letters, digits and _ (not starting with a digit).',
      config: 'hots: unknown field.',
    });
    const badName = await call('admin', 'POST', '/admin/integrations', { ...pgForm('no spaces please') });
    expect(badName.body.fields).toEqual({ name: 'Letters, digits, - and _ only, up to 60 characters.' });
    const taken = await call('admin', 'POST', '/admin/integrations', pgForm('pg'));
    expect(taken.body.fields).toEqual({ name: 'An integration called pg already exists; edit it instead.' });
    expect(await fx.latch.queries.integrationForEdit(admin, 'pg-bad')).toBeNull();
  });
});

describe('who may edit', () => {
  it('refuses someone who is not an admin at every editing route, and nothing changes', async () => {
    const flows = await fx.latch.queries.flows(admin);
    const settings = await fx.latch.queries.settings(admin);
    const integration = await fx.latch.queries.integrationForEdit(admin, 'pg');
    const id = flows[0]!.id;
    const routes: Array<['GET' | 'POST', string, unknown?]> = [
      ['GET', '/admin/settings'],
      [
        'POST',
        '/admin/settings',
        {
          admins: 'ada@example.com',
          fallbackEnabled: false,
          selfExtension: 'never',
          expiryWarningMinutes: 0,
        },
      ],
      ['GET', '/admin/flows/new'],
      ['GET', `/admin/flows/${id}/edit`],
      [
        'POST',
        '/admin/flows',
        { name: 'Mine', everyone: true, targets: [{ integration: 'pg', permissions: ['admin'] }] },
      ],
      [
        'POST',
        `/admin/flows/${id}`,
        { name: 'Mine', everyone: true, targets: [{ integration: 'pg', permissions: ['admin'] }] },
      ],
      ['POST', `/admin/flows/${id}/delete`],
      ['GET', '/admin/integrations/new'],
      ['GET', '/admin/integrations/pg/edit'],
      ['POST', '/admin/integrations', { name: 'mine', type: 'postgresql', values: { host: 'x', user: 'y' } }],
      ['POST', '/admin/integrations/pg', { type: 'postgresql', values: { host: 'elsewhere', user: 'y' } }],
      ['POST', '/admin/integrations/pg/discover'],
      ['POST', '/admin/context-sources/okta/sync'],
      // Malformed bodies are refused for who sends them, before what is wrong with them is said.
      ['POST', '/admin/settings', { admins: 42 }],
      ['POST', '/admin/flows', 'nonsense'],
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
    expect(await fx.latch.queries.flows(admin)).toEqual(flows);
    expect(await fx.latch.queries.settings(admin)).toEqual(settings);
    expect(await fx.latch.queries.integrationForEdit(admin, 'pg')).toEqual(integration);
  });
});

describe('secrets', () => {
  it('never came back in any answer of this file', () => {
    expect(answers.length).toBeGreaterThan(50);
    expect(answers.filter((a) => a.includes(SECRET))).toEqual([]);
  });
});

describe('context sources in the tab', () => {
  it('lists each source with how its syncs went, never its secrets, and syncs it on demand', async () => {
    const okta = await startOktaStandIn({ token: 'tab-okta-token-123456' });
    try {
      okta.addGroup('Engineering', ['ada@example.com', 'bo@example.com']);
      await fx.latch.admin.saveContextSource(admin, {
        name: 'okta',
        type: 'okta',
        config: { orgUrl: okta.url },
        secrets: { apiToken: 'tab-okta-token-123456' },
      });
      const before = await call('admin', 'GET', '/admin/integrations');
      expect(before.body.sources).toEqual([
        expect.objectContaining({ name: 'okta', type: 'okta', groups: 0, memberships: 0 }),
      ]);
      const synced = await call('admin', 'POST', '/admin/context-sources/okta/sync', {});
      expect(synced.body.outcome).toEqual({ ok: true, groups: 1, memberships: 2 });
      expect(synced.body.sources[0]).toMatchObject({ groups: 1, memberships: 2, stale: false });
      expect(synced.body.sources[0].lastSuccessAt).toBeDefined();
      // Okta refuses the token: the outcome says why, and the groups of the last good sync stay.
      okta.failNext(401, 1);
      const failed = await call('admin', 'POST', '/admin/context-sources/okta/sync', {});
      expect(failed.body.outcome.ok).toBe(false);
      expect(failed.body.sources[0]).toMatchObject({
        groups: 1,
        memberships: 2,
        lastError: expect.stringContaining('401'),
      });
      expect(JSON.stringify([before.body, synced.body, failed.body])).not.toContain('tab-okta-token-123456');
      expect(
        (await call('admin', 'POST', '/admin/context-sources/nope/sync', {})).status,
      ).toBeGreaterThanOrEqual(400);
    } finally {
      await okta.close();
    }
  });
});
