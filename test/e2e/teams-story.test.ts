/**
 * The whole lifecycle from Teams, as people click it: a request from the card form (only what is
 * required, defaults left alone), both approvers' cards, Approve, the role really created on
 * PostgreSQL, every approver's copy rewritten, a stale click answered, credentials for the
 * requester alone, the expiring card, Extend, and the role dropped at the end.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AdaptiveCard, CardAction, CardElement } from '../../blocks/teams/cards.js';
import { admin, flow, roleExists } from '../support/fixture.js';
import { startGraphStandIn } from '../support/graph-stand-in.js';
import { startTeamsHarness, teamsUser, type TeamsHarness } from '../support/teams-harness.js';

const MIN = 60_000;
const ADA = teamsUser('ada', 1, 'Ada Lovelace');
const BOB = teamsUser('bob', 2, 'Bob Approver');
const CARA = teamsUser('cara', 3, 'Cara Approver');
const DEE = teamsUser('dee', 4, 'Dee Requester');
/** An admin named in LATCH_ADMINS by her Entra object id, not her email. */
const OLGA = teamsUser('olga', 6, 'Olga Admin');

let h: TeamsHarness;

beforeAll(async () => {
  h = await startTeamsHarness('teams_story', { envAdmins: ['admin@example.com', OLGA.aadObjectId] });
  for (const u of [ADA, BOB, CARA, DEE, OLGA]) h.addUser(u);
  for (const u of [ADA, BOB, CARA, DEE, OLGA]) await h.install(u);
  await h.fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: h.billing }], permissions: ['read'] }],
      approval: {
        steps: [
          {
            approvers: [
              { type: 'user', id: 'bob@example.com' },
              { type: 'user', id: 'cara@example.com' },
            ],
          },
        ],
      },
      extension: { mode: 'direct', maxCount: 1 },
    }),
  );
});

afterAll(async () => {
  await h?.close();
});

/** Every input of a card. */
function inputs(card: AdaptiveCard): CardElement[] {
  return card.body.filter((e) => e.type.startsWith('Input.'));
}

function input(card: AdaptiveCard, id: string): CardElement | undefined {
  return inputs(card).find((e) => e.id === id);
}

/** What Teams sends for Action.Execute with associatedInputs: the action's data and every input's value. */
function submission(card: AdaptiveCard, verb: string, changes: Record<string, string> = {}) {
  const action = card.actions!.find((a) => a.verb === verb) as CardAction & { data: Record<string, unknown> };
  const values = Object.fromEntries(inputs(card).map((e) => [e.id as string, String(e.value ?? '')]));
  return { ...action.data, ...values, ...changes };
}

function choiceValue(card: AdaptiveCard, id: string, title: RegExp): string {
  const choices = input(card, id)!.choices as Array<{ title: string; value: string }>;
  return choices.find((c) => title.test(c.title))!.value;
}

/** "title: value" lines of a card (bold title, then the value as written). */
function factsOf(card: AdaptiveCard): Record<string, string> {
  const rows = card.body
    .filter((e) => e.type === 'RichTextBlock')
    .map((e) => (e.inlines as Array<{ text: string }>).map((i) => i.text))
    .filter((t) => t.length === 2 && t[0]!.endsWith(': '));
  return Object.fromEntries(rows.map(([k, v]) => [k!.slice(0, -2), v!]));
}

function errorsOn(card: AdaptiveCard): string[] {
  return card.body
    .filter((e) => e.type === 'TextBlock' && e.color === 'Attention')
    .map((e) => String(e.text));
}

