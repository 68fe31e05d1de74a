/**
 * Benchmark: a full Okta sync of many memberships under rate limiting
 * (docs/ARCHITECTURE.md, "Context sources").
 *
 * Fills the Okta stand-in (test/support/okta-stand-in.ts) with N memberships across G groups, turns
 * its rate limit on, and syncs it through Latch as the worker's job does (ContextSync.run: the Okta
 * reader, then the new generation written in batches and switched to). Prints the time, the
 * requests made and the 429s answered, checks the result (group and membership counts, and every
 * sampled person's groups as the core resolves them), and measures in the same run two floors:
 * the same pages fetched under the same limit without writing anything, and the membership writes
 * alone (the same documents inserted in the same batches on the same store).
 *
 *   npm run bench:context-sync -- [--groups 200] [--members 10000] [--users 10000]
 *                                 [--rate-limit 60] [--window-ms 1000] [--page-size 200]
 *
 * --users below --members puts people in several groups. The database starts as the tests start it
 * (MONGODB_URI wins). It prints figures and asserts nothing about them; exit 1 only on a wrong
 * result or an error.
 */
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLatch } from '../src/app.js';
import { ContextDirectory } from '../src/context/directory.js';
import { newStats } from '../src/context/http.js';
import { okta } from '../src/context/okta.js';
import { MEMBERS_PER_PART } from '../src/context/sync.js';
import { silentLogger } from '../src/logger.js';
import { connectDatabase } from '../src/store/db.js';
import { startEmbeddedMongo } from '../src/store/embedded-mongo.js';
import { startOktaStandIn } from '../test/support/okta-stand-in.js';
import { progress, runThenStop } from './harness.js';

const say = (msg: string) => process.stdout.write(`${msg}\n`);
const secs = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const TOKEN = `00c-bench-${randomBytes(12).toString('hex')}`;

