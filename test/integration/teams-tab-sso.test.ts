/**
 * The Teams personal tab's sign-in (src/channels/teams/sso.ts): Entra access tokens as Teams hands
 * them to the tab, signed by the stand-in's Entra keys and checked against its OpenID metadata. A
 * good v1 or v2 token names the person; every bad one is answered 401 with a short reason and
 * nothing else, and the core is never asked anything.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import FindMyWay from 'find-my-way';
import type { ChannelCore } from '../../src/app.js';
import { TabSso } from '../../src/channels/teams/sso.js';
import { teamsTab } from '../../src/channels/teams/tab/index.js';
import type { Identity } from '../../src/domain/identity.js';
import { silentLogger } from '../../src/logger.js';
import type { Router } from '../../src/web/server.js';
import { BotFrameworkStandIn, TAB_HOST, type UserTokenOptions } from '../support/bot-framework-stand-in.js';

const APP_ID = '4d3c2b1a-6a55-4a3c-9d1e-2f3a4b5c6d7e';
const TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const FOREIGN_TENANT = '11111111-2222-4333-8444-555555555555';
const ADA = {
  username: 'Ada@Example.com',
  oid: '6f1b2c3d-0000-4000-8000-000000000001',
  name: 'Ada Lovelace',
};

let standIn: BotFrameworkStandIn;
let sso: TabSso;
let server: http.Server;
let base: string;
/** Every call the tab's API made to the core, by method name. */
const coreCalls: Array<{ method: string; who: Identity }> = [];

/** A core that answers `myAccess` and the like with nothing, and records who asked. */
function recordingCore(): ChannelCore {
  const answer =
    (method: string, value: unknown) =>
    async (who: Identity): Promise<unknown> => {
      coreCalls.push({ method, who });
      return value;
    };
  return {
    queries: {
      isAdmin: answer('isAdmin', false),
      myAccess: answer('myAccess', { active: [], pending: [] }),
      awaitingMe: answer('awaitingMe', []),
    },
    requests: {},
    admin: {},
  } as unknown as ChannelCore;
}

