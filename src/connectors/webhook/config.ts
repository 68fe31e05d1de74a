import { z } from 'zod';
import { settingsIssues } from '../settings.js';
import type { ConnectorValidator } from '../types.js';

/** Hosts plain http may go to: a sidecar on the same machine (and the tests' receiver). */
export const LOOPBACK_HOSTS = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Why Latch will not POST to `value`, or null. https only, except to this machine: the body names
 * people and what they get, and the answer may carry credentials.
 */
export function endpointProblem(value: string): string | null {
  let u: URL;
  try {
    u = new URL(value);
  } catch {
    return 'must be an absolute URL, e.g. https://access.example.com/latch';
  }
  if (u.username || u.password)
    return 'must not carry a user or password (the signature authenticates Latch)';
  if (u.hash) return 'must not have a #fragment';
  if (u.protocol === 'https:') return null;
  if (u.protocol === 'http:')
    return LOOPBACK_HOSTS.includes(u.hostname)
      ? null
      : 'must use https (http is allowed only to 127.0.0.1, localhost or [::1])';
  return 'must use https';
}

const staticResource = z.object({
  id: z.string().min(1).max(500),
  name: z.string().min(1).max(500),
  kind: z.string().min(1).default('resource'),
  permissions: z.array(z.string().min(1).max(200)).min(1),
  tags: z.record(z.string(), z.string()).optional(),
});

export const webhookConfigSchema = z.object({
  url: z.string().superRefine((value, ctx) => {
    const problem = endpointProblem(value);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  }),
  /** Per attempt: connecting, sending and reading the whole answer. */
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** Attempts after the first, for 5xx, 408, 429, timeouts and connection errors. */
  retries: z.number().int().min(0).max(10).default(3),
  /** First backoff; doubled per retry (capped at 30 s), with jitter; a Retry-After wins. */
  backoffMs: z.number().int().min(0).max(60_000).default(500),
  /** revokeMany/checkMany: grants per POST. */
  batchSize: z.number().int().min(1).max(1000).default(100),
  /** What discovery returns when the endpoint does not do `discover` (it answers 501, or a 4xx but 401/403). */
  resources: z.array(staticResource).optional(),
});

export const webhookSecretsSchema = z.object({
  // Short shared secrets can be guessed offline from one signed request.
  signingSecret: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 32)'),
});

/**
 * Checks a webhook integration's settings before they are stored; unknown keys are reported (nearly
 * always typos), though the connector itself ignores them.
 */
export const validateWebhookSettings: ConnectorValidator = (config, secrets) => [
  ...settingsIssues(z.strictObject(webhookConfigSchema.shape), config, 'config'),
  ...settingsIssues(z.strictObject(webhookSecretsSchema.shape), secrets, 'secrets'),
];

export type WebhookConfig = z.infer<typeof webhookConfigSchema>;
export type WebhookSecrets = z.infer<typeof webhookSecretsSchema>;
