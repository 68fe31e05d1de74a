import { pino, type Logger } from 'pino';

export type { Logger };

/** Secrets must never reach a log line, whatever object a caller passes. */
const REDACT = [
  '*.password',
  '*.secret',
  '*.secrets',
  '*.token',
  '*.credentials',
  '*.values',
  'password',
  'secrets',
];

export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({ level, redact: { paths: REDACT, censor: '[redacted]' }, base: { app: 'latch' } });
}

export const silentLogger: Logger = pino({ level: 'silent' });
