/**
 * A local stand-in for the Microsoft side of a Teams bot, for end-to-end tests of the botbuilder
 * adapter (src/channels/teams/adapter.ts). One plain HTTP server plays four parts:
 *
 * - the Bot Framework OpenID metadata and JWKS that tokens sent TO the bot are checked against
 *   (`openIdMetadataUrl`, like https://login.botframework.com/v1/.well-known/openidconfiguration).
 *   The key carries `endorsements: ["msteams"]` as the real keys do: botbuilder's JwtTokenExtractor
 *   refuses a key whose endorsements do not include the activity's channelId;
 * - the channel's signer, `signChannelToken`, making the JWT the Bot Framework sends in
 *   `Authorization: Bearer ...` (claims as botbuilder's channel validation reads them: iss
 *   https://api.botframework.com, aud = the bot's app id, serviceurl = the activity's serviceUrl);
 * - Entra ID's client-credentials token endpoint the bot calls before it talks to the connector
 *   (`loginUrl` + `/oauth2/v2.0/token`, answering like Entra: token_type, expires_in, access_token);
 * - the Bot Framework connector at `serviceUrl` (the v3 REST API: send, reply, update, create
 *   conversation). It refuses calls whose bearer token it did not issue, records the others, and
 *   lets tests await them with `waitForCall`;
 * - Entra ID for the personal tab's SSO: each tenant's v2 OpenID metadata and signing keys under
 *   `entraAuthority` (like https://login.microsoftonline.com), and `signUserToken`, the access token
 *   Teams hands the tab (v1 or v2 claims, as Entra issues them).
 *
 * Deliberately simple: one server per test file, everything in memory, nothing logged.
 */
import http from 'node:http';
import { randomBytes, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import type { BotFrameworkEndpoints } from '../../src/channels/teams/adapter.js';

/** The issuer of tokens the Bot Framework channel sends to bots (public cloud). */
export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';

export interface StandInOptions {
  /** The bot's app registration: the token endpoint gives tokens only for this id and secret. */
  appId: string;
  appPassword: string;
  tenantId: string;
}

export interface ChannelTokenOptions {
  /** The `aud` claim: the bot's app id. */
  audience: string;
  /** Default https://api.botframework.com. */
  issuer?: string;
  /** The `serviceurl` claim. Default the stand-in's `serviceUrl`. `null` leaves the claim out. */
  serviceUrl?: string | null;
  /** Seconds until `exp` (negative for an already expired token). Default 3600. */
  expiresIn?: number;
  /** Sign with a key the JWKS does not publish, under the published key's kid (a forgery). */
  forged?: boolean;
}

/** The access token Entra issues for the tab's API (what `authentication.getAuthToken` returns). */
export interface UserTokenOptions {
  /** `preferred_username` (v2) or `upn` (v1). */
  username: string;
  /** The Entra object id. */
  oid: string;
  name?: string;
  /** Default the stand-in's tenant. */
  tenantId?: string;
  /** Token version: 2 (aud = the client id) or 1 (aud = the Application ID URI). Default 2. */
  version?: 1 | 2;
  /** Default the app id (v2) or `api://latch.example.com/{appId}` (v1). */
  audience?: string;
  /** Default the version's issuer for the tenant. */
  issuer?: string;
  /** Default `access_as_user`; null leaves the claim out. */
  scp?: string | null;
  /** Seconds until `exp` (negative for an expired token). Default 3600. */
  expiresIn?: number;
  /** Sign with a key the tenant does not publish, under a published kid (a forgery). */
  forged?: boolean;
}

/** The host the stand-in's v1 tokens name in their Application ID URI audience. */
export const TAB_HOST = 'latch.example.com';

/** One client-credentials request received by the token endpoint. */
export interface TokenRequest {
  tenant: string;
  form: Record<string, string>;
  /** The HTTP status answered. */
  status: number;
  /** The access token handed out, when the request was granted. */
  accessToken?: string;
}

/** A TeamsChannelAccount, as the connector's member lookup answers it. */
export interface TeamsMember {
  id: string;
  name: string;
  aadObjectId: string;
  email?: string;
  userPrincipalName?: string;
  givenName?: string;
  surname?: string;
  tenantId?: string;
  userRole?: 'user' | 'guest' | 'anonymous';
}

/** One connector request, recorded after it was answered. */
export interface ConnectorCall {
  index: number;
  method: string;
  /** The path from `/v3/` on, as received (still URL-encoded). */
  path: string;
  /** Which operation of the connector API this was. */
  operation: 'sendToConversation' | 'replyToActivity' | 'updateActivity' | 'createConversation' | 'getMember';
  memberId?: string;
  /** Decoded from the path. */
  conversationId?: string;
  activityId?: string;
  /** The bearer token of the `Authorization` header. */
  token: string | undefined;
  body: Record<string, unknown>;
  status: number;
  response: Record<string, unknown>;
}

type CallPredicate = (call: ConnectorCall) => boolean;

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(text);
}

