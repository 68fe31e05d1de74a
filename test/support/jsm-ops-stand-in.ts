/**
 * A local stand-in for the parts of the Jira Service Management Operations REST API and of Jira's
 * user API that on-call sync reads (src/context/jsm-ops.ts), answering as Atlassian documents them:
 *
 * - `GET /jsm/ops/api/{cloudId}/v1/schedules?offset=&size=` (size default 25): `{ values: [{ id,
 *   name, description, timezone, enabled, teamId }], links: { next } }`, `links.next` relative to
 *   the API root (`/v1/schedules?offset=25&size=25`) while there is more;
 * - `GET /jsm/ops/api/{cloudId}/v1/schedules/{id}/timeline?date=&interval=&intervalUnit=`: the range
 *   starts at the beginning (UTC) of the `intervalUnit` (days, weeks, months; default weeks)
 *   containing `date` and lasts `interval` (default 1) units; `{ startDate, endDate, finalTimeline:
 *   { rotations: [{ id, name, order, periods: [{ startDate, endDate, type, responder: { id, type
 *   } }] }] } }`, periods clipped to the range;
 * - `GET /jsm/ops/api/{cloudId}/v1/schedules/{id}/on-calls?date=&flat=true`: `{ onCallUsers }`;
 * - `GET /rest/api/3/user/bulk?accountId=…&startAt=&maxResults=` (Jira): `{ startAt, maxResults,
 *   total, isLast, values: [{ accountId, accountType, displayName, active, emailAddress? }] }`,
 *   `emailAddress` absent for a profile that hides it;
 * - basic auth (account email and API token), refused with 401 (`{ errors: [{ title, code }] }`
 *   from the ops API, `{ errorMessages: […] }` from Jira);
 * - rate limits: 429 with `Retry-After` (seconds) and `X-RateLimit-Reset` (ISO 8601); every request
 *   until then is refused again, so a client that does not wait is seen;
 * - failures on demand (`failNext`): 5xx and 429.
 *
 * The rota (who is on call when, per schedule) is set and changed at runtime with `setRota`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JsmShift {
  email: string;
  start: Date;
  end: Date;
}

export interface JsmOpsStandInOptions {
  cloudId: string;
  email: string;
  apiToken: string;
  /** Largest page the bulk user API returns, whatever maxResults asks (Jira caps it too). */
  maxUsersPage?: number;
}

export interface JsmOpsStandIn {
  url: string;
  requests: Array<{ path: string; status: number; at: number }>;
  /** Users are created on first mention; this sets one hidden (no email shown) or inactive. */
  addUser(email: string, opts?: { hidden?: boolean; active?: boolean }): string;
  addSchedule(name: string, opts?: { enabled?: boolean }): string;
  /** Replaces the schedule's shifts. */
  setRota(schedule: string, shifts: JsmShift[]): void;
  failNext(status: number, count?: number, opts?: { path?: RegExp; retryAfter?: number }): void;
  clearFailures(): void;
  counts(): { requests: number; rateLimited: number };
  close(): Promise<void>;
}

const DAY = 86_400_000;

/** The start (UTC) of the unit containing `t`, and the end after `interval` units. */
function timelineRange(t: Date, unit: string, interval: number): { start: Date; end: Date } {
  const y = t.getUTCFullYear();
  const m = t.getUTCMonth();
  const d = t.getUTCDate();
  if (unit === 'months')
    return { start: new Date(Date.UTC(y, m, 1)), end: new Date(Date.UTC(y, m + interval, 1)) };
  const day = Date.UTC(y, m, d);
  if (unit === 'days') return { start: new Date(day), end: new Date(day + interval * DAY) };
  // Weeks start on Monday.
  const monday = day - ((t.getUTCDay() + 6) % 7) * DAY;
  return { start: new Date(monday), end: new Date(monday + interval * 7 * DAY) };
}