describe('the Teams lifecycle', () => {
  it('takes a request from the card form, has it approved from cards, grants, warns, extends and revokes', async () => {
    // `request` answers with the form: what Ada may ask for, nothing chosen yet.
    const blank = (await h.say(ADA, 'request')).card!;
    expect(input(blank, 'targets')).toMatchObject({ isMultiSelect: true });
    expect(JSON.stringify(input(blank, 'targets'))).toContain('billing');
    expect(blank.actions!.map((a) => a.title)).toEqual(['Submit', 'Update choices']);

    // She picks billing and updates: the flow's permission and its default duration come in.
    const billing = choiceValue(blank, 'targets', /billing/);
    const updated = await h.invoke(
      ADA,
      'latch.requestForm',
      submission(blank, 'latch.requestForm', { targets: billing }),
    );
    const form = updated.value as AdaptiveCard;
    expect(input(form, 'permission')).toMatchObject({ value: 'read' });
    expect(input(form, 'duration')!.value).toBeDefined();
    expect(JSON.stringify(form)).toContain('Billing read: approved by');

    // Submit leaving every default as it is, and no reason (the flow does not ask for one).
    const sent = await h.invoke(ADA, 'latch.requestSubmit', submission(form, 'latch.requestSubmit'));
    expect(sent.type).toBe('application/vnd.microsoft.card.adaptive');
    const sentText = JSON.stringify(sent.value);
    const id = /AR-\d+/.exec(sentText)![0];
    expect(sentText).toMatch(/Waiting for .*bob@example.com/);
    const [request] = (
      await h.fx.latch.queries.myAccess({ id: 'ada@example.com', email: 'ada@example.com', groups: [] })
    ).pending;
    expect(request).toMatchObject({
      id,
      state: 'pending',
      source: 'teams',
      requester: { id: 'ada@example.com' },
    });

    // Both approvers get the card; its refresh names them both, so each sees the live state.
    const isApproval = (card: AdaptiveCard) =>
      JSON.stringify(card).includes(id) && Boolean(card.actions?.some((a) => a.verb === 'latch.approve'));
    const bobCard = (await h.cardTo(BOB, isApproval)).card!;
    const caraCard = (await h.cardTo(CARA, isApproval)).card!;
    expect(new Set(bobCard.refresh!.userIds)).toEqual(new Set([BOB.id, CARA.id]));

    // Bob approves. Cara's copy (and his) is rewritten to say who decided.
    const approve = bobCard.actions!.find((a) => a.verb === 'latch.approve')!;
    const approved = await h.invoke(BOB, 'latch.approve', approve.data as Record<string, unknown>);
    expect(JSON.stringify(approved.value)).toContain('Approved by you.');
    for (const u of [BOB, CARA])
      await h.standIn.waitForCall(
        (c) =>
          c.operation === 'updateActivity' &&
          c.conversationId === h.personalChat(u) &&
          JSON.stringify(c.body).includes('Approved by bob@example.com'),
      );
    // Cara clicks her stale card: a clear answer, nothing changes.
    const stale = await h.invoke(
      CARA,
      'latch.approve',
      caraCard.actions![0]!.data as Record<string, unknown>,
    );
    expect(String(stale.value)).toMatch(new RegExp(`${id} was already approved by bob@example.com`));

    // Granted on PostgreSQL; the credentials are for Ada alone.
    await h.fx.latch.sweeps.tickUrgent();
    const granted = (
      await h.cardTo(
        ADA,
        (c) =>
          JSON.stringify(c).includes(id) &&
          Boolean(c.actions?.some((a) => a.verb === 'latch.showCredentials')),
      )
    ).card!;
    const show = granted.actions!.find((a) => a.verb === 'latch.showCredentials')!.data as Record<
      string,
      unknown
    >;
    expect(String((await h.invoke(CARA, 'latch.showCredentials', show)).value)).toBe(
      'Only the requester can see these credentials.',
    );
    const username = factsOf((await h.invoke(ADA, 'latch.showCredentials', show)).value).username;
    expect(username).toBeDefined();
    expect(await roleExists(username!)).toBe(true);

    // Warned before the end, with Extend; extending keeps the role past the old end.
    const expiresAt = (await h.fx.latch.queries.activeAccess(admin)).find((r) => r.id === id)!.expiresAt!;
    h.fx.clock.current = new Date(expiresAt.getTime() - 9 * MIN);
    await h.fx.latch.sweeps.tickRelaxed();
    const expiring = (
      await h.cardTo(
        ADA,
        (c) => JSON.stringify(c).includes(id) && Boolean(c.actions?.some((a) => a.verb === 'latch.extend')),
      )
    ).card!;
    const extend = expiring.actions!.find((a) => a.verb === 'latch.extend')!.data as { minutes: number };
    await h.invoke(ADA, 'latch.extend', extend as unknown as Record<string, unknown>);
    await h.standIn.waitForCall(
      (c) => c.conversationId === h.personalChat(ADA) && String(c.body.text).startsWith(`${id} is extended`),
    );
    h.fx.clock.current = new Date(expiresAt.getTime() + MIN);
    await h.fx.latch.sweeps.tickUrgent();
    expect(await roleExists(username!)).toBe(true);

    // At the new end the role is dropped, and Ada is told.
    h.fx.clock.current = new Date(expiresAt.getTime() + (extend.minutes + 1) * MIN);
    await h.fx.latch.sweeps.tickUrgent();
    expect(await roleExists(username!)).toBe(false);
    await h.standIn.waitForCall(
      (c) =>
        c.conversationId === h.personalChat(ADA) &&
        String(c.body.text).includes(`${id}: your access`) &&
        String(c.body.text).includes('expired'),
    );
  });

  it('shows what is wrong on the card, under the field, and asks for nothing', async () => {
    await h.fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Billing write',
        targets: [{ integration: 'pg', include: [{ id: h.billing }], permissions: ['write'] }],
        approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
        requireJustification: true,
      }),
    );
    const count = async () =>
      (await h.fx.latch.queries.myAccess({ id: 'dee@example.com', email: 'dee@example.com', groups: [] }))
        .pending.length;
    const blank = (await h.say(DEE, 'request')).card!;

    // Nothing chosen.
    const none = (await h.invoke(DEE, 'latch.requestSubmit', submission(blank, 'latch.requestSubmit')))
      .value as AdaptiveCard;
    expect(errorsOn(none)).toEqual(['Choose at least one resource or a bundle.']);

    // `request billing` picks billing; two flows offer it (and the fallback flow), so the flow is a choice.
    const picked = (await h.say(DEE, 'request billing')).card!;
    expect((input(picked, 'targets')!.value as string).split(',')).toHaveLength(1);
    const flows = input(picked, 'flow')!.choices as Array<{ title: string; value: string }>;
    expect(flows.map((f) => f.title).sort()).toEqual(['Billing read', 'Billing write', 'Fallback flow']);

    // Choosing another flow without Update choices: the card is redrawn for it first.
    const writeFlow = flows.find((f) => f.title === 'Billing write')!.value;
    const redrawn = (
      await h.invoke(
        DEE,
        'latch.requestSubmit',
        submission(picked, 'latch.requestSubmit', { flow: writeFlow }),
      )
    ).value as AdaptiveCard;
    expect(JSON.stringify(redrawn)).toContain('The choices changed with what you picked');
    expect(input(redrawn, 'permission')).toMatchObject({ value: 'write' });
    expect(input(redrawn, 'justification')).toMatchObject({ isRequired: true });

    // This flow asks for a reason: the refusal sits under the reason box.
    const noReason = (await h.invoke(DEE, 'latch.requestSubmit', submission(redrawn, 'latch.requestSubmit')))
      .value as AdaptiveCard;
    expect(errorsOn(noReason)).toEqual(['Billing write asks for a justification.']);
    const reasonAt = noReason.body.findIndex((e) => e.id === 'justification');
    expect(noReason.body[reasonAt + 1]).toMatchObject({ color: 'Attention' });

    // A duration the flow does not offer is refused, not stretched.
    const badDuration = (
      await h.invoke(
        DEE,
        'latch.requestSubmit',
        submission(redrawn, 'latch.requestSubmit', { duration: '99999', justification: 'month end' }),
      )
    ).value as AdaptiveCard;
    expect(errorsOn(badDuration)).toEqual(['Choose a duration.']);
    expect(await count()).toBe(0);

    // With a reason it goes through, under the flow she chose.
    const ok = await h.invoke(
      DEE,
      'latch.requestSubmit',
      submission(redrawn, 'latch.requestSubmit', { justification: 'month end' }),
    );
    expect(JSON.stringify(ok.value)).toMatch(/AR-\d+.*write on/);
    expect(await count()).toBe(1);
  });

  it('asks for a bundle from the card', async () => {
    await h.fx.latch.admin.saveBundle(admin, {
      name: 'month-end',
      targets: [{ integration: 'pg', resource: h.billing, permission: 'read' }],
    });
    await h.fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Month end',
        targets: [],
        bundles: ['month-end'],
        approval: { steps: [{ approvers: [{ type: 'user', id: 'cara@example.com' }] }] },
      }),
    );
    const HAL = teamsUser('hal', 7, 'Hal Bundler');
    h.addUser(HAL);
    await h.install(HAL);
    const blank = (await h.say(HAL, 'request')).card!;
    expect((input(blank, 'bundle')!.choices as Array<{ value: string }>).map((c) => c.value)).toEqual([
      'month-end',
    ]);
    // Picking the bundle and submitting at once: the card is redrawn for it, then goes through.
    const redrawn = (
      await h.invoke(
        HAL,
        'latch.requestSubmit',
        submission(blank, 'latch.requestSubmit', { bundle: 'month-end' }),
      )
    ).value as AdaptiveCard;
    expect(input(redrawn, 'bundle')).toMatchObject({ value: 'month-end' });
    const sent = await h.invoke(HAL, 'latch.requestSubmit', submission(redrawn, 'latch.requestSubmit'));
    const id = /AR-\d+/.exec(JSON.stringify(sent.value))![0];
    const r = (
      await h.fx.latch.queries.myAccess({ id: 'hal@example.com', email: 'hal@example.com', groups: [] })
    ).pending[0]!;
    expect(r).toMatchObject({ id, bundle: 'month-end', flowName: 'Month end', state: 'pending' });
    // And Cara can approve it from her card.
    const card = (
      await h.cardTo(
        CARA,
        (c) => JSON.stringify(c).includes(id) && Boolean(c.actions?.some((a) => a.verb === 'latch.approve')),
      )
    ).card!;
    const approved = await h.invoke(CARA, 'latch.approve', card.actions![0]!.data as Record<string, unknown>);
    expect(JSON.stringify(approved.value)).toContain('Approved by you.');
  });

  it('answers an old client that sends Action.Submit with the redrawn form as a message', async () => {
    const blank = (await h.say(DEE, 'request')).card!;
    const fallback = blank.actions!.find((a) => a.verb === 'latch.requestForm')!.fallback as {
      data: Record<string, unknown>;
    };
    const a = h.activity(DEE, {
      type: 'message',
      value: { ...fallback.data, targets: choiceValue(blank, 'targets', /billing/) },
    });
    expect((await h.post(a)).status).toBe(200);
    const reply = await h.cardTo(
      DEE,
      (c, call) => call.activityId === a.id && c.body.some((e) => e.id === 'permission'),
    );
    expect(reply.card!.actions!.map((x) => x.verb)).toEqual(['latch.requestSubmit', 'latch.requestForm']);
  });
});

