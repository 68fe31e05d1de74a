/**
 * PagerDuty on-call (docs/ARCHITECTURE.md, "Context sources", on-call sources), through REST API v2
 * `GET /oncalls`, as PagerDuty documents it:
 *
 * - request: `since`, `until` (ISO 8601; on-calls overlapping the range, at most 90 days),
 *   `schedule_ids[]`, `escalation_policy_ids[]`, `include[]=users` (full user objects, which carry
 *   the `email` a reference lacks), `limit` (at most 100) and `offset` (classic pagination, at most
 *   10,000 records); headers `Authorization: Token token=<key>` and
 *   `Accept: application/vnd.pagerduty+json;version=2`;
 * - answer: `{ oncalls: [{ user, schedule: {id, summary} | null, escalation_policy: {id, summary},
 *   escalation_level, start, end }], limit, offset, more, total }`; `schedule` is null for a user
 *   named directly on a policy level, and then `start`/`end` are null (always on call);
 * - errors: `{ error: { message, code, errors? } }`; 401 for a bad key; 429 when rate-limited,
 *   with `ratelimit-reset` (seconds until more requests are allowed; also sent with
 *   `ratelimit-limit` and `ratelimit-remaining`). PagerDuty asks for serial requests per key, so
 *   the sync sends one at a time.
 *
 * Groups: each schedule is a group named as in PagerDuty (its `summary`); each escalation policy
 * listed in `escalationPolicyIds` is a group named `policy:<policy name>`, made of whoever is on
 * call at its first `escalationLevels` levels (default 1: who is paged first). The prefix keeps a
 * policy and a schedule of the same name apart; a schedule actually named `policy:…` would collide,
 * and then both are left out with a warning like any two groups of one name. On-calls only exist
 * for schedules used in an escalation policy: PagerDuty computes them from the policies.
 */
import { z } from 'zod';
import { settingsIssues } from '../connectors/settings.js';
import { ApiClient, header, isSafeBaseUrl, trimSlash, type Answer } from './http.js';
import { horizon, horizonHours, idList, overlaps, retryAfterMs, Rota, type Window } from './oncall.js';
import type { ContextSourceType, SyncInput, SyncOutcome } from './types.js';

export const pagerdutyConfig = z
  .object({
    /** https://api.pagerduty.com; EU service region accounts use https://api.eu.pagerduty.com. */
    apiUrl: z
      .string()
      .refine(isSafeBaseUrl, 'an https URL, e.g. https://api.pagerduty.com')
      .default('https://api.pagerduty.com'),
    /** Schedules to sync; empty: every schedule with on-calls. */
    scheduleIds: idList,
    /** Escalation policies to sync as `policy:<name>` groups; none unless listed. */
    escalationPolicyIds: idList,
    /** Levels of a policy that count as its on-call (1: only the first one paged). */
    escalationLevels: z.number().int().min(1).max(20).default(1),
    horizonHours,
    pageSize: z.number().int().min(1).max(100).default(100),
  })
  .strict();

const secretsSchema = z.object({ apiToken: z.string().min(1) }).strict();

/** PagerDuty's classic pagination stops here (offset + limit). */
const MAX_RECORDS = 10_000;

const ref = z.object({ id: z.string(), summary: z.string().nullish() }).passthrough();
const oncallSchema = z.object({
  user: z
    .object({ id: z.string(), summary: z.string().nullish(), email: z.string().nullish() })
    .passthrough(),
  schedule: ref.nullish(),
  escalation_policy: ref,
  escalation_level: z.number().int(),
  start: z.string().nullish(),
  end: z.string().nullish(),
});
const pageSchema = z.object({
  oncalls: z.array(oncallSchema),
  limit: z.number().int().nullish(),
  offset: z.number().int().nullish(),
  more: z.boolean().nullish(),
  total: z.number().int().nullish(),
});
type OnCall = z.infer<typeof oncallSchema>;

