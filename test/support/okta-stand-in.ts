/**
 * A local stand-in for the parts of Okta's Management API that context sync reads
 * (src/context/okta.ts), answering as Okta documents them:
 *
 * - `GET /api/v1/groups` and `GET /api/v1/groups/{id}/users`, `limit` and `after` parameters,
 *   the next page linked by `Link: <…>; rel="next"` (and `rel="self"`), objects shaped like
 *   Okta's (group `profile.name`, user `status` and `profile.email`/`login`, and the default
 *   profile's `employeeNumber`, `managerId` and `manager` (display name) where set);
 * - `Authorization: SSWS <token>`, refused with 401 E0000011 otherwise;
 * - rate limits: every answer carries `X-Rate-Limit-Limit`, `-Remaining` and `-Reset` (epoch
 *   seconds at which the window resets); over the limit, 429 E0000047;
 * - failures on demand (`failNext`): 5xx answers like Okta's, and 429s.
 *
 * Everything is in memory; one server per test file (or bench), started in-process.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface OktaUser {
  id: string;
  status: string;
  profile: {
    login: string;
    email: string;
    firstName: string;
    lastName: string;
    employeeNumber?: string;
    managerId?: string;
    manager?: string;
  };
}

export interface OktaStandInOptions {
  token: string;
  /** Requests a window allows (per org, as Okta's per-endpoint buckets, simplified to one). */
  rateLimit?: { limit: number; windowMs: number };
}

export interface OktaStandIn {
  url: string;
  /** Every request, in order: path (with query) and the status answered. */
  requests: Array<{ path: string; status: number }>;
  addUser(email: string, status?: string): OktaUser;
  addGroup(name: string, members?: string[]): string;
  addMember(group: string, email: string): void;
  removeMember(group: string, email: string): void;
  /**
   * Sets `profile.managerId` (the manager's login, Okta id or employee number, as orgs do) and
   * `profile.manager` (their name); `null` clears both. The manager is added as a user if new.
   */
  setManager(email: string, manager: string | null, by?: 'login' | 'id' | 'employeeNumber' | 'raw'): void;
  /** The next `count` requests (matching `path`, if given) are answered with `status`. */
  failNext(status: number, count?: number, path?: RegExp): void;
  clearFailures(): void;
  setRateLimit(limit?: { limit: number; windowMs: number }): void;
  counts(): { requests: number; rateLimited: number };
  close(): Promise<void>;
}

const oktaError = (code: string, summary: string) => ({
  errorCode: code,
  errorSummary: summary,
  errorLink: code,
  errorId: `oae${Math.random().toString(36).slice(2, 12)}`,
  errorCauses: [],
});