describe('people Latch cannot reach in Teams', () => {
  it('tells the requester who could not be reached and why, audits it, and stops writing to someone who blocked Latch', async () => {
    const DAN = teamsUser('dan', 5, 'Dan Never-installed');
    h.addUser(DAN);
    await h.fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Billing admin',
        targets: [{ integration: 'pg', include: [{ id: h.billing }], permissions: ['admin'] }],
        approval: {
          steps: [
            {
              approvers: [
                { type: 'user', id: 'bob@example.com' },
                { type: 'user', id: 'cara@example.com' },
                { type: 'user', id: 'dan@example.com' },
              ],
            },
          ],
        },
      }),
    );
    h.standIn.blocked.add(h.personalChat(BOB));
    const r = await h.fx.latch.requests.submit(
      { id: 'ada@example.com', email: 'ada@example.com', groups: [] },
      {
        targets: [{ integration: 'pg', resourceId: h.billing, permission: 'admin' }],
        durationMinutes: 30,
        justification: 'migration',
        source: 'teams',
      },
    );
    // Cara gets her card; Ada hears about the two others, with the reason for each.
    await h.cardTo(CARA, (c) => JSON.stringify(c).includes(r.id));
    const told = await h.standIn.waitForCall(
      (c) =>
        c.conversationId === h.personalChat(ADA) && String(c.body.text).startsWith('Latch could not reach'),
    );
    expect(String(told.body.text)).toBe(
      `Latch could not reach bob@example.com (they blocked Latch in Teams), dan@example.com (they have not installed Latch in Teams) about ${r.id}. Ask them to add Latch, or ask an admin.`,
    );
    const audit = await h.fx.latch.queries.auditPage(admin, 20);
    expect(audit.find((e) => e.action === 'approvers.unreached')).toMatchObject({
      subject: `request ${r.id}`,
    });
    expect(await h.teams.people.reach('bob@example.com')).toEqual({
      unreachable: 'they blocked Latch in Teams',
    });

    // Once Bob writes to Latch again he is reachable again.
    h.standIn.blocked.delete(h.personalChat(BOB));
    await h.say(BOB, 'list');
    for (let i = 0; i < 50 && 'unreachable' in (await h.teams.people.reach('bob@example.com')); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await h.teams.people.reach('bob@example.com')).toMatchObject({ userId: BOB.id });
  });
});

