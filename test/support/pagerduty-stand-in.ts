/**
 * A local stand-in for PagerDuty REST API v2 `GET /oncalls` (src/context/pagerduty.ts), answering
 * as PagerDuty documents it:
 *
 * - `since`/`until` (on-calls overlapping the range; the present when absent), `schedule_ids[]`,
 *   `escalation_policy_ids[]`, `include[]=users` (full user objects with `email`; references
 *   without it otherwise), classic pagination `limit` (default 25, at most 100) and `offset`, with
 *   `more` and `total` (null unless `total=true`);
 * - each on-call `{ user, schedule, escalation_policy, escalation_level, start, end }`, computed
 *   from escalation policies as PagerDuty does: a level's schedule gives one on-call per shift, a
 *   user named on a level gives one with `schedule`, `start` and `end` null; a schedule on no
 *   policy has no on-calls;
 * - `Authorization: Token token=<key>`, refused with 401 `{ error: { message, code: 2006 } }`;
 * - rate limits: answers carry `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset`
 *   (seconds until the window resets); over the limit, 429, and every request until the reset is
 *   refused again, so a client that does not wait is seen;
 * - failures on demand (`failNext`): 5xx answers with PagerDuty's error body, and 429s.
 *
 * The rota (who is on call when, per schedule) is set and changed at runtime with `setRota`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RotaShift {
  email: string;
  start: Date;
  end: Date;
}

/** A level of a policy: schedules (by name) and users (by email) it pages. */
export interface PolicyLevel {
  schedules?: string[];
  users?: string[];
}

export interface PagerDutyStandInOptions {
  token: string;
}

export interface PagerDutyStandIn {
  url: string;
  /** Every request, in order: path with query, status answered, when it came (ms). */
  requests: Array<{ path: string; status: number; at: number }>;
  /** Users are created on first mention; this names one explicitly, or one without an email. */
  addUser(email: string, opts?: { name?: string; noEmail?: boolean }): string;
  addSchedule(name: string): string;
  addEscalationPolicy(name: string, levels: PolicyLevel[]): string;
  /** Replaces the schedule's shifts. */
  setRota(schedule: string, shifts: RotaShift[]): void;
  /** The next `count` requests (matching `path`) are answered with `status`; a 429 blocks for `resetSeconds`. */
  failNext(status: number, count?: number, opts?: { path?: RegExp; resetSeconds?: number }): void;
  clearFailures(): void;
  setRateLimit(limit?: { limit: number; windowMs: number }): void;
  counts(): { requests: number; rateLimited: number };
  close(): Promise<void>;
}

const pdError = (message: string, code: number) => ({ error: { message, code } });