export async function startOktaStandIn(opts: OktaStandInOptions): Promise<OktaStandIn> {
  const users = new Map<string, OktaUser>();
  const byEmail = new Map<string, string>();
  const groups: Array<{ id: string; name: string; members: string[] }> = [];
  const failures: Array<{ status: number; path?: RegExp }> = [];
  const requests: Array<{ path: string; status: number }> = [];
  let rateLimit = opts.rateLimit;
  let window = { resetAt: 0, used: 0 };
  let seq = 0;
  const id = (prefix: string) => `${prefix}${(++seq).toString(36).padStart(17, '0')}`;

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://okta.local');
    const send = (status: number, body: unknown, headers: Record<string, string | string[]> = {}) => {
      requests.push({ path: `${u.pathname}${u.search}`, status });
      res.writeHead(status, {
        'content-type': 'application/json',
        date: new Date().toUTCString(),
        ...headers,
      });
      res.end(JSON.stringify(body));
    };
    const limits = (): Record<string, string> => {
      if (!rateLimit) return {};
      const now = Date.now();
      if (now >= window.resetAt) {
        // Okta's windows reset on a whole second (X-Rate-Limit-Reset is in epoch seconds).
        window = { resetAt: Math.ceil((now + rateLimit.windowMs) / 1000) * 1000, used: 0 };
      }
      window.used++;
      return {
        'x-rate-limit-limit': String(rateLimit.limit),
        'x-rate-limit-remaining': String(Math.max(0, rateLimit.limit - window.used)),
        'x-rate-limit-reset': String(window.resetAt / 1000),
      };
    };
    if (req.headers.authorization !== `SSWS ${opts.token}`)
      return send(401, oktaError('E0000011', 'Invalid token provided'));
    const headers = limits();
    const injected = failures.findIndex((f) => !f.path || f.path.test(u.pathname));
    if (injected >= 0) {
      const [f] = failures.splice(injected, 1);
      if (f!.status === 429) {
        const reset = Math.ceil((Date.now() + 1000) / 1000);
        return send(429, oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'), {
          ...headers,
          'x-rate-limit-remaining': '0',
          'x-rate-limit-reset': String(reset),
        });
      }
      return send(f!.status, oktaError('E0000009', 'Internal Server Error'), headers);
    }
    if (rateLimit && window.used > rateLimit.limit)
      return send(
        429,
        oktaError('E0000047', 'API call exceeded rate limit due to too many requests.'),
        headers,
      );
    if (req.method !== 'GET')
      return send(405, oktaError('E0000022', 'The endpoint does not support the provided HTTP method'));

    const limit = Math.min(Number(u.searchParams.get('limit') ?? 200) || 200, 10_000);
    const after = u.searchParams.get('after');
    const page = <T extends { id: string }>(all: T[], base: string) => {
      const start = after ? all.findIndex((x) => x.id === after) + 1 : 0;
      const items = all.slice(start, start + limit);
      const self = `<${base}?limit=${limit}${after ? `&after=${after}` : ''}>; rel="self"`;
      const more = start + limit < all.length;
      const link = more
        ? [self, `<${base}?after=${items[items.length - 1]!.id}&limit=${limit}>; rel="next"`]
        : [self];
      return send(200, items, { ...headers, link });
    };
    const origin = `http://${req.headers.host}`;
    if (u.pathname === '/api/v1/groups') {
      return page(
        groups.map((g) => ({
          id: g.id,
          created: '2024-01-01T00:00:00.000Z',
          lastUpdated: '2024-01-01T00:00:00.000Z',
          lastMembershipUpdated: '2024-01-01T00:00:00.000Z',
          objectClass: ['okta:user_group'],
          type: 'OKTA_GROUP',
          profile: { name: g.name, description: null },
          _links: {},
        })),
        `${origin}/api/v1/groups`,
      );
    }
    const m = /^\/api\/v1\/groups\/([^/]+)\/users$/.exec(u.pathname);
    if (m) {
      const g = groups.find((x) => x.id === decodeURIComponent(m[1]!));
      if (!g) return send(404, oktaError('E0000007', `Not found: Resource not found: ${m[1]} (UserGroup)`));
      return page(
        g.members.map((uid) => users.get(uid)!),
        `${origin}/api/v1/groups/${g.id}/users`,
      );
    }
    return send(404, oktaError('E0000007', `Not found: Resource not found: ${u.pathname}`));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const userId = (email: string) => {
    const uid = byEmail.get(email.toLowerCase());
    if (!uid) throw new Error(`no Okta user ${email}`);
    return uid;
  };
  const group = (name: string) => {
    const g = groups.find((x) => x.name === name);
    if (!g) throw new Error(`no Okta group ${name}`);
    return g;
  };
  const standIn: OktaStandIn = {
    url: `http://127.0.0.1:${port}`,
    requests,
    addUser(email, status = 'ACTIVE') {
      const user: OktaUser = {
        id: id('00u'),
        status,
        profile: {
          login: email,
          email,
          firstName: email.split('@')[0]!,
          lastName: 'Example',
          employeeNumber: String(1000 + seq),
        },
      };
      users.set(user.id, user);
      byEmail.set(email.toLowerCase(), user.id);
      return user;
    },
    addGroup(name, members = []) {
      const gid = id('00g');
      groups.push({ id: gid, name, members: [] });
      for (const e of members) standIn.addMember(name, e);
      return gid;
    },
    addMember(name, email) {
      if (!byEmail.has(email.toLowerCase())) standIn.addUser(email);
      const g = group(name);
      const uid = userId(email);
      if (!g.members.includes(uid)) g.members.push(uid);
    },
    setManager(email, manager, by = 'login') {
      const user = users.get(userId(email))!;
      if (manager === null) {
        delete user.profile.managerId;
        delete user.profile.manager;
        return;
      }
      if (by === 'raw') {
        user.profile.managerId = manager;
        return;
      }
      if (!byEmail.has(manager.toLowerCase())) standIn.addUser(manager);
      const boss = users.get(userId(manager))!;
      user.profile.managerId =
        by === 'id' ? boss.id : by === 'employeeNumber' ? boss.profile.employeeNumber : boss.profile.login;
      user.profile.manager = `${boss.profile.firstName} ${boss.profile.lastName}`;
    },
    removeMember(name, email) {
      const g = group(name);
      g.members = g.members.filter((x) => x !== userId(email));
    },
    failNext(status, count = 1, path) {
      for (let i = 0; i < count; i++) failures.push({ status, path });
    },
    clearFailures() {
      failures.length = 0;
    },
    setRateLimit(limit) {
      rateLimit = limit;
      window = { resetAt: 0, used: 0 };
    },
    counts: () => ({
      requests: requests.length,
      rateLimited: requests.filter((r) => r.status === 429).length,
    }),
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return standIn;
}