describe('Entra ID groups in Teams', () => {
  it('lets a member of a synced Entra group ask from the card, and asks the Entra approver group in Teams', async () => {
    const graph = await startGraphStandIn({
      tenantId: 'contoso.example',
      clientId: 'app-1',
      clientSecret: 'entra-secret-value-123',
    });
    try {
      const IVY = teamsUser('ivy', 8, 'Ivy Platform');
      h.addUser(IVY);
      await h.install(IVY);
      graph.addGroup('Platform');
      graph.addGroup('SRE');
      graph.addGroup('DBA');
      graph.addMember('SRE', 'ivy@example.com');
      graph.addMember('Platform', 'group:SRE'); // Ivy is in Platform through SRE
      graph.addMember('DBA', 'cara@example.com');
      await h.fx.latch.admin.saveContextSource(admin, {
        name: 'entra',
        type: 'entra',
        config: { tenantId: 'contoso.example', clientId: 'app-1', graphUrl: graph.url, loginUrl: graph.url },
        secrets: { clientSecret: 'entra-secret-value-123' },
      });
      expect(await h.fx.latch.admin.syncContextSource(admin, 'entra')).toMatchObject({ ok: true });
      await h.fx.latch.admin.saveFlow(
        admin,
        flow({
          name: 'Platform billing',
          grantees: { include: [{ type: 'group', id: 'entra:Platform' }] },
          targets: [{ integration: 'pg', include: [{ id: h.billing }], permissions: ['write'] }],
          approval: { steps: [{ approvers: [{ type: 'group', id: 'entra:DBA' }] }] },
        }),
      );
      // Ivy's card offers the Platform flow (Teams knows nothing of her groups: the sync does).
      const form = (await h.say(IVY, 'request billing')).card!;
      const flows = (input(form, 'flow')?.choices as Array<{ title: string }> | undefined)?.map(
        (f) => f.title,
      );
      expect(flows ?? [JSON.stringify(form)]).toContain('Platform billing');
      const platform = (input(form, 'flow')!.choices as Array<{ title: string; value: string }>).find(
        (f) => f.title === 'Platform billing',
      )!.value;
      const redrawn = (
        await h.invoke(IVY, 'latch.requestForm', submission(form, 'latch.requestForm', { flow: platform }))
      ).value as AdaptiveCard;
      const sent = await h.invoke(
        IVY,
        'latch.requestSubmit',
        submission(redrawn, 'latch.requestSubmit', { justification: 'schema change' }),
      );
      const id = /AR-\d+/.exec(JSON.stringify(sent.value))![0];
      // Cara is in Entra's DBA group: she gets the card in Teams, by her email, and approves.
      const card = (
        await h.cardTo(
          CARA,
          (c) =>
            JSON.stringify(c).includes(id) && Boolean(c.actions?.some((a) => a.verb === 'latch.approve')),
        )
      ).card!;
      expect(JSON.stringify(card)).toContain('entra:Platform');
      const approved = await h.invoke(
        CARA,
        'latch.approve',
        card.actions![0]!.data as Record<string, unknown>,
      );
      expect(JSON.stringify(approved.value)).toContain('Approved by you.');
      const r = (
        await h.fx.latch.queries.myAccess({ id: 'ivy@example.com', email: 'ivy@example.com', groups: [] })
      ).pending.find((x) => x.id === id)!;
      expect(r.flowName).toBe('Platform billing');
    } finally {
      await graph.close();
    }
  });
});

