/**
 * Microsoft Entra ID groups through Microsoft Graph (docs/ARCHITECTURE.md, "Context sources").
 *
 * A full sync takes a delta link first (`/groups/delta?$deltatoken=latest`, so changes made while
 * it reads are seen by the next sync), then lists `/groups` and each group's `transitiveMembers`
 * (users at any depth; the nested groups are kept too). Later syncs follow the stored delta link:
 * the groups it reports changed are read again, with every group they are nested in, since a
 * member added deep down is a member of every ancestor. A delta link Graph no longer accepts
 * (410, or a sync-state error) falls back to a full sync, and so does a day without one, because
 * group deltas do not report changes to users (a new email, a disabled account).
 *
 * Managers (`managers`, on by default): a full sync also lists `/users` with
 * `$expand=manager($select=…)`, one request per 100 users (Graph returns at most 100 objects a
 * page when it expands). Delta syncs carry the managers of the full sync before them, since group
 * deltas do not report users' changes either; the daily full sync reads them afresh.
 *
 * Paging follows `@odata.nextLink`; 429 and 503 honour `Retry-After` (seconds). The app signs in
 * with client credentials (`/{tenant}/oauth2/v2.0/token`, scope `https://graph.microsoft.com/.default`)
 * and needs the application permissions GroupMember.Read.All and User.Read.All.
 */
import pLimit from 'p-limit';
import { request } from 'undici';
import { z } from 'zod';
import { settingsIssues } from '../connectors/settings.js';
import { normalizeEmail } from '../domain/identity.js';
import { ApiClient, SourceHttpError, header, isSafeBaseUrl, trimSlash, type Answer } from './http.js';
import type { ContextSourceType, SyncInput, SyncOutcome, SyncedGroup } from './types.js';

const url = (hint: string) => z.string().refine(isSafeBaseUrl, `an https URL, e.g. ${hint}`);

const configSchema = z
  .object({
    tenantId: z.string().regex(/^[A-Za-z0-9.-]{1,100}$/, 'the directory (tenant) id or a verified domain'),
    clientId: z.string().min(1).max(100),
    graphUrl: url('https://graph.microsoft.com').default('https://graph.microsoft.com'),
    loginUrl: url('https://login.microsoftonline.com').default('https://login.microsoftonline.com'),
    /** Items a page ($top); Graph allows up to 999. */
    pageSize: z.number().int().min(1).max(999).default(999),
    concurrency: z.number().int().min(1).max(16).default(4),
    /** Delta syncs do not see changes to users; a full sync runs at least this often. */
    fullSyncEveryHours: z
      .number()
      .int()
      .min(1)
      .max(24 * 30)
      .default(24),
    /** Read who manages whom (`/users?$expand=manager`) with every full sync. */
    managers: z.boolean().default(true),
  })
  .strict();

const secretsSchema = z.object({ clientSecret: z.string().min(1) }).strict();

const SCOPE = 'https://graph.microsoft.com/.default';
/** Graph's answers to a delta token it no longer knows; any of them means "start again". */
const DELTA_RESET_CODES = new Set([
  'syncStateNotFound',
  'syncStateInvalid',
  'resyncRequired',
  'badRequest_ExpiredToken',
]);

const page = <T extends z.ZodType>(item: T) =>
  z.object({
    value: z.array(item),
    '@odata.nextLink': z.string().optional(),
    '@odata.deltaLink': z.string().optional(),
  });

const groupItem = z.object({ id: z.string(), displayName: z.string().nullish() });
const memberItem = z.object({
  '@odata.type': z.string().optional(),
  id: z.string(),
  mail: z.string().nullish(),
  userPrincipalName: z.string().nullish(),
  accountEnabled: z.boolean().nullish(),
});
const deltaItem = z.object({
  id: z.string(),
  displayName: z.string().nullish(),
  '@removed': z.object({ reason: z.string().optional() }).passthrough().optional(),
  'members@delta': z.array(z.object({ id: z.string() }).passthrough()).optional(),
});

const deltaPage = page(deltaItem);

const person = z.object({
  id: z.string(),
  mail: z.string().nullish(),
  userPrincipalName: z.string().nullish(),
  accountEnabled: z.boolean().nullish(),
});
const userWithManager = person.extend({ manager: person.passthrough().nullish() });
/** Graph expands a navigation property for at most 100 objects a page. */
const EXPAND_PAGE = 100;

interface EntraState {
  deltaLink?: string;
  /** Epoch ms of the last full sync. */
  fullAt?: number;
}

