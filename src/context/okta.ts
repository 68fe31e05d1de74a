/**
 * Okta groups and their members (docs/ARCHITECTURE.md, "Context sources"): `GET /api/v1/groups`,
 * then `GET /api/v1/groups/{id}/users` for each, every list paged by the `Link: <…>; rel="next"`
 * header. Okta answers a rate limit with 429 and `X-Rate-Limit-Reset` (epoch seconds when the
 * window resets); every answer carries `X-Rate-Limit-Remaining`, and when it reaches 0 the next
 * requests wait for the reset instead of earning a 429. Okta has no delta for group membership, so
 * every sync is a full one. Authentication: an API token (`Authorization: SSWS <token>`).
 *
 * Managers (`managers`, on by default since they cost no request): Okta's default user profile has
 * `managerId` ("ID of a user's manager") and `manager` (a display name). Orgs fill `managerId`
 * with the manager's Okta id, login or employee number, so it is matched against those of the
 * users the group lists returned; one that matches nobody read but looks like an email is taken as
 * the manager's login. A manager who cannot sign in (suspended, deprovisioned) is nobody's.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { settingsIssues } from '../connectors/settings.js';
import { normalizeEmail } from '../domain/identity.js';
import { ApiClient, header, isSafeBaseUrl, trimSlash, type Answer } from './http.js';
import type { ContextSourceType, SyncInput, SyncOutcome, SyncedGroup } from './types.js';

const configSchema = z
  .object({
    /** e.g. https://example.okta.com */
    orgUrl: z
      .string()
      .refine(isSafeBaseUrl, 'an https URL without path parameters, e.g. https://example.okta.com'),
    /** Page sizes: Okta allows up to 10,000 groups and 1,000 users a page. */
    groupsPageSize: z.number().int().min(1).max(10_000).default(200),
    usersPageSize: z.number().int().min(1).max(1_000).default(1_000),
    /** Groups read at once. Okta also limits concurrent requests per org. */
    concurrency: z.number().int().min(1).max(16).default(4),
    /** Read who manages whom from the users' `managerId` (no extra requests). */
    managers: z.boolean().default(true),
  })
  .strict();

const secretsSchema = z.object({ apiToken: z.string().min(1) }).strict();

const groupSchema = z.object({
  id: z.string(),
  profile: z.object({ name: z.string() }).passthrough(),
});
const userSchema = z.object({
  id: z.string(),
  status: z.string().optional(),
  profile: z
    .object({
      email: z.string().nullish(),
      login: z.string().nullish(),
      managerId: z.string().nullish(),
      employeeNumber: z.string().nullish(),
    })
    .passthrough(),
});
type OktaUser = z.infer<typeof userSchema>;

/** Members who cannot sign in are not trusted as anyone: Okta keeps them in their groups. */
const INACTIVE = new Set(['DEPROVISIONED', 'SUSPENDED']);

export const okta: ContextSourceType = {
  validate(config, secrets) {
    return [
      ...settingsIssues(configSchema, config, 'config'),
      ...settingsIssues(secretsSchema, secrets, 'secrets'),
    ];
  },

  async sync(input: SyncInput): Promise<SyncOutcome> {
    const config = configSchema.parse(input.config);
    const { apiToken } = secretsSchema.parse(input.secrets);
    const base = trimSlash(config.orgUrl);
    const api = new ApiClient({
      headers: async () => ({ authorization: `SSWS ${apiToken}` }),
      retryAfterMs: (a, now) => (a.status === 429 ? untilReset(a, now) : undefined),
      holdUntil: (a, now) => {
        const remaining = Number(header(a.headers, 'x-rate-limit-remaining'));
        if (header(a.headers, 'x-rate-limit-remaining') === undefined || remaining > 0) return undefined;
        const wait = untilReset(a, now);
        return wait === undefined ? undefined : now + wait;
      },
      describeError: describeOktaError,
      stats: input.stats,
      sleep: input.sleep,
      signal: input.signal,
    });

    const groups: Array<{ id: string; name: string }> = [];
    for await (const page of pages(
      api,
      `${base}/api/v1/groups?limit=${config.groupsPageSize}`,
      z.array(groupSchema),
    )) {
      for (const g of page) groups.push({ id: g.id, name: g.profile.name });
    }
    const limit = pLimit(config.concurrency);
    // Everyone the group lists returned, active or not, by Okta id: managers are looked up among them.
    const seen = new Map<string, OktaUser>();
    const synced = await Promise.all(
      groups.map((g) =>
        limit(async (): Promise<SyncedGroup> => {
          const members = new Set<string>();
          const url = `${base}/api/v1/groups/${encodeURIComponent(g.id)}/users?limit=${config.usersPageSize}`;
          for await (const page of pages(api, url, z.array(userSchema))) {
            for (const u of page) {
              seen.set(u.id, u);
              if (u.status && INACTIVE.has(u.status)) continue;
              const email = u.profile.email ?? (u.profile.login?.includes('@') ? u.profile.login : undefined);
              if (email) members.add(normalizeEmail(email));
            }
          }
          return { id: g.id, name: g.name, members: [...members] };
        }),
      ),
    );
    if (!config.managers) return { groups: synced, state: {}, mode: 'full' };
    const { managers, unknown } = managersOf([...seen.values()]);
    const warnings =
      unknown > 0
        ? [
            `${unknown} ${unknown === 1 ? "person's managerId names" : "people's managerId name"} nobody in the synced groups (by Okta id, login or employeeNumber); they have no manager in Latch`,
          ]
        : [];
    return { groups: synced, state: {}, mode: 'full', managers, warnings };
  },
};