describe('admins in Teams', () => {
  it('may be named in LATCH_ADMINS by Entra object id, and may then revoke anyone’s access', async () => {
    const gus = { id: 'gus@example.com', email: 'gus@example.com', groups: [] };
    const billingRead = (await h.fx.latch.queries.flows(admin)).find((f) => f.name === 'Billing read')!;
    const r = await h.fx.latch.requests.submit(gus, {
      flowId: billingRead.id,
      targets: [{ integration: 'pg', resourceId: h.billing, permission: 'read' }],
      durationMinutes: 30,
      justification: 'audit',
      source: 'api',
    });
    await h.fx.latch.requests.approve({ id: 'bob@example.com', email: 'bob@example.com', groups: [] }, r.id);
    await h.fx.latch.sweeps.tickUrgent();
    // Someone who is neither the requester nor an admin is refused; Olga is an admin by her object id.
    expect((await h.say(DEE, `revoke ${r.id}`)).body.text).toBe(
      `Only the requester, an approver of ${r.id} or an admin can revoke it.`,
    );
    expect((await h.say(OLGA, `revoke ${r.id}`)).body.text).toBe(
      `${r.id} is being revoked; Latch will tell you when it is done.`,
    );
  });

  it('are told when revoking keeps failing', async () => {
    const ADMIN = teamsUser('admin', 9, 'Ada Admin');
    h.addUser(ADMIN);
    await h.install(ADMIN);
    const [r] = await h.fx.latch.queries.activeAccess(admin);
    const view =
      r ??
      (await h.fx.latch.queries.myAccess({ id: 'dee@example.com', email: 'dee@example.com', groups: [] }))
        .pending[0]!;
    await h.notifier.notify({
      type: 'revoke.failing',
      request: view,
      error: 'connect ETIMEDOUT 10.0.4.11:5432',
      attempts: 3,
      admins: ['admin@example.com', 'U0SLACKONLY'],
      eventId: `${view.id}:failing-1`,
    });
    const told = await h.standIn.waitForCall(
      (c) =>
        c.conversationId === h.personalChat(ADMIN) && String(c.body.text).startsWith(`Revoking ${view.id}`),
    );
    expect(String(told.body.text)).toMatch(
      /has failed 3 times: connect ETIMEDOUT 10\.0\.4\.11:5432\. Latch keeps retrying\.$/,
    );
  });
});

