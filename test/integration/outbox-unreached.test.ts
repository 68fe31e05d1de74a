/**
 * Approvers nobody could reach: each channel reports whom it could not reach, and only those that
 * no channel reached are told to the requester (through every channel) and audited, once, even
 * when one channel delivered late.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DeliveryReport, LatchEvent, Notifier } from '../../src/lifecycle/notifier.js';
import { DeliveryDeferred } from '../../src/lifecycle/notifier.js';
import {
  addPgIntegration,
  admin,
  createFixture,
  createPgDatabase,
  flow,
  schemaId,
  type Fixture,
} from '../support/fixture.js';

/** A chat channel that knows some people: the others it reports as unreached. */
class Channel implements Notifier {
  readonly events: LatchEvent[] = [];
  failNext = 0;
  constructor(
    private readonly name: string,
    private readonly knows: string[],
  ) {}
  async notify(event: LatchEvent): Promise<DeliveryReport | void> {
    if (this.failNext > 0) {
      this.failNext--;
      throw new DeliveryDeferred(`${this.name} is down`, 0);
    }
    this.events.push(event);
    if (event.type !== 'approval.needed') return;
    return {
      unreached: event.approvers.users
        .filter((u) => !this.knows.includes(u))
        .map((person) => ({ person, why: `not in ${this.name}` })),
    };
  }
}

const slack = new Channel('slack', ['bob@example.com']);
const teams = new Channel('teams', ['cara@example.com']);
let fx: Fixture;
let drop: () => Promise<void>;
let billing: string;

beforeAll(async () => {
  fx = await createFixture('outbox_unreached', { channels: { slack, teams } });
  const pg = await createPgDatabase('unreached');
  drop = pg.drop;
  await addPgIntegration(fx.latch, 'pg', { databases: [pg.database] });
  billing = schemaId(pg.database);
  await fx.latch.admin.saveFlow(
    admin,
    flow({
      name: 'Billing read',
      targets: [{ integration: 'pg', include: [{ id: billing }], permissions: ['read', 'write'] }],
      approval: {
        steps: [
          {
            approvers: ['bob', 'cara', 'dan'].map((p) => ({ type: 'user' as const, id: `${p}@example.com` })),
          },
        ],
      },
    }),
  );
});

afterAll(async () => {
  await fx?.close();
  await drop?.();
});

const ada = { id: 'ada@example.com', email: 'ada@example.com', groups: [] };

async function deliverAll(): Promise<void> {
  for (let i = 0; i < 5; i++) {
    await fx.latch.outbox.deliverDue();
    await fx.latch.outbox.drain(2_000);
  }
}

function unreachedNotices(c: Channel, id: string) {
  return c.events.filter((e) => e.type === 'approvers.unreached' && e.request.id === id);
}

describe('approvers nobody could reach', () => {
  it('are only those no channel reached, told once through every channel and audited', async () => {
    const r = await fx.latch.requests.submit(ada, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'read' }],
      durationMinutes: 30,
      source: 'api',
    });
    await deliverAll();
    for (const c of [slack, teams]) {
      const notices = unreachedNotices(c, r.id);
      expect(notices).toHaveLength(1);
      expect(notices[0]).toMatchObject({
        unreached: [{ person: 'dan@example.com', why: 'not in slack; not in teams' }],
      });
    }
    const audit = await fx.latch.queries.auditPage(admin, 20);
    expect(
      audit.filter((e) => e.action === 'approvers.unreached' && e.subject === `request ${r.id}`),
    ).toHaveLength(1);
  });

  it('keeps what the first channel reported while the second is retried', async () => {
    teams.failNext = 1;
    const r = await fx.latch.requests.submit(ada, {
      targets: [{ integration: 'pg', resourceId: billing, permission: 'write' }],
      durationMinutes: 30,
      source: 'api',
    });
    await deliverAll();
    fx.clock.advance(60_000); // past the retry's backoff
    await deliverAll();
    expect(teams.events.some((e) => e.type === 'approval.needed' && e.request.id === r.id)).toBe(true);
    expect(unreachedNotices(slack, r.id)).toHaveLength(1);
    expect(unreachedNotices(slack, r.id)[0]).toMatchObject({ unreached: [{ person: 'dan@example.com' }] });
  });
});
