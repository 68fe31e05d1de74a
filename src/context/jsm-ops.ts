/**
 * Jira Service Management Operations on-call (docs/ARCHITECTURE.md, "Context sources", on-call
 * sources): the successor of Opsgenie, whose API Atlassian ends in April 2027. Requests, as the JSM
 * Ops REST API documents them (base `https://api.atlassian.com/jsm/ops/api/{cloudId}`, basic auth
 * with an Atlassian account's email and API token, scope `read:ops-config:jira-service-management`):
 *
 * - `GET /v1/schedules?offset=&size=`: `{ values: [{ id, name, enabled, timezone, teamId, … }],
 *   links: { next: "/v1/schedules?offset=50&size=25" } }`, paged by offset until there is no
 *   `links.next`;
 * - `GET /v1/schedules/{id}/timeline?date=&interval=&intervalUnit=days`: `{ startDate, endDate,
 *   finalTimeline: { rotations: [{ id, name, order, periods: [{ startDate, endDate, type,
 *   responder: { id, type }, flattenedResponders?: [{ id, type }] }] }] } }`. The range starts at
 *   the beginning of the unit containing `date` and lasts `interval` units. The on-calls endpoint
 *   (`/v1/schedules/{id}/on-calls`) only says who is on call at one instant, without shift
 *   times, so the timeline is what gives the shifts.
 *
 * Responders are Atlassian account ids. The ops API has no emails; Jira's
 * `GET {site}/rest/api/3/user/bulk?accountId=…&startAt=&maxResults=` (paged: `{ values: [{
 * accountId, emailAddress?, active }], isLast }`) gives them, with the same credentials, when the
 * account may browse users and the person's profile visibility shows the email. A responder
 * without a visible email is left out (the sync says how many). A team or escalation responder
 * counts through its `flattenedResponders` users; without them it is left out.
 *
 * Atlassian answers a rate limit with 429 and `Retry-After` (seconds), sometimes with
 * `X-RateLimit-Reset` (an ISO 8601 time); some 503s carry `Retry-After` too. Errors:
 * `{ errors: [{ title, code }] }` from the ops API, `{ errorMessages: […] }` from Jira.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { settingsIssues } from '../connectors/settings.js';
import { ApiClient, header, isSafeBaseUrl, trimSlash, type Answer } from './http.js';
import { horizon, horizonHours, idList, overlaps, retryAfterMs, Rota } from './oncall.js';
import type { ContextSourceType, SyncInput, SyncOutcome } from './types.js';

export const jsmOpsConfig = z
  .object({
    /** The site's cloud id (`https://<site>.atlassian.net/_edge/tenant_info` shows it). */
    cloudId: z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'the cloud id of the Atlassian site'),
    /** The Jira site, e.g. https://example.atlassian.net: account ids become emails there. */
    siteUrl: z.string().refine(isSafeBaseUrl, 'an https URL, e.g. https://example.atlassian.net'),
    /** The Atlassian account the API token belongs to. */
    email: z.string().email(),
    apiUrl: z
      .string()
      .refine(isSafeBaseUrl, 'an https URL, e.g. https://api.atlassian.com')
      .default('https://api.atlassian.com'),
    /** Schedules to sync; empty: every enabled schedule the account can see. */
    scheduleIds: idList,
    horizonHours,
    /** Schedules a page (the API's default is 25). */
    pageSize: z.number().int().min(1).max(100).default(25),
    /** Timelines read at once. */
    concurrency: z.number().int().min(1).max(8).default(2),
  })
  .strict();

const secretsSchema = z.object({ apiToken: z.string().min(1) }).strict();

const schedulesPage = z.object({
  values: z.array(
    z.object({ id: z.string(), name: z.string(), enabled: z.boolean().nullish() }).passthrough(),
  ),
  links: z.object({ next: z.string().nullish() }).passthrough().nullish(),
});
const responder = z.object({ id: z.string(), type: z.string() }).passthrough();
const timelineSchema = z.object({
  finalTimeline: z
    .object({
      rotations: z
        .array(
          z
            .object({
              periods: z
                .array(
                  z
                    .object({
                      startDate: z.string(),
                      endDate: z.string().nullish(),
                      responder: responder.nullish(),
                      flattenedResponders: z.array(responder).nullish(),
                    })
                    .passthrough(),
                )
                .nullish(),
            })
            .passthrough(),
        )
        .nullish(),
    })
    .passthrough()
    .nullish(),
});
const usersPage = z.object({
  values: z.array(
    z
      .object({ accountId: z.string(), emailAddress: z.string().nullish(), active: z.boolean().nullish() })
      .passthrough(),
  ),
  isLast: z.boolean().nullish(),
});

/** Account ids asked for in one bulk request. */
const USERS_A_REQUEST = 50;