describe('approvals in steps and by quorum, in Teams', () => {
  const submitAs = (who: string, flowId: string) =>
    h.fx.latch.requests.submit(
      { id: `${who}@example.com`, email: `${who}@example.com`, groups: [] },
      {
        flowId,
        targets: [{ integration: 'pg', resourceId: h.billing, permission: 'read' }],
        durationMinutes: 30,
        justification: 'release',
        source: 'teams',
      },
    );
  const approvalCardTo = (u: typeof BOB, id: string) =>
    h.cardTo(
      u,
      (c, call) =>
        call.operation === 'sendToConversation' &&
        JSON.stringify(c).includes(id) &&
        Boolean(c.actions?.some((a) => a.verb === 'latch.approve')),
    );

  it('shows a quorum’s progress on every copy, keeps the buttons until it is reached', async () => {
    const quorum = await h.fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Billing quorum',
        targets: [{ integration: 'pg', include: [{ id: h.billing }], permissions: ['read'] }],
        approval: {
          steps: [
            {
              approvers: [
                { type: 'user', id: 'bob@example.com' },
                { type: 'user', id: 'cara@example.com' },
              ],
              rule: { type: 'quorum', count: 2 },
            },
          ],
        },
      }),
    );
    const r = await submitAs('erin', quorum.id);
    const bob = (await approvalCardTo(BOB, r.id)).card!;
    const cara = (await approvalCardTo(CARA, r.id)).card!;
    const first = await h.invoke(BOB, 'latch.approve', bob.actions![0]!.data as Record<string, unknown>);
    expect(JSON.stringify(first.value)).toContain(
      'Your approval is recorded; the request waits for the other approvals.',
    );
    const progress = await h.standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' &&
        c.conversationId === h.personalChat(CARA) &&
        JSON.stringify(c.body).includes('Approved by bob@example.com; still needs'),
    );
    // Cara's copy still has its buttons: her approval is the one that counts now.
    const caraNow = (
      progress.body.attachments as Array<{ content: { actions?: Array<{ verb: string }> } }>
    )[0]!.content;
    expect(caraNow.actions?.map((a) => a.verb)).toEqual(['latch.approve', 'latch.deny']);
    // Bob cannot count twice.
    const again = await h.invoke(BOB, 'latch.approve', bob.actions![0]!.data as Record<string, unknown>);
    expect(String(again.value)).toBe(`You have already approved ${r.id}.`);
    const second = await h.invoke(CARA, 'latch.approve', cara.actions![0]!.data as Record<string, unknown>);
    expect(JSON.stringify(second.value)).toContain('Approved by you.');
    await h.standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' &&
        c.conversationId === h.personalChat(BOB) &&
        JSON.stringify(c.body).includes('Approved by cara@example.com.'),
    );
  });

  it('hands a two-step request to the second step’s approvers once the first approves', async () => {
    const steps = await h.fx.latch.admin.saveFlow(
      admin,
      flow({
        name: 'Billing two steps',
        targets: [{ integration: 'pg', include: [{ id: h.billing }], permissions: ['read'] }],
        approval: {
          steps: [
            { approvers: [{ type: 'user', id: 'bob@example.com' }] },
            { approvers: [{ type: 'user', id: 'cara@example.com' }] },
          ],
        },
      }),
    );
    const r = await submitAs('fay', steps.id);
    const bob = (await approvalCardTo(BOB, r.id)).card!;
    expect(JSON.stringify(bob)).toContain(`${r.id} · step 1 of 2`);
    const first = await h.invoke(BOB, 'latch.approve', bob.actions![0]!.data as Record<string, unknown>);
    expect(JSON.stringify(first.value)).toContain('the request waits for the other approvals');
    // Cara gets the second step's card; Bob's copy says his step is done and has no buttons.
    const cara = (await approvalCardTo(CARA, r.id)).card!;
    expect(JSON.stringify(cara)).toContain(`${r.id} · step 2 of 2`);
    const bobDone = await h.standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' &&
        c.conversationId === h.personalChat(BOB) &&
        JSON.stringify(c.body).includes('Step 1 of 2 approved by bob@example.com'),
    );
    expect(JSON.stringify(bobDone.body)).not.toContain('latch.approve');
    const last = await h.invoke(CARA, 'latch.approve', cara.actions![0]!.data as Record<string, unknown>);
    expect(JSON.stringify(last.value)).toContain('Approved by you.');
    // Cara's own copy is not left with a stale "step 1" outcome: it says she approved.
    await h.standIn.waitForCall(
      (c) =>
        c.operation === 'updateActivity' &&
        c.conversationId === h.personalChat(CARA) &&
        JSON.stringify(c.body).includes('Approved by cara@example.com.'),
    );
  });
});
