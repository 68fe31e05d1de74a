/**
 * Break-glass through Teams (docs/ARCHITECTURE.md, "Break-glass"): an admin allows it in the tab's
 * flow form; a requester turns on Break glass on the request card (refused under the field without
 * a reason); every admin gets a card in Teams with a button to the tab's Reviews; the tab's admin
 * API lists the open review and closes it with a note, once, for admins only.
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
import { startTabServer, tabRequest, type Json } from '../support/teams-tab-server.js';

const ADA = teamsUser('ada', 0xa1);
const ADMIN = teamsUser('admin', 0xa2);
const BOSS = teamsUser('boss', 0xa3);

let h: TeamsHarness;
let tabWeb: WebServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  // admin@ from LATCH_ADMINS, boss@ from Settings.
  h = await startTeamsHarness('teams_break_glass', { envAdmins: ['admin@example.com'] });
  await h.fx.latch.admin.updateSettings('config-file', { admins: ['boss@example.com'] });
  for (const u of [ADA, ADMIN, BOSS]) {
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

/** A flow from the tab's new-flow form: only the required fields, plus `fill`. */
async function createFlow(name: string, fill: (form: Json) => void = () => undefined) {
  const blank = await call(ADMIN, 'GET', '/admin/flows/new');
  expect(blank.status).toBe(200);
  const form = blank.body.form;
  form.name = name;
  form.people = 'ada@example.com';
  form.targets[0].integration = 'pg';
  form.targets[0].resources = [h.billing];
  form.targets[0].permissions = ['read'];
  form.steps[0].people = 'admin@example.com';
  fill(form);
  const saved = await call(ADMIN, 'POST', '/admin/flows', form);
  expect([saved.status, saved.body.error]).toEqual([200, undefined]);
  return saved.body.flow.id as string;
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

describe('break-glass through Teams', () => {
  it('a flow saved from the tab with only the required fields does not offer it', async () => {
    const id = await createFlow('Billing');
    const edit = await call(ADMIN, 'GET', `/admin/flows/${id}/edit`);
    expect(edit.body.form.breakGlass).toBe(false);
    const form = (await h.say(ADA, 'request billing')).card!;
    expect(form.body.some((e) => e.id === 'breakGlass')).toBe(false);
    expect((await call(ADMIN, 'POST', `/admin/flows/${id}/delete`)).status).toBe(200);
  });

  it('notifies every admin in Teams and opens a review that the tab closes with a note', async () => {
    const id = await createFlow('Billing emergency', (form) => (form.breakGlass = true));
    expect((await call(ADMIN, 'GET', `/admin/flows/${id}/edit`)).body.form.breakGlass).toBe(true);

    const form = (await h.say(ADA, 'request billing')).card!;
    const toggle = form.body.find((e) => e.id === 'breakGlass');
    expect(toggle?.type).toBe('Input.Toggle');

    // No reason: the card comes back with the refusal, and nothing is asked.
    const before = await h.fx.db.models.Request.countDocuments();
    const refused = await submitCard(form, { breakGlass: 'true', justification: '' });
    expect(JSON.stringify(refused)).toContain('needs a reason');
    expect(await h.fx.db.models.Request.countDocuments()).toBe(before);

    const sent = await submitCard(form, { breakGlass: 'true', justification: 'INC-9: payroll stuck' });
    const text = JSON.stringify(sent);
    expect(text).toContain('You broke the glass');
    const rid = /AR-\d+/.exec(text)![0];

    // Both admins get the card, with who, why, and the button to the tab's Reviews.
    for (const a of [ADMIN, BOSS]) {
      const got = await h.cardTo(a, (c) => JSON.stringify(c).includes(`Break glass: ${rid}`));
      const body = JSON.stringify(got.card);
      expect(body).toContain('INC-9: payroll stuck');
      expect(body).toContain('ada@example.com');
      const open = got.card!.actions!.find((x) => x.type === 'Action.OpenUrl');
      expect(open?.url).toBe(`https://teams.microsoft.com/l/entity/${APP_ID}/latch-home`);
    }

    // The tab lists it for admins only.
    const listed = await call(BOSS, 'GET', '/admin/reviews');
    expect(listed.status).toBe(200);
    expect(listed.body.reviews.map((r: Json) => r.id)).toEqual([rid]);
    expect(listed.body.reviews[0].reason).toBe('INC-9: payroll stuck');
    expect((await call(ADA, 'GET', '/admin/reviews')).status).toBe(403);

    // Ada may not close it (not an admin): refused, audited, still open.
    const forged = await call(ADA, 'POST', `/admin/reviews/${rid}/close`, { note: 'fine' });
    expect(forged.status).toBe(403);
    const denied = await h.fx.latch.audit.latest(10, { action: 'admin.denied' });
    expect(
      denied.some((e) => e.actor.id === 'ada@example.com' && e.details?.attempted === 'review.close'),
    ).toBe(true);

    // A blank note is refused on its field; a note closes it, once.
    const blank = await call(BOSS, 'POST', `/admin/reviews/${rid}/close`, { note: ' ' });
    expect([blank.status, Object.keys(blank.body.fields ?? {})]).toEqual([400, ['note']]);
    const closed = await call(BOSS, 'POST', `/admin/reviews/${rid}/close`, {
      note: 'Confirmed INC-9 with Ada.',
    });
    expect(closed.status).toBe(200);
    expect(closed.body.review).toMatchObject({ id: rid, state: 'closed', note: 'Confirmed INC-9 with Ada.' });
    expect(closed.body.reviews).toEqual([]);
    const again = await call(ADMIN, 'POST', `/admin/reviews/${rid}/close`, { note: 'me too' });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatch(/already closed by boss@example.com/);
    expect(await h.fx.latch.audit.latest(10, { subjectId: rid, action: 'review.closed' })).toHaveLength(1);
  });
});
