/** Bolt and the Web API client log through Latch's logger (their chatter at debug level). */
import type { Logger } from '../../logger.js';

/** Bolt's logger interface over pino. */
export function boltLogger(log: Logger) {
  let level = 'info';
  return {
    debug: (...m: unknown[]) => log.debug({ bolt: m }, 'bolt'),
    info: (...m: unknown[]) => log.debug({ bolt: m }, 'bolt'),
    warn: (...m: unknown[]) => log.warn({ bolt: m }, 'bolt'),
    error: (...m: unknown[]) => log.error({ bolt: m }, 'bolt'),
    setLevel: (l: string) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  } as never;
}