export class BotFrameworkStandIn {
  /** Base URL of the server, without a trailing slash. */
  readonly url: string;
  readonly openIdMetadataUrl: string;
  readonly jwksUrl: string;
  /** The login URL with the tenant, as botbuilder's ToChannelFromBotLoginUrl takes it. */
  readonly loginUrl: string;
  /** Where the connector answers, like https://smba.trafficmanager.net/teams/ (trailing slash included). */
  readonly serviceUrl: string;

  readonly tokenRequests: TokenRequest[] = [];
  /** Tenants whose OpenID metadata was asked for, in order. */
  readonly metadataRequests: string[] = [];
  /** Teams members by their `29:` id, as GET /v3/conversations/{id}/members/{memberId} answers them. */
  readonly members = new Map<string, TeamsMember>();
  readonly calls: ConnectorCall[] = [];
  /**
   * Conversations whose person blocked the bot: sends and updates there get 403
   * ConversationBlockedByUser, as Teams answers them.
   */
  readonly blocked = new Set<string>();
  /** How often the OpenID metadata and the signing keys were fetched (botbuilder caches them). */
  readonly wellKnownFetches = { metadata: 0, keys: 0 };

  private readonly issued = new Set<string>();
  private readonly waiters: { predicate: CallPredicate; resolve: (call: ConnectorCall) => void }[] = [];

  private constructor(
    private readonly server: http.Server,
    private readonly options: StandInOptions,
    private readonly keyId: string,
    private readonly privateKey: CryptoKey,
    private readonly foreignKey: CryptoKey,
    private readonly jwks: { keys: Record<string, unknown>[] },
    private readonly entra: {
      keyId: string;
      privateKey: CryptoKey;
      jwks: { keys: Record<string, unknown>[] };
    },
  ) {
    const { port } = server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    this.openIdMetadataUrl = `${this.url}/v1/.well-known/openidconfiguration`;
    this.jwksUrl = `${this.url}/v1/.well-known/keys`;
    this.loginUrl = `${this.url}/${options.tenantId}`;
    this.serviceUrl = `${this.url}/teams/`;
  }

  /** Entra ID's login authority, as the tab's SSO check takes it (https://login.microsoftonline.com). */
  get entraAuthority(): string {
    return this.url;
  }

  /** Every Bot Framework endpoint setting, pointed here (botbuilder takes them as one group). */
  get endpoints(): BotFrameworkEndpoints {
    return {
      ToChannelFromBotLoginUrl: this.loginUrl,
      ToChannelFromBotOAuthScope: 'https://api.botframework.com',
      ToBotFromChannelTokenIssuer: BOT_FRAMEWORK_ISSUER,
      OAuthUrl: this.url,
      ToBotFromChannelOpenIdMetadataUrl: this.openIdMetadataUrl,
      ToBotFromEmulatorOpenIdMetadataUrl: this.openIdMetadataUrl,
      CallerId: 'urn:botframework:azure',
      ValidateAuthority: true,
    };
  }

  static async start(options: StandInOptions): Promise<BotFrameworkStandIn> {
    const keyId = randomBytes(16).toString('base64url');
    const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
    const foreign = await generateKeyPair('RS256');
    const jwk = await exportJWK(publicKey);
    const jwks = {
      keys: [{ kty: 'RSA', use: 'sig', kid: keyId, n: jwk.n, e: jwk.e, endorsements: ['msteams'] }],
    };
    const entraKey = await generateKeyPair('RS256', { extractable: true });
    const entraKeyId = randomBytes(16).toString('base64url');
    const entraJwk = await exportJWK(entraKey.publicKey);
    const entra = {
      keyId: entraKeyId,
      privateKey: entraKey.privateKey,
      jwks: { keys: [{ kty: 'RSA', use: 'sig', kid: entraKeyId, n: entraJwk.n, e: entraJwk.e }] },
    };
    const server = http.createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const standIn = new BotFrameworkStandIn(
      server,
      options,
      keyId,
      privateKey,
      foreign.privateKey,
      jwks,
      entra,
    );
    server.on('request', (req, res) => {
      standIn.handle(req, res).catch((err: unknown) => send(res, 500, { error: String(err) }));
    });
    return standIn;
  }