function parseCli() {
  const { values } = parseArgs({
    options: {
      groups: { type: 'string', default: '200' },
      members: { type: 'string', default: '10000' },
      users: { type: 'string' },
      'rate-limit': { type: 'string', default: '60' },
      'window-ms': { type: 'string', default: '1000' },
      'page-size': { type: 'string', default: '200' },
    },
  });
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer of at least ${min}`);
    return n;
  };
  const members = int('members', values.members, 1);
  return {
    groups: int('groups', values.groups, 1),
    members,
    users: int('users', values.users ?? String(members), 1),
    rateLimit: int('rate-limit', values['rate-limit'], 1),
    windowMs: int('window-ms', values['window-ms'], 100),
    pageSize: int('page-size', values['page-size'], 1),
  };
}

await runThenStop(async (stops) => {
  const args = parseCli();
  const mongo = process.env.MONGODB_URI
    ? undefined
    : await startEmbeddedMongo({ stateDir: path.resolve('.latch'), persistent: false, log: progress });
  if (mongo) stops.push(['MongoDB', () => mongo.stop()]);
  const db = await connectDatabase(process.env.MONGODB_URI ?? mongo!.uri, {
    dbName: `bench_context_${randomBytes(4).toString('hex')}`,
  });
  stops.push(['MongoDB connection', () => db.close()]);
  stops.push(['bench database', () => db.conn.dropDatabase()]);
  const latch = createLatch({
    db,
    encryptionKey: randomBytes(32),
    log: silentLogger,
    envAdmins: ['bench@example.com'],
  });
  stops.push(['Latch', () => latch.close()]);
  const standIn = await startOktaStandIn({ token: TOKEN });
  stops.push(['Okta stand-in', () => standIn.close()]);

  // Membership i goes to group i mod G, person i mod U: every group gets its share, and with
  // fewer people than memberships people are in several groups.
  progress(
    `filling the Okta stand-in: ${args.members} memberships, ${args.groups} groups, ${args.users} people`,
  );
  const emails = Array.from({ length: args.users }, (_, i) => `person${i}@example.com`);
  for (const e of emails) standIn.addUser(e);
  const expected = new Map<string, Set<string>>();
  const groupNames = Array.from({ length: args.groups }, (_, g) => `Group ${String(g).padStart(3, '0')}`);
  for (const name of groupNames) standIn.addGroup(name);
  for (let i = 0; i < args.members; i++) {
    const group = groupNames[i % args.groups]!;
    const email = emails[i % args.users]!;
    const before = expected.get(email)?.size ?? 0;
    standIn.addMember(group, email);
    const set = expected.get(email) ?? new Set<string>();
    set.add(`okta:${group}`);
    expected.set(email, set);
    if (set.size === before)
      throw new Error('the same membership twice; choose --users and --groups without a common factor');
  }
  const distinct = [...expected.values()].reduce((n, s) => n + s.size, 0);

  const config = { orgUrl: standIn.url, groupsPageSize: 200, usersPageSize: args.pageSize };
  await latch.admin.saveContextSource('config-file', {
    name: 'okta',
    type: 'okta',
    config,
    secrets: { apiToken: TOKEN },
  });
  const limit = { limit: args.rateLimit, windowMs: args.windowMs };

  // 1. Latch's sync, as the worker runs it.
  standIn.setRateLimit(limit);
  await nextWindow(args.windowMs);
  progress('syncing through Latch');
  const t0 = performance.now();
  const report = await latch.contextSync.run('okta');
  const syncMs = performance.now() - t0;
  const served = standIn.counts();
  if (!report.ok) throw new Error(`the sync failed: ${'error' in report ? report.error : 'busy'}`);

  // The result must be right: the counts, and the groups the core gives a sample of people.
  const wrong: string[] = [];
  if (report.groups !== args.groups) wrong.push(`groups: ${report.groups}, expected ${args.groups}`);
  if (report.memberships !== distinct) wrong.push(`memberships: ${report.memberships}, expected ${distinct}`);
  const dir = new ContextDirectory(db, () => new Date());
  const sample = emails.filter((_, i) => i % Math.max(1, Math.floor(args.users / 200)) === 0);
  for (const email of sample) {
    const got = (await dir.groupsOf(email)).groups;
    const want = [...(expected.get(email) ?? [])].sort();
    if (got.join('|') !== want.join('|'))
      wrong.push(`${email}: ${got.join(', ')} instead of ${want.join(', ')}`);
  }

  // 2. Floor: the same pages under the same limit, nothing written.
  standIn.setRateLimit(limit);
  await nextWindow(args.windowMs);
  progress('floor: fetching the same pages without writing');
  const before = standIn.counts();
  const stats = newStats();
  const t1 = performance.now();
  const fetched = await okta.sync({
    source: 'floor',
    config,
    secrets: { apiToken: TOKEN },
    state: {},
    previous: async () => [],
    stats,
    log: silentLogger,
  });
  const fetchMs = performance.now() - t1;
  const fetchServed = {
    requests: standIn.counts().requests - before.requests,
    rateLimited: standIn.counts().rateLimited - before.rateLimited,
  };

  // 3. Floor: the membership documents alone, in the sync's batches, on the same store.
  progress('floor: writing the same membership documents');
  const docs = fetched.groups.flatMap((g) =>
    Array.from({ length: Math.max(1, Math.ceil(g.members.length / MEMBERS_PER_PART)) }, (_, part) => ({
      source: 'floor',
      generation: 1,
      groupId: g.id,
      part,
      name: g.name,
      members: g.members.slice(part * MEMBERS_PER_PART, (part + 1) * MEMBERS_PER_PART),
      nested: [],
    })),
  );
  const t2 = performance.now();
  for (let i = 0; i < docs.length; i += 100)
    await db.models.ContextGroup.insertMany(docs.slice(i, i + 100), { ordered: false, lean: true });
  const writeMs = performance.now() - t2;
  await db.models.ContextGroup.deleteMany({ source: 'floor' });

  say('');
  say(
    `context sync: Okta stand-in, ${args.groups} groups, ${distinct} memberships of ${args.users} people, rate limit ${args.rateLimit} requests / ${args.windowMs} ms, ${args.pageSize} users a page, store ${mongo?.kind ?? 'MONGODB_URI'}`,
  );
  say(
    `  Latch sync:              ${secs(syncMs)}  requests ${report.stats.requests}  429s ${report.stats.rateLimited}  waits (summed over parallel requests) ${secs(report.stats.waitedMs)}  (stand-in served ${served.requests}, 429 ${served.rateLimited})`,
  );
  say(
    `  floor, fetch only:       ${secs(fetchMs)}  requests ${stats.requests}  429s ${stats.rateLimited}  (stand-in served ${fetchServed.requests}, 429 ${fetchServed.rateLimited})`,
  );
  say(`  floor, writes only:      ${secs(writeMs)}  (${docs.length} documents in batches of 100)`);
  say(`  Latch / (fetch + writes): ${(syncMs / (fetchMs + writeMs)).toFixed(2)}x`);
  say(
    `  result: ${wrong.length === 0 ? `correct (${report.groups} groups, ${report.memberships} memberships, ${sample.length} people's groups checked)` : 'WRONG'}`,
  );
  for (const w of wrong.slice(0, 20)) say(`    ${w}`);
  return wrong.length === 0 ? 0 : 1;
});

/** Starts a measurement at the beginning of a rate-limit window, so runs compare. */
async function nextWindow(windowMs: number): Promise<void> {
  const wait = Math.ceil(Date.now() / 1000) * 1000 - Date.now() + 5;
  await new Promise((r) => setTimeout(r, Math.min(wait, windowMs + 1000)));
}
