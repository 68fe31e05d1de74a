/**
 * A throwaway Redis for tests: REDIS_URL wins when set, otherwise Debian's redis-server on a free
 * loopback port in a temp dir, nothing saved to disk but its ACL file (so ACL SAVE, which the
 * connector calls when there is one, is exercised). The admin is the default user with a random
 * password, written in that file. Never the packaged service on 6379.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/store/embedded-mongo.js';

export interface RedisServer {
  /** redis://default:<password>@127.0.0.1:<port> */
  url: string;
  stop(): Promise<void>;
}

function findRedisServer(): string {
  if (existsSync('/usr/bin/redis-server')) return '/usr/bin/redis-server';
  const which = spawnSync('which', ['redis-server'], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  throw new Error(
    "redis-server not found: install Debian's redis-server package (apt-get install -y redis-server)",
  );
}

async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => (socket.destroy(), resolve(true)));
      socket.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`redis-server did not listen on ${port} in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startRedis(): Promise<RedisServer> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL, stop: async () => {} };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-redis-'));
  const password = randomBytes(18).toString('hex');
  const aclFile = path.join(dir, 'users.acl');
  writeFileSync(aclFile, `user default on >${password} ~* &* +@all\n`);
  const port = await freePort();
  const pidFile = path.join(dir, 'redis.pid');
  execFileSync(findRedisServer(), [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--aclfile',
    aclFile,
    '--daemonize',
    'yes',
    '--pidfile',
    pidFile,
    '--logfile',
    path.join(dir, 'redis.log'),
  ]);
  await listening(port, 10_000);
  return {
    url: `redis://default:${password}@127.0.0.1:${port}`,
    stop: async () => {
      try {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        process.kill(pid, 'SIGTERM');
        for (let i = 0; i < 100; i += 1) {
          process.kill(pid, 0); // throws once it is gone
          await new Promise((r) => setTimeout(r, 50));
        }
      } catch {
        // stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