/** Who manages whom among `users`, and how many `managerId`s match nobody. */
function managersOf(users: OktaUser[]): {
  managers: Array<{ email: string; manager: string }>;
  unknown: number;
} {
  const emailOf = (u: OktaUser) =>
    u.profile.email ?? (u.profile.login?.includes('@') ? u.profile.login : undefined);
  const byKey = new Map<string, OktaUser>();
  // Least certain first, so an Okta id or login wins over an employee number that happens to equal it.
  for (const key of ['employeeNumber', 'login', 'id'] as const)
    for (const u of users) {
      const k = key === 'id' ? u.id : u.profile[key];
      if (k) byKey.set(k.toLowerCase(), u);
    }
  const managers: Array<{ email: string; manager: string }> = [];
  let unknown = 0;
  for (const u of users) {
    const email = emailOf(u);
    const ref = u.profile.managerId?.trim();
    if (!ref || !email || (u.status && INACTIVE.has(u.status))) continue;
    const found = byKey.get(ref.toLowerCase());
    if (found && found.status && INACTIVE.has(found.status)) continue;
    const manager = found ? emailOf(found) : ref.includes('@') ? ref : undefined;
    if (manager) managers.push({ email: normalizeEmail(email), manager: normalizeEmail(manager) });
    else unknown++;
  }
  return { managers, unknown };
}

/** Every page of a list, following `Link: <…>; rel="next"` until there is none. */
async function* pages<T>(api: ApiClient, first: string, schema: z.ZodType<T>): AsyncGenerator<T> {
  let url: string | undefined = first;
  const seen = new Set<string>();
  while (url) {
    // A server that links a page to itself would otherwise keep a sync running for ever.
    if (seen.has(url)) throw new Error('Okta paging went round in a circle');
    seen.add(url);
    const { body, headers }: { body: T; headers: Answer['headers'] } = await api.get(url, schema);
    yield body;
    url = nextLink(headers.link);
    // The token goes wherever the next link points: only ever back to the same org.
    if (url && new URL(url).origin !== new URL(first).origin)
      throw new Error(`Okta linked the next page to another host (${new URL(url).origin})`);
  }
}

/**
 * The `rel="next"` target of Link headers (RFC 8288). Okta sends one header per link or one with
 * several, comma-separated; written out because it is this small.
 */
export function nextLink(link: string | string[] | undefined): string | undefined {
  const values = Array.isArray(link) ? link : link ? [link] : [];
  for (const value of values) {
    for (const m of value.matchAll(/<([^>]*)>\s*((?:;\s*[^;,]+)*)/g)) {
      const params = m[2] ?? '';
      if (/;\s*rel\s*=\s*"?([^";]*\s)?next(\s[^";]*)?"?/i.test(params)) return m[1];
    }
  }
  return undefined;
}

/**
 * How long until Okta's window resets. Measured against Okta's own `Date` when it sends one, so a
 * skewed local clock neither hammers the API nor waits for minutes; at least a quarter second.
 */
function untilReset(a: Answer, now: number): number | undefined {
  const reset = Number(header(a.headers, 'x-rate-limit-reset'));
  if (!Number.isFinite(reset) || reset <= 0) return undefined;
  const date = Date.parse(header(a.headers, 'date') ?? '');
  const reference = Number.isFinite(date) ? date : now;
  return Math.max(250, reset * 1000 - reference + 100);
}

function describeOktaError(a: Answer): { message: string; code?: string } {
  const body = a.body as { errorCode?: string; errorSummary?: string } | undefined;
  if (body && typeof body === 'object' && body.errorSummary)
    return { message: `${body.errorCode ?? ''} ${body.errorSummary}`.trim(), code: body.errorCode };
  return { message: typeof a.body === 'string' ? a.body.slice(0, 200) : 'no details' };
}
