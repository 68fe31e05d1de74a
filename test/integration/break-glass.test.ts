/**
 * Break-glass (docs/ARCHITECTURE.md, "Break-glass"): a requester approves their own request in an
 * emergency, only under a flow that allows it and only with a reason; every admin is told through
 * the outbox, the access is granted as usual, and a review stays open until an admin other than
 * the requester closes it with a note, once.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { LatchEvent, Notifier } from '../../src/lifecycle/notifier.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  person,
  refusalOf,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

/** A chat channel that records what the outbox hands it. */
class Channel implements Notifier {
  readonly events: LatchEvent[] = [];
  async notify(event: LatchEvent): Promise<void> {
    this.events.push(event);
  }
}

const chat = new Channel();
const alice = person('alice');
const eve = person('eve');
const boss = person('boss');
let fx: Fixture;
let drop: () => Promise<void>;
let billing: string;
let wholeDb: string;

const ref = (resourceId: string) => [{ integration: 'pg', resourceId, permission: 'read' }];

async function counts() {
  const m = fx.db.models;
  const [requests, reviews, breakGlass] = await Promise.all([
    m.Request.countDocuments(),
    m.Review.countDocuments(),
    fx.latch.audit.latest(100, { action: 'request.break_glass' }),
  ]);
  return { requests, reviews, breakGlass: breakGlass.length };
}

async function deliverAll(): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await fx.latch.outbox.deliverDue();
    await fx.latch.outbox.drain(2_000);
  }
}

beforeAll(async () => {
  fx = await createFixture('break_glass', { channels: { chat } });
  const pg = await createPgDatabase('glass');
  drop = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  wholeDb = `db:${pg.database}`;
  // Two admins: admin@ from the environment (the fixture's LATCH_ADMINS), boss@ from Settings.
  await fx.latch.admin.updateSettings(admin, { admins: ['boss@example.com'] });
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing emergency',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
      breakGlass: true,
    }),
  );
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Whole database',
      targets: [{ integration: 'pg', include: [{ id: wholeDb }], permissions: ['read'] }],
      approval: { steps: [{ approvers: [{ type: 'user', id: 'bob@example.com' }] }] },
    }),
  );
});

afterAll(async () => {
  await fx?.close();
  await drop?.();
});

describe('breaking the glass', () => {
  it('is refused without a reason, and nothing changes', async () => {
    const before = await counts();
    const err = await refusalOf(
      fx.latch.requests.submit(alice, {
        targets: ref(billing),
        durationMinutes: 60,
        justification: '   ',
        breakGlass: true,
        source: 'api',
      }),
    );
    expect(err.code).toBe('invalid');
    expect(err.field).toBe('justification');
    expect(err.message).toMatch(/needs a reason/);
    expect(await counts()).toEqual(before);
  });

  it('is refused on the server under a flow that does not allow it, whatever the client sends', async () => {
    const before = await counts();
    const err = await refusalOf(
      fx.latch.requests.submit(alice, {
        targets: ref(wholeDb),
        durationMinutes: 60,
        justification: 'prod is down',
        breakGlass: true,
        source: 'api',
      }),
    );
    expect(err.code).toBe('forbidden');
    expect(err.message).toMatch(/Whole database does not allow break-glass/);
    expect(await counts()).toEqual(before);
  });

  it('with a reason approves at once, grants, audits, tells every admin and opens a review', async () => {
    const req = await fx.latch.requests.submit(alice, {
      targets: ref(billing),
      durationMinutes: 60,
      justification: 'INC-7: invoices fail to post',
      breakGlass: true,
      source: 'api',
    });
    expect(req.state).toBe('approved');
    expect(req.breakGlass).toBe(true);
    expect(req.decidedBy).toBe(alice.id);
    // Nobody was asked to approve.
    expect(fx.notifier.of('approval.needed', req.id)).toHaveLength(0);

    const [entry] = await fx.latch.audit.latest(10, { subjectId: req.id, action: 'request.break_glass' });
    expect(entry?.actor).toEqual({ type: 'user', id: alice.id });
    expect(entry?.details?.reason).toBe('INC-7: invoices fail to post');

    await deliverAll();
    const told = chat.events.filter(
      (e): e is Extract<LatchEvent, { type: 'break_glass.used' }> =>
        e.type === 'break_glass.used' && e.request.id === req.id,
    );
    expect(told).toHaveLength(1);
    expect([...told[0]!.admins].sort()).toEqual(['admin@example.com', 'boss@example.com']);
    expect(told[0]!.reason).toBe('INC-7: invoices fail to post');

    await fx.latch.sweeps.tickUrgent();
    const doc = await fx.db.models.Request.findOne({ number: req.number }).lean();
    expect(doc?.state).toBe('active');

    const open = await fx.latch.queries.openReviews(admin);
    expect(open.map((r) => r.id)).toContain(req.id);
    const review = open.find((r) => r.id === req.id)!;
    expect(review.requester.id).toBe(alice.id);
    expect(review.reason).toBe('INC-7: invoices fail to post');
    expect(review.flowName).toBe('Billing emergency');
  });

  it('a second break-glass for access already open is refused and opens no second review', async () => {
    const before = await counts();
    const err = await refusalOf(
      fx.latch.requests.submit(alice, {
        targets: ref(billing),
        durationMinutes: 60,
        justification: 'again',
        breakGlass: true,
        source: 'api',
      }),
    );
    expect(err.code).toBe('conflict');
    const after = await counts();
    expect(after.reviews).toBe(before.reviews);
    expect(after.breakGlass).toBe(before.breakGlass);
  });
});

