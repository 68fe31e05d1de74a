import { pino, type DestinationStream, type Logger } from 'pino';
import { scrub } from './secret-scrubber.js';

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

/**
 * Redaction masks secrets by key; inside a string (a message, an error text, a request body some
 * library logged) only their values can be found, so every serialized line also goes through the
 * secret scrubber before it is written (secret-scrubber.ts: registered secrets, token shapes).
 */
export function createLogger(
  level = process.env.LOG_LEVEL ?? 'info',
  /** stdout unless given (tests). */
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level,
      redact: { paths: REDACT, censor: '[redacted]' },
      base: { app: 'latch' },
      hooks: { streamWrite: scrub },
    },
    destination,
  );
}

export const silentLogger: Logger = pino({ level: 'silent' });
