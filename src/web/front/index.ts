/**
 * Starts the acking front (./thread.ts) in a worker thread of this process (docs/ARCHITECTURE.md,
 * "Web"). Under tsx and jest the thread's TypeScript is loaded through tsx, as the process's own is.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from '../../logger.js';
import type { FrontData, FrontMessage, ToFront } from './protocol.js';

export interface Front {
  port: number;
  /** Stops accepting, lets answers under way finish for up to graceMs, then ends the thread. */
  close(graceMs: number): Promise<void>;
}

/** Receives the slash commands the front has acknowledged: the headers and body as they came. */
export type AckedCommandSink = (headers: Record<string, string | string[] | undefined>, body: Buffer) => void;

/**
 * `onLost` runs if the thread ends while Latch still runs (it crashed): the port is gone with it,
 * so the process should stop and be restarted rather than run on deaf.
 */
export async function startFront(
  data: FrontData,
  log: Logger,
  onCommand: AckedCommandSink,
  onLost: () => void = () => {},
): Promise<Front> {
  const worker = spawn(
    new URL(`./thread${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
    data,
  );
  let closed: (() => void) | undefined;
  const port = await new Promise<number>((resolve, reject) => {
    worker.on('message', (m: FrontMessage) => {
      if (m.type === 'command')
        onCommand(m.headers, Buffer.from(m.body.buffer, m.body.byteOffset, m.body.byteLength));
      else if (m.type === 'listening') resolve(m.port);
      else if (m.type === 'failed') reject(new Error(`the web front could not listen: ${m.error}`));
      else if (m.type === 'log') log[m.level](m.detail ?? {}, m.msg);
      else if (m.type === 'closed') closed?.();
    });
    worker.on('error', reject);
    worker.on('exit', (code) => reject(new Error(`the web front stopped (exit ${code})`)));
  });
  let closing = false;
  let exited = false;
  worker.on('error', (err) => log.error({ err }, 'the web front failed'));
  worker.on('exit', (code) => {
    exited = true;
    if (closing) return;
    log.error({ code }, 'the web front stopped: Latch no longer listens on its port');
    onLost();
  });
  return {
    port,
    close: async (graceMs) => {
      closing = true;
      if (exited) return;
      const done = new Promise<void>((resolve) => {
        closed = resolve;
        worker.once('exit', () => resolve());
      });
      worker.postMessage({ type: 'close', graceMs } satisfies ToFront);
      await done;
      await worker.terminate();
    },
  };
}

function spawn(file: URL, workerData: FrontData): Worker {
  if (!file.pathname.endsWith('.ts')) return new Worker(file, { workerData });
  // Node 20 cannot load a worker's TypeScript through --import hooks; tsx's API can.
  const href = JSON.stringify(file.href);
  return new Worker(`import('tsx/esm/api').then((api) => api.tsImport(${href}, ${href}))`, {
    eval: true,
    workerData,
  });
}