export const pagerduty: ContextSourceType = {
  validate(config, secrets) {
    return [
      ...settingsIssues(pagerdutyConfig, config, 'config'),
      ...settingsIssues(secretsSchema, secrets, 'secrets'),
    ];
  },

  async sync(input: SyncInput): Promise<SyncOutcome> {
    const config = pagerdutyConfig.parse(input.config);
    const { apiToken } = secretsSchema.parse(input.secrets);
    const api = new ApiClient({
      headers: async () => ({
        authorization: `Token token=${apiToken}`,
        accept: 'application/vnd.pagerduty+json;version=2',
      }),
      retryAfterMs: (a, now) =>
        a.status === 429 || a.status >= 500
          ? (retryAfterMs(header(a.headers, 'ratelimit-reset'), now) ??
            retryAfterMs(header(a.headers, 'retry-after'), now))
          : undefined,
      describeError: describePagerDutyError,
      stats: input.stats,
      sleep: input.sleep,
      signal: input.signal,
    });
    const base = trimSlash(config.apiUrl);
    const window = horizon(input.now ?? new Date(), config.horizonHours);
    const read = (filter: Record<string, string[]>) =>
      readOnCalls(api, base, window, config.pageSize, filter);

    const policies = new Set(config.escalationPolicyIds);
    const schedules = new Set(config.scheduleIds);
    // Unfiltered, one read has every schedule's and every policy's on-calls.
    const bySchedule = await read(schedules.size > 0 ? { 'schedule_ids[]': [...schedules] } : {});
    const byPolicy =
      policies.size === 0
        ? []
        : schedules.size === 0
          ? bySchedule
          : await read({ 'escalation_policy_ids[]': [...policies] });

    const rota = new Rota();
    let noEmail = 0;
    for (const o of bySchedule) {
      if (!o.schedule || (schedules.size > 0 && !schedules.has(o.schedule.id))) continue;
      const name = o.schedule.summary ?? o.schedule.id;
      rota.group(o.schedule.id, name);
      const shift = shiftOf(o, window);
      if (shift === 'no-email') noEmail++;
      else if (shift) rota.add(o.schedule.id, name, shift);
    }
    for (const o of byPolicy) {
      const p = o.escalation_policy;
      if (!policies.has(p.id)) continue;
      const name = `policy:${p.summary ?? p.id}`;
      rota.group(p.id, name);
      if (o.escalation_level > config.escalationLevels) continue;
      const shift = shiftOf(o, window);
      if (shift === 'no-email') noEmail++;
      else if (shift) rota.add(p.id, name, shift);
    }
    return {
      groups: rota.result(),
      state: {},
      mode: 'full',
      ...(noEmail > 0
        ? { warnings: [`${noEmail} on-call entries name a user without an email; they are left out`] }
        : {}),
    };
  },
};

/** Every on-call of the window, page by page (offset paging until `more` is false). */
async function readOnCalls(
  api: ApiClient,
  base: string,
  window: Window,
  pageSize: number,
  filter: Record<string, string[]>,
): Promise<OnCall[]> {
  const all: OnCall[] = [];
  for (let offset = 0; ;) {
    const q = new URLSearchParams({
      since: window.since.toISOString(),
      until: window.until.toISOString(),
      'include[]': 'users',
      limit: String(pageSize),
      offset: String(offset),
    });
    for (const [key, values] of Object.entries(filter)) for (const v of values) q.append(key, v);
    const { body } = await api.get(`${base}/oncalls?${q}`, pageSchema);
    all.push(...body.oncalls);
    if (!body.more) return all;
    // A page that says "more" but brings nothing would otherwise be asked for again and again.
    if (body.oncalls.length === 0)
      throw new Error('PagerDuty paging made no progress (more, but no on-calls)');
    offset += body.oncalls.length;
    if (offset + pageSize > MAX_RECORDS)
      throw new Error(
        `more than ${MAX_RECORDS} on-calls in ${Math.round((window.until.getTime() - window.since.getTime()) / 3_600_000)} h: list fewer schedules or shorten horizonHours`,
      );
  }
}

function shiftOf(
  o: OnCall,
  window: Window,
): { email: string; start: Date; end?: Date } | 'no-email' | undefined {
  if (!o.user.email) return 'no-email';
  // No start: a user named directly on the policy, on call whenever the policy is.
  const start = o.start ? new Date(o.start) : window.since;
  const end = o.end ? new Date(o.end) : undefined;
  if (Number.isNaN(start.getTime()) || (end && Number.isNaN(end.getTime()))) return undefined;
  if (!overlaps(start, end, window)) return undefined;
  return { email: o.user.email, start, ...(end ? { end } : {}) };
}

function describePagerDutyError(a: Answer): { message: string; code?: string } {
  const error = (a.body as { error?: { message?: string; code?: number; errors?: string[] } } | undefined)
    ?.error;
  if (error && typeof error === 'object' && error.message) {
    const details =
      Array.isArray(error.errors) && error.errors.length > 0 ? ` (${error.errors.join('; ')})` : '';
    return {
      message: `${error.message}${details}`,
      ...(error.code !== undefined ? { code: String(error.code) } : {}),
    };
  }
  return { message: typeof a.body === 'string' ? a.body.slice(0, 200) : 'no details' };
}