  /** The JWT the Bot Framework channel puts in `Authorization: Bearer ...` when it calls the bot. */
  async signChannelToken(opts: ChannelTokenOptions): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {};
    const serviceUrl = opts.serviceUrl === undefined ? this.serviceUrl : opts.serviceUrl;
    if (serviceUrl !== null) claims.serviceurl = serviceUrl;
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keyId })
      .setIssuer(opts.issuer ?? BOT_FRAMEWORK_ISSUER)
      .setAudience(opts.audience)
      .setNotBefore(now - 60)
      .setExpirationTime(now + (opts.expiresIn ?? 3600))
      .sign(opts.forged ? this.foreignKey : this.privateKey);
  }

  /** The access token Teams hands the tab for this person (Entra's v1 or v2 claims). */
  async signUserToken(opts: UserTokenOptions): Promise<string> {
    const tenant = opts.tenantId ?? this.options.tenantId;
    const version = opts.version ?? 2;
    const now = Math.floor(Date.now() / 1000);
    const claims: Record<string, unknown> = {
      tid: tenant,
      oid: opts.oid,
      ver: version === 2 ? '2.0' : '1.0',
      azp: '5e3ce6c0-2b1f-4285-8d4b-75ee78787346', // the Teams web client
      ...(opts.name ? { name: opts.name } : {}),
      ...(version === 2
        ? { preferred_username: opts.username }
        : { upn: opts.username, unique_name: opts.username }),
    };
    const scp = opts.scp === undefined ? 'access_as_user' : opts.scp;
    if (scp !== null) claims.scp = scp;
    const issuer =
      opts.issuer ??
      (version === 2
        ? `https://login.microsoftonline.com/${tenant}/v2.0`
        : `https://sts.windows.net/${tenant}/`);
    const audience =
      opts.audience ?? (version === 2 ? this.options.appId : `api://${TAB_HOST}/${this.options.appId}`);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.entra.keyId })
      .setIssuer(issuer)
      .setAudience(audience)
      .setIssuedAt(now - 60)
      .setNotBefore(now - 60)
      .setExpirationTime(now + (opts.expiresIn ?? 3600))
      .sign(opts.forged ? this.foreignKey : this.entra.privateKey);
  }

  /** The first recorded call (already recorded or still to come) that `predicate` accepts. */
  waitForCall(predicate: CallPredicate, timeoutMs = 5000): Promise<ConnectorCall> {
    const found = this.calls.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve: (call: ConnectorCall) => (clearTimeout(timer), resolve(call)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(
          new Error(`no matching connector call within ${timeoutMs} ms; calls: ${this.describeCalls()}`),
        );
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  describeCalls(): string {
    return JSON.stringify(this.calls.map((c) => `${c.method} ${c.path} -> ${c.status}`));
  }

  /** True when `token` is an access token the token endpoint handed out. */
  issuedToken(token: string | undefined): boolean {
    return token !== undefined && this.issued.has(token);
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const body = await readBody(req);

    if (req.method === 'GET' && path === '/v1/.well-known/openidconfiguration') {
      this.wellKnownFetches.metadata++;
      // The shape of https://login.botframework.com/v1/.well-known/openidconfiguration.
      return send(res, 200, {
        issuer: BOT_FRAMEWORK_ISSUER,
        authorization_endpoint: 'https://invalid.botframework.com',
        jwks_uri: this.jwksUrl,
        id_token_signing_alg_values_supported: ['RS256'],
        token_endpoint_auth_methods_supported: ['private_key_jwt'],
      });
    }
    if (req.method === 'GET' && path === '/v1/.well-known/keys') {
      this.wellKnownFetches.keys++;
      return send(res, 200, this.jwks);
    }

    // Entra ID v2 OpenID metadata of a tenant, shaped like login.microsoftonline.com's.
    const metadata = /^\/([0-9a-f-]{36})\/v2\.0\/\.well-known\/openid-configuration$/.exec(path);
    if (req.method === 'GET' && metadata) {
      const tenant = metadata[1]!;
      this.metadataRequests.push(tenant);
      return send(res, 200, {
        token_endpoint: `${this.url}/${tenant}/oauth2/v2.0/token`,
        jwks_uri: `${this.url}/${tenant}/discovery/v2.0/keys`,
        issuer: `https://login.microsoftonline.com/${tenant}/v2.0`,
        id_token_signing_alg_values_supported: ['RS256'],
        tenant_region_scope: 'EU',
      });
    }
    if (req.method === 'GET' && /^\/[0-9a-f-]{36}\/discovery\/v2\.0\/keys$/.test(path))
      return send(res, 200, this.entra.jwks);

    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (req.method === 'POST' && tokenPath)
      return this.token(decodeURIComponent(tokenPath[1] ?? ''), body, res);

    const v3 = path.indexOf('/v3/');
    if (v3 >= 0) return this.connector(req, path.slice(v3 + 1), body, res);

    return send(res, 404, { error: { code: 'NotFound', message: `no route for ${req.method} ${path}` } });
  }

  /** Entra ID v2 client credentials (RFC 6749 section 4.4), with a client secret. */
  private async token(tenant: string, body: string, res: http.ServerResponse): Promise<void> {
    const form = Object.fromEntries(new URLSearchParams(body));
    const record = (status: number, answer: Record<string, unknown>, accessToken?: string) => {
      this.tokenRequests.push({ tenant, form, status, ...(accessToken ? { accessToken } : {}) });
      send(res, status, answer);
    };
    const error = (status: number, code: string, description: string) =>
      record(status, {
        error: code,
        error_description: description,
        error_codes: [],
        trace_id: randomUUID(),
      });

    if (tenant !== this.options.tenantId)
      return error(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    if (form.grant_type !== 'client_credentials')
      return error(400, 'unsupported_grant_type', 'AADSTS70003: The grant type is not supported.');
    if (form.client_id !== this.options.appId || form.client_secret !== this.options.appPassword)
      return error(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    const scope = form.scope ?? '';
    if (!scope.endsWith('/.default'))
      return error(400, 'invalid_scope', 'AADSTS1002012: The provided scope is invalid.');

    const now = Math.floor(Date.now() / 1000);
    const accessToken = await new SignJWT({ appid: form.client_id, tid: tenant, ver: '1.0' })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: this.keyId })
      .setIssuer(`https://sts.windows.net/${tenant}/`)
      .setAudience(scope.slice(0, -'/.default'.length))
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + 3599)
      .setJti(randomUUID())
      .sign(this.privateKey);
    this.issued.add(accessToken);
    record(
      200,
      { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: accessToken },
      accessToken,
    );
  }

  /** The Bot Framework connector's v3 conversation operations (the REST API reference's shapes). */
  private connector(req: http.IncomingMessage, path: string, raw: string, res: http.ServerResponse): void {
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
    if (!this.issuedToken(token)) {
      res.writeHead(401, { 'content-type': 'application/json; charset=utf-8' });
      res.end(JSON.stringify({ message: 'Authorization has been denied for this request.' }));
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
    } catch {
      return send(res, 400, { error: { code: 'BadArgument', message: 'body is not JSON' } });
    }
    const segments = path.split('/').map((s) => decodeURIComponent(s));
    const [v3, conversations, conversationId, activities, activityId, ...rest] = segments;
    let call: Omit<ConnectorCall, 'index' | 'status' | 'response' | 'method' | 'path' | 'token' | 'body'>;
    if (v3 !== 'v3' || conversations !== 'conversations' || rest.length > 0) {
      return send(res, 404, { error: { code: 'NotFound', message: `no route for ${req.method} /${path}` } });
    } else if (req.method === 'POST' && conversationId === undefined) {
      call = { operation: 'createConversation' };
    } else if (
      req.method === 'POST' &&
      activities === 'activities' &&
      activityId === undefined &&
      conversationId
    ) {
      call = { operation: 'sendToConversation', conversationId };
    } else if (req.method === 'POST' && activities === 'activities' && conversationId && activityId) {
      call = { operation: 'replyToActivity', conversationId, activityId };
    } else if (req.method === 'PUT' && activities === 'activities' && conversationId && activityId) {
      call = { operation: 'updateActivity', conversationId, activityId };
    } else if (req.method === 'GET' && activities === 'members' && conversationId && activityId) {
      call = { operation: 'getMember', conversationId, memberId: activityId };
    } else {
      return send(res, 405, { error: { code: 'MethodNotAllowed', message: `${req.method} /${path}` } });
    }

    let status = 200;
    let response: Record<string, unknown>;
    if (call.operation === 'createConversation') {
      // ConversationResourceResponse
      const id = `a:${randomBytes(12).toString('base64url')}`;
      status = 201;
      response = {
        id,
        activityId: body.activity ? `1${Date.now()}` : undefined,
        serviceUrl: this.serviceUrl,
      };
    } else if (
      call.conversationId &&
      this.blocked.has(call.conversationId) &&
      call.operation !== 'getMember'
    ) {
      status = 403;
      response = {
        error: { code: 'ConversationBlockedByUser', message: 'User blocked the conversation with the bot.' },
      };
    } else if (call.operation === 'updateActivity') {
      response = { id: call.activityId }; // ResourceResponse
    } else if (call.operation === 'getMember') {
      const member = this.members.get(call.memberId!);
      if (member) response = { ...member };
      else {
        status = 404;
        response = {
          error: { code: 'MemberNotFoundInConversation', message: 'The member could not be found.' },
        };
      }
    } else {
      response = { id: `1${Date.now()}${this.calls.length}` }; // ResourceResponse
    }
    const recorded: ConnectorCall = {
      index: this.calls.length,
      method: req.method ?? '',
      path: `/${path}`,
      ...call,
      token,
      body,
      status,
      response,
    };
    this.calls.push(recorded);
    send(res, status, response);
    for (const waiter of [...this.waiters]) {
      if (waiter.predicate(recorded)) {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        waiter.resolve(recorded);
      }
    }
  }
}