beforeAll(async () => {
  standIn = await BotFrameworkStandIn.start({ appId: APP_ID, appPassword: 'unused', tenantId: TENANT_ID });
  sso = new TabSso({
    appId: APP_ID,
    hosts: [TAB_HOST],
    tenants: [TENANT_ID],
    authority: standIn.entraAuthority,
  });
  const tab = teamsTab({
    config: { appId: APP_ID, appType: 'SingleTenant', tenantId: TENANT_ID },
    core: recordingCore(),
    log: silentLogger,
    hosts: [TAB_HOST],
    authority: standIn.entraAuthority,
  });
  const router: Router = FindMyWay({ ignoreTrailingSlash: true });
  tab.routes(router);
  server = http.createServer((req, res) => void router.lookup(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await standIn?.close();
});

const token = (opts: Partial<UserTokenOptions> = {}) => standIn.signUserToken({ ...ADA, ...opts });

describe('Teams tab SSO tokens', () => {
  it('accepts a v2 token and names the person as the bot does: email lower-cased, object id as alias', async () => {
    const outcome = await sso.verify(`Bearer ${await token()}`);
    expect(outcome).toEqual({
      ok: true,
      tenantId: TENANT_ID,
      identity: {
        id: 'ada@example.com',
        email: 'ada@example.com',
        displayName: 'Ada Lovelace',
        groups: [],
        aliases: [ADA.oid],
      },
    });
  });

  it('accepts a v1 token for the Application ID URI, and one for api://{app id}', async () => {
    const v1 = await sso.verify(`Bearer ${await token({ version: 1 })}`);
    expect(v1).toMatchObject({ ok: true, identity: { id: 'ada@example.com', aliases: [ADA.oid] } });
    const bare = await sso.verify(`Bearer ${await token({ version: 1, audience: `api://${APP_ID}` })}`);
    expect(bare).toMatchObject({ ok: true });
  });

  it('reads the OpenID metadata once for the tenant and keeps it', async () => {
    const before = standIn.metadataRequests.length;
    for (let i = 0; i < 3; i++) expect((await sso.verify(`Bearer ${await token()}`)).ok).toBe(true);
    expect(standIn.metadataRequests.length).toBe(before);
    expect(standIn.metadataRequests).toEqual([TENANT_ID]);
  });

  const refusals: Array<[string, () => Promise<string | undefined>, string]> = [
    ['no token', async () => undefined, 'missing bearer token'],
    ['something that is not a JWT', async () => 'Bearer not-a-token', 'malformed token'],
    [
      'a token signed by a key Entra does not publish',
      async () => `Bearer ${await token({ forged: true })}`,
      'bad signature',
    ],
    [
      'a token for another app',
      async () => `Bearer ${await token({ audience: '0a0b0c0d-1111-4222-8333-444444444444' })}`,
      'wrong audience',
    ],
    [
      'a token for this app id under a host Latch is not reached at',
      async () => `Bearer ${await token({ version: 1, audience: `api://evil.example.com/${APP_ID}` })}`,
      'wrong audience',
    ],
    [
      'a token from another issuer',
      async () => `Bearer ${await token({ issuer: `https://sts.windows.net/${FOREIGN_TENANT}/` })}`,
      'wrong issuer',
    ],
    [
      'a token from an issuer that is not Entra',
      async () => `Bearer ${await token({ issuer: 'https://login.example.com/v2.0' })}`,
      'wrong issuer',
    ],
    [
      'a token without scopes',
      async () => `Bearer ${await token({ scp: null })}`,
      'missing scope access_as_user',
    ],
    [
      'a token without access_as_user',
      async () => `Bearer ${await token({ scp: 'User.Read openid' })}`,
      'missing scope access_as_user',
    ],
    [
      'a token of a foreign tenant',
      async () =>
        `Bearer ${await token({ tenantId: FOREIGN_TENANT, issuer: `https://login.microsoftonline.com/${FOREIGN_TENANT}/v2.0` })}`,
      'tenant not allowed',
    ],
    ['an expired token', async () => `Bearer ${await token({ expiresIn: -3600 })}`, 'token expired'],
    [
      'a token naming nobody',
      async () => `Bearer ${await token({ username: 'no-email' })}`,
      'no user in token',
    ],
  ];

  it.each(refusals)('refuses %s', async (_what, header, reason) => {
    expect(await sso.verify(await header())).toEqual({ ok: false, status: 401, reason });
  });

  it.each(refusals)(
    'answers the API 401 for %s, with only the reason, and asks the core nothing',
    async (_w, header, reason) => {
      coreCalls.length = 0;
      const authorization = await header();
      const res = await fetch(`${base}/teams/tab/api/me`, {
        headers: authorization ? { authorization } : {},
      });
      expect(res.status).toBe(401);
      expect(res.headers.get('cache-control')).toBe('no-store');
      expect(await res.json()).toEqual({ error: reason });
      expect(coreCalls).toEqual([]);
    },
  );

  it('answers the API as the person a good token names', async () => {
    coreCalls.length = 0;
    const res = await fetch(`${base}/teams/tab/api/me`, {
      headers: { authorization: `Bearer ${await token()}`, 'x-latch-time-zone': 'Europe/London' },
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({
      me: { id: 'ada@example.com', displayName: 'Ada Lovelace' },
      isAdmin: false,
      mine: { active: [], pending: [] },
      waitingOnMe: [],
    });
    expect(coreCalls.map((c) => c.who.id)).toEqual(['ada@example.com', 'ada@example.com', 'ada@example.com']);
    expect(coreCalls[0]!.who.timeZone).toBe('Europe/London');
  });

  it('says so (503) when the signing keys cannot be had, without blaming the token', async () => {
    const unreachable = new TabSso({
      appId: APP_ID,
      hosts: [],
      tenants: [TENANT_ID],
      authority: 'http://127.0.0.1:1',
    });
    expect(await unreachable.verify(`Bearer ${await token()}`)).toEqual({
      ok: false,
      status: 503,
      reason: 'signing keys unavailable',
    });
  });
});

describe('the tab page', () => {
  it('is served with a policy that lets only Teams and Latch frame it, and the Teams SDK from Latch', async () => {
    const res = await fetch(`${base}/teams/tab`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain(
      "frame-ancestors 'self' https://teams.microsoft.com https://*.teams.microsoft.com https://*.office.com https://*.cloud.microsoft",
    );
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<script src="/teams/tab/teams-js.min.js" defer></script>');
    const sdk = await fetch(`${base}/teams/tab/teams-js.min.js`);
    expect(sdk.status).toBe(200);
    expect(sdk.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await sdk.text()).toContain('microsoftTeams');
    const again = await fetch(`${base}/teams/tab/tab.js`, {
      headers: { 'if-none-match': (await fetch(`${base}/teams/tab/tab.js`)).headers.get('etag') ?? '' },
    });
    expect(again.status).toBe(304);
  });
});
