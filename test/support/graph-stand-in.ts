/**
 * A local stand-in for Microsoft Entra ID as context sync reads it (src/context/entra.ts),
 * answering as Microsoft documents it:
 *
 * - the v2 client-credentials token endpoint, `POST /{tenant}/oauth2/v2.0/token` (token_type,
 *   expires_in, access_token; `invalid_client` with an AADSTS description for a wrong secret);
 * - Microsoft Graph v1.0: `GET /v1.0/groups`, `/v1.0/groups/{id}`, `/v1.0/groups/{id}/transitiveMembers`
 *   (users and groups at any depth, each with `@odata.type`), paged by `$top` and `@odata.nextLink`;
 * - `GET /v1.0/users` with `$expand=manager` (the manager as a user object, absent when none),
 *   at most 100 a page when expanding, as Graph does;
 * - `GET /v1.0/groups/delta`: `$deltatoken=latest` answers an empty round with a delta link; a
 *   delta link lists the groups changed since, with `members@delta` (`@removed` for members taken
 *   out) or `@removed` for deleted groups, paged by `@odata.nextLink`, ending with a new
 *   `@odata.deltaLink`. After `expireDeltaTokens()`, old tokens get 410 `syncStateNotFound`;
 * - bearer tokens it issued only (401 InvalidAuthenticationToken otherwise);
 * - throttling and outages on demand (`failNext`): 429 and 503 with `Retry-After` (seconds), 5xx.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export interface GraphStandInOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Items a page at most, whatever `$top` asks (small values exercise paging). */
  maxPage?: number;
}

export interface GraphStandIn {
  url: string;
  requests: Array<{ path: string; status: number }>;
  tokenRequests: number;
  addUser(email: string, opts?: { accountEnabled?: boolean; upnOnly?: boolean }): string;
  addGroup(name: string): string;
  /** Adds a user (by email) or a group (by `group:<name>`) to a group. */
  addMember(group: string, member: string): void;
  removeMember(group: string, member: string): void;
  /** Sets (or with null clears) a user's manager; both are added as users if new. */
  setManager(email: string, manager: string | null): void;
  deleteGroup(name: string): void;
  failNext(status: number, count?: number, opts?: { path?: RegExp; retryAfter?: number }): void;
  expireDeltaTokens(): void;
  close(): Promise<void>;
}

type Change = { seq: number; group: string; member?: { id: string; removed: boolean }; deleted?: boolean };

const graphError = (code: string, message: string) => ({
  error: {
    code,
    message,
    innerError: { date: new Date().toISOString(), 'request-id': randomBytes(8).toString('hex') },
  },
});