describe('closing a review', () => {
  let id: string;
  beforeAll(async () => {
    id = (await fx.latch.queries.openReviews(admin)).find((r) => r.requester.id === alice.id)!.id;
  });

  it('is refused to someone who is not an admin, and audited', async () => {
    const err = await refusalOf(fx.latch.admin.closeReview(eve, id, 'looks fine'));
    expect(err.code).toBe('forbidden');
    const denied = await fx.latch.audit.latest(5, { action: 'admin.denied' });
    expect(denied.some((e) => e.actor.id === eve.id && e.details?.attempted === 'review.close')).toBe(true);
    await expect(fx.latch.queries.openReviews(eve)).rejects.toMatchObject({ code: 'forbidden' });
    expect((await fx.latch.queries.review(admin, id))?.state).toBe('open');
  });

  it('needs a note', async () => {
    const err = await refusalOf(fx.latch.admin.closeReview(admin, id, '  '));
    expect(err.code).toBe('invalid');
    expect(err.field).toBe('note');
    expect((await fx.latch.queries.review(admin, id))?.state).toBe('open');
  });

  it('by an admin with a note closes it once; a second close says so and changes nothing', async () => {
    const closed = await fx.latch.admin.closeReview(admin, id, 'Checked INC-7: the access was needed.');
    expect(closed.state).toBe('closed');
    expect(closed.closedBy).toBe(admin.id);
    expect((await fx.latch.queries.openReviews(admin)).map((r) => r.id)).not.toContain(id);
    const audited = await fx.latch.audit.latest(10, { subjectId: id, action: 'review.closed' });
    expect(audited).toHaveLength(1);
    expect(audited[0]?.details?.note).toBe('Checked INC-7: the access was needed.');

    const again = await refusalOf(fx.latch.admin.closeReview(boss, id, 'me too'));
    expect(again.code).toBe('conflict');
    expect(again.message).toMatch(/already closed by admin@example.com/);
    const after = await fx.latch.queries.review(admin, id);
    expect(after?.closedBy).toBe(admin.id);
    expect(after?.note).toBe('Checked INC-7: the access was needed.');
    expect(await fx.latch.audit.latest(10, { subjectId: id, action: 'review.closed' })).toHaveLength(1);
  });

  it('is refused to the admin who broke the glass; another admin closes it', async () => {
    const req = await fx.latch.requests.submit(boss, {
      targets: ref(billing),
      durationMinutes: 60,
      justification: 'INC-8',
      breakGlass: true,
      source: 'api',
    });
    const own = await refusalOf(fx.latch.admin.closeReview(boss, req.id, 'all good'));
    expect(own.code).toBe('forbidden');
    expect(own.message).toMatch(/another admin must review it/);
    expect((await fx.latch.queries.review(admin, req.id))?.state).toBe('open');
    const refused = await fx.latch.audit.latest(5, { subjectId: req.id, action: 'action.refused' });
    expect(refused[0]?.actor.id).toBe(boss.id);

    await fx.latch.admin.closeReview(admin, req.id, 'INC-8 confirmed with boss');
    expect((await fx.latch.queries.review(admin, req.id))?.state).toBe('closed');
  });
});