export const jsmOps: ContextSourceType = {
  validate(config, secrets) {
    return [
      ...settingsIssues(jsmOpsConfig, config, 'config'),
      ...settingsIssues(secretsSchema, secrets, 'secrets'),
    ];
  },

  async sync(input: SyncInput): Promise<SyncOutcome> {
    const config = jsmOpsConfig.parse(input.config);
    const { apiToken } = secretsSchema.parse(input.secrets);
    const basic = Buffer.from(`${config.email}:${apiToken}`).toString('base64');
    const api = new ApiClient({
      headers: async () => ({ authorization: `Basic ${basic}` }),
      retryAfterMs: (a, now) =>
        a.status === 429 || a.status >= 500
          ? (retryAfterMs(header(a.headers, 'retry-after'), now) ??
            retryAfterMs(header(a.headers, 'x-ratelimit-reset'), now))
          : undefined,
      describeError: describeAtlassianError,
      stats: input.stats,
      sleep: input.sleep,
      signal: input.signal,
    });
    const ops = `${trimSlash(config.apiUrl)}/jsm/ops/api/${encodeURIComponent(config.cloudId)}`;
    const window = horizon(input.now ?? new Date(), config.horizonHours);

    const wanted = new Set(config.scheduleIds);
    const schedules = (await listSchedules(api, ops, config.pageSize)).filter((s) =>
      wanted.size > 0 ? wanted.has(s.id) : s.enabled !== false,
    );

    // Whole days from the start of today (UTC) past the horizon's end.
    const days = Math.ceil(config.horizonHours / 24) + 1;
    const limit = pLimit(config.concurrency);
    const periods = await Promise.all(
      schedules.map((s) =>
        limit(async () => {
          const q = new URLSearchParams({
            date: window.since.toISOString(),
            interval: String(days),
            intervalUnit: 'days',
          });
          const { body } = await api.get(
            `${ops}/v1/schedules/${encodeURIComponent(s.id)}/timeline?${q}`,
            timelineSchema,
          );
          const out: Array<{ accountId: string; start: Date; end?: Date }> = [];
          for (const rotation of body.finalTimeline?.rotations ?? []) {
            for (const p of rotation.periods ?? []) {
              const start = new Date(p.startDate);
              const end = p.endDate ? new Date(p.endDate) : undefined;
              if (Number.isNaN(start.getTime()) || (end && Number.isNaN(end.getTime()))) continue;
              if (!overlaps(start, end, window)) continue;
              const people =
                p.responder?.type === 'user'
                  ? [p.responder]
                  : (p.flattenedResponders ?? []).filter((r) => r.type === 'user');
              for (const r of people) out.push({ accountId: r.id, start, ...(end ? { end } : {}) });
            }
          }
          return out;
        }),
      ),
    );

    const emails = await emailsOf(api, trimSlash(config.siteUrl), [
      ...new Set(periods.flat().map((p) => p.accountId)),
    ]);
    const rota = new Rota();
    const unseen = new Set<string>();
    schedules.forEach((s, i) => {
      rota.group(s.id, s.name);
      for (const p of periods[i]!) {
        const email = emails.get(p.accountId);
        if (!email) {
          unseen.add(p.accountId);
          continue;
        }
        rota.add(s.id, s.name, { email, start: p.start, ...(p.end ? { end: p.end } : {}) });
      }
    });
    return {
      groups: rota.result(),
      state: {},
      mode: 'full',
      ...(unseen.size > 0
        ? {
            warnings: [
              `${unseen.size} on-call ${unseen.size === 1 ? 'person has' : 'people have'} no email Latch can see (inactive, or hidden by their profile visibility), so they are left out`,
            ],
          }
        : {}),
    };
  },
};

async function listSchedules(api: ApiClient, ops: string, size: number) {
  const all: z.infer<typeof schedulesPage>['values'] = [];
  const first = `${ops}/v1/schedules?offset=0&size=${size}`;
  const seen = new Set<string>();
  for (let url: string | undefined = first; url;) {
    // A next link back to an earlier page would keep a sync running for ever.
    if (seen.has(url)) throw new Error('JSM Ops paging went round in a circle');
    seen.add(url);
    const { body }: { body: z.infer<typeof schedulesPage> } = await api.get(url, schedulesPage);
    all.push(...body.values);
    const next = body.links?.next;
    if (!next || body.values.length === 0) break;
    url = resolveNext(ops, next);
  }
  return all;
}

/**
 * The documented `links.next` is relative to the API root (`/v1/schedules?offset=…`); the token
 * goes wherever it points, so only ever back under that root.
 */
export function resolveNext(ops: string, next: string): string {
  const root = new URL(ops);
  const url = /^https?:\/\//i.test(next)
    ? new URL(next)
    : new URL(`${ops}${next.startsWith('/') ? '' : '/'}${next}`);
  if (url.origin !== root.origin || !url.pathname.startsWith(root.pathname))
    throw new Error(`JSM Ops linked the next page outside its API (${url.origin})`);
  return url.toString();
}

/** Account id to lower-case email, for those Jira shows an email of and that are active. */
async function emailsOf(api: ApiClient, site: string, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (let i = 0; i < ids.length; i += USERS_A_REQUEST) {
    const batch = ids.slice(i, i + USERS_A_REQUEST);
    for (let startAt = 0; ;) {
      const q = new URLSearchParams({ startAt: String(startAt), maxResults: String(USERS_A_REQUEST) });
      for (const id of batch) q.append('accountId', id);
      const { body } = await api.get(`${site}/rest/api/3/user/bulk?${q}`, usersPage);
      for (const u of body.values)
        if (u.emailAddress && u.active !== false) out.set(u.accountId, u.emailAddress.toLowerCase());
      if (body.isLast !== false || body.values.length === 0) break;
      startAt += body.values.length;
    }
  }
  return out;
}

function describeAtlassianError(a: Answer): { message: string; code?: string } {
  const body = a.body as
    | {
        errors?: Array<{ title?: string; code?: string }> | Record<string, string>;
        errorMessages?: string[];
        message?: string;
      }
    | undefined;
  if (body && typeof body === 'object') {
    if (Array.isArray(body.errors) && body.errors[0]?.title)
      return { message: body.errors.map((e) => e.title).join('; '), code: body.errors[0].code };
    if (Array.isArray(body.errorMessages) && body.errorMessages.length > 0)
      return { message: body.errorMessages.join('; ') };
    if (typeof body.message === 'string') return { message: body.message };
  }
  return { message: typeof a.body === 'string' ? a.body.slice(0, 200) : 'no details' };
}
