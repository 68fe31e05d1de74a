/**
 * A throwaway MariaDB server for tests: MARIADB_URL wins when set, otherwise mariadb-install-db +
 * mariadbd from Debian's mariadb-server package, in a temp dir, on a free loopback port. The
 * server's root account takes TCP connections from 127.0.0.1 without a password. As root the
 * daemon is told to run as root (it refuses otherwise); as anyone else it runs as that user.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import { freePort } from '../../src/store/embedded-mongo.js';

export interface MariadbServer {
  url: string;
  port: number;
  dir: string | null;
  stop(): Promise<void>;
}

function findBin(name: string): string {
  for (const dir of ['/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin']) {
    const p = path.join(dir, name);
    if (existsSync(p)) return p;
  }
  throw new Error(
    `${name} not found: install Debian's mariadb-server package (apt-get install -y mariadb-server)`,
  );
}

/**
 * Ready once the server sends its handshake on a new connection. (Probing with mysql2 instead
 * leaves a connect-timeout timer per refused attempt, which keeps the test process alive.)
 */
const greets = (port: number): Promise<void> =>
  new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(2_000, () => socket.destroy(new Error('no handshake')));
    socket.once('data', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });

async function waitUntilUp(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  let last: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    try {
      await greets(port);
      return;
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
  throw new Error(`MariaDB did not come up (${String(last)}):\n${log}`);
}

export async function startMariadb(
  opts: { private?: boolean; args?: string[] } = {},
): Promise<MariadbServer> {
  if (process.env.MARIADB_URL && !opts.private) {
    return {
      url: process.env.MARIADB_URL,
      port: Number(new URL(process.env.MARIADB_URL).port),
      dir: null,
      stop: async () => {},
    };
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-mariadb-'));
  const dataDir = path.join(dir, 'data');
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  execFileSync(
    findBin('mariadb-install-db'),
    [
      '--no-defaults',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-test-db',
      ...asRoot,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const port = await freePort();
  const logFile = path.join(dir, 'error.log');
  const child = spawn(
    findBin('mariadbd'),
    [
      '--no-defaults',
      ...asRoot,
      `--datadir=${dataDir}`,
      `--port=${port}`,
      '--bind-address=127.0.0.1',
      `--socket=${path.join(dir, 'mysqld.sock')}`,
      `--pid-file=${path.join(dir, 'mysqld.pid')}`,
      `--log-error=${logFile}`,
      `--tmpdir=${dir}`,
      '--skip-name-resolve',
      '--skip-log-bin',
      '--event-scheduler=ON',
      '--max-connections=500',
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0',
      '--innodb-buffer-pool-size=64M',
      '--loose-innodb-use-native-aio=0',
      '--performance-schema=OFF',
      ...(opts.args ?? []),
    ],
    { stdio: 'ignore' },
  );
  child.unref();
  const url = `mysql://root@127.0.0.1:${port}`;
  try {
    await waitUntilUp(port, child, logFile);
  } catch (err) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    url,
    port,
    dir,
    stop: async () => {
      if (child.exitCode === null) {
        let timer: NodeJS.Timeout | undefined;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => (timer = setTimeout(r, 20_000)))]);
        clearTimeout(timer);
        if (child.exitCode === null) child.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
