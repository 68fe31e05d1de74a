/**
 * A webhook subscription as an admin enters it (docs/ARCHITECTURE.md, "Lifecycle webhooks"),
 * checked with zod, every problem on its field. Pure.
 */
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import { z } from 'zod';
import { WEBHOOK_EVENTS, type WebhookEventType } from './events.js';

export interface WebhookInput {
  name: string;
  url: string;
  /** Empty or absent: every event. */
  events?: string[];
  /** Absent or empty: Latch generates one on creation (and keeps the stored one on edit). */
  secret?: string;
  /** Absent: enabled. */
  enabled?: boolean;
}

export const WEBHOOK_NAME_MAX = 80;
export const SECRET_MIN = 16;

/**
 * Plain http is allowed only to this machine (a relay or collector next to Latch): nothing leaves
 * the host in clear, and the signature still covers the body. Anywhere else it must be https, so
 * what Latch sends about people's access cannot be read or changed on the way.
 */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Why `raw` cannot be a webhook URL, or null. */
export function urlProblem(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'Give a full URL, e.g. https://hooks.example.com/latch.';
  }
  if (url.username || url.password)
    return 'Leave credentials out of the URL (the signature proves it is Latch; the URL is shown to admins).';
  if (url.protocol === 'https:') return null;
  if (url.protocol === 'http:')
    return isLoopbackHost(url.hostname)
      ? null
      : 'Use https: plain http is allowed only to this machine (localhost, 127.0.0.1, ::1).';
  return 'Use an https:// URL.';
}

const schema = z.object({
  name: z
    .string()
    .trim()
    .min(1, 'Give the subscription a name.')
    .max(WEBHOOK_NAME_MAX, `At most ${WEBHOOK_NAME_MAX} characters.`),
  url: z
    .string()
    .trim()
    .min(1, 'Give the URL Latch posts to.')
    .max(2000, 'At most 2000 characters.')
    .superRefine((v, ctx) => {
      const problem = v ? urlProblem(v) : null;
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    }),
  events: z
    .array(z.enum(WEBHOOK_EVENTS, { message: `Known events: ${WEBHOOK_EVENTS.join(', ')}.` }))
    .max(WEBHOOK_EVENTS.length)
    .default([]),
  secret: z
    .string()
    .trim()
    .max(200, 'At most 200 characters.')
    .refine(
      (v) => v === '' || v.length >= SECRET_MIN,
      `At least ${SECRET_MIN} characters, or leave it empty.`,
    )
    .default(''),
  enabled: z.boolean().default(true),
});

export interface CheckedWebhook {
  name: string;
  url: string;
  events: WebhookEventType[];
  /** Empty: none given. */
  secret: string;
  enabled: boolean;
}

/** The subscription, or each problem with its field (`name`, `url`, `events`, `secret`, `enabled`). */
export function checkWebhookInput(
  input: unknown,
): { ok: true; value: CheckedWebhook } | { ok: false; issues: Array<{ field: string; message: string }> } {
  const parsed = schema.safeParse(input);
  if (!parsed.success)
    return {
      ok: false,
      issues: parsed.error.issues.map((i) => ({ field: String(i.path[0] ?? 'name'), message: i.message })),
    };
  const v = parsed.data;
  // Every event, in their usual order, once.
  const events = WEBHOOK_EVENTS.filter((e) => v.events.includes(e));
  return { ok: true, value: { ...v, events: events.length === WEBHOOK_EVENTS.length ? [] : events } };
}

/** A new signing secret: 32 random bytes, prefixed so it is recognisable in a secrets manager. */
export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(32).toString('base64url')}`;
}
