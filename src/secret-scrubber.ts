/**
 * The last line of defence against secrets in logs: every line the logger writes passes through
 * `scrub` (pino's `hooks.streamWrite`, see logger.ts), which replaces
 *
 *   - every value registered with `registerSecret`: the code that reads, opens or generates a secret
 *     registers it (config load, SecretBox, the PostgreSQL temporary-login grant, the credentials
 *     modal), so the value is masked wherever it turns up, even inside a string that key-based
 *     redaction cannot see;
 *   - anything shaped like a Slack token (`xoxb-…`, `xoxp-…`, `xapp-…`, rotated `xoxe.xoxb-…`),
 *     registered or not.
 *
 * Values shorter than MIN_LENGTH are ignored so that ordinary words are never masked, and the set is
 * bounded (oldest out) so a long-running process that generates a password per grant stays small.
 * Process-wide on purpose: a secret opened anywhere is masked in every log line.
 */

export const REDACTED = '[redacted]';
export const MIN_LENGTH = 8;
export const MAX_SECRETS = 512;

const TOKEN = /\b(xox[a-z](?:\.xox[a-z])?-|xapp-)[A-Za-z0-9-]+/g;

/** Insertion order is age: the first key is the oldest. Value: the forms to look for. */
const secrets = new Map<string, string[]>();
/** Every form of every secret, longest first (so a secret inside another is not half-masked). */
let needles: string[] = [];

/** Masks `value` in every later log line. Empty, short or missing values are ignored. */
export function registerSecret(value: string | null | undefined): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH) return;
  const known = secrets.get(value);
  if (known) {
    // Refreshed: a secret in use again should not be the next to go.
    secrets.delete(value);
    secrets.set(value, known);
    return;
  }
  secrets.set(value, forms(value));
  while (secrets.size > MAX_SECRETS) secrets.delete(secrets.keys().next().value!);
  needles = [...new Set([...secrets.values()].flat())].sort((a, b) => b.length - a.length);
}

/** Several at once; the same rules as registerSecret. */
export function registerSecrets(...values: Array<string | null | undefined>): void {
  for (const v of values) registerSecret(v);
}

/** `line` with every registered secret and every token-shaped string replaced. */
export function scrub(line: string): string {
  let out = line;
  for (const n of needles) if (out.includes(n)) out = out.split(n).join(REDACTED);
  // A cheap test first: almost no line carries a token.
  if (out.includes('xox') || out.includes('xapp-')) out = out.replace(TOKEN, `$1${REDACTED}`);
  return out;
}

/** For tests: forget every registered secret. */
export function clearSecrets(): void {
  secrets.clear();
  needles = [];
}

/** How many secrets are registered (tests). */
export function secretCount(): number {
  return secrets.size;
}

/**
 * The value as it may appear in a written line: as is, escaped inside a JSON string (the line is
 * JSON, and a message may hold JSON that was serialized once more), and URL-encoded (form bodies).
 */
function forms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const twice = JSON.stringify(json).slice(1, -1);
  const url = encodeURIComponent(value);
  return [...new Set([value, json, twice, url])];
}