export const entra: ContextSourceType = {
  validate(config, secrets) {
    return [
      ...settingsIssues(configSchema, config, 'config'),
      ...settingsIssues(secretsSchema, secrets, 'secrets'),
    ];
  },

  async sync(input: SyncInput): Promise<SyncOutcome> {
    const config = configSchema.parse(input.config);
    const { clientSecret } = secretsSchema.parse(input.secrets);
    const graph = trimSlash(config.graphUrl);
    const tokens = new TokenSource(
      trimSlash(config.loginUrl),
      config.tenantId,
      config.clientId,
      clientSecret,
    );
    const api = new ApiClient({
      headers: async () => ({ authorization: `Bearer ${await tokens.get()}` }),
      retryAfterMs: (a) => (a.status === 429 || a.status === 503 ? retryAfter(a) : undefined),
      onUnauthorized: () => tokens.drop(),
      describeError: describeGraphError,
      stats: input.stats,
      sleep: input.sleep,
      signal: input.signal,
    });
    const reader = new GraphReader(api, graph, config.pageSize, config.concurrency);
    const state = input.state as EntraState;
    const fullDue = !state.fullAt || Date.now() - state.fullAt > config.fullSyncEveryHours * 3_600_000;
    if (state.deltaLink && !fullDue) {
      try {
        return await deltaSync(reader, state, input, config.managers);
      } catch (err) {
        if (!isDeltaReset(err)) throw err;
        input.log.warn(
          { source: input.source },
          'Graph no longer accepts the delta link; running a full sync',
        );
        return {
          ...(await fullSync(reader, config.managers)),
          note: 'the delta link had expired; full sync',
        };
      }
    }
    return fullSync(reader, config.managers);
  },
};

async function fullSync(reader: GraphReader, managers: boolean): Promise<SyncOutcome> {
  // Taken before reading, so a change made while the full read runs is in the next delta.
  const deltaLink = await reader.latestDeltaLink();
  const groups: Array<{ id: string; name: string }> = [];
  for await (const items of reader.pages(
    `/v1.0/groups?$select=id,displayName&$top=${reader.pageSize}`,
    groupItem,
  )) {
    for (const g of items) groups.push({ id: g.id, name: g.displayName ?? g.id });
  }
  const synced = await reader.withMembers(groups);
  return {
    groups: synced,
    state: { deltaLink, fullAt: Date.now() },
    mode: 'full',
    ...(managers ? { managers: await reader.managers() } : {}),
  };
}

async function deltaSync(
  reader: GraphReader,
  state: EntraState,
  input: SyncInput,
  managers: boolean,
): Promise<SyncOutcome> {
  const changed = new Map<string, string | undefined>();
  const removed = new Set<string>();
  let deltaLink: string | undefined;
  for await (const { items, last } of reader.deltaPages(state.deltaLink!)) {
    for (const g of items) {
      if (g['@removed']) {
        removed.add(g.id);
        changed.delete(g.id);
      } else {
        removed.delete(g.id);
        changed.set(g.id, g.displayName ?? changed.get(g.id));
      }
    }
    deltaLink = last;
  }
  const next = { deltaLink: deltaLink ?? state.deltaLink, fullAt: state.fullAt };
  if (changed.size === 0 && removed.size === 0)
    return { groups: [], state: next, mode: 'delta', unchanged: true };

  const previous = await input.previous();
  const touched = new Set([...changed.keys(), ...removed]);
  const affected = new Map<string, string | undefined>(changed);
  // A change inside a group is a change to every group it is nested in.
  for (const g of previous) {
    if (!removed.has(g.id) && !affected.has(g.id) && (g.nested ?? []).some((id) => touched.has(id)))
      affected.set(g.id, undefined);
  }
  const byId = new Map(previous.map((g) => [g.id, g]));
  const names = await Promise.all(
    [...affected].map(async ([id, name]) => ({
      id,
      name: name ?? byId.get(id)?.name ?? (await reader.groupName(id)),
    })),
  );
  const refreshed = new Map((await reader.withMembers(names)).map((g) => [g.id, g]));
  const groups = [
    ...previous.filter((g) => !removed.has(g.id) && !refreshed.has(g.id)),
    ...refreshed.values(),
  ];
  return { groups, state: next, mode: 'delta', ...(managers ? { keepManagers: true } : {}) };
}

class GraphReader {
  private readonly limit: ReturnType<typeof pLimit>;

  constructor(
    private readonly api: ApiClient,
    private readonly graph: string,
    readonly pageSize: number,
    concurrency: number,
  ) {
    this.limit = pLimit(concurrency);
  }

  /** Every page of a collection, following `@odata.nextLink`. */
  async *pages<T extends z.ZodType>(path: string, item: T): AsyncGenerator<Array<z.infer<T>>> {
    let next: string | undefined = `${this.graph}${path}`;
    while (next) {
      const answer: { body: z.infer<ReturnType<typeof page>> } = await this.api.get(
        this.checked(next),
        page(item),
      );
      yield answer.body.value as Array<z.infer<T>>;
      next = answer.body['@odata.nextLink'];
    }
  }

  /** Every page of a delta round, and with the last its `@odata.deltaLink`. */
  async *deltaPages(
    first: string,
  ): AsyncGenerator<{ items: Array<z.infer<typeof deltaItem>>; last?: string }> {
    let next: string | undefined = first;
    while (next) {
      const answer: { body: z.infer<typeof deltaPage> } = await this.api.get(this.checked(next), deltaPage);
      yield { items: answer.body.value, last: answer.body['@odata.deltaLink'] };
      next = answer.body['@odata.nextLink'];
    }
  }

