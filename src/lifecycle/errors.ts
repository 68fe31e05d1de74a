/**
 * Errors a use-case refuses with. The message is written for the person who acted and is shown to
 * them as-is by every channel (modal error, chat message, HTTP 4xx reason).
 */
export type LatchErrorCode = 'invalid' | 'forbidden' | 'not_found' | 'conflict';

export class LatchError extends Error {
  constructor(
    readonly code: LatchErrorCode,
    message: string,
    /** Field the error belongs to, for inline form errors. */
    readonly field?: string,
  ) {
    super(message);
    this.name = 'LatchError';
  }
  get httpStatus(): number {
    return { invalid: 400, forbidden: 403, not_found: 404, conflict: 409 }[this.code];
  }
}

export const invalid = (msg: string, field?: string) => new LatchError('invalid', msg, field);
export const forbidden = (msg: string) => new LatchError('forbidden', msg);
export const notFound = (msg: string) => new LatchError('not_found', msg);
export const conflict = (msg: string) => new LatchError('conflict', msg);
