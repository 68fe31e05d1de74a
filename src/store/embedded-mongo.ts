/**
 * Picks and starts the MongoDB that Latch uses when MONGODB_URI is not set (docs/ARCHITECTURE.md, "Storage"):
 * mongodb-memory-server where a mongod can be downloaded, otherwise SecantusDB from PyPI in a local
 * virtualenv. Shared by `npm start`, the test global setup and the benchmarks.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import dns from 'node:dns/promises';
import net from 'node:net';
import path from 'node:path';
import { MongoClient } from 'mongodb';

export const SECANTUS_VERSION = '0.7.0b3';
/** While `npm start` runs, its embedded database's address is here, for admin tools (npm run audit). */
export const EMBEDDED_URI_FILE = 'embedded-mongo.uri';

export interface EmbeddedMongo {
  uri: string;
  kind: 'mongodb-memory-server' | 'secantusdb';
  /** Where the data lives, or 'memory' for a throwaway server. */
  dataPath: string;
  stop(): Promise<void>;
}

export interface EmbeddedMongoOptions {
  /** Folder for state that survives restarts (.latch/ by default). */
  stateDir: string;
  /** Keep data across restarts (npm start) or throw it away (tests, benchmarks). */
  persistent: boolean;
  /** Force one engine; by default mongodb-memory-server is tried first. */
  prefer?: 'mongodb-memory-server' | 'secantusdb';
  log?: (msg: string) => void;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

export async function startEmbeddedMongo(opts: EmbeddedMongoOptions): Promise<EmbeddedMongo> {
  const log = opts.log ?? (() => {});
  mkdirSync(opts.stateDir, { recursive: true });
  const noDownloadMarker = path.join(opts.stateDir, 'mongod-download-unavailable');
  const triedRecently =
    existsSync(noDownloadMarker) &&
    Date.now() - Number(readFileSync(noDownloadMarker, 'utf8')) < 24 * 3600 * 1000;

  if (opts.prefer !== 'secantusdb' && !triedRecently && (await mongodCanBeHad())) {
    try {
      return await startMemoryServer(opts);
    } catch (err) {
      log(`mongodb-memory-server is not available here (${firstLine(err)}); using SecantusDB instead`);
      writeFileSync(noDownloadMarker, String(Date.now()));
    }
  }
  return startSecantus(opts, log);
}

/** A cached or system mongod, or a reachable download host; otherwise do not even try. */
async function mongodCanBeHad(): Promise<boolean> {
  if (process.env.MONGOMS_SYSTEM_BINARY) return true;
  const cache = path.join(process.env.HOME ?? '', '.cache', 'mongodb-binaries');
  if (existsSync(cache) && readdirSync(cache).some((f) => f.startsWith('mongod'))) return true;
  const host = process.env.MONGOMS_DOWNLOAD_MIRROR
    ? new URL(process.env.MONGOMS_DOWNLOAD_MIRROR).hostname
    : 'fastdl.mongodb.org';
  const lookup = dns.lookup(host).then(
    () => true,
    () => false,
  );
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref());
  return Promise.race([lookup, timeout]);
}

async function startMemoryServer(opts: EmbeddedMongoOptions): Promise<EmbeddedMongo> {
  const { MongoMemoryServer } = await import('mongodb-memory-server');
  const dbPath = opts.persistent ? path.join(opts.stateDir, 'mongo-data') : undefined;
  if (dbPath) mkdirSync(dbPath, { recursive: true });
  const server = await MongoMemoryServer.create({
    instance: { ip: '127.0.0.1', ...(dbPath ? { dbPath, storageEngine: 'wiredTiger' as const } : {}) },
  });
  return {
    uri: server.getUri('latch'),
    kind: 'mongodb-memory-server',
    dataPath: dbPath ?? 'memory',
    stop: async () => {
      await server.stop({ doCleanup: !opts.persistent, force: false });
    },
  };
}

/** Creates the virtualenv with SecantusDB on first use; later starts reuse it. */
export function ensureSecantusInstalled(stateDir: string, log: (msg: string) => void): string {
  const venv = path.join(stateDir, 'secantus-venv');
  const bin = path.join(venv, 'bin', 'secantusd-py');
  if (existsSync(bin)) return bin;
  log(`installing SecantusDB ${SECANTUS_VERSION} into ${venv} (first run only)`);
  const mk = spawnSync('python3', ['-m', 'venv', venv], { stdio: 'inherit' });
  if (mk.status !== 0) throw new Error('python3 -m venv failed; Python 3 with venv is needed for SecantusDB');
  const pip = spawnSync(path.join(venv, 'bin', 'pip'), ['install', '-q', `secantusdb==${SECANTUS_VERSION}`], {
    stdio: 'inherit',
  });
  if (pip.status !== 0 || !existsSync(bin))
    throw new Error(`pip install secantusdb==${SECANTUS_VERSION} failed`);
  return bin;
}

async function startSecantus(opts: EmbeddedMongoOptions, log: (msg: string) => void): Promise<EmbeddedMongo> {
  const bin = ensureSecantusInstalled(opts.stateDir, log);
  const port = await freePort();
  const dataPath = opts.persistent ? path.join(opts.stateDir, 'secantus-data') : ':memory:';
  const child = spawn(
    bin,
    ['--host', '127.0.0.1', '--port', String(port), '--storage-path', dataPath, '--log-level', 'WARNING'],
    { stdio: ['ignore', 'ignore', 'pipe'], detached: false },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  const uri = `mongodb://127.0.0.1:${port}/latch`;
  await waitForMongo(uri, child, () => stderr);
  return {
    uri,
    kind: 'secantusdb',
    dataPath: dataPath === ':memory:' ? 'memory' : dataPath,
    stop: () => stopChild(child),
  };
}

async function waitForMongo(uri: string, child: ChildProcess, stderr: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`SecantusDB exited with ${child.exitCode}: ${stderr()}`);
    try {
      const client = await MongoClient.connect(uri, { serverSelectionTimeoutMS: 500 });
      await client.db('admin').command({ ping: 1 });
      await client.close();
      return;
    } catch {
      if (Date.now() > deadline) throw new Error(`SecantusDB did not start within 60 s: ${stderr()}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

function firstLine(err: unknown): string {
  return String(err instanceof Error ? err.message : err).split('\n')[0] ?? '';
}
