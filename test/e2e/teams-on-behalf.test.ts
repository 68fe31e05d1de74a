/**
 * Asking for someone else through Teams (docs/ARCHITECTURE.md, "Asking for someone else"): an
 * admin sets "Who may be asked for" in the tab's flow form; Ada types Bob's email under "For" on
 * the request card; Bob gets a card with Decline, the approver's card says Ada asks for Bob, only
 * Bob may decline, and Ada is told when he does.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { AdaptiveCard } from '../../blocks/teams/cards.js';
import type { WebServer } from '../../src/web/server.js';
import {
  APP_ID,
  TENANT_ID,
  startTeamsHarness,
  teamsUser,
  type TeamsHarness,
  type TeamsUser,
} from '../support/teams-harness.js';
import { startTabServer, tabRequest } from '../support/teams-tab-server.js';

const ADA = teamsUser('ada', 0xb1, 'Ada Lovelace');
const BOB = teamsUser('bob', 0xb2, 'Bob Builder');
const ADMIN = teamsUser('admin', 0xb3);

let h: TeamsHarness;
let tabWeb: WebServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  h = await startTeamsHarness('teams_on_behalf', { envAdmins: ['admin@example.com'] });
  for (const u of [ADA, BOB, ADMIN]) {
    h.addUser(u);
    await h.install(u);
    tokens[u.email!] = await h.standIn.signUserToken({ username: u.email!, oid: u.aadObjectId });
  }
  tabWeb = await startTabServer(h.fx.latch, {
    appId: APP_ID,
    tenantId: TENANT_ID,
    authority: h.standIn.entraAuthority,
  });
}, 60_000);

afterAll(async () => {
  await tabWeb?.close(1_000);
  await h?.close();
});

async function call(who: TeamsUser, method: 'GET' | 'POST', path: string, body?: unknown) {
  return tabRequest(tabWeb, tokens[who.email!]!, method, path, body);
}

function inputs(card: AdaptiveCard): Record<string, string> {
  return Object.fromEntries(
    card.body.filter((e) => e.type.startsWith('Input.')).map((e) => [e.id, String(e.value ?? '')]),
  );
}

async function submitCard(card: AdaptiveCard, data: Record<string, string>) {
  const submit = card.actions!.find((a) => a.verb === 'latch.requestSubmit')!;
  const answer = await h.invoke(ADA, 'latch.requestSubmit', {
    ...(submit.data as object),
    ...inputs(card),
    ...data,
  });
  return answer.value as AdaptiveCard;
}

describe('asking for someone else through Teams', () => {
  beforeAll(async () => {
    const blank = await call(ADMIN, 'GET', '/admin/flows/new');
    const form = blank.body.form;
    expect(form.requestFor).toBe('self');
    form.name = 'Billing for others';
    form.people = 'ada@example.com, bob@example.com';
    form.targets[0].integration = 'pg';
    form.targets[0].resources = [h.billing];
    form.targets[0].permissions = ['read'];
    form.steps[0].people = 'admin@example.com';
    form.requestFor = 'anyone';
    const saved = await call(ADMIN, 'POST', '/admin/flows', form);
    expect([saved.status, saved.body.error]).toEqual([200, undefined]);
  });

  it('refuses, under the field, someone the flow does not grant', async () => {
    const form = (await h.say(ADA, 'request billing')).card!;
    const refused = await submitCard(form, { onBehalfOf: 'zed@example.com', justification: 'onboarding' });
    expect(JSON.stringify(refused)).toContain(
      'zed@example.com may not have access under Billing for others: they are not one of its grantees',
    );
    expect(await h.fx.db.models.Request.countDocuments({ 'requester.id': 'zed@example.com' })).toBe(0);
  });

  it('tells Bob with a Decline button, tells the approver who asks, and tells Ada when Bob declines', async () => {
    const form = (await h.say(ADA, 'request billing')).card!;
    const field = form.body.find((e) => e.id === 'onBehalfOf');
    expect(field?.type).toBe('Input.Text');
    const sent = await submitCard(form, {
      onBehalfOf: 'Bob@Example.com',
      justification: 'Bob joins billing',
    });
    const text = JSON.stringify(sent);
    expect(text).toContain('you asked, for bob@example.com');
    const rid = /AR-\d+/.exec(text)![0];

    const forBob = await h.cardTo(BOB, (c) => JSON.stringify(c).includes(`${rid})`));
    const bobSees = JSON.stringify(forBob.card);
    expect(bobSees).toContain('asked for access for you');
    expect(bobSees).toContain('Bob joins billing');
    expect(forBob.card!.actions!.map((a) => a.verb)).toEqual(['latch.decline']);

    const approverCard = await h.cardTo(ADMIN, (c) => JSON.stringify(c).includes(rid));
    const approverSees = JSON.stringify(approverCard.card);
    expect(approverSees).toMatch(/Ada Lovelace.*asks for .*bob@example\.com/);

    // Only Bob may decline.
    const forged = await h.invoke(ADA, 'latch.decline', { request: rid });
    expect(JSON.stringify(forged)).toContain(`Only the person ${rid} is for can decline it.`);
    const answer = await h.invoke(BOB, 'latch.decline', { request: rid });
    expect(JSON.stringify(answer)).toContain(`You declined ${rid}`);
    expect((await h.fx.db.models.Request.findOne({ number: Number(rid.slice(3)) }).lean())!.state).toBe(
      'cancelled',
    );
    const told = await h.standIn.waitForCall(
      (c) => c.conversationId === h.personalChat(ADA) && String(c.body.text ?? '').includes('declined'),
    );
    expect(String(told.body.text)).toContain(`bob@example.com declined ${rid}`);
  });
});
