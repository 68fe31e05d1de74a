/**
 * Slack's request signing check, shared by the receiver and the acking front (docs/ARCHITECTURE.md,
 * "Web"). Bolt's own check only refuses old timestamps; this one refuses any request signed more
 * than five minutes before or after now (a clock-skewed or pre-signed replay is as bad as an old
 * one), and compares signatures in constant time. No imports beyond node: the front's worker
 * thread loads it on its own.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';

const TOLERANCE_SECONDS = 5 * 60;

/** A reason to refuse, or undefined when the request is Slack's and fresh. */
export function slackSignatureProblem(
  headers: http.IncomingHttpHeaders,
  rawBody: Buffer,
  signingSecret: string,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): string | undefined {
  const ts = header(headers, 'x-slack-request-timestamp');
  const sig = header(headers, 'x-slack-signature');
  if (!ts || !sig) return 'missing signature headers';
  const seconds = Number(ts);
  if (!Number.isInteger(seconds)) return 'bad timestamp';
  if (Math.abs(nowSeconds - seconds) > TOLERANCE_SECONDS) return 'timestamp outside the 5-minute window';
  const expected = Buffer.from(
    'v0=' + createHmac('sha256', signingSecret).update(`v0:${ts}:`).update(rawBody).digest('hex'),
  );
  const given = Buffer.from(sig);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
  return undefined;
}

export function header(headers: http.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
