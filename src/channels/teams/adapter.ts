/**
 * The one module that imports botbuilder (Microsoft's Bot Framework SDK, archived at the end of
 * 2025 but working). Everything else in Latch's Teams channel sees only the small, plain-JSON
 * interface below (`TeamsAdapter`, `TeamsTurn`), so the SDK can be swapped without touching it.
 *
 * Inbound: botbuilder's `CloudAdapter` with `ConfigurationBotFrameworkAuthentication` checks the
 * channel's JWT (signature against the Bot Framework OpenID metadata's keys, issuer, audience =
 * our app id, `serviceurl` claim = the activity's serviceUrl, endorsements = the channelId).
 *
 * Outbound: botbuilder's connector client, signed by `ClientCredentialsFactory` below, which gets
 * the token with Entra ID's documented v2 client-credentials request instead of the SDK's MSAL
 * path. MSAL refuses any authority that is not https and, for a host it does not know, first asks
 * login.microsoftonline.com for instance discovery, so the SDK's own path cannot be pointed at a
 * private or local login URL; this one behaves the same for the real endpoints and can.
 *
 * Swap path to `@microsoft/agents-hosting` (the Microsoft 365 Agents SDK, botbuilder's successor):
 * its `CloudAdapter.process(req, res, logic)` and `continueConversation(ref, logic)` take the same
 * roles, its `TurnContext` has `activity`, `sendActivity`, `updateActivity` and
 * `getConversationReference`, and its auth configuration (`clientId`, `clientSecret`, `tenantId`,
 * plus authority and issuer overrides) replaces the `Microsoft*` settings. It expects Express-style
 * `req.body` and JWT middleware (`authorizeJWT`) in front, so `process` below would parse the body and
 * check the token first. Only this file changes; `TeamsAdapter` and `TeamsTurn` stay as they are.
 */
import type http from 'node:http';
import {
  CloudAdapter,
  ConfigurationBotFrameworkAuthentication,
  ConfigurationServiceClientCredentialFactory,
  TeamsInfo,
  TurnContext,
  type Activity,
  type ConversationParameters,
  type ConversationReference,
} from 'botbuilder';

/**
 * Every Bot Framework authentication endpoint setting. botbuilder treats them as one group: as soon
 * as one is set it uses the given values for all of them (an unset one becomes undefined, which
 * breaks token checks), so they are given together or not at all.
 */
export interface BotFrameworkEndpoints {
  /** Login URL with the tenant, e.g. https://login.microsoftonline.com/<tenant>; the token endpoint is `${this}/oauth2/v2.0/token`. */
  ToChannelFromBotLoginUrl: string;
  /** The scope of outgoing tokens, e.g. https://api.botframework.com. */
  ToChannelFromBotOAuthScope: string;
  /** The `iss` of incoming channel tokens, e.g. https://api.botframework.com. */
  ToBotFromChannelTokenIssuer: string;
  /** The user token service, e.g. https://api.botframework.com (Latch does not use user tokens). */
  OAuthUrl: string;
  /** e.g. https://login.botframework.com/v1/.well-known/openidconfiguration */
  ToBotFromChannelOpenIdMetadataUrl: string;
  /** e.g. https://login.microsoftonline.com/botframework.com/v2.0/.well-known/openid-configuration */
  ToBotFromEmulatorOpenIdMetadataUrl: string;
  /** Stamped on authenticated activities as `callerId`, e.g. urn:botframework:azure. */
  CallerId: string;
  /**
   * Default true. botbuilder hands it to the credentials factory, where MSAL would use it; the
   * client-credentials request below does no authority discovery, so here it changes nothing.
   */
  ValidateAuthority?: boolean;
}

export interface TeamsAdapterSettings {
  MicrosoftAppId: string;
  MicrosoftAppPassword: string;
  /** Default SingleTenant (Microsoft no longer lets new bots be MultiTenant). */
  MicrosoftAppType?: 'SingleTenant' | 'MultiTenant';
  /** Required for SingleTenant. */
  MicrosoftAppTenantId?: string;
  /** Leave out for the public Azure cloud. */
  endpoints?: BotFrameworkEndpoints;
  /** Largest request body accepted, in bytes; default 1 MiB. */
  maxBodyBytes?: number;
}

export interface TeamsAccount {
  id: string;
  name?: string;
  aadObjectId?: string;
  role?: string;
}

/** An activity as plain JSON (the Bot Framework schema's field names). */
export interface TeamsActivity {
  type: string;
  id?: string;
  timestamp?: string;
  serviceUrl?: string;
  channelId?: string;
  from?: TeamsAccount;
  recipient?: TeamsAccount;
  conversation?: {
    id: string;
    tenantId?: string;
    conversationType?: string;
    isGroup?: boolean;
    name?: string;
  };
  replyToId?: string;
  text?: string;
  textFormat?: string;
  attachments?: { contentType: string; content?: unknown; contentUrl?: string; name?: string }[];
  value?: unknown;
  channelData?: unknown;
  [key: string]: unknown;
}

