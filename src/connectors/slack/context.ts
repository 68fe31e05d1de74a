import type { SlackApi } from './api.js';
import type { SlackConnectorConfig } from './config.js';

/** What the connector's modules share. */
export interface SlackContext {
  config: SlackConnectorConfig;
  api: SlackApi;
  /** Runs read-modify-write updates of one user group one at a time within this process. */
  locks: KeyedLock;
}

export class KeyedLock {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const next = prev.then(work, work);
    const tail = next.catch(() => {});
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }
}

export const errorOf = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));
