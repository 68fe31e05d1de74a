/**
 * A local endpoint implementing the webhook protocol as README ("The webhook integration") states
 * it, the "system" of the webhook connector's tests: it checks every request's signature (401 for a
 * bad or old one), keeps real state, and answers each action. Two kinds of system:
 *
 * - `accounts`: each grant is a temporary account of its own (`tmp_<hash of grantId>`), returned
 *   with credentials; revoke deletes it. Standing access is a service account given by hand.
 * - `membership`: people have accounts (added by `addPerson`); a grant makes the person a member of
 *   the resource's permission group, shared by every grant of the same access (`shared: true`).
 *   An `undo` revoke removes the membership only if that grant made it and nothing else holds it.
 *
 * Test hooks: `fail` (answer the matching calls with an error or a timeout, before or after
 * applying them: the part-way failure), and `calls` (every request, to count retries and batches).
 * Everything is in memory; one receiver per test file, started in-process.
 */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SIGNATURE_HEADER, signatureProblem } from '../../src/webhooks/signing.js';

export type ReceiverMode = 'accounts' | 'membership';

export interface ReceiverResource {
  id: string;
  name: string;
  kind: string;
  permissions: string[];
}

export interface RecordedCall {
  action: string;
  /** The request's `id`: the same on every retry of one call. */
  id: string;
  /** The batch size, for `grants: [...]` requests. */
  batch?: number;
  grantIds: string[];
  undo: boolean;
  status: number | 'timeout';
}

export type FailureKind = 'error' | 'timeout' | 'apply-then-error' | 'apply-then-timeout';

export interface FailureRule {
  how: FailureKind;
  action?: string;
  grantId?: string;
  /** How many matching calls fail; Infinity until cleared. */
  count?: number;
  status?: number;
  retryAfter?: string;
  error?: string;
}

interface Membership {
  account: string;
  email: string;
  resourceId: string;
  permission: string;
  /** Latch grants holding it. */
  holders: Set<string>;
  byLatch: boolean;
}

interface TempAccount {
  account: string;
  email: string;
  grantId: string | null;
  resourceId: string;
  permission: string;
  password: string;
}

interface WireGrant {
  grantId: string;
  requesterEmail: string;
  resource: { id: string };
  permission: string;
  handle?: Record<string, unknown>;
}

export interface WebhookReceiver {
  url: string;
  secret: string;
  mode: ReceiverMode;
  resources: ReceiverResource[];
  calls: RecordedCall[];
  /** Accounts the receiver refuses to touch, whatever a handle says. */
  protectedAccounts: Set<string>;
  fail(rule: FailureRule): () => void;
  clearFailures(): void;
  /** Actions this endpoint answers 501 to (as one that does not implement them). */
  unimplemented: Set<string>;
  addPerson(email: string): void;
  /** Does grant `grantId` (accounts) or this person's membership (membership) exist? */
  holds(g: { grantId: string; requesterEmail: string; resourceId: string; permission: string }): boolean;
  /** Removes it behind Latch's back. */
  remove(g: { grantId: string; requesterEmail: string; resourceId: string; permission: string }): void;
  /** Access given by hand: a service account (accounts) or a member (membership). */
  giveStanding(resourceId: string, permission: string): string;
  /** Every piece of access, as comparable lines. */
  lines(): string[];
  close(): Promise<void>;
}

const MAX_GRANT_ID = 255;