/** What the bot sends: an activity, `type` defaulting to message. */
export type OutgoingActivity = Partial<TeamsActivity>;

/** Where to reach a conversation later (the Bot Framework's ConversationReference, as JSON). */
export interface TeamsConversationReference {
  activityId?: string;
  user?: TeamsAccount;
  bot: TeamsAccount;
  conversation: { id: string; tenantId?: string; conversationType?: string; isGroup?: boolean };
  channelId: string;
  serviceUrl: string;
  locale?: string;
}

export interface TeamsTurn {
  readonly activity: TeamsActivity;
  /** Sends into the turn's conversation (as a reply when the turn's activity has an id); answers the new activity's id. */
  sendActivity(activity: string | OutgoingActivity): Promise<{ id?: string }>;
  /** Replaces an activity the bot sent earlier; `activity.id` names it. */
  updateActivity(activity: OutgoingActivity & { id: string }): Promise<void>;
  conversationReference(): TeamsConversationReference;
  /** Who sent the turn's activity, as Teams knows them (email and UPN); undefined if Teams does not say. */
  sender(): Promise<TeamsMemberInfo | undefined>;
}

/** The Teams profile of a person (TeamsInfo.getMember). */
export interface TeamsMemberInfo {
  id: string;
  aadObjectId?: string;
  name?: string;
  email?: string;
  userPrincipalName?: string;
  tenantId?: string;
}

export interface NewConversation {
  serviceUrl: string;
  tenantId: string;
  /** The user(s) to talk to (a 1:1 chat: one member, isGroup false). */
  members: TeamsAccount[];
  isGroup?: boolean;
  /** Sent as the conversation's first message. */
  activity?: OutgoingActivity;
  channelData?: unknown;
}

export interface TeamsAdapter {
  /** Handles one POST from the Bot Framework: authenticates it, runs `onTurn`, answers the HTTP request. */
  process(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    onTurn: (turn: TeamsTurn) => Promise<void>,
  ): Promise<void>;
  /** Runs `fn` in an existing conversation (proactive message). */
  continue(ref: TeamsConversationReference, fn: (turn: TeamsTurn) => Promise<void>): Promise<void>;
  /** Creates a conversation (e.g. a 1:1 chat with a user) and runs `fn` in it. */
  createConversation(params: NewConversation, fn: (turn: TeamsTurn) => Promise<void>): Promise<void>;
}

const PUBLIC_LOGIN_PREFIX = 'https://login.microsoftonline.com/';
const GOVERNMENT_LOGIN_PREFIX = 'https://login.microsoftonline.us/';
const PUBLIC_OAUTH_SCOPE = 'https://api.botframework.com';
const TEAMS_CHANNEL = 'msteams';

type ServiceClientCredentials = Awaited<
  ReturnType<ConfigurationServiceClientCredentialFactory['createCredentials']>
>;

interface CachedToken {
  accessToken: string;
  expiresAt: number;
}

/**
 * Outgoing credentials: Entra ID v2 client credentials with the app's secret
 * (POST {login}/oauth2/v2.0/token, grant_type=client_credentials, scope={audience}/.default), tokens
 * cached per scope until five minutes before they expire. The SDK's own factory (this class's
 * parent) still checks the settings and answers isValidAppId / isAuthenticationDisabled.
 */
class ClientCredentialsFactory extends ConfigurationServiceClientCredentialFactory {
  private readonly tokens = new Map<string, Promise<CachedToken>>();

  constructor(
    private readonly settings: Required<Pick<TeamsAdapterSettings, 'MicrosoftAppType'>> &
      TeamsAdapterSettings,
  ) {
    super({
      MicrosoftAppId: settings.MicrosoftAppId,
      MicrosoftAppPassword: settings.MicrosoftAppPassword,
      MicrosoftAppType: settings.MicrosoftAppType,
      MicrosoftAppTenantId: settings.MicrosoftAppTenantId,
    });
  }

  override async createCredentials(
    appId: string,
    audience: string | undefined,
    loginEndpoint: string,
  ): Promise<ServiceClientCredentials> {
    if (!(await this.isValidAppId(appId))) throw new Error('Invalid appId.');
    const tokenUrl = `${this.authority(loginEndpoint)}/oauth2/v2.0/token`;
    const base = (audience || PUBLIC_OAUTH_SCOPE).replace(/\/\.default$/, '');
    const scope = `${base}/.default`;
    return {
      signRequest: async (webResource) => {
        const token = await this.token(tokenUrl, scope);
        webResource.headers.set('authorization', `Bearer ${token}`);
        return webResource;
      },
    };
  }

