/**
 * The Teams channel's record of people: where to reach each one, and why someone cannot be reached.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { connectDatabase, type Database } from '../../src/store/db.js';
import {
  ensureTeamsIndexes,
  teamsModels,
  TeamsPeople,
  type ConversationReference,
} from '../../src/channels/teams/store.js';

let db: Database;
let people: TeamsPeople;
const TENANT = '0f1e2d3c-4b5a-4968-8776-a5b4c3d2e1f0';
const ref = (conversation: string): ConversationReference => ({
  serviceUrl: 'https://smba.trafficmanager.net/emea/',
  conversation: { id: conversation, tenantId: TENANT },
  bot: { id: '28:latch' },
});

beforeAll(async () => {
  db = await connectDatabase(process.env.MONGODB_URI!, {
    dbName: `t_teams_people_${randomBytes(4).toString('hex')}`,
  });
  const m = teamsModels(db.conn);
  await ensureTeamsIndexes(m);
  people = new TeamsPeople(m);
});

afterAll(async () => {
  await db?.conn.dropDatabase();
  await db?.close();
});

describe('Teams people', () => {
  it('is reached through the conversation reference of their personal chat, found by email', async () => {
    await people.seen(
      { tenantId: TENANT, aadObjectId: 'aad-ann', userId: '29:ann', email: 'Ann@Example.com' },
      ref('a:ann'),
      true,
    );
    expect(await people.reach('ann@example.com')).toEqual({ reference: ref('a:ann'), userId: '29:ann' });
  });

  it('says why someone cannot be reached: never installed, or removed the app', async () => {
    expect(await people.reach('nobody@example.com')).toEqual({
      unreachable: 'they have not installed Latch in Teams',
    });
    await people.seen(
      { tenantId: TENANT, aadObjectId: 'aad-bob', userId: '29:bob', email: 'bob@example.com' },
      ref('a:bob'),
      true,
    );
    await people.unreachable(TENANT, 'aad-bob', 'they removed Latch from Teams');
    expect(await people.reach('bob@example.com')).toEqual({ unreachable: 'they removed Latch from Teams' });
    // Coming back from their chat makes them reachable again.
    await people.seen({ tenantId: TENANT, aadObjectId: 'aad-bob', userId: '29:bob' }, ref('a:bob2'));
    expect(await people.reach('bob@example.com')).toEqual({ reference: ref('a:bob2'), userId: '29:bob' });
  });

  it('keeps what it knew when a later activity tells less (no email, no reference)', async () => {
    await people.seen(
      {
        tenantId: TENANT,
        aadObjectId: 'aad-cy',
        userId: '29:cy',
        email: 'cy@example.com',
        displayName: 'Cy',
      },
      ref('a:cy'),
    );
    await people.seen({ tenantId: TENANT, aadObjectId: 'aad-cy', userId: '29:cy' });
    expect(await people.reach('cy@example.com')).toEqual({ reference: ref('a:cy'), userId: '29:cy' });
  });
});
