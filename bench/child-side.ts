/**
 * The other side of a benchmark (a SaaS stand-in and the sender) in a child process, so its work
 * does not share Latch's event loop: the bench file forks itself with `env` set, the child says it
 * is ready with a message, then answers requests by id.
 */
import { fork } from 'node:child_process';

/** A request without its id (Omit distributed over the union of requests). */
export type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export type SideReply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

export interface ChildSide<Req, Ready> {
  ready: Ready;
  call<T>(req: WithoutId<Req>): Promise<T>;
  stop(): Promise<void>;
}

export async function forkSide<Req extends { id: number }, Ready>(
  file: string,
  env: string,
  label: string,
): Promise<ChildSide<Req, Ready>> {
  const child = fork(file, [], {
    env: { ...process.env, [env]: '1' },
    execArgv: process.execArgv,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  let gone: Error | undefined;
  child.once('exit', (code, signal) => {
    gone = new Error(`the ${label} process exited with ${code ?? signal}`);
    for (const p of pending.values()) p.reject(gone);
    pending.clear();
  });
  const ready = await new Promise<Ready>((resolve, reject) => {
    child.once('message', (m) => resolve(m as Ready));
    child.once('exit', (code) =>
      reject(new Error(`the ${label} process exited with ${code} before it was ready`)),
    );
  });
  child.on('message', (m) => {
    const reply = m as SideReply;
    const p = pending.get(reply.id);
    if (!p) return;
    pending.delete(reply.id);
    if (reply.ok) p.resolve(reply.result);
    else p.reject(new Error(`in the ${label} process: ${reply.error}`));
  });
  let nextId = 0;
  return {
    ready,
    call: <T>(req: WithoutId<Req>) =>
      new Promise<T>((resolve, reject) => {
        if (gone) return reject(gone);
        const id = nextId++;
        pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
        child.send({ ...req, id });
      }),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.disconnect();
        const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/**
 * The child's half: answers each request by id with `handle`'s result (or its error), and on
 * disconnect runs `close` and exits (within 2 s whatever `close` does).
 */
export function serveSide<Req extends { id: number }>(
  handle: (req: Req) => Promise<unknown>,
  close: () => Promise<unknown>,
): void {
  process.on('message', (m) => {
    const req = m as Req;
    handle(req).then(
      (result) => process.send!({ id: req.id, ok: true, result: result ?? null } satisfies SideReply),
      (err: unknown) =>
        process.send!({
          id: req.id,
          ok: false,
          error: err instanceof Error ? (err.stack ?? err.message) : String(err),
        } satisfies SideReply),
    );
  });
  process.on('disconnect', () => {
    setTimeout(() => process.exit(0), 2_000).unref();
    void close().finally(() => process.exit(0));
  });
}