  /** As the SDK does: the public and US government login hosts get the app's tenant; other URLs are used as given. */
  private authority(loginEndpoint: string): string {
    const tenant =
      this.settings.MicrosoftAppType === 'SingleTenant'
        ? this.settings.MicrosoftAppTenantId
        : 'botframework.com';
    for (const prefix of [PUBLIC_LOGIN_PREFIX, GOVERNMENT_LOGIN_PREFIX]) {
      if (loginEndpoint.toLowerCase().startsWith(prefix)) return `${prefix}${tenant}`;
    }
    return loginEndpoint.replace(/\/+$/, '');
  }

  private async token(tokenUrl: string, scope: string): Promise<string> {
    const key = `${tokenUrl} ${scope}`;
    const current = this.tokens.get(key);
    if (current) {
      const token = await current.catch(() => undefined);
      if (token && token.expiresAt > Date.now()) return token.accessToken;
      // Another caller already started a refresh while this one waited: share it.
      if (this.tokens.get(key) !== current) return this.token(tokenUrl, scope);
    }
    const pending = this.fetchToken(tokenUrl, scope);
    this.tokens.set(key, pending);
    try {
      return (await pending).accessToken;
    } catch (err) {
      if (this.tokens.get(key) === pending) this.tokens.delete(key);
      throw err;
    }
  }

  private async fetchToken(tokenUrl: string, scope: string): Promise<CachedToken> {
    const response = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'client_credentials',
        client_id: this.settings.MicrosoftAppId,
        client_secret: this.settings.MicrosoftAppPassword,
        scope,
      }),
      signal: AbortSignal.timeout(10_000),
    });
    const body = (await response.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error?: string;
    };
    if (!response.ok || typeof body.access_token !== 'string') {
      // Entra's error_description can echo request details; the code is enough to act on.
      throw new Error(`Teams token request failed: HTTP ${response.status} ${body.error ?? ''}`.trim());
    }
    const lifetime = Number(body.expires_in ?? 3599);
    return { accessToken: body.access_token, expiresAt: Date.now() + (lifetime - 300) * 1000 };
  }
}

function asJson<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/**
 * botbuilder revokes the TurnContext when the turn ends, so the activity and the reference are
 * copied now; sendActivity and updateActivity work only while `onTurn` (or `fn`) runs.
 */
function toTurn(context: TurnContext): TeamsTurn {
  const reference = asJson<TeamsConversationReference>(
    TurnContext.getConversationReference(context.activity),
  );
  return {
    activity: asJson<TeamsActivity>(context.activity),
    async sendActivity(activity) {
      const outgoing =
        typeof activity === 'string' ? { type: 'message', text: activity } : { type: 'message', ...activity };
      const sent = await context.sendActivity(outgoing as Partial<Activity>);
      return sent?.id ? { id: sent.id } : {};
    },
    async updateActivity(activity) {
      await context.updateActivity({ type: 'message', ...activity } as Partial<Activity>);
    },
    conversationReference() {
      return asJson<TeamsConversationReference>(reference);
    },
    async sender() {
      const from = context.activity.from?.id;
      if (!from) return undefined;
      try {
        const m = await TeamsInfo.getMember(context, from);
        return {
          id: m.id,
          aadObjectId: m.aadObjectId,
          name: m.name,
          email: m.email,
          userPrincipalName: m.userPrincipalName,
          tenantId: m.tenantId,
        };
      } catch {
        return undefined; // not a Teams conversation, or the member is gone
      }
    },
  };
}

class BodyTooLarge extends Error {}

async function readJson(req: http.IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return JSON.parse(Buffer.concat(chunks).toString('utf8'));
}

/** The Express-style response CloudAdapter writes to, over a plain node response. */
function responseFor(res: http.ServerResponse) {
  return {
    socket: res.socket,
    status(code: number) {
      res.statusCode = code;
      return this;
    },
    header(name: string, value: unknown) {
      res.setHeader(name, String(value));
      return this;
    },
    send(body?: unknown) {
      if (body === undefined || res.writableEnded) return this;
      if (typeof body === 'string' || Buffer.isBuffer(body)) {
        if (!res.hasHeader('content-type')) res.setHeader('content-type', 'text/plain; charset=utf-8');
        res.write(body);
      } else {
        res.setHeader('content-type', 'application/json; charset=utf-8');
        res.write(JSON.stringify(body));
      }
      return this;
    },
    end() {
      if (!res.writableEnded) res.end();
      return this;
    },
  };
}

function end(res: http.ServerResponse, status: number, message?: string): void {
  res.statusCode = status;
  if (message) res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.end(message);
}

const ENDPOINT_KEYS = [
  'ToChannelFromBotLoginUrl',
  'ToChannelFromBotOAuthScope',
  'ToBotFromChannelTokenIssuer',
  'OAuthUrl',
  'ToBotFromChannelOpenIdMetadataUrl',
  'ToBotFromEmulatorOpenIdMetadataUrl',
  'CallerId',
] as const;