  async latestDeltaLink(): Promise<string> {
    let link: string | undefined;
    for await (const { last } of this.deltaPages(
      `${this.graph}/v1.0/groups/delta?$select=displayName,members&$deltatoken=latest`,
    )) {
      link = last ?? link;
    }
    if (!link) throw new Error('Graph ended a delta round without a delta link');
    return link;
  }

  async groupName(id: string): Promise<string> {
    const { body } = await this.api.get(
      `${this.graph}/v1.0/groups/${encodeURIComponent(id)}?$select=id,displayName`,
      groupItem,
    );
    return body.displayName ?? id;
  }

  /** Each group with its users (enabled ones, by mail or else UPN) and nested groups, at any depth. */
  withMembers(groups: Array<{ id: string; name: string }>): Promise<SyncedGroup[]> {
    return Promise.all(
      groups.map((g) =>
        this.limit(async (): Promise<SyncedGroup> => {
          const members = new Set<string>();
          const nested = new Set<string>();
          const path = `/v1.0/groups/${encodeURIComponent(g.id)}/transitiveMembers?$select=id,mail,userPrincipalName,accountEnabled&$top=${this.pageSize}`;
          for await (const items of this.pages(path, memberItem)) {
            for (const m of items) {
              const type = m['@odata.type'];
              if (type === '#microsoft.graph.group') nested.add(m.id);
              if (type !== '#microsoft.graph.user' || m.accountEnabled === false) continue;
              const email = m.mail ?? m.userPrincipalName;
              if (email?.includes('@')) members.add(normalizeEmail(email));
            }
          }
          return { id: g.id, name: g.name, members: [...members], nested: [...nested] };
        }),
      ),
    );
  }

  /** Every enabled user's manager (by mail, else UPN); a disabled manager is nobody's. */
  async managers(): Promise<Array<{ email: string; manager: string }>> {
    const address = (p: z.infer<typeof person>) => {
      const email = p.mail ?? p.userPrincipalName;
      return email?.includes('@') && p.accountEnabled !== false ? normalizeEmail(email) : undefined;
    };
    const out: Array<{ email: string; manager: string }> = [];
    const fields = 'id,mail,userPrincipalName,accountEnabled';
    for await (const items of this.pages(
      `/v1.0/users?$select=${fields}&$expand=manager($select=${fields})&$top=${Math.min(this.pageSize, EXPAND_PAGE)}`,
      userWithManager,
    )) {
      for (const u of items) {
        const email = address(u);
        const manager = u.manager ? address(u.manager) : undefined;
        if (email && manager) out.push({ email, manager });
      }
    }
    return out;
  }

  /** The bearer token goes only to Graph: a next or delta link elsewhere is refused. */
  private checked(link: string): string {
    if (new URL(link).origin !== new URL(this.graph).origin)
      throw new Error(`Graph linked to another host (${new URL(link).origin})`);
    return link;
  }
}

/** Client-credentials tokens from Entra's v2 endpoint, cached until shortly before they expire. */
class TokenSource {
  private cached?: { token: string; until: number };

  constructor(
    private readonly loginUrl: string,
    private readonly tenant: string,
    private readonly clientId: string,
    private readonly clientSecret: string,
  ) {}

  drop(): void {
    this.cached = undefined;
  }

  async get(): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return this.cached.token;
    const res = await request(`${this.loginUrl}/${encodeURIComponent(this.tenant)}/oauth2/v2.0/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.clientId,
        client_secret: this.clientSecret,
        scope: SCOPE,
      }).toString(),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const body = (await res.body.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
      error_description?: string;
    };
    if (res.statusCode !== 200 || !body.access_token) {
      // Entra's description names the problem (AADSTS7000215: invalid client secret…), never the secret.
      const why = body.error_description?.split('\n')[0] ?? body.error ?? `HTTP ${res.statusCode}`;
      throw new SourceHttpError(
        res.statusCode,
        'token endpoint',
        `Entra refused the sign-in: ${why}`,
        body.error,
      );
    }
    const ttl = Math.max(60, body.expires_in ?? 3600);
    this.cached = { token: body.access_token, until: Date.now() + (ttl - 60) * 1000 };
    return body.access_token;
  }
}

function retryAfter(a: Answer): number | undefined {
  const v = header(a.headers, 'retry-after');
  if (v === undefined) return undefined;
  const seconds = Number(v);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function describeGraphError(a: Answer): { message: string; code?: string } {
  const err = (a.body as { error?: { code?: string; message?: string } } | undefined)?.error;
  if (err && typeof err === 'object')
    return { message: `${err.code ?? ''} ${err.message ?? ''}`.trim(), code: err.code };
  return { message: typeof a.body === 'string' ? a.body.slice(0, 200) : 'no details' };
}

function isDeltaReset(err: unknown): boolean {
  if (!(err instanceof SourceHttpError)) return false;
  return err.status === 410 || (err.status === 400 && DELTA_RESET_CODES.has(err.code ?? ''));
}