export async function startJsmOpsStandIn(opts: JsmOpsStandInOptions): Promise<JsmOpsStandIn> {
  const users = new Map<string, { accountId: string; email: string; hidden: boolean; active: boolean }>();
  const schedules: Array<{
    id: string;
    name: string;
    enabled: boolean;
    rotationId: string;
    shifts: JsmShift[];
  }> = [];
  const failures: Array<{ status: number; path?: RegExp; retryAfter?: number }> = [];
  const requests: JsmOpsStandIn['requests'] = [];
  let blockedUntil = 0;
  let seq = 0;
  const uuid = () => {
    const n = (++seq).toString(16).padStart(12, '0');
    return `0b1e2c3d-4a5b-4c6d-8e7f-${n}`;
  };
  const expected = `Basic ${Buffer.from(`${opts.email}:${opts.apiToken}`).toString('base64')}`;
  const ops = `/jsm/ops/api/${opts.cloudId}`;

  const userOf = (email: string) => {
    const key = email.toLowerCase();
    if (!users.has(key)) standIn.addUser(email);
    return users.get(key)!;
  };

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://jsm.local');
    const jira = u.pathname.startsWith('/rest/api/');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      requests.push({ path: `${u.pathname}${u.search}`, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json;charset=UTF-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const refuse = (status: number, title: string) =>
      send(
        status,
        jira ? { errorMessages: [title], errors: {} } : { errors: [{ title, code: String(status) }] },
      );
    const now = Date.now();
    const tooMany = (until: number) =>
      send(
        429,
        jira
          ? { errorMessages: ['Rate limit exceeded.'] }
          : { errors: [{ title: 'Too many requests', code: '429' }] },
        {
          'retry-after': String(Math.max(1, Math.ceil((until - now) / 1000))),
          'x-ratelimit-reset': new Date(until).toISOString(),
        },
      );

    if (req.headers.authorization !== expected)
      return refuse(
        401,
        jira
          ? 'You are not authenticated. Authentication required to perform this operation.'
          : 'Unauthorized',
      );
    if (now < blockedUntil) return tooMany(blockedUntil);
    const injected = failures.findIndex((f) => !f.path || f.path.test(u.pathname));
    if (injected >= 0) {
      const [f] = failures.splice(injected, 1);
      if (f!.status === 429) {
        blockedUntil = now + (f!.retryAfter ?? 1) * 1000;
        return tooMany(blockedUntil);
      }
      return refuse(f!.status, 'Internal server error');
    }
    if (req.method !== 'GET') return refuse(405, 'Method not allowed');
    const q = u.searchParams;

    if (u.pathname === '/rest/api/3/user/bulk') {
      const ids = q.getAll('accountId');
      if (ids.length === 0) return refuse(400, 'Specify at least one accountId.');
      const startAt = Number(q.get('startAt') ?? 0) || 0;
      const max = Math.min(Number(q.get('maxResults') ?? 10) || 10, opts.maxUsersPage ?? 200);
      const found = ids
        .map((id) => [...users.values()].find((x) => x.accountId === id))
        .filter((x): x is NonNullable<typeof x> => x !== undefined);
      const page = found.slice(startAt, startAt + max);
      return send(200, {
        self: `http://${req.headers.host}${u.pathname}${u.search}`,
        maxResults: max,
        startAt,
        total: found.length,
        isLast: startAt + max >= found.length,
        values: page.map((x) => ({
          self: `http://${req.headers.host}/rest/api/3/user?accountId=${x.accountId}`,
          accountId: x.accountId,
          accountType: 'atlassian',
          displayName: x.email.split('@')[0],
          active: x.active,
          ...(x.hidden ? {} : { emailAddress: x.email }),
        })),
      });
    }
    if (!u.pathname.startsWith(`${ops}/v1/`)) return refuse(404, 'Not found');
    const path = u.pathname.slice(ops.length);

    if (path === '/v1/schedules') {
      const size = Math.min(Number(q.get('size') ?? 25) || 25, 100);
      const offset = Number(q.get('offset') ?? 0) || 0;
      const page = schedules.slice(offset, offset + size);
      const more = offset + size < schedules.length;
      return send(200, {
        values: page.map((s) => ({
          id: s.id,
          name: s.name,
          description: '',
          timezone: 'Etc/UTC',
          enabled: s.enabled,
          teamId: 'cd68207b-c55d-4611-ab25-72fd0c439e9f',
        })),
        links: more ? { next: `/v1/schedules?offset=${offset + size}&size=${size}` } : {},
        _expands: ['rotation'],
      });
    }
    const m = /^\/v1\/schedules\/([^/]+)\/(timeline|on-calls)$/.exec(path);
    const s = m ? schedules.find((x) => x.id === decodeURIComponent(m[1]!)) : undefined;
    if (!m || !s) return refuse(404, 'Schedule not found');
    const date = q.get('date') ? new Date(q.get('date')!) : new Date(now);
    if (Number.isNaN(date.getTime())) return refuse(400, 'Invalid date');

    if (m[2] === 'on-calls') {
      const at = date.getTime();
      const on = s.shifts.filter((x) => x.start.getTime() <= at && at < x.end.getTime());
      const ids = [...new Set(on.map((x) => userOf(x.email).accountId))];
      return q.get('flat') === 'true'
        ? send(200, { onCallUsers: ids })
        : send(200, { onCallParticipants: ids.map((id) => ({ id, type: 'user' })) });
    }
    const unit = q.get('intervalUnit') ?? 'weeks';
    if (!['days', 'weeks', 'months'].includes(unit)) return refuse(400, 'Invalid interval unit');
    const interval = Number(q.get('interval') ?? 1) || 1;
    const { start, end } = timelineRange(date, unit, interval);
    const periods = s.shifts
      .filter((x) => x.start < end && x.end > start)
      .sort((a, b) => a.start.getTime() - b.start.getTime())
      .map((x) => ({
        startDate: new Date(Math.max(x.start.getTime(), start.getTime())).toISOString(),
        endDate: new Date(Math.min(x.end.getTime(), end.getTime())).toISOString(),
        type: 'default',
        responder: { id: userOf(x.email).accountId, type: 'user' },
      }));
    return send(200, {
      startDate: start.toISOString(),
      endDate: end.toISOString(),
      finalTimeline: { rotations: [{ id: s.rotationId, name: 'Rota', order: 1, periods }] },
      _expands: ['base', 'forwarding', 'override'],
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const standIn: JsmOpsStandIn = {
    url: `http://127.0.0.1:${port}`,
    requests,
    addUser(email, o = {}) {
      // Atlassian account ids: 24 hex digits for older accounts.
      const accountId = (++seq).toString(16).padStart(24, '5');
      users.set(email.toLowerCase(), {
        accountId,
        email,
        hidden: o.hidden ?? false,
        active: o.active ?? true,
      });
      return accountId;
    },
    addSchedule(name, o = {}) {
      const s = { id: uuid(), name, enabled: o.enabled ?? true, rotationId: uuid(), shifts: [] };
      schedules.push(s);
      return s.id;
    },
    setRota(name, shifts) {
      const s = schedules.find((x) => x.name === name);
      if (!s) throw new Error(`no JSM schedule ${name}`);
      s.shifts = shifts.map((x) => ({ ...x }));
    },
    failNext(status, count = 1, o = {}) {
      for (let i = 0; i < count; i++) failures.push({ status, ...o });
    },
    clearFailures() {
      failures.length = 0;
      blockedUntil = 0;
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