export async function startGraphStandIn(opts: GraphStandInOptions): Promise<GraphStandIn> {
  const maxPage = opts.maxPage ?? 999;
  const users = new Map<
    string,
    {
      id: string;
      mail: string | null;
      userPrincipalName: string;
      accountEnabled: boolean;
      manager?: string;
    }
  >();
  const groups = new Map<string, { id: string; displayName: string; members: Set<string> }>();
  const tokens = new Set<string>();
  const failures: Array<{ status: number; path?: RegExp; retryAfter?: number }> = [];
  const requests: Array<{ path: string; status: number }> = [];
  const changes: Change[] = [];
  let seq = 0;
  let epoch = 'e0';
  let tokenRequests = 0;
  const newId = () => [8, 4, 4, 4, 12].map((n) => randomBytes(n / 2).toString('hex')).join('-');

  const plainUser = (id: string) => {
    const { manager: _manager, ...rest } = users.get(id)!;
    return rest;
  };
  const transitive = (gid: string, seen = new Set<string>()): string[] => {
    const out: string[] = [];
    for (const m of groups.get(gid)?.members ?? []) {
      if (seen.has(m)) continue;
      seen.add(m);
      out.push(m);
      if (groups.has(m)) out.push(...transitive(m, seen));
    }
    return out;
  };
  const directoryObject = (id: string) => {
    const u = users.get(id);
    if (u) return { '@odata.type': '#microsoft.graph.user', ...plainUser(u.id) };
    const g = groups.get(id)!;
    return { '@odata.type': '#microsoft.graph.group', id: g.id, displayName: g.displayName, mail: null };
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://graph.local');
    const origin = `http://${req.headers.host}`;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      requests.push({ path: `${u.pathname}${u.search}`, status });
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };

    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(u.pathname);
    if (tokenPath && req.method === 'POST') {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        tokenRequests++;
        const form = Object.fromEntries(new URLSearchParams(body));
        if (tokenPath[1] !== opts.tenantId)
          return send(400, {
            error: 'invalid_request',
            error_description: `AADSTS90002: Tenant '${tokenPath[1]}' not found.`,
          });
        if (form.grant_type !== 'client_credentials' || form.scope !== 'https://graph.microsoft.com/.default')
          return send(400, {
            error: 'invalid_scope',
            error_description: 'AADSTS70011: The provided value for the input parameter scope is not valid.',
          });
        if (form.client_id !== opts.clientId || form.client_secret !== opts.clientSecret)
          return send(401, {
            error: 'invalid_client',
            error_description: `AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${opts.clientId}'.`,
          });
        const token = randomBytes(24).toString('base64url');
        tokens.add(token);
        send(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: token });
      });
      return;
    }

    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || !tokens.has(bearer))
      return send(401, graphError('InvalidAuthenticationToken', 'Access token is empty or invalid.'));
    const injected = failures.findIndex((f) => !f.path || f.path.test(u.pathname));
    if (injected >= 0) {
      const [f] = failures.splice(injected, 1);
      const code =
        f!.status === 429
          ? 'TooManyRequests'
          : f!.status === 503
            ? 'serviceNotAvailable'
            : 'generalException';
      return send(
        f!.status,
        graphError(code, f!.status === 429 ? 'Too many requests' : 'The service is temporarily unavailable.'),
        f!.retryAfter !== undefined ? { 'retry-after': String(f!.retryAfter) } : {},
      );
    }

    const top = Math.min(Number(u.searchParams.get('$top') ?? 100) || 100, maxPage);
    const skip = Number(u.searchParams.get('$skiptoken') ?? 0) || 0;
    const pagedBy = (all: unknown[], size: number, extra: Record<string, unknown> = {}) => {
      const value = all.slice(skip, skip + size);
      const next = new URL(u.toString());
      next.searchParams.set('$skiptoken', String(skip + size));
      return send(200, {
        '@odata.context': `${origin}/v1.0/$metadata#directoryObjects`,
        value,
        ...(skip + size < all.length
          ? { '@odata.nextLink': `${origin}${next.pathname}${next.search}` }
          : extra),
      });
    };
    const paged = (all: unknown[], extra: Record<string, unknown> = {}) => pagedBy(all, top, extra);

    if (u.pathname === '/v1.0/groups/delta') {
      const deltaLink = (s: number) => `${origin}/v1.0/groups/delta?$deltatoken=${epoch}.${s}`;
      const token = u.searchParams.get('$deltatoken');
      if (token === 'latest') return send(200, { value: [], '@odata.deltaLink': deltaLink(seq) });
      if (!token)
        return send(
          400,
          graphError('BadRequest', 'This stand-in starts delta rounds with $deltatoken=latest.'),
        );
      const [e, s] = token.split('.');
      if (e !== epoch)
        return send(410, graphError('syncStateNotFound', 'The sync state generation is not found.'));
      const since = Number(s);
      const changed = new Map<
        string,
        { id: string; displayName?: string; 'members@delta'?: unknown[]; '@removed'?: unknown }
      >();
      for (const c of changes.filter((x) => x.seq > since)) {
        if (c.deleted) {
          changed.set(c.group, { id: c.group, '@removed': { reason: 'changed' } });
          continue;
        }
        const g = groups.get(c.group);
        if (!g) continue;
        const item = changed.get(c.group) ?? { id: g.id, displayName: g.displayName, 'members@delta': [] };
        if (c.member)
          (item['members@delta'] ??= []).push({
            '@odata.type': users.has(c.member.id) ? '#microsoft.graph.user' : '#microsoft.graph.group',
            id: c.member.id,
            ...(c.member.removed ? { '@removed': { reason: 'deleted' } } : {}),
          });
        changed.set(c.group, item);
      }
      return paged([...changed.values()], { '@odata.deltaLink': deltaLink(seq) });
    }
    if (u.pathname === '/v1.0/users') {
      const expand = u.searchParams.get('$expand') ?? '';
      if (expand && !expand.startsWith('manager'))
        return send(400, graphError('BadRequest', `Could not find a property named '${expand}'.`));
      const all = [...users.values()].map((x) => ({
        ...plainUser(x.id),
        ...(expand && x.manager
          ? { manager: { '@odata.type': '#microsoft.graph.user', ...plainUser(x.manager) } }
          : {}),
      }));
      // Graph's documented limit: with $expand, a page holds at most 100 objects.
      return pagedBy(all, expand ? Math.min(top, 100) : top);
    }
    if (u.pathname === '/v1.0/groups')
      return paged([...groups.values()].map((g) => ({ id: g.id, displayName: g.displayName })));
    const one = /^\/v1\.0\/groups\/([^/]+)(\/transitiveMembers)?$/.exec(u.pathname);
    if (one) {
      const g = groups.get(decodeURIComponent(one[1]!));
      if (!g)
        return send(404, graphError('Request_ResourceNotFound', `Resource '${one[1]}' does not exist.`));
      if (!one[2]) return send(200, { id: g.id, displayName: g.displayName });
      return paged(transitive(g.id).map(directoryObject));
    }
    return send(404, graphError('BadRequest', `Resource not found for the segment '${u.pathname}'.`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const userByEmail = (email: string) =>
    [...users.values()].find((x) => (x.mail ?? x.userPrincipalName).toLowerCase() === email.toLowerCase());
  const groupByName = (name: string) => {
    const g = [...groups.values()].find((x) => x.displayName === name);
    if (!g) throw new Error(`no Entra group ${name}`);
    return g;
  };
  const memberId = (member: string) => {
    if (member.startsWith('group:')) return groupByName(member.slice(6)).id;
    return (userByEmail(member) ?? { id: standIn.addUser(member) }).id;
  };
  const standIn: GraphStandIn = {
    url: `http://127.0.0.1:${port}`,
    requests,
    get tokenRequests() {
      return tokenRequests;
    },
    addUser(email, o = {}) {
      const id = newId();
      users.set(id, {
        id,
        mail: o.upnOnly ? null : email,
        userPrincipalName: email,
        accountEnabled: o.accountEnabled ?? true,
      });
      return id;
    },
    addGroup(name) {
      const id = newId();
      groups.set(id, { id, displayName: name, members: new Set() });
      changes.push({ seq: ++seq, group: id });
      return id;
    },
    addMember(group, member) {
      const g = groupByName(group);
      const id = memberId(member);
      g.members.add(id);
      changes.push({ seq: ++seq, group: g.id, member: { id, removed: false } });
    },
    setManager(email, manager) {
      const user = users.get(memberId(email))!;
      if (manager === null) delete user.manager;
      else user.manager = memberId(manager);
    },
    removeMember(group, member) {
      const g = groupByName(group);
      const id = memberId(member);
      g.members.delete(id);
      changes.push({ seq: ++seq, group: g.id, member: { id, removed: true } });
    },
    deleteGroup(name) {
      const g = groupByName(name);
      groups.delete(g.id);
      for (const other of groups.values()) other.members.delete(g.id);
      changes.push({ seq: ++seq, group: g.id, deleted: true });
    },
    failNext(status, count = 1, o = {}) {
      for (let i = 0; i < count; i++) failures.push({ status, path: o.path, retryAfter: o.retryAfter });
    },
    expireDeltaTokens() {
      epoch = `e${Number(epoch.slice(1)) + 1}`;
    },
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return standIn;
}
