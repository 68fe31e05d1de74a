import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import type { Redis } from 'ioredis';
import {
  createRedisConnector,
  DEFAULT_PERMISSIONS,
  grantUserName,
  redisConfigSchema,
  validateRedisSettings,
  type RedisConnector,
} from '../../src/connectors/redis/index.js';
import { PartialGrantError, type Connector, type GrantSpec } from '../../src/connectors/types.js';
import { ADMIN_RULES, createRedisFixture, type RedisFixture } from '../support/conformance/redis-fixture.js';

// The conformance suites run from connector-conformance.test.ts (test/support/conformance/index.ts).

describe('Redis connector', () => {
  let f: RedisFixture;
  let c: Connector;
  const connectors: Connector[] = [];
  let n = 0;

  beforeAll(async () => {
    f = await createRedisFixture();
    c = f.connector();
    connectors.push(c);
  });
  afterAll(async () => {
    await Promise.all(connectors.map((x) => x.close()));
    await f?.close();
  });

  function connector(config: Record<string, unknown> = {}, secrets = f.integration.secrets): RedisConnector {
    const made = createRedisConnector({
      name: 'redis-extra',
      type: 'redis',
      config: { ...f.integration.config, ...config },
      secrets,
    }) as RedisConnector;
    connectors.push(made);
    return made;
  }

  function spec(resource: 'app' | 'queue', permission: string): GrantSpec {
    n += 1;
    return {
      grantId: `x${f.prefix}${n}`,
      requestId: `rx${n}`,
      requesterEmail: 'someone@example.com',
      resource: { id: `keys:${resource}`, name: resource, kind: 'keys' },
      permission,
      expiresAt: null,
    };
  }

  const key = (pattern: string, name: string) => pattern.replace('*', name);
  const aclFile = async () => ((await f.root.call('CONFIG', ['GET', 'aclfile'])) as string[])[1]!;
  const closed = (client: Redis) => new Promise<void>((resolve) => client.once('end', () => resolve()));

  it('discovers the configured resources with the permissions each offers', async () => {
    const withSubset = connector({
      resources: [
        { name: 'app', keys: [f.keys.app] },
        { name: 'queue', keys: [f.keys.queue], channels: [f.keys.channel], permissions: ['read'] },
      ],
      permissions: { stream: ['+@stream', '-@dangerous'] },
    });
    expect(await withSubset.discover()).toEqual([
      {
        id: 'keys:app',
        name: 'app',
        kind: 'keys',
        tags: { keys: f.keys.app },
        permissions: ['read', 'write', 'admin', 'stream'],
      },
      {
        id: 'keys:queue',
        name: 'queue',
        kind: 'keys',
        tags: { keys: f.keys.queue, channels: f.keys.channel },
        permissions: ['read'],
      },
    ]);
    // A permission the resource does not offer is refused before anything changes.
    const before = await f.snapshot();
    await expect(withSubset.grant(spec('queue', 'write'))).rejects.toThrow(/offers no permission "write"/);
    await expect(withSubset.grant(spec('app', 'nope'))).rejects.toThrow(/offers no permission/);
    await expect(
      withSubset.grant({ ...spec('app', 'read'), resource: { id: 'keys:gone', name: 'gone', kind: 'keys' } }),
    ).rejects.toThrow(/not configured/);
    expect(await f.snapshot()).toEqual(before);
  });

  it("read reaches the resource's keys only, and cannot write or run server-wide commands", async () => {
    await f.root.set(key(f.keys.app, 'a'), 'A');
    await f.root.set(key(f.keys.other, 'b'), 'B');
    const granted = await c.grant(spec('app', 'read'));
    expect(granted.credentials).toMatchObject({
      username: granted.handle.user,
      host: f.server.host,
      port: String(f.server.port),
    });
    const client = await f.login(granted.credentials);
    expect(await client.get(key(f.keys.app, 'a'))).toBe('A');
    await expect(client.set(key(f.keys.app, 'a'), 'x')).rejects.toThrow(/NOPERM/);
    await expect(client.get(key(f.keys.other, 'b'))).rejects.toThrow(/NOPERM/);
    await expect(client.keys('*')).rejects.toThrow(/NOPERM/);
    await expect(client.call('CLIENT', ['KILL', 'USER', 'default'])).rejects.toThrow(/NOPERM/);
    await c.revoke(spec('app', 'read'), granted.handle);
  });

  it('write writes the keys and publishes on the channels; admin is still kept from server-wide commands', async () => {
    const write = await c.grant(spec('queue', 'write'));
    const writer = await f.login(write.credentials);
    await writer.set(key(f.keys.queue, 'job'), '1');
    expect(await f.root.get(key(f.keys.queue, 'job'))).toBe('1');
    await expect(writer.set(key(f.keys.app, 'job'), '1')).rejects.toThrow(/NOPERM/);
    expect(await writer.publish(f.keys.channel, 'hello')).toBe(0);
    await expect(writer.publish(`${f.keys.channel}-other`, 'hello')).rejects.toThrow(/NOPERM/);

    const read = await c.grant(spec('queue', 'read'));
    const subscriber = await f.login(read.credentials);
    await subscriber.subscribe(f.keys.channel);
    await expect(
      f.login(read.credentials).then((x) => x.subscribe(`${f.keys.channel}-other`)),
    ).rejects.toThrow(/NOPERM/);

    const admin = await c.grant(spec('app', 'admin'));
    const adminClient = await f.login(admin.credentials);
    await adminClient.del(key(f.keys.app, 'a'));
    await expect(adminClient.flushall()).rejects.toThrow(/NOPERM/);
    await expect(adminClient.call('CONFIG', ['GET', 'aclfile'])).rejects.toThrow(/NOPERM/);
    await expect(adminClient.call('ACL', ['LIST'])).rejects.toThrow(/NOPERM/);
    await c.revokeMany!([
      { spec: spec('queue', 'write'), handle: write.handle },
      { spec: spec('queue', 'read'), handle: read.handle },
      { spec: spec('app', 'admin'), handle: admin.handle },
    ]);
  });

  it('revoke ends live connections of the user, and its password no longer logs in', async () => {
    const granted = await c.grant(spec('app', 'read'));
    const live = await f.login(granted.credentials);
    expect(await live.ping()).toBe('PONG');
    const ended = closed(live);
    await c.revoke(spec('app', 'read'), granted.handle);
    await ended; // the server closed the connection
    const clients = String(await f.root.call('CLIENT', ['LIST']));
    expect(clients).not.toContain(`user=${String(granted.handle.user)} `);
    await expect(f.login(granted.credentials)).rejects.toThrow(/WRONGPASS|invalid username-password/);
  });

  it('saves grants and revokes to the ACL file, so a restart neither loses nor brings back a user', async () => {
    const granted = await c.grant(spec('app', 'read'));
    const user = String(granted.handle.user);
    const lines = () =>
      readFileSync(f.aclFilePath!, 'utf8')
        .split('\n')
        .map((l) => l.split(' ')[1]);
    expect(f.aclFilePath).toBe(await aclFile());
    expect(lines()).toContain(user);
    await c.revoke(spec('app', 'read'), granted.handle);
    expect(lines()).not.toContain(user);
    expect((await c.health()).message).toContain(`ACL changes are saved to ${await aclFile()}`);
  });

  it('a grant whose ACL SAVE is refused takes its user away again, or names it for revoke', async () => {
    const s = spec('app', 'read');
    const undo = await f.failPartWay(s);
    let error: unknown;
    try {
      await c.grant(s);
    } catch (err) {
      error = err;
    } finally {
      await undo();
    }
    // The cleanup deleted the user, but could not save that either: so it says what may be left.
    expect(error).toBeInstanceOf(PartialGrantError);
    expect((error as PartialGrantError).message).toMatch(/NOPERM.*acl\|save/);
    expect((error as PartialGrantError).handle.user).toBe(grantUserName(f.prefix, s.grantId));
    expect(await f.present(s, (error as PartialGrantError).handle)).toBe(false);
  });

  it('a grant whose connection drops after ACL SETUSER reached the server deletes the user again', async () => {
    // A proxy that lets ACL SETUSER through, and drops the connection instead of passing on its reply:
    // the connector cannot know whether it ran (it did), and must not leave the user behind.
    let dropped = false;
    const proxy = net.createServer((client) => {
      const upstream = net.connect(f.server.port, f.server.host);
      let dropNext = false;
      client.on('data', (chunk) => {
        if (!dropped && chunk.toString('latin1').includes('SETUSER')) dropNext = true;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => {
        if (dropNext && !dropped) {
          dropped = true;
          client.destroy();
          upstream.destroy();
        } else client.write(chunk);
      });
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const through = connector({ host: '127.0.0.1', port: (proxy.address() as net.AddressInfo).port });
      const s = spec('app', 'read');
      const before = await f.snapshot();
      const error = await through.grant(s).then(
        () => null,
        (err: unknown) => err,
      );
      expect(dropped).toBe(true);
      expect(error).toBeInstanceOf(Error);
      expect(error).not.toBeInstanceOf(PartialGrantError);
      expect(await f.present(s, {})).toBe(false);
      expect(await f.snapshot()).toEqual(before);
      // The connection comes back, and the same grant goes through.
      const granted = await through.grant(s);
      expect(await f.present(s, granted.handle)).toBe(true);
      await through.revoke(s, granted.handle);
    } finally {
      proxy.close();
    }
  });

  it('a permission the server refuses fails the grant with its reason and leaves nothing', async () => {
    const odd = connector({ permissions: { read: ['+@nosuchcategory'] } });
    const before = await f.snapshot();
    await expect(odd.grant(spec('app', 'read'))).rejects.toThrow(/nosuchcategory/);
    expect(await f.snapshot()).toEqual(before);
    const health = await odd.health();
    expect(health.ok).toBe(false);
    expect(health.message).toMatch(/read.*nosuchcategory/);
  });

  it('a retried grant gives the same user a new password: the old one no longer logs in', async () => {
    const s = spec('app', 'read');
    const first = await c.grant(s);
    const second = await c.grant(s);
    expect(second.handle.user).toBe(first.handle.user);
    await expect(f.login(first.credentials)).rejects.toThrow(/WRONGPASS|invalid username-password/);
    expect(await (await f.login(second.credentials)).ping()).toBe('PONG');
    await c.revoke(s, second.handle);
  });

  it("never deletes Redis's default user, Latch's own, or a user without the prefix that was not listed as standing", async () => {
    const s = spec('app', 'read');
    const bystander = `${f.prefix.replace(/_$/, '-')}bystander`;
    await f.root.call('ACL', ['SETUSER', bystander, 'on', 'nopass', '+ping']);
    for (const user of ['default', f.admin.username, bystander])
      await expect(c.revoke(s, { user })).rejects.toThrow(/refusing/);
    await expect(c.revoke(s, { user: 'default', standing: true })).rejects.toThrow(/refusing/);
    await expect(c.revoke(s, { user: f.admin.username, standing: true })).rejects.toThrow(/refusing/);
    const granted = await c.grant(s);
    const outcomes = await c.revokeMany!([
      { spec: s, handle: { user: 'default' } },
      { spec: s, handle: granted.handle },
      { spec: s, handle: { user: bystander } },
    ]);
    expect(outcomes.map((o) => o?.message ?? null)).toEqual([
      expect.stringMatching(/refusing/),
      null,
      expect.stringMatching(/refusing/),
    ]);
    expect(await f.present(s, granted.handle)).toBe(false);
    expect((await f.root.call('ACL', ['USERS'])) as string[]).toEqual(
      expect.arrayContaining(['default', f.admin.username, bystander]),
    );
    await f.root.call('ACL', ['DELUSER', bystander]);
  });

  it('listAccess: Latch users by resource and permission, hand-made users on every resource they reach, never default or the admin', async () => {
    const write = await c.grant(spec('queue', 'write'));
    const everything = `${f.prefix.replace(/_$/, '-')}everything`;
    const custom = `${f.prefix.replace(/_$/, '-')}custom`;
    const off = `${f.prefix.replace(/_$/, '-')}off`;
    await f.root.call('ACL', [
      'SETUSER',
      everything,
      'on',
      '>pw-everything-1',
      'allkeys',
      'allchannels',
      ...DEFAULT_PERMISSIONS.admin!,
    ]);
    await f.root.call('ACL', ['SETUSER', custom, 'on', '>pw-custom-1', `~${f.keys.app}`, '+get']);
    await f.root.call('ACL', ['SETUSER', off, 'off', '>pw-off-1', `~${f.keys.app}`, '+@all']);
    const entries = await c.listAccess();
    const accounts = entries.map((e) => e.account);
    expect(accounts).not.toContain('default');
    expect(accounts).not.toContain(f.admin.username);
    expect(accounts).not.toContain(off);
    expect(accounts.some((a) => a.startsWith(`${f.prefix}probe`))).toBe(false);
    expect(entries.find((e) => e.key === c.accessKey(write.handle))).toEqual({
      key: c.accessKey(write.handle),
      resourceId: 'keys:queue',
      permission: 'write',
      account: write.handle.user,
      madeByLatch: true,
      handle: write.handle,
    });
    expect(
      entries.filter((e) => e.account === everything).map((e) => [e.resourceId, e.permission, e.madeByLatch]),
    ).toEqual([
      ['keys:app', 'admin', false],
      ['keys:queue', 'admin', false],
    ]);
    expect(entries.filter((e) => e.account === custom).map((e) => [e.resourceId, e.permission])).toEqual([
      ['keys:app', 'custom: -@all +get'],
    ]);

    // Converting standing access deletes that user, and with it its live connections.
    const live = await f.login({
      host: f.server.host,
      port: String(f.server.port),
      username: everything,
      password: 'pw-everything-1',
    });
    const ended = closed(live);
    const entry = entries.find((e) => e.account === everything)!;
    await c.revoke({ ...spec('app', 'read'), permission: entry.permission }, entry.handle);
    await ended;
    const left = await c.listAccess();
    expect(left.some((e) => e.account === everything)).toBe(false);
    await c.revoke(spec('queue', 'write'), write.handle);
    await f.root.call('ACL', ['DELUSER', custom, off]);
  });

  it('health is not ok, without throwing, on a wrong password or an unreachable server', async () => {
    const wrong = await connector({}, { password: 'not-the-password' }).health();
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toMatch(/WRONGPASS|invalid username-password/);
    expect(wrong.message).not.toContain('not-the-password');
    const nowhere = await connector({ port: 1 }).health();
    expect(nowhere.ok).toBe(false);
    expect(nowhere.message).toContain(`${f.admin.username}@${f.server.host}:1`);
    const good = await c.health();
    expect(good).toMatchObject({ ok: true });
    expect(good.message).toMatch(/^Redis \d+\.\d+/);
  });

  it('an admin without +config|get still grants and revokes, and health says nothing is saved', async () => {
    const name = `${f.prefix.replace(/_$/, '-')}noconfig`;
    await f.root.call('ACL', [
      'SETUSER',
      name,
      'reset',
      'on',
      '>pw-noconfig-1',
      'resetchannels',
      ...ADMIN_RULES.filter((r) => r !== '+config|get'),
    ]);
    const limited = connector({ username: name }, { password: 'pw-noconfig-1' });
    const health = await limited.health();
    expect(health.ok).toBe(true);
    expect(health.message).toContain('CONFIG GET aclfile refused');
    const s = spec('app', 'read');
    const granted = await limited.grant(s);
    expect(await f.present(s, granted.handle)).toBe(true);
    await limited.revoke(s, granted.handle);
    expect(await f.present(s, granted.handle)).toBe(false);
  });

  it('extend changes nothing (Redis users have no expiry; the lifecycle revokes on time)', async () => {
    const s = spec('app', 'read');
    const granted = await c.grant(s);
    const before = await f.snapshot();
    await c.extend(s, granted.handle, new Date(Date.now() + 7_200_000));
    expect(await f.snapshot()).toEqual(before);
    await c.revoke(s, granted.handle);
  });
});

describe('Redis settings', () => {
  const resources = [{ name: 'app', keys: ['app:*'] }];

  it('takes only host and resources, with the documented defaults', () => {
    expect(validateRedisSettings({ host: 'cache', resources }, {})).toEqual([]);
    expect(redisConfigSchema.parse({ host: 'cache', resources })).toEqual({
      host: 'cache',
      port: 6379,
      username: 'default',
      tls: false,
      userPrefix: 'latch_',
      resources: [{ name: 'app', keys: ['app:*'], channels: [] }],
      permissions: {},
    });
    expect(
      validateRedisSettings(
        { host: 'cache', resources: [{ name: 'events', channels: ['ev'] }] },
        { password: 'x' },
      ),
    ).toEqual([]);
  });

  it('reports what is wrong, field by field', () => {
    const issues = (config: Record<string, unknown>, secrets: Record<string, string> = {}) =>
      validateRedisSettings({ host: 'cache', resources, ...config }, secrets).map((i) => [
        i.path.join('.'),
        i.message,
      ]);
    expect(issues({ resources: [] })).toEqual([
      ['config.resources', expect.stringMatching(/>=1|at least 1/)],
    ]);
    expect(issues({ resources: [{ name: 'app' }] })).toEqual([
      ['config.resources.0', 'needs keys or channels (or both)'],
    ]);
    expect(issues({ resources: [...resources, { name: 'app', keys: ['b:*'] }] })).toEqual([
      ['config.resources.1.name', 'another resource is named app'],
    ]);
    expect(issues({ resources: [...resources, { name: 'b', keys: ['app:*'] }] })).toEqual([
      ['config.resources.1.keys', 'has the same keys and channels as app; resources must differ in them'],
    ]);
    expect(issues({ resources: [{ name: 'app', keys: ['a b'] }] })).toEqual([
      ['config.resources.0.keys.0', 'a key pattern must not contain spaces or control characters'],
    ]);
    expect(issues({ resources: [{ name: 'app', key: ['a:*'], keys: ['a:*'] }] })).toEqual([
      ['config.resources.0.key', 'unknown field'],
    ]);
    expect(issues({ resources: [{ name: 'app', keys: ['a:*'], permissions: ['owner'] }] })).toEqual([
      ['config.resources.0.permissions.0', 'unknown permission owner; known: read, write, admin'],
    ]);
    // A permission is command rules only: it can never widen keys or switch a user on.
    for (const rule of ['~*', 'allkeys', 'on', '>secret', '&*', 'reset', '+@read ~*'])
      expect(issues({ permissions: { read: [rule] } })[0]?.[0]).toBe('config.permissions.read.0');
    expect(issues({ userPrefix: 'lat', username: 'latch-admin' })).toEqual([
      [
        'config.userPrefix',
        'the admin user latch-admin starts with it; Latch would take it for one of its own',
      ],
    ]);
    expect(issues({ userPrefix: 'Latch ' })[0]?.[0]).toBe('config.userPrefix');
    expect(issues({}, { pasword: 'x' })).toEqual([['secrets.pasword', 'unknown secret']]);
    expect(() =>
      createRedisConnector({ name: 'r', type: 'redis', config: { host: 'cache' }, secrets: {} }),
    ).toThrow(/invalid config for Redis integration r/);
  });
});
