/**
 * How Latch signs what it POSTs to a customer's endpoint (the webhook connector and lifecycle
 * webhooks, docs/ARCHITECTURE.md, "Webhooks"): header `Latch-Signature: t=<unix seconds>,v1=<hex>`,
 * where v1 is HMAC-SHA256 over `<t>.<raw body>` with the shared secret. The timestamp is signed
 * with the body, so a receiver that refuses old timestamps refuses replays.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export const SIGNATURE_HEADER = 'Latch-Signature';
/** How old a signature a receiver should accept, by default. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

function mac(secret: string, timestamp: number, body: string): string {
  return createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex');
}

export function signatureHeader(secret: string, body: string, now: Date = new Date()): string {
  const t = Math.floor(now.getTime() / 1000);
  return `t=${t},v1=${mac(secret, t, body)}`;
}

/** Why a signature is refused, or null when it is good. What a receiver (and Latch's tests) runs. */
export function signatureProblem(
  secret: string,
  header: string | undefined,
  body: string,
  now: Date = new Date(),
  toleranceSeconds = DEFAULT_TOLERANCE_SECONDS,
): string | null {
  if (!header) return `no ${SIGNATURE_HEADER} header`;
  const parts = new Map(
    header.split(',').map((p) => {
      const i = p.indexOf('=');
      return [p.slice(0, i).trim(), p.slice(i + 1).trim()] as const;
    }),
  );
  const t = Number(parts.get('t'));
  const v1 = parts.get('v1');
  if (!Number.isInteger(t) || !v1) return 'malformed signature header';
  if (Math.abs(now.getTime() / 1000 - t) > toleranceSeconds) return 'signature timestamp too old';
  const expected = Buffer.from(mac(secret, t, body), 'hex');
  const given = Buffer.from(v1, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  return null;
}
