/**
 * Latch as a real child process (`node --import tsx src/main.ts`, or another entry such as
 * src/worker.ts), for tests that need what only a process has: every byte it writes, signals, exit
 * codes, being killed.
 *
 *   const p = await startLatchProcess({ env: { MONGODB_URI, PORT, ... }, ready: 'web listening' });
 *   p.output();                       // stdout and stderr so far, interleaved as they arrived
 *   p.stdout(); p.stderr();           // each apart
 *   p.logLines();                     // stdout's JSON log lines, parsed (others skipped)
 *   await p.waitForOutput(/granted/); // resolves with the first matching line (rejects on exit or timeout)
 *   await p.stop();                   // SIGTERM, then SIGKILL if it has not exited in 10 s
 *   await p.stop('SIGKILL');          // kill at once (a worker that dies mid-work)
 *   await p.exited;                   // { code, signal } once it has exited
 *
 * The child's environment is `env` over a minimal base (PATH, HOME, TMPDIR, LANG): nothing of the
 * test process leaks in (no MONGODB_URI, PG_URL, LOG_LEVEL) unless given. `ready` waits for a line
 * of output before start resolves; if the process exits or `readyTimeoutMs` passes first, the
 * process is killed and start rejects with its output. Every process still running when the test
 * process exits is SIGKILLed, so a failed test never leaves one behind; still, stop it in afterAll.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface LatchProcessOptions {
  /** Environment variables of the child, over the minimal base; undefined values are left out. */
  env: Record<string, string | undefined>;
  /** Script to run, relative to the repository root. Default 'src/main.ts'. */
  entry?: string;
  /** Arguments after the script, e.g. ['--role', 'web']. */
  args?: string[];
  /** A line of output (text or pattern) to wait for before start resolves, e.g. 'web listening'. */
  ready?: string | RegExp;
  /** Default 60 000 (tsx compiles on the first start). */
  readyTimeoutMs?: number;
  /** Default the repository root. */
  cwd?: string;
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LatchProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  /** Resolves once the process has exited (output is complete by then). */
  readonly exited: Promise<ExitStatus>;
  /** Whether it has exited. */
  readonly running: boolean;
  output(): string;
  stdout(): string;
  stderr(): string;
  /** stdout's lines that parse as JSON objects (pino's log lines). */
  logLines(): Array<Record<string, unknown>>;
  /** The first line of output (already written or still to come) that matches. */
  waitForOutput(match: string | RegExp | ((line: string) => boolean), timeoutMs?: number): Promise<string>;
  /**
   * Sends `signal` (default SIGTERM) and waits for the exit; after `graceMs` (default 10 000) of
   * waiting on a SIGTERM it sends SIGKILL. Harmless when the process has already exited.
   */
  stop(signal?: 'SIGTERM' | 'SIGKILL' | 'SIGINT', graceMs?: number): Promise<ExitStatus>;
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of live) child.kill('SIGKILL');
  });
}

export async function startLatchProcess(opts: LatchProcessOptions): Promise<LatchProcess> {
  const base: Record<string, string | undefined> = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    TMPDIR: process.env.TMPDIR,
    LANG: process.env.LANG,
  };
  const env = Object.fromEntries(
    Object.entries({ ...base, ...opts.env }).filter((e): e is [string, string] => e[1] !== undefined),
  );
  const entry = path.resolve(REPO_ROOT, opts.entry ?? 'src/main.ts');
  const child = spawn(process.execPath, ['--import', 'tsx', entry, ...(opts.args ?? [])], {
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  installExitHook();
  live.add(child);

  let all = '';
  let out = '';
  let err = '';
  let status: ExitStatus | undefined;
  /** Each waiter looks at complete lines; `pending` holds the unfinished tail of each stream. */
  const pending = { out: '', err: '' };
  const listeners = new Set<(line: string) => void>();
  const onData = (stream: 'out' | 'err') => (chunk: Buffer) => {
    const text = chunk.toString('utf8');
    all += text;
    if (stream === 'out') out += text;
    else err += text;
    const lines = (pending[stream] + text).split('\n');
    pending[stream] = lines.pop() ?? '';
    for (const line of lines) for (const l of [...listeners]) l(line);
  };
  // A failed spawn still ends in 'close'; say why in the output.
  child.on('error', (e) => {
    all += `[latch-process] ${e.message}\n`;
  });
  child.stdout!.on('data', onData('out'));
  child.stderr!.on('data', onData('err'));

  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('close', (code, signal) => {
      live.delete(child);
      // A last line without a newline is still a line.
      for (const s of ['out', 'err'] as const) {
        if (pending[s]) for (const l of [...listeners]) l(pending[s]);
        pending[s] = '';
      }
      status = { code, signal };
      resolve(status);
    });
  });

  const matcher = (m: string | RegExp | ((line: string) => boolean)) =>
    typeof m === 'function'
      ? m
      : typeof m === 'string'
        ? (l: string) => l.includes(m)
        : (l: string) => m.test(l);

  const waitForOutput = (m: string | RegExp | ((line: string) => boolean), timeoutMs = 30_000) => {
    const test = matcher(m);
    const already = all.split('\n').find(test);
    if (already !== undefined) return Promise.resolve(already);
    return new Promise<string>((resolve, reject) => {
      const done = () => {
        listeners.delete(listener);
        clearTimeout(timer);
      };
      const listener = (line: string) => {
        if (!test(line)) return;
        done();
        resolve(line);
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no output matching ${String(m)} within ${timeoutMs} ms. Output:\n${tail(all)}`));
      }, timeoutMs);
      listeners.add(listener);
      void exited.then((s) => {
        if (!listeners.has(listener)) return;
        done();
        reject(
          new Error(
            `process exited (code ${s.code}, signal ${s.signal}) before output matching ${String(m)}. Output:\n${tail(all)}`,
          ),
        );
      });
    });
  };

  const stop = async (signal: 'SIGTERM' | 'SIGKILL' | 'SIGINT' = 'SIGTERM', graceMs = 10_000) => {
    if (status) return status;
    child.kill(signal);
    if (signal === 'SIGKILL') return exited;
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  const proc: LatchProcess = {
    pid: child.pid!,
    child,
    exited,
    get running() {
      return status === undefined;
    },
    output: () => all,
    stdout: () => out,
    stderr: () => err,
    logLines: () =>
      out.split('\n').flatMap((l) => {
        if (!l.startsWith('{')) return [];
        try {
          const v = JSON.parse(l) as unknown;
          return v && typeof v === 'object' && !Array.isArray(v) ? [v as Record<string, unknown>] : [];
        } catch {
          return [];
        }
      }),
    waitForOutput,
    stop,
  };

  if (opts.ready !== undefined) {
    try {
      await waitForOutput(opts.ready, opts.readyTimeoutMs ?? 60_000);
    } catch (e) {
      await stop('SIGKILL');
      throw e;
    }
  }
  return proc;
}

/** The last part of a long output, for error messages. */
function tail(text: string, max = 4_000): string {
  return text.length > max ? `…${text.slice(-max)}` : text;
}