export function createTeamsAdapter(input: TeamsAdapterSettings): TeamsAdapter {
  const settings = { ...input, MicrosoftAppType: input.MicrosoftAppType ?? 'SingleTenant' };
  // An empty app id makes botbuilder skip authentication altogether: never allow that.
  if (!settings.MicrosoftAppId.trim()) throw new Error('MicrosoftAppId is required');
  if (!settings.MicrosoftAppPassword.trim()) throw new Error('MicrosoftAppPassword is required');
  if (settings.MicrosoftAppType === 'SingleTenant' && !settings.MicrosoftAppTenantId?.trim())
    throw new Error('MicrosoftAppTenantId is required for a SingleTenant app');
  const endpoints = settings.endpoints;
  if (endpoints) {
    const missing = ENDPOINT_KEYS.filter((key) => !endpoints[key]?.trim());
    if (missing.length)
      throw new Error(`Bot Framework endpoint overrides go together; missing: ${missing.join(', ')}`);
  }
  const oauthScope = endpoints?.ToChannelFromBotOAuthScope ?? PUBLIC_OAUTH_SCOPE;

  const auth = new ConfigurationBotFrameworkAuthentication(
    {
      MicrosoftAppId: settings.MicrosoftAppId,
      MicrosoftAppTenantId: settings.MicrosoftAppTenantId,
      ...(endpoints
        ? {
            ...Object.fromEntries(ENDPOINT_KEYS.map((key) => [key, endpoints[key]])),
            ValidateAuthority: endpoints.ValidateAuthority ?? true,
          }
        : {}),
    },
    new ClientCredentialsFactory(settings),
  );
  const adapter = new CloudAdapter(auth);
  const maxBodyBytes = settings.maxBodyBytes ?? 1024 * 1024;

  return {
    async process(req, res, onTurn) {
      if (req.method !== 'POST') return end(res, 405);
      let body: unknown;
      try {
        body = await readJson(req, maxBodyBytes);
      } catch (err) {
        return err instanceof BodyTooLarge ? end(res, 413) : end(res, 400, 'body is not JSON');
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return end(res, 400, 'body is not an activity');
      await adapter.process(
        { body: body as Record<string, unknown>, headers: req.headers, method: req.method },
        responseFor(res),
        (context) => onTurn(toTurn(context)),
      );
    },

    continue(ref, fn) {
      return adapter.continueConversationAsync(
        settings.MicrosoftAppId,
        ref as Partial<ConversationReference>,
        (context) => {
          // botbuilder makes every message of a proactive turn a reply to the made-up id of its
          // continuation event; a proactive message is a new message in the chat.
          context.onSendActivities(async (_context, activities, next) => {
            for (const a of activities) delete a.replyToId;
            return next();
          });
          return fn(toTurn(context));
        },
      );
    },

    createConversation(params, fn) {
      const conversationParameters = {
        isGroup: params.isGroup ?? false,
        bot: { id: settings.MicrosoftAppId, name: '' },
        members: params.members,
        tenantId: params.tenantId,
        channelData: params.channelData ?? { tenant: { id: params.tenantId } },
        ...(params.activity ? { activity: { type: 'message', ...params.activity } } : {}),
      } as ConversationParameters;
      return adapter.createConversationAsync(
        settings.MicrosoftAppId,
        TEAMS_CHANNEL,
        params.serviceUrl,
        oauthScope,
        conversationParameters,
        (context) => fn(toTurn(context)),
      );
    },
  };
}

/**
 * Why Teams refused a send for good, when it did: the person blocked the bot, an admin disabled
 * it, or the chat is gone. Anything else (throttling, an outage, bad credentials) may pass.
 */
export function conversationLost(err: unknown): string | undefined {
  const e = err as {
    statusCode?: number;
    code?: string;
    response?: { status?: number; parsedBody?: { error?: { code?: string } }; bodyAsText?: string };
  };
  const status = e.statusCode ?? e.response?.status;
  let code = e.response?.parsedBody?.error?.code;
  if (!code && e.response?.bodyAsText) {
    try {
      code = (JSON.parse(e.response.bodyAsText) as { error?: { code?: string } }).error?.code;
    } catch {
      // not JSON: no code
    }
  }
  code ??= e.code;
  if (status === 403 && code === 'ConversationBlockedByUser') return 'they blocked Latch in Teams';
  if (status === 403 && code === 'BotDisabledByAdmin') return 'a Teams admin turned Latch off for them';
  if (
    (status === 403 && code === 'BotNotInConversationRoster') ||
    (status === 404 && code === 'ConversationNotFound')
  )
    return 'Latch is no longer in their Teams chat';
  return undefined;
}