export async function startPagerDutyStandIn(opts: PagerDutyStandInOptions): Promise<PagerDutyStandIn> {
  const users = new Map<string, { id: string; name: string; email: string | null }>();
  const schedules: Array<{ id: string; name: string; shifts: RotaShift[] }> = [];
  const policies: Array<{ id: string; name: string; levels: PolicyLevel[] }> = [];
  const failures: Array<{ status: number; path?: RegExp; resetSeconds?: number }> = [];
  const requests: PagerDutyStandIn['requests'] = [];
  let rateLimit: { limit: number; windowMs: number } | undefined;
  let window = { resetAt: 0, used: 0 };
  let blockedUntil = 0;
  let seq = 0;
  const id = (prefix: string) => `${prefix}${(++seq).toString(36).toUpperCase().padStart(6, '0')}`;

  const userByEmail = (email: string) => {
    const key = email.toLowerCase();
    if (!users.has(key)) standIn.addUser(email);
    return users.get(key)!;
  };
  const userObject = (u: { id: string; name: string; email: string | null }, full: boolean) =>
    full
      ? {
          id: u.id,
          type: 'user',
          summary: u.name,
          name: u.name,
          ...(u.email ? { email: u.email } : {}),
          time_zone: 'Etc/UTC',
          role: 'user',
          self: `https://api.pagerduty.com/users/${u.id}`,
          html_url: `https://example.pagerduty.com/users/${u.id}`,
        }
      : {
          id: u.id,
          type: 'user_reference',
          summary: u.name,
          self: `https://api.pagerduty.com/users/${u.id}`,
          html_url: `https://example.pagerduty.com/users/${u.id}`,
        };
  const reference = (type: string, x: { id: string; name: string }) => ({
    id: x.id,
    type,
    summary: x.name,
    self: `https://api.pagerduty.com/${type.replace('_reference', '')}s/${x.id}`,
    html_url: `https://example.pagerduty.com/${type.replace('_reference', '')}s/${x.id}`,
  });

  const server = http.createServer((req, res) => {
    const u = new URL(req.url ?? '/', 'http://pagerduty.local');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      requests.push({ path: `${u.pathname}${u.search}`, status, at: Date.now() });
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
      res.end(JSON.stringify(body));
    };
    const now = Date.now();
    const limits = (): Record<string, string> => {
      if (!rateLimit) return {};
      if (now >= window.resetAt) window = { resetAt: now + rateLimit.windowMs, used: 0 };
      window.used++;
      return {
        'ratelimit-limit': String(rateLimit.limit),
        'ratelimit-remaining': String(Math.max(0, rateLimit.limit - window.used)),
        'ratelimit-reset': String(Math.max(1, Math.ceil((window.resetAt - now) / 1000))),
      };
    };
    if (req.headers.authorization !== `Token token=${opts.token}`)
      return send(401, pdError('Authentication failed', 2006));
    const headers = limits();
    if (now < blockedUntil)
      return send(429, pdError('Rate Limit Exceeded', 2020), {
        ...headers,
        'ratelimit-remaining': '0',
        'ratelimit-reset': String(Math.max(1, Math.ceil((blockedUntil - now) / 1000))),
      });
    const injected = failures.findIndex((f) => !f.path || f.path.test(u.pathname));
    if (injected >= 0) {
      const [f] = failures.splice(injected, 1);
      if (f!.status === 429) {
        const seconds = f!.resetSeconds ?? 1;
        blockedUntil = now + seconds * 1000;
        return send(429, pdError('Rate Limit Exceeded', 2020), {
          ...headers,
          'ratelimit-remaining': '0',
          'ratelimit-reset': String(seconds),
        });
      }
      return send(f!.status, pdError('Internal Server Error', 2001), headers);
    }
    if (rateLimit && window.used > rateLimit.limit)
      return send(429, pdError('Rate Limit Exceeded', 2020), headers);
    if (req.method !== 'GET') return send(405, pdError('Method Not Allowed', 2001));
    if (u.pathname !== '/oncalls') return send(404, pdError('Not Found', 2100));

    const q = u.searchParams;
    const since = q.get('since') ? Date.parse(q.get('since')!) : now;
    const until = q.get('until') ? Date.parse(q.get('until')!) : since;
    if (Number.isNaN(since) || Number.isNaN(until) || until < since)
      return send(400, {
        error: { message: 'Invalid Input Provided', code: 2001, errors: ['Invalid since or until'] },
      });
    const limit = Math.min(Number(q.get('limit') ?? 25) || 25, 100);
    const offset = Number(q.get('offset') ?? 0) || 0;
    const scheduleIds = q.getAll('schedule_ids[]');
    const policyIds = q.getAll('escalation_policy_ids[]');
    const full = q.getAll('include[]').includes('users');

    const all: unknown[] = [];
    for (const p of policies) {
      if (policyIds.length > 0 && !policyIds.includes(p.id)) continue;
      p.levels.forEach((level, i) => {
        for (const name of level.schedules ?? []) {
          const s = schedules.find((x) => x.name === name)!;
          if (scheduleIds.length > 0 && !scheduleIds.includes(s.id)) continue;
          for (const shift of s.shifts) {
            const [start, end] = [shift.start.getTime(), shift.end.getTime()];
            // Overlapping the range; without one, covering the instant asked about.
            const hit = since === until ? start <= since && since < end : start < until && end > since;
            if (!hit) continue;
            all.push({
              escalation_policy: reference('escalation_policy_reference', p),
              escalation_level: i + 1,
              schedule: reference('schedule_reference', s),
              user: userObject(userByEmail(shift.email), full),
              start: shift.start.toISOString(),
              end: shift.end.toISOString(),
            });
          }
        }
        if (scheduleIds.length > 0) return;
        for (const email of level.users ?? [])
          all.push({
            escalation_policy: reference('escalation_policy_reference', p),
            escalation_level: i + 1,
            schedule: null,
            user: userObject(userByEmail(email), full),
            start: null,
            end: null,
          });
      });
    }
    const page = all.slice(offset, offset + limit);
    return send(
      200,
      {
        oncalls: page,
        limit,
        offset,
        more: offset + limit < all.length,
        total: q.get('total') === 'true' ? all.length : null,
      },
      headers,
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;

  const standIn: PagerDutyStandIn = {
    url: `http://127.0.0.1:${port}`,
    requests,
    addUser(email, o = {}) {
      const user = { id: id('PU'), name: o.name ?? email.split('@')[0]!, email: o.noEmail ? null : email };
      users.set(email.toLowerCase(), user);
      return user.id;
    },
    addSchedule(name) {
      const s = { id: id('PS'), name, shifts: [] };
      schedules.push(s);
      return s.id;
    },
    addEscalationPolicy(name, levels) {
      for (const l of levels)
        for (const s of l.schedules ?? [])
          if (!schedules.some((x) => x.name === s)) throw new Error(`no PagerDuty schedule ${s}`);
      const p = { id: id('PE'), name, levels };
      policies.push(p);
      return p.id;
    },
    setRota(name, shifts) {
      const s = schedules.find((x) => x.name === name);
      if (!s) throw new Error(`no PagerDuty schedule ${name}`);
      s.shifts = shifts.map((x) => ({ ...x }));
    },
    failNext(status, count = 1, o = {}) {
      for (let i = 0; i < count; i++) failures.push({ status, ...o });
    },
    clearFailures() {
      failures.length = 0;
      blockedUntil = 0;
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