class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export async function startWebhookReceiver(
  opts: { mode?: ReceiverMode; secret?: string; resources?: ReceiverResource[]; pageSize?: number } = {},
): Promise<WebhookReceiver> {
  const mode = opts.mode ?? 'accounts';
  const secret = opts.secret ?? randomBytes(24).toString('hex');
  const pageSize = opts.pageSize ?? 50;
  const resources = opts.resources ?? [
    { id: 'app-prod', name: 'App (production)', kind: 'app', permissions: ['read', 'write', 'admin'] },
    { id: 'app-staging', name: 'App (staging)', kind: 'app', permissions: ['read', 'write'] },
  ];
  const calls: RecordedCall[] = [];
  let rules: Array<FailureRule & { left: number }> = [];
  const unimplemented = new Set<string>();
  const protectedAccounts = new Set<string>(['admin']);
  const people = new Set<string>();
  const memberships = new Map<string, Membership>();
  const accounts = new Map<string, TempAccount>();
  const hanging = new Set<http.ServerResponse>();

  const memberKey = (account: string, resourceId: string, permission: string) =>
    JSON.stringify([account, resourceId, permission]);
  const accountOf = (email: string) => email.toLowerCase();
  const tempName = (grantId: string) =>
    `tmp_${createHash('sha256').update(grantId).digest('hex').slice(0, 12)}`;
  const password = () => randomBytes(18).toString('base64url');

  function target(g: WireGrant): ReceiverResource {
    if (typeof g.grantId !== 'string' || !g.grantId) throw new Refusal(400, 'grantId is required');
    if (g.grantId.length > MAX_GRANT_ID)
      throw new Refusal(422, `grantId is longer than ${MAX_GRANT_ID} characters`);
    const resource = resources.find((r) => r.id === g.resource?.id);
    if (!resource) throw new Refusal(404, `no resource ${JSON.stringify(g.resource?.id)}`);
    if (!resource.permissions.includes(g.permission))
      throw new Refusal(422, `${resource.id} has no permission ${JSON.stringify(g.permission)}`);
    return resource;
  }

  // The endpoint's handle, if it is one of ours; else what the grant says.
  const handleAccount = (g: WireGrant) =>
    typeof g.handle?.account === 'string' ? (g.handle.account as string) : undefined;

  function membershipOf(g: WireGrant): string {
    const h = g.handle ?? {};
    if (typeof h.account === 'string' && typeof h.resourceId === 'string' && typeof h.permission === 'string')
      return memberKey(h.account, h.resourceId, h.permission);
    return memberKey(accountOf(g.requesterEmail), g.resource?.id, g.permission);
  }

  function tempAccountOf(g: WireGrant): string {
    return handleAccount(g) ?? tempName(g.grantId);
  }

  function grant(g: WireGrant): Record<string, unknown> {
    const resource = target(g);
    if (mode === 'membership') {
      const account = accountOf(g.requesterEmail);
      if (!people.has(account)) throw new Refusal(404, `no account for ${g.requesterEmail}`);
      const key = memberKey(account, resource.id, g.permission);
      const m = memberships.get(key) ?? {
        account,
        email: g.requesterEmail,
        resourceId: resource.id,
        permission: g.permission,
        holders: new Set<string>(),
        byLatch: true,
      };
      m.holders.add(g.grantId);
      memberships.set(key, m);
      return {
        ok: true,
        key: `member:${key}`,
        shared: true,
        account,
        handle: { account, resourceId: resource.id, permission: g.permission },
      };
    }
    const account = tempName(g.grantId);
    const existing = accounts.get(account);
    // Granted again (a retry): the same account, a new password, as a fresh login would get.
    const a: TempAccount = existing ?? {
      account,
      email: g.requesterEmail,
      grantId: g.grantId,
      resourceId: resource.id,
      permission: g.permission,
      password: '',
    };
    a.password = password();
    accounts.set(account, a);
    return {
      ok: true,
      key: `account:${account}`,
      account,
      handle: { account },
      credentials: { username: account, password: a.password },
    };
  }

  function revoke(g: WireGrant, undo: boolean): void {
    if (mode === 'membership') {
      const key = membershipOf(g);
      const m = memberships.get(key);
      if (!m) return;
      if (protectedAccounts.has(m.account)) throw new Refusal(403, `${m.account} is protected`);
      if (undo) {
        m.holders.delete(g.grantId);
        if (!m.byLatch || m.holders.size > 0) return;
      }
      memberships.delete(key);
      return;
    }
    const account = tempAccountOf(g);
    if (protectedAccounts.has(account)) throw new Refusal(403, `${account} is protected`);
    const a = accounts.get(account);
    // An undo only removes the account that grant made.
    if (a && (!undo || a.grantId === g.grantId)) accounts.delete(account);
  }

  function present(g: WireGrant): boolean {
    if (mode === 'membership') return memberships.has(membershipOf(g));
    const a = accounts.get(tempAccountOf(g));
    return a !== undefined && (handleAccount(g) !== undefined || a.grantId === g.grantId);
  }

  function extend(g: WireGrant): void {
    if (!present(g)) throw new Refusal(404, `grant ${g.grantId} does not exist`);
  }

  function listEntries(): Array<Record<string, unknown>> {
    if (mode === 'membership')
      return [...memberships.entries()].map(([key, m]) => ({
        key: `member:${key}`,
        account: m.account,
        email: m.email,
        resourceId: m.resourceId,
        permission: m.permission,
        managedByLatch: m.byLatch,
        handle: { account: m.account, resourceId: m.resourceId, permission: m.permission },
      }));
    return [...accounts.values()].map((a) => ({
      key: `account:${a.account}`,
      ...(a.grantId ? { grantId: a.grantId } : {}),
      account: a.account,
      email: a.email,
      resourceId: a.resourceId,
      permission: a.permission,
      managedByLatch: a.grantId !== null,
      handle: { account: a.account },
    }));
  }

  function each<T>(grants: WireGrant[], f: (g: WireGrant) => T): Array<T | { ok: false; error: string }> {
    return grants.map((g) => {
      try {
        return f(g);
      } catch (err) {
        return { ok: false as const, error: (err as Error).message };
      }
    });
  }

  function apply(req: Record<string, unknown>): Record<string, unknown> {
    const action = req.action as string;
    const batch = Array.isArray(req.grants) ? (req.grants as WireGrant[]) : undefined;
    const one = req.grant as WireGrant | undefined;
    if (unimplemented.has(action)) throw new Refusal(501, `${action} is not implemented here`);
    switch (action) {
      case 'health':
        return { ok: true, message: `${mode} receiver` };
      case 'discover':
        return { resources };
      case 'list': {
        const all = listEntries();
        const from = typeof req.cursor === 'string' ? Number(req.cursor) : 0;
        const next = from + pageSize < all.length ? String(from + pageSize) : undefined;
        return { entries: all.slice(from, from + pageSize), ...(next ? { next } : {}) };
      }
      case 'grant':
        if (!one) throw new Refusal(400, 'grant needs `grant`');
        return grant(one);
      case 'revoke':
        if (batch)
          return {
            results: each(batch, (g) => {
              revoke(g, req.undo === true);
              return { ok: true };
            }),
          };
        if (!one) throw new Refusal(400, 'revoke needs `grant` or `grants`');
        revoke(one, req.undo === true);
        return { ok: true };
      case 'check':
        if (batch) return { results: each(batch, (g) => ({ present: present(g) })) };
        if (!one) throw new Refusal(400, 'check needs `grant` or `grants`');
        return { present: present(one) };
      case 'extend':
        if (!one) throw new Refusal(400, 'extend needs `grant`');
        extend(one);
        return { ok: true };
      default:
        throw new Refusal(501, `unknown action ${JSON.stringify(action)}`);
    }
  }

  function matchingRule(action: string, grantIds: string[]) {
    return rules.find(
      (r) =>
        r.left > 0 &&
        (r.action === undefined || r.action === action) &&
        (r.grantId === undefined || grantIds.includes(r.grantId)),
    );
  }

  const send = (
    res: http.ServerResponse,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const hang = (res: http.ServerResponse) => {
    hanging.add(res);
    res.on('close', () => hanging.delete(res));
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        // refused below, after the signature (which fails first for garbage anyway)
      }
      const action = typeof body.action === 'string' ? body.action : '?';
      const grants = Array.isArray(body.grants) ? (body.grants as WireGrant[]) : undefined;
      const grantIds = (grants ?? (body.grant ? [body.grant as WireGrant] : [])).map((g) => g.grantId);
      const call: RecordedCall = {
        action,
        id: String(body.id ?? ''),
        ...(grants ? { batch: grants.length } : {}),
        grantIds,
        undo: body.undo === true,
        status: 0,
      };
      calls.push(call);
      if (req.method !== 'POST') return send(res, (call.status = 405), { error: 'POST only' });
      const problem = signatureProblem(secret, req.headers[SIGNATURE_HEADER.toLowerCase()] as string, raw);
      if (problem) return send(res, (call.status = 401), { error: problem });
      if (body.version !== 1) return send(res, (call.status = 400), { error: 'unsupported version' });

      const rule = matchingRule(action, grantIds);
      if (rule) rule.left -= 1;
      if (rule?.how === 'timeout') {
        call.status = 'timeout';
        return hang(res);
      }
      if (rule?.how === 'error')
        return send(
          res,
          (call.status = rule.status ?? 500),
          { error: rule.error ?? 'injected failure' },
          rule.retryAfter ? { 'retry-after': rule.retryAfter } : {},
        );
      let answer: Record<string, unknown>;
      try {
        answer = apply(body);
      } catch (err) {
        if (err instanceof Refusal) return send(res, (call.status = err.status), { error: err.message });
        return send(res, (call.status = 500), { error: (err as Error).message });
      }
      if (rule?.how === 'apply-then-timeout') {
        call.status = 'timeout';
        return hang(res);
      }
      if (rule?.how === 'apply-then-error')
        return send(res, (call.status = rule.status ?? 500), {
          error: rule.error ?? 'crashed after applying',
        });
      send(res, (call.status = 200), answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  const asWire = (g: {
    grantId: string;
    requesterEmail: string;
    resourceId: string;
    permission: string;
  }) => ({
    grantId: g.grantId,
    requesterEmail: g.requesterEmail,
    resource: { id: g.resourceId },
    permission: g.permission,
  });
  let standing = 0;

  return {
    url: `http://127.0.0.1:${port}/latch`,
    secret,
    mode,
    resources,
    calls,
    protectedAccounts,
    unimplemented,
    fail(rule) {
      const r = { ...rule, left: rule.count ?? Infinity };
      rules.push(r);
      return () => {
        rules = rules.filter((x) => x !== r);
      };
    },
    clearFailures() {
      rules = [];
    },
    addPerson(email) {
      people.add(accountOf(email));
    },
    holds(g) {
      return present(asWire(g));
    },
    remove(g) {
      const w = asWire(g);
      if (mode === 'membership') memberships.delete(membershipOf(w));
      else accounts.delete(tempName(g.grantId));
    },
    giveStanding(resourceId, permission) {
      standing += 1;
      if (mode === 'membership') {
        const email = `standing${standing}-${randomBytes(3).toString('hex')}@example.com`;
        const account = accountOf(email);
        people.add(account);
        memberships.set(memberKey(account, resourceId, permission), {
          account,
          email,
          resourceId,
          permission,
          holders: new Set(),
          byLatch: false,
        });
        return account;
      }
      const account = `svc_${standing}_${randomBytes(3).toString('hex')}`;
      accounts.set(account, {
        account,
        email: `${account}@example.com`,
        grantId: null,
        resourceId,
        permission,
        password: password(),
      });
      return account;
    },
    lines() {
      if (mode === 'membership')
        return [...memberships.values()].map((m) => `member ${m.account} ${m.resourceId} ${m.permission}`);
      return [...accounts.values()].map((a) => `account ${a.account} ${a.resourceId} ${a.permission}`);
    },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
