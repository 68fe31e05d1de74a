/**
 * The one module through which request documents change: guarded moves (./moves.ts) for use-cases
 * and sweeps, and the sweeps' claims and leases (./claims.ts). A lint rule keeps writes to the
 * request collection here (eslint.config.js).
 */
export { RequestClaims } from './claims.js';
export { RequestMoves, type Change, type Guard } from './moves.js';
