/**
 * The Redis connector's conformance fixture: the test server's default user (REDIS_URL) is the
 * oracle; the connector under test logs in as an admin ACL user of its own with only the rules the
 * README asks for, so the fixture proves them enough. Names carry this fixture's id: other test
 * files share the server.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import {
  createRedisConnector,
  DEFAULT_PERMISSIONS,
  grantUserName,
} from '../../../src/connectors/redis/index.js';
import type { GrantHandle, GrantSpec } from '../../../src/connectors/types.js';
import type { ConformanceFixture } from '../connector-conformance.js';

/** What the README says Latch's own ACL user needs (no keys, no channels). */
export const ADMIN_RULES = ['+acl', '+config|get', '+multi', '+exec', '+info', '+ping'];

export interface RedisFixture extends ConformanceFixture {
  /** The test server's superuser connection (the oracle). */
  root: Redis;
  /** Host and port of the test server. */
  server: { host: string; port: number };
  admin: { username: string; password: string };
  /** The server's ACL file where this machine can read it. */
  aclFilePath: string | null;
  prefix: string;
  /** This fixture's resources: `app` (keys only) and `queue` (keys and a channel). */
  keys: { app: string; queue: string; channel: string; other: string };
  /** A client logged in with a grant's credentials; closed by close(). */
  login(credentials: Record<string, string> | undefined): Promise<Redis>;
}

const OTHER_FIXTURE = /^lt[0-9a-f]{8}[_-]/;

export async function createRedisFixture(): Promise<RedisFixture> {
  const url = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
  const server = { host: url.hostname, port: Number(url.port || 6379) };
  const root = new Redis({
    ...server,
    username: decodeURIComponent(url.username) || 'default',
    password: decodeURIComponent(url.password) || undefined,
    lazyConnect: true,
  });
  await root.connect();
  const s = randomBytes(4).toString('hex');
  const prefix = `lt${s}_`;
  const admin = { username: `lt${s}-admin`, password: randomBytes(16).toString('hex') };
  const setAdmin = (...extra: string[]) =>
    root.call('ACL', [
      'SETUSER',
      admin.username,
      'reset',
      'on',
      `>${admin.password}`,
      'resetchannels',
      ...ADMIN_RULES,
      ...extra,
    ]);
  await setAdmin();
  const keys = {
    app: `lt${s}:app:*`,
    queue: `lt${s}:q:*`,
    channel: `lt${s}:events`,
    other: `lt${s}:other:*`,
  };
  const integration = {
    type: 'redis',
    config: {
      host: server.host,
      port: server.port,
      username: admin.username,
      userPrefix: prefix,
      resources: [
        { name: 'app', keys: [keys.app] },
        { name: 'queue', keys: [keys.queue], channels: [keys.channel] },
      ],
    },
    secrets: { password: admin.password },
  };
  const aclFileSetting = ((await root.call('CONFIG', ['GET', 'aclfile'])) as string[])[1];
  const aclFile = aclFileSetting && existsSync(aclFileSetting) ? aclFileSetting : null;
  // Saved once now, so the file is in Redis's own form before any snapshot reads it.
  if (aclFile) await root.call('ACL', ['SAVE']);
  const clients: Redis[] = [];
  let n = 0;
  let standing = 0;

  const userOf = (spec: GrantSpec, handle: GrantHandle) =>
    typeof handle.user === 'string' ? handle.user : grantUserName(prefix, spec.grantId);
  const ours = (name: string) => !OTHER_FIXTURE.test(name) || name.startsWith(`lt${s}`);
  const nameOfLine = (line: string) => line.split(' ')[1] ?? '';

  return {
    root,
    server,
    admin,
    aclFilePath: aclFile,
    prefix,
    keys,
    integration,
    target: { resourceId: 'keys:app', permission: 'read' },
    // Redis has no people: a grant makes its own user, whoever asks.
    person: async () => `person-${randomBytes(3).toString('hex')}@example.com`,
    connector: () => createRedisConnector({ name: `redis-${s}`, ...integration }),
    async spec(opts) {
      n += 1;
      return {
        grantId: `g${s}-${n}${opts?.hostile ?? ''}`,
        requestId: `r${s}-${n}`,
        requesterEmail: 'someone@example.com',
        resource: { id: 'keys:app', name: 'app', kind: 'keys' },
        permission: 'read',
        expiresAt: new Date(Date.now() + 3_600_000),
      };
    },
    async present(spec, handle) {
      const user = (await root.call('ACL', ['GETUSER', userOf(spec, handle)])) as unknown[] | null;
      if (!user) return false;
      const flags = user[user.indexOf('flags') + 1] as string[];
      return flags.includes('on');
    },
    async snapshot() {
      const lines = ((await root.call('ACL', ['LIST'])) as string[]).filter((l) => ours(nameOfLine(l)));
      const saved = aclFile
        ? readFileSync(aclFile, 'utf8')
            .split('\n')
            .filter((l) => l && ours(nameOfLine(l)))
            .map((l) => `file: ${l}`)
        : [];
      return [...lines, ...saved];
    },
    async failPartWay() {
      // Latch's user may no longer save the ACL file: the grant's ACL SETUSER goes through, its ACL
      // SAVE is refused, and the connector has to take the user away again.
      if (!aclFile)
        throw new Error('failPartWay needs a Redis server with an aclfile (test/support/redis-server.ts)');
      await setAdmin('-acl|save');
      return async () => void (await setAdmin());
    },
    async removeBehindBack(spec, handle) {
      await root.call('ACL', ['DELUSER', userOf(spec, handle)]);
    },
    async createStanding() {
      standing += 1;
      const account = `lt${s}-standing${standing}`;
      await root.call('ACL', [
        'SETUSER',
        account,
        'reset',
        'on',
        `>${randomBytes(12).toString('hex')}`,
        'resetchannels',
        `~${keys.app}`,
        ...DEFAULT_PERMISSIONS.read!,
      ]);
      return { account, resourceId: 'keys:app', permission: 'read' };
    },
    async login(credentials) {
      const client = new Redis({
        host: credentials!.host,
        port: Number(credentials!.port),
        username: credentials!.username,
        password: credentials!.password,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableReadyCheck: false,
      });
      // The server's refusal (WRONGPASS) arrives as an 'error' event; connect() only says "closed".
      let refusal: Error | undefined;
      client.on('error', (err: Error) => (refusal ??= err));
      clients.push(client);
      try {
        await client.connect();
      } catch (err) {
        throw refusal ?? err;
      }
      return client;
    },
    async close() {
      for (const c of clients) c.disconnect();
      const names = ((await root.call('ACL', ['USERS'])) as string[]).filter((u) => u.startsWith(`lt${s}`));
      if (names.length) await root.call('ACL', ['DELUSER', ...names]);
      if (aclFile) await root.call('ACL', ['SAVE']);
      root.disconnect();
    },
  };
}
