/**
 * A throwaway PostgreSQL cluster for tests and benchmarks: PG_URL wins when set, otherwise initdb +
 * pg_ctl from Debian's packages on a free loopback port. PostgreSQL refuses to run as root, so as
 * root the cluster runs as the `postgres` user.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/store/embedded-mongo.js';

export interface PostgresServer {
  url: string;
  port: number;
  dataDir: string | null;
  stop(): Promise<void>;
  /** Stops the server but keeps its data (for outage tests); start() brings it back on the same port. */
  pause(): void;
  start(): void;
}

export function findPgBin(name: 'initdb' | 'pg_ctl'): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) {
      const p = path.join(root, v, 'bin', name);
      if (existsSync(p)) return p;
    }
  }
  const which = spawnSync('which', [name], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  throw new Error(`${name} not found: install Debian's postgresql package (apt-get install -y postgresql)`);
}

function asPostgres(cmd: string, args: string[]): void {
  const isRoot = process.getuid?.() === 0;
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  execFileSync(file, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startPostgres(opts: { private?: boolean } = {}): Promise<PostgresServer> {
  if (process.env.PG_URL && !opts.private) {
    return { url: process.env.PG_URL, port: 0, dataDir: null, stop: async () => {}, pause() {}, start() {} };
  }
  const initdb = findPgBin('initdb');
  const pgCtl = findPgBin('pg_ctl');
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'latch-pg-'));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim());
    chownSync(dataDir, uid, gid);
  }
  asPostgres(initdb, ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync']);
  const port = await freePort();
  const start = () =>
    asPostgres(pgCtl, [
      '-D',
      dataDir,
      '-w',
      '-l',
      path.join(dataDir, 'server.log'),
      '-o',
      `-p ${port} -k ${dataDir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`,
      'start',
    ]);
  const pause = () => asPostgres(pgCtl, ['-D', dataDir, '-w', '-m', 'fast', 'stop']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    pause,
    start,
    stop: async () => {
      try {
        pause();
      } catch {
        // already stopped
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
