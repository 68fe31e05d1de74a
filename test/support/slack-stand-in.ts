/**
 * A local stand-in for the Slack Web API, for end-to-end tests of the Bolt app.
 *
 * Point a WebClient at it with `new WebClient(token, { slackApiUrl: standIn.url })`; the client then
 * POSTs to `${url}<method>`. The stand-in answers like Slack does (HTTP 200 with `{ ok: true, ... }`
 * or `{ ok: false, error }`), keeps a small model of the workspace (users, user groups, messages,
 * views, home tabs) and records every call so tests can assert on what the app sent.
 *
 * It also models channels and their members, user group membership and paged reads (users.list,
 * conversations.list/members) for the Slack connector (src/connectors/slack), with hooks that read
 * and change membership directly (the tests' oracle) and faults that apply a call and then fail it.
 *
 * Deliberately simple: one process-local server per test file, no persistence, nothing logged.
 * Requests are handled one at a time in arrival order (Node's event loop), so no locking is needed.
 */
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';

export type Args = Record<string, unknown>;
export type SlackResponse = Record<string, unknown> & { ok: boolean; error?: string };

/** One request the stand-in received, recorded once it was handled (state already updated). */
export interface SlackCall {
  /** Position in the stand-in's lifetime (never reused, not reset by `reset()`); see `mark()`. */
  index: number;
  method: string;
  /** Decoded arguments: form or JSON body plus query string; `blocks`, `view`, ... JSON-decoded. The token is not in here. */
  args: Args;
  /** From `Authorization: Bearer ...`, else the `token` argument. */
  token: string | undefined;
  /** The workspace the token belongs to (see `addToken`). */
  teamId: string;
  at: Date;
  /** What the stand-in answered. */
  response: SlackResponse;
}

export interface Violation {
  method: string;
  issues: string[];
  args: Args;
}

export interface SeedUser {
  id: string;
  teamId?: string;
  email: string;
  /** Defaults to the email's local part. */
  name?: string;
  /** Defaults to `name`. */
  realName?: string;
  /** Defaults to `realName`. */
  displayName?: string;
  /** IANA zone; defaults to 'UTC'. */
  tz?: string;
  /** Default true. */
  emailConfirmed?: boolean;
  /** A deactivated account (users.info still finds it, with `deleted: true`). Default false. */
  deleted?: boolean;
}

export interface SeedUserGroup {
  id: string;
  handle: string;
  name?: string;
  users: string[];
  teamId?: string;
  /** A disabled group (usergroups.list leaves it out unless include_disabled). Default false. */
  disabled?: boolean;
}

export interface SeedChannel {
  id: string;
  name: string;
  teamId?: string;
  /** A private channel: only its members see it. Default false. */
  isPrivate?: boolean;
  /** The workspace's #general: everyone is in it and nobody can be removed. Default false. */
  isGeneral?: boolean;
  isArchived?: boolean;
  members?: string[];
}

interface Channel {
  id: string;
  name: string;
  teamId: string;
  isPrivate: boolean;
  isGeneral: boolean;
  isArchived: boolean;
  members: Set<string>;
}

export interface TokenInfo {
  teamId: string;
  teamName?: string;
  botUserId?: string;
  botId?: string;
}

/** A message as Slack would now show it (latest content after any chat.update). */
export interface StoredMessage {
  channel: string;
  ts: string;
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
  metadata?: unknown;
  thread_ts?: string;
  user: string;
  bot_id: string;
  team: string;
  /** How many times chat.update changed it. */
  updates: number;
}

export interface StoredEphemeral {
  channel: string;
  user: string;
  message_ts: string;
  text?: string;
  blocks?: unknown[];
  attachments?: unknown[];
}

/** A Slack view object as views.* return it (`id`, `hash`, `state`, `callback_id`, ...). */
export type SlackView = Record<string, unknown> & { id: string; hash: string; type: string };

export interface WaitOptions {
  /** Default 10 000. */
  timeoutMs?: number;
  /**
   * A value from `mark()`: match calls recorded after the mark was taken (index >= after),
   * whether or not an earlier waitForCall returned them. Without `after`, see `waitForCall`.
   */
  after?: number;
}

export interface StandInOptions {
  /**
   * Checks what the app sends to chat.postMessage, chat.update, chat.postEphemeral and views.*.
   * Returned issues make the call fail with `invalid_blocks` (messages passed through verbatim in
   * `response_metadata.messages`) and are recorded in `standIn.violations`.
   */
  validate?: (method: string, args: Args) => string[] | void;
  /** Tokens not added with `addToken` are refused with `invalid_auth` (default: they are T0LATCH's). */
  knownTokensOnly?: boolean;
}

export interface FailOptions {
  /** HTTP status to answer with. Default 200, or 429 for 'ratelimited'. */
  status?: number;
  /** Seconds for the `Retry-After` header of a 429. Default 1. */
  retryAfter?: number;
  /**
   * The call is carried out before the failure is answered: the outcome the caller cannot know,
   * as when Slack applies a change and then answers 500 or drops the connection. Default false.
   */
  applied?: boolean;
  /** Let this many calls to the method through before this failure. Default 0. */
  after?: number;
}

const DEFAULT_TEAM = 'T0LATCH';
const DEFAULT_BOT_USER = 'UBOT';
const DEFAULT_BOT_ID = 'BBOT';
const APP_ID = 'A0LATCH';
/** Keys whose string values WebClient JSON-encodes into the form; decoded back here. */
const JSON_KEYS = ['blocks', 'view', 'attachments', 'metadata', 'users'];
/** Methods passed to the `validate` hook. */
const VALIDATED = new Set([
  'chat.postMessage',
  'chat.update',
  'chat.postEphemeral',
  'views.open',
  'views.update',
  'views.push',
  'views.publish',
]);
/** Methods that need no bot token. */
const NO_AUTH = new Set(['oauth.v2.access']);

interface Auth {
  token: string | undefined;
  teamId: string;
  teamName: string;
  botUserId: string;
  botId: string;
}

type Handler = (args: Args, auth: Auth) => SlackResponse;

interface Waiter {
  method: string;
  predicate?: (args: Args, call: SlackCall) => boolean;
  after?: number;
  resolve: (call: SlackCall) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface Failure {
  error: string;
  status: number;
  retryAfter: number;
  applied: boolean;
  after: number;
}

export class SlackStandIn {
  /** Issues reported by the `validate` hook, in order. */
  readonly violations: Violation[] = [];

  private readonly recorded: SlackCall[] = [];
  private nextIndex = 0;
  /** Calls already handed out by waitForCall without `after` (the per-method "next one" cursor). */
  private readonly consumed = new Set<number>();
  private readonly waiters = new Set<Waiter>();

  private readonly users = new Map<string, Required<SeedUser>>();
  private readonly groups = new Map<string, Required<SeedUserGroup>>();
  private readonly channels = new Map<string, Channel>();
  /** Most items a paged read returns (Slack caps `limit` at 1000); see setPageLimit. */
  private pageLimit = 1000;
  private readonly tokens = new Map<string, TokenInfo>();
  private readonly revoked = new Set<string>();
  private readonly messages = new Map<string, StoredMessage>();
  private readonly ephemerals: StoredEphemeral[] = [];
  private readonly viewsById = new Map<string, SlackView>();
  private readonly homeViewIds = new Map<string, string>();
  private readonly usedTriggers = new Set<string>();
  private readonly expiredTriggers = new Set<string>();
  private readonly oauth = new Map<
    string,
    { response: Args; expect?: { clientId?: string; clientSecret?: string; redirectUri?: string } }
  >();
  private readonly usedCodes = new Set<string>();

  private readonly failures = new Map<string, Failure[]>();
  private latencyMs = 0;
  private readonly methodLatency = new Map<string, number>();
  /** Drives message ts and view ids/hashes; never reset so values stay unique. */
  private seq = 0;

  /** Where apps.connections.open sends a Socket Mode client; see setSocketModeUrl. */
  private socketModeUrl: string | undefined;

  /** Socket Mode: apps.connections.open (with an xapp- token) answers with this WebSocket URL. */
  setSocketModeUrl(url: string): void {
    this.socketModeUrl = url;
  }

  private readonly handlers: Record<string, Handler> = {
    'apps.connections.open': () =>
      this.socketModeUrl
        ? { ok: true, url: this.socketModeUrl }
        : { ok: false, error: 'not_allowed_token_type' },
    'auth.test': (_args, auth) => ({
      ok: true,
      url: `https://${auth.teamName.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.slack.com/`,
      team: auth.teamName,
      user: 'latch',
      team_id: auth.teamId,
      user_id: auth.botUserId,
      bot_id: auth.botId,
      is_enterprise_install: false,
    }),

    'users.info': (args, auth) => {
      const user = this.users.get(String(args.user ?? ''));
      // Scoped to the caller's workspace, so multi-workspace tests cannot see each other's people.
      return user && user.teamId === auth.teamId
        ? { ok: true, user: userShape(user) }
        : fail('user_not_found');
    },

    'users.lookupByEmail': (args, auth) => {
      const email = String(args.email ?? '').toLowerCase();
      const user = [...this.users.values()].find(
        (u) => u.teamId === auth.teamId && u.email.toLowerCase() === email,
      );
      return user ? { ok: true, user: userShape(user) } : fail('users_not_found');
    },

    'usergroups.list': (args, auth) => {
      const withUsers = truthy(args.include_users);
      const usergroups = [...this.groups.values()]
        .filter((g) => g.teamId === auth.teamId && (!g.disabled || truthy(args.include_disabled)))
        .map((g) => ({
          id: g.id,
          team_id: g.teamId,
          is_usergroup: true,
          handle: g.handle,
          name: g.name,
          description: '',
          date_delete: g.disabled ? 1_700_000_000 : 0,
          ...(withUsers ? { users: [...g.users] } : {}),
          user_count: g.users.length,
        }));
      return { ok: true, usergroups };
    },

    'usergroups.users.list': (args, auth) => {
      const group = this.groups.get(String(args.usergroup ?? ''));
      return group && group.teamId === auth.teamId
        ? { ok: true, users: [...group.users] }
        : fail('no_such_subteam');
    },

    // Replaces the whole member list; Slack refuses an empty one (a group cannot be emptied).
    'usergroups.users.update': (args, auth) => {
      const group = this.groups.get(String(args.usergroup ?? ''));
      if (!group || group.teamId !== auth.teamId) return fail('no_such_subteam');
      if (args.users === undefined) return fail('no_users_provided');
      const users = idList(args.users);
      if (users.length === 0) return fail('invalid_users');
      if (users.some((u) => this.users.get(u)?.teamId !== auth.teamId)) return fail('invalid_users');
      group.users = [...new Set(users)];
      return {
        ok: true,
        usergroup: {
          id: group.id,
          team_id: group.teamId,
          is_usergroup: true,
          handle: group.handle,
          name: group.name,
          date_delete: group.disabled ? 1_700_000_000 : 0,
          users: [...group.users],
          user_count: group.users.length,
        },
      };
    },

    'users.list': (args, auth) => {
      const all = [...this.users.values()].filter((u) => u.teamId === auth.teamId);
      const page = this.page(all, args);
      if ('error' in page) return fail(page.error);
      return { ok: true, members: page.items.map(userShape), ...page.meta };
    },

    'conversations.list': (args, auth) => {
      const types = String(args.types ?? 'public_channel')
        .split(',')
        .map((t) => t.trim());
      const visible = [...this.channels.values()].filter(
        (c) =>
          c.teamId === auth.teamId &&
          types.includes(c.isPrivate ? 'private_channel' : 'public_channel') &&
          (!c.isPrivate || c.members.has(auth.botUserId)) &&
          !(c.isArchived && truthy(args.exclude_archived)),
      );
      const page = this.page(visible, args);
      if ('error' in page) return fail(page.error);
      return { ok: true, channels: page.items.map((c) => channelShape(c, auth)), ...page.meta };
    },

    'conversations.info': (args, auth) => {
      const channel = this.visibleChannel(args.channel, auth);
      return channel ? { ok: true, channel: channelShape(channel, auth) } : fail('channel_not_found');
    },

    'conversations.members': (args, auth) => {
      const channel = this.visibleChannel(args.channel, auth);
      if (!channel) return fail('channel_not_found');
      const page = this.page([...channel.members].sort(), args);
      if ('error' in page) return fail(page.error);
      return { ok: true, members: page.items, ...page.meta };
    },

    'conversations.invite': (args, auth) => {
      const channel = this.visibleChannel(args.channel, auth);
      if (!channel) return fail('channel_not_found');
      if (channel.isArchived) return fail('is_archived');
      if (!channel.members.has(auth.botUserId)) return fail('not_in_channel');
      const users = idList(args.users);
      if (users.length === 0) return fail('no_user');
      for (const u of users) {
        if (u === auth.botUserId) return fail('cant_invite_self');
        const user = this.users.get(u);
        if (!user || user.teamId !== auth.teamId) return fail('user_not_found');
        if (user.deleted) return fail('cant_invite');
        if (channel.members.has(u)) return fail('already_in_channel');
      }
      for (const u of users) channel.members.add(u);
      return { ok: true, channel: channelShape(channel, auth) };
    },

    'conversations.kick': (args, auth) => {
      const channel = this.visibleChannel(args.channel, auth);
      if (!channel) return fail('channel_not_found');
      const user = String(args.user ?? '');
      if (!user) return fail('no_user');
      if (user === auth.botUserId) return fail('cant_kick_self');
      if (channel.isGeneral) return fail('cant_kick_from_general');
      // Slack gives the same answer when the caller itself is not in the channel: a connector must
      // not read it as "already removed" without knowing the caller is a member.
      if (!channel.members.has(auth.botUserId)) return fail('not_in_channel');
      const known = this.users.get(user);
      if (!known || known.teamId !== auth.teamId) return fail('user_not_found');
      if (!channel.members.delete(user)) return fail('not_in_channel');
      return { ok: true, errors: {} };
    },

    'conversations.open': (args) => {
      if (typeof args.channel === 'string' && args.channel)
        return { ok: true, channel: { id: args.channel } };
      const users = String(args.users ?? '')
        .split(',')
        .map((u) => u.trim())
        .filter(Boolean);
      if (users.length === 0) return fail('users_list_not_supplied');
      // One user: the bot's DM with them. Several: a deterministic group DM id.
      const id = users.length === 1 ? dmChannel(users[0]!) : 'G' + [...users].sort().join('');
      return { ok: true, channel: { id } };
    },

    'chat.postMessage': (args, auth) => {
      const channel = typeof args.channel === 'string' ? dmChannel(args.channel) : '';
      if (!channel) return fail('channel_not_found');
      if (!hasContent(args)) return fail('no_text');
      const ts = this.nextTs();
      const message: StoredMessage = {
        channel,
        ts,
        ...content(args),
        ...(typeof args.thread_ts === 'string' ? { thread_ts: args.thread_ts } : {}),
        user: auth.botUserId,
        bot_id: auth.botId,
        team: auth.teamId,
        updates: 0,
      };
      this.messages.set(key(channel, ts), message);
      return { ok: true, channel, ts, message: messageShape(message) };
    },

    'chat.update': (args) => {
      const channel = String(args.channel ?? '');
      const ts = String(args.ts ?? '');
      const message = this.messages.get(key(channel, ts));
      if (!message) return fail('message_not_found');
      // Like Slack: fields left out keep their previous value (send `blocks: []` to remove blocks).
      Object.assign(message, content(args));
      message.updates += 1;
      return { ok: true, channel, ts, text: message.text ?? '', message: messageShape(message) };
    },

    'chat.postEphemeral': (args) => {
      const channel = typeof args.channel === 'string' ? args.channel : '';
      const user = typeof args.user === 'string' ? args.user : '';
      if (!channel) return fail('channel_not_found');
      if (!user) return fail('user_not_found');
      if (!hasContent(args)) return fail('no_text');
      const message_ts = this.nextTs();
      this.ephemerals.push({ channel, user, message_ts, ...content(args) });
      return { ok: true, message_ts };
    },

    'views.open': (args, auth) => {
      const trigger = this.exchangeTrigger(args);
      if (trigger) return trigger;
      return this.createView(args, auth);
    },

    'views.push': (args, auth) => {
      const trigger = this.exchangeTrigger(args);
      if (trigger) return trigger;
      // The stand-in does not know which modal the trigger came from, so a pushed view is its own root.
      return this.createView(args, auth);
    },

    'views.update': (args) => {
      const current =
        typeof args.view_id === 'string' && args.view_id
          ? this.viewsById.get(args.view_id)
          : typeof args.external_id === 'string' && args.external_id
            ? [...this.viewsById.values()].find((v) => v.external_id === args.external_id)
            : undefined;
      if (!current) return fail('not_found');
      if (!isObject(args.view)) return fail('invalid_arguments');
      if (typeof args.hash === 'string' && args.hash && args.hash !== current.hash)
        return fail('hash_conflict');
      const next = this.replaceView(current, args.view);
      return { ok: true, view: structuredClone(next) };
    },

    'views.publish': (args, auth) => {
      const userId = typeof args.user_id === 'string' ? args.user_id : '';
      if (!userId) return fail('invalid_arguments');
      if (!isObject(args.view)) return fail('invalid_arguments');
      const currentId = this.homeViewIds.get(userId);
      const current = currentId ? this.viewsById.get(currentId) : undefined;
      if (current) {
        if (typeof args.hash === 'string' && args.hash && args.hash !== current.hash)
          return fail('hash_conflict');
        // A user's home tab keeps its view id across publishes.
        return { ok: true, view: structuredClone(this.replaceView(current, { ...args.view, type: 'home' })) };
      }
      const created = this.createView({ view: { ...args.view, type: 'home' } }, auth);
      if (created.ok) this.homeViewIds.set(userId, (created.view as SlackView).id);
      return created;
    },

    'oauth.v2.access': (args) => {
      const code = String(args.code ?? '');
      const entry = this.oauth.get(code);
      // Codes are single-use, as in Slack.
      if (!entry || this.usedCodes.has(code)) return fail('invalid_code');
      const expect = entry.expect ?? {};
      if (expect.clientId !== undefined && args.client_id !== expect.clientId)
        return fail('invalid_client_id');
      if (expect.clientSecret !== undefined && args.client_secret !== expect.clientSecret) {
        return fail('bad_client_secret');
      }
      if (expect.redirectUri !== undefined && args.redirect_uri !== expect.redirectUri) {
        return fail('bad_redirect_uri');
      }
      this.usedCodes.add(code);
      return { ok: true, ...structuredClone(entry.response) };
    },
  };

  private server!: http.Server;
  private port = 0;

  constructor(private readonly opts: StandInOptions = {}) {}

  /** `http://127.0.0.1:PORT/api/`: pass as WebClient's `slackApiUrl`. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  /**
   * `http://127.0.0.1:PORT/hooks/`: a base for response_url. Any POST below it is recorded as a
   * call with method 'response_url' (args: the decoded body plus `path`) and answered `{ ok: true }`.
   */
  get hooksUrl(): string {
    return `http://127.0.0.1:${this.port}/hooks/`;
  }

  /** @internal Use `startSlackStandIn`. */
  async listen(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        // Never crash the test process; answer like Slack does on an internal failure.
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: false, error: 'fatal_error', detail: String(err) }));
      });
    });
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.port = (this.server.address() as AddressInfo).port;
  }

  // ---- seeding -------------------------------------------------------------------------------

  addUser(user: SeedUser): void {
    const name = user.name ?? user.email.split('@')[0] ?? user.id;
    const realName = user.realName ?? name;
    this.users.set(user.id, {
      id: user.id,
      teamId: user.teamId ?? DEFAULT_TEAM,
      email: user.email,
      name,
      realName,
      displayName: user.displayName ?? realName,
      tz: user.tz ?? 'UTC',
      emailConfirmed: user.emailConfirmed ?? true,
      deleted: user.deleted ?? false,
    });
  }

  addUserGroup(group: SeedUserGroup): void {
    this.groups.set(group.id, {
      id: group.id,
      handle: group.handle,
      name: group.name ?? group.handle,
      users: [...group.users],
      teamId: group.teamId ?? DEFAULT_TEAM,
      disabled: group.disabled ?? false,
    });
  }

  addChannel(channel: SeedChannel): void {
    this.channels.set(channel.id, {
      id: channel.id,
      name: channel.name,
      teamId: channel.teamId ?? DEFAULT_TEAM,
      isPrivate: channel.isPrivate ?? false,
      isGeneral: channel.isGeneral ?? false,
      isArchived: channel.isArchived ?? false,
      members: new Set(channel.members ?? []),
    });
  }

  // ---- membership, straight (the oracle; no call is recorded) --------------------------------

  /** A channel's members, sorted. Throws for an unknown channel. */
  channelMembers(channelId: string): string[] {
    return [...this.channelOf(channelId).members].sort();
  }

  addChannelMember(channelId: string, userId: string): void {
    this.channelOf(channelId).members.add(userId);
  }

  removeChannelMember(channelId: string, userId: string): void {
    this.channelOf(channelId).members.delete(userId);
  }

  /** A user group's members, in Slack's order. Throws for an unknown group. */
  userGroupMembers(groupId: string): string[] {
    return [...this.groupOf(groupId).users];
  }

  /** Sets a user group's members as someone in Slack's UI would (an empty list is allowed here). */
  setUserGroupMembers(groupId: string, users: string[]): void {
    this.groupOf(groupId).users = [...new Set(users)];
  }

  /** Paged reads (users.list, conversations.list, conversations.members) return at most `n` items. */
  setPageLimit(n: number): void {
    this.pageLimit = n;
  }

  /** Maps a bot token to its workspace. Unknown tokens belong to T0LATCH with bot UBOT/BBOT. */
  addToken(token: string, info: TokenInfo): void {
    this.tokens.set(token, info);
    this.revoked.delete(token);
  }

  /** Later calls with this token fail with `token_revoked` (app uninstalled). */
  revokeToken(token: string): void {
    this.revoked.add(token);
  }

  /**
   * What oauth.v2.access answers for `code` (`ok: true` is added). Each code works once; reuse and
   * unknown codes give `invalid_code`. With `expect`, mismatching client credentials or redirect_uri
   * fail with `invalid_client_id`, `bad_client_secret` or `bad_redirect_uri`.
   */
  setOAuthResponse(
    code: string,
    response: Args,
    expect?: { clientId?: string; clientSecret?: string; redirectUri?: string },
  ): void {
    this.oauth.set(code, { response, expect });
    this.usedCodes.delete(code);
  }

  // ---- test controls -------------------------------------------------------------------------

  /**
   * The next call to `method` fails with `error` and changes nothing. Calling it twice queues two
   * failures. 'ratelimited' answers HTTP 429 with `Retry-After` unless `status` says otherwise.
   */
  failNext(method: string, error: string, opts: FailOptions = {}): void {
    const status = opts.status ?? (error === 'ratelimited' ? 429 : 200);
    const queue = this.failures.get(method) ?? [];
    queue.push({
      error,
      status,
      retryAfter: opts.retryAfter ?? 1,
      applied: opts.applied ?? false,
      after: opts.after ?? 0,
    });
    this.failures.set(method, queue);
  }

  /** Delays every response (or only those of `method`) by `ms`. The call is recorded before the delay. */
  setLatency(ms: number, method?: string): void {
    if (method) this.methodLatency.set(method, ms);
    else this.latencyMs = ms;
  }

  /** Forgets the failures still queued with failNext (for one method, or all). */
  clearFailures(method?: string): void {
    if (method) this.failures.delete(method);
    else this.failures.clear();
  }

  /** Later views.open/views.push with this trigger fail with `expired_trigger_id` (Slack's 3 s limit). */
  expireTrigger(triggerId: string): void {
    this.expiredTriggers.add(triggerId);
  }

  // ---- queries -------------------------------------------------------------------------------

  /** Recorded calls since the last `reset()`, oldest first, optionally only those of `method`. */
  calls(method?: string): SlackCall[] {
    return method ? this.recorded.filter((c) => c.method === method) : [...this.recorded];
  }

  /** The index the next recorded call will get; pass as `waitForCall(..., { after })`. */
  mark(): number {
    return this.nextIndex;
  }

  /**
   * Resolves with a call to `method` whose args satisfy `predicate` (a predicate that throws counts
   * as no match), already recorded or still to come; rejects after the timeout, listing the calls
   * to `method` it saw.
   *
   * Two modes:
   * - without `after` ("the next one"): the oldest matching call that no earlier waitForCall of this
   *   mode has returned. Each call is handed out once, so waiting twice for 'chat.postMessage'
   *   gives the first and then the second message; a call skipped because the predicate did not
   *   match stays available for a later wait.
   * - with `after: standIn.mark()`: the oldest matching call recorded since the mark, regardless of
   *   what earlier waits returned; this mode neither uses nor moves the cursor.
   *
   * `opts` may be a number, meaning `{ timeoutMs }`.
   */
  waitForCall(
    method: string,
    predicate?: (args: Args, call: SlackCall) => boolean,
    opts: number | WaitOptions = {},
  ): Promise<SlackCall> {
    const { timeoutMs = 10_000, after } = typeof opts === 'number' ? { timeoutMs: opts } : opts;
    const probe = { method, predicate, after };
    const found = this.recorded.find((c) => this.fits(c, probe));
    if (found) {
      if (after === undefined) this.consumed.add(found.index);
      return Promise.resolve(found);
    }
    return new Promise<SlackCall>((resolve, reject) => {
      const waiter: Waiter = {
        ...probe,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          const seen = this.calls(method)
            .map((c) => `  #${c.index} ${truncate(JSON.stringify(c.args), 300)}`)
            .join('\n');
          reject(
            new Error(
              `waitForCall('${method}') timed out after ${timeoutMs} ms; calls to it:\n${seen || '  (none)'}`,
            ),
          );
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  /** Latest content of each bot message in a channel, oldest first. A user id (U…/W…) means their DM. */
  messagesTo(channelOrUserId: string): StoredMessage[] {
    const channel = dmChannel(channelOrUserId);
    return [...this.messages.values()]
      .filter((m) => m.channel === channel)
      .sort((a, b) => compareTs(a.ts, b.ts))
      .map((m) => structuredClone(m));
  }

  message(channel: string, ts: string): StoredMessage | undefined {
    const m = this.messages.get(key(dmChannel(channel), ts));
    return m && structuredClone(m);
  }

  /** Ephemeral messages shown to `userId` (any channel), oldest first. */
  ephemeralsTo(userId: string): StoredEphemeral[] {
    return this.ephemerals.filter((e) => e.user === userId).map((e) => structuredClone(e));
  }

  /** The current state of a view (modal or home tab) as Slack holds it; pass to SlackDriver. */
  view(viewId: string): SlackView | undefined {
    const v = this.viewsById.get(viewId);
    return v && structuredClone(v);
  }

  /** Every view opened, pushed or published, in creation order. */
  views(): SlackView[] {
    return [...this.viewsById.values()].map((v) => structuredClone(v));
  }

  /** The home tab last published for `userId`. */
  homeOf(userId: string): SlackView | undefined {
    const id = this.homeViewIds.get(userId);
    return id ? this.view(id) : undefined;
  }

  /**
   * Forgets recorded calls, violations, waitForCall cursors, queued failures and latency. The
   * workspace model (users, groups, tokens, OAuth codes, messages, views, home tabs) is kept.
   */
  reset(): void {
    this.recorded.length = 0;
    this.violations.length = 0;
    this.consumed.clear();
    this.failures.clear();
    this.latencyMs = 0;
    this.methodLatency.clear();
  }

  async close(): Promise<void> {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new Error(`Slack stand-in closed while waiting for '${w.method}'`));
    }
    this.waiters.clear();
    // Drop the WebClient's keep-alive connections, or close() would wait for them to time out.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- request handling ----------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const at = new Date();
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const raw = await readBody(req);

    if (url.pathname.startsWith('/hooks/')) {
      const args = (await parseArgs(req.headers['content-type'], raw, url.searchParams)).args ?? {};
      const response: SlackResponse = { ok: true };
      this.record(
        { method: 'response_url', args: { ...args, path: url.pathname }, token: undefined, teamId: '' },
        at,
        response,
      );
      send(res, 200, response);
      return;
    }
    if (!url.pathname.startsWith('/api/')) {
      res.writeHead(404).end();
      return;
    }

    const method = decodeURIComponent(url.pathname.slice('/api/'.length));
    const parsed = await parseArgs(req.headers['content-type'], raw, url.searchParams);
    const args = parsed.args ?? {};
    const { token, basic } = credentials(req.headers.authorization, args);
    if (basic) {
      // oauth.v2.access accepts client credentials as HTTP Basic auth; fold them into the args.
      args.client_id ??= basic.user;
      args.client_secret ??= basic.password;
    }
    const auth = this.authFor(token);

    let status = 200;
    const headers: Record<string, string> = {};
    let response: SlackResponse;
    const failure = this.nextFailure(method);
    const handler = this.handlers[method];
    if (failure) {
      status = failure.status;
      if (status === 429) headers['retry-after'] = String(failure.retryAfter);
      if (failure.applied && handler && !parsed.error && token) handler(args, auth);
      response = fail(failure.error);
    } else if (parsed.error) {
      response = fail(parsed.error);
    } else if (!handler) {
      response = fail('unknown_method');
    } else if (!NO_AUTH.has(method) && !token) {
      response = fail('not_authed');
    } else if (token && this.opts.knownTokensOnly && !this.tokens.has(token)) {
      response = fail('invalid_auth');
    } else if (token && this.revoked.has(token)) {
      response = fail('token_revoked');
    } else {
      const issues = VALIDATED.has(method) ? (this.opts.validate?.(method, args) ?? []) : [];
      if (issues.length > 0) {
        this.violations.push({ method, issues, args });
        response = fail('invalid_blocks', { response_metadata: { messages: issues } });
      } else {
        response = handler(args, auth);
      }
    }

    this.record({ method, args, token, teamId: auth.teamId }, at, response);
    const delay = this.methodLatency.get(method) ?? this.latencyMs;
    // Unref'd: a call held up for minutes must not keep the test process alive after close().
    if (delay > 0) await new Promise((r) => setTimeout(r, delay).unref());
    send(res, status, response, headers);
  }

  private record(
    call: Pick<SlackCall, 'method' | 'args' | 'token' | 'teamId'>,
    at: Date,
    response: SlackResponse,
  ): void {
    const recorded: SlackCall = { index: this.nextIndex++, ...call, at, response };
    this.recorded.push(recorded);
    for (const w of [...this.waiters]) {
      if (!this.fits(recorded, w)) continue;
      this.waiters.delete(w);
      clearTimeout(w.timer);
      if (w.after === undefined) this.consumed.add(recorded.index);
      w.resolve(recorded);
    }
  }

  private fits(call: SlackCall, w: Pick<Waiter, 'method' | 'predicate' | 'after'>): boolean {
    if (call.method !== w.method) return false;
    if (w.after === undefined ? this.consumed.has(call.index) : call.index < w.after) return false;
    try {
      return w.predicate ? w.predicate(call.args, call) : true;
    } catch {
      return false;
    }
  }

  /** The failure due for this call of `method`, counting down `after` of the one in front. */
  private nextFailure(method: string): Failure | undefined {
    const queue = this.failures.get(method);
    const first = queue?.[0];
    if (!first) return undefined;
    if (first.after > 0) {
      first.after -= 1;
      return undefined;
    }
    return queue.shift();
  }

  private channelOf(id: string): Channel {
    const channel = this.channels.get(id);
    if (!channel) throw new Error(`the stand-in has no channel ${id}`);
    return channel;
  }

  private groupOf(id: string): Required<SeedUserGroup> {
    const group = this.groups.get(id);
    if (!group) throw new Error(`the stand-in has no user group ${id}`);
    return group;
  }

  /** The channel as the token's user sees it: a private one only if it is a member. */
  private visibleChannel(id: unknown, auth: Auth): Channel | undefined {
    const channel = this.channels.get(String(id ?? ''));
    if (!channel || channel.teamId !== auth.teamId) return undefined;
    return channel.isPrivate && !channel.members.has(auth.botUserId) ? undefined : channel;
  }

  /** Slack's cursor paging: `limit` (capped by setPageLimit), an opaque `cursor`, `next_cursor` ('' at the end). */
  private page<T>(all: T[], args: Args): { items: T[]; meta: Args } | { error: string } {
    const asked = Number(args.limit ?? 0);
    const limit = Math.min(asked > 0 ? asked : this.pageLimit, this.pageLimit);
    let start = 0;
    if (typeof args.cursor === 'string' && args.cursor) {
      const m = /^offset:(\d+)$/.exec(Buffer.from(args.cursor, 'base64').toString('utf8'));
      if (!m) return { error: 'invalid_cursor' };
      start = Number(m[1]);
    }
    const items = all.slice(start, start + limit);
    const next = start + limit < all.length ? Buffer.from(`offset:${start + limit}`).toString('base64') : '';
    return { items, meta: { response_metadata: { next_cursor: next } } };
  }

  private authFor(token: string | undefined): Auth {
    const info = token ? this.tokens.get(token) : undefined;
    return {
      token,
      teamId: info?.teamId ?? DEFAULT_TEAM,
      teamName: info?.teamName ?? 'Latch Test',
      botUserId: info?.botUserId ?? DEFAULT_BOT_USER,
      botId: info?.botId ?? DEFAULT_BOT_ID,
    };
  }

  /** Returns an error response if the trigger cannot be exchanged, else marks it used. */
  private exchangeTrigger(args: Args): SlackResponse | undefined {
    const trigger = typeof args.trigger_id === 'string' ? args.trigger_id : '';
    // Slack's documented answer for a missing or malformed trigger.
    if (!trigger)
      return fail('invalid_arguments', { response_metadata: { messages: ['invalid `trigger_id`'] } });
    if (this.usedTriggers.has(trigger)) return fail('exchanged_trigger_id');
    if (this.expiredTriggers.has(trigger)) return fail('expired_trigger_id');
    this.usedTriggers.add(trigger);
    return undefined;
  }

  private createView(args: Args, auth: Auth): SlackResponse {
    const input = args.view;
    if (!isObject(input)) return fail('invalid_arguments');
    const externalId = typeof input.external_id === 'string' ? input.external_id : '';
    if (externalId && [...this.viewsById.values()].some((v) => v.external_id === externalId)) {
      return fail('duplicate_external_id');
    }
    const n = ++this.seq;
    const id = `V${String(n).padStart(10, '0')}`;
    const view: SlackView = {
      type: 'modal',
      ...input,
      id,
      team_id: auth.teamId,
      private_metadata: input.private_metadata ?? '',
      callback_id: input.callback_id ?? '',
      external_id: externalId,
      state: { values: {} },
      hash: this.nextHash(),
      clear_on_close: input.clear_on_close ?? false,
      notify_on_close: input.notify_on_close ?? false,
      previous_view_id: null,
      root_view_id: id,
      app_id: APP_ID,
      app_installed_team_id: auth.teamId,
      bot_id: auth.botId,
    };
    this.viewsById.set(id, view);
    return { ok: true, view: structuredClone(view) };
  }

  /** Replaces a view's content, keeping its identity, and gives it a new hash. */
  private replaceView(current: SlackView, input: Args): SlackView {
    const next: SlackView = {
      type: current.type,
      ...input,
      id: current.id,
      team_id: current.team_id,
      private_metadata: input.private_metadata ?? '',
      callback_id: input.callback_id ?? '',
      external_id: typeof input.external_id === 'string' ? input.external_id : (current.external_id ?? ''),
      state: current.state,
      hash: this.nextHash(),
      clear_on_close: input.clear_on_close ?? false,
      notify_on_close: input.notify_on_close ?? false,
      previous_view_id: current.previous_view_id,
      root_view_id: current.root_view_id,
      app_id: current.app_id,
      app_installed_team_id: current.app_installed_team_id,
      bot_id: current.bot_id,
    };
    this.viewsById.set(current.id, next);
    return next;
  }

  /** '1700000000.000100', '1700000000.000200', ...: unique, increasing, fixed width. */
  private nextTs(): string {
    const micros = 1_700_000_000_000_000 + ++this.seq * 100;
    return `${Math.floor(micros / 1_000_000)}.${String(micros % 1_000_000).padStart(6, '0')}`;
  }

  private nextHash(): string {
    return `${1_700_000_000 + ++this.seq}.${randomBytes(4).toString('hex')}`;
  }
}

/** Starts a stand-in on 127.0.0.1 with a free port. Close it with `close()`. */
export async function startSlackStandIn(opts: StandInOptions = {}): Promise<SlackStandIn> {
  const standIn = new SlackStandIn(opts);
  await standIn.listen();
  return standIn;
}

// ---- helpers ---------------------------------------------------------------------------------

function fail(error: string, extra: Args = {}): SlackResponse {
  return { ok: false, error, ...extra };
}

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Parses the body like Slack: form, JSON or multipart; query-string arguments are merged in. */
async function parseArgs(
  contentType: string | undefined,
  raw: Buffer,
  query: URLSearchParams,
): Promise<{ args?: Args; error?: string }> {
  const args: Args = Object.fromEntries(query);
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (raw.length > 0) {
    if (type === 'application/x-www-form-urlencoded' || type === 'text/plain') {
      Object.assign(args, Object.fromEntries(new URLSearchParams(raw.toString('utf8'))));
    } else if (type === 'application/json') {
      let body: unknown;
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return { error: 'invalid_json' };
      }
      if (!isObject(body)) return { error: 'invalid_json' };
      Object.assign(args, body);
    } else if (type === 'multipart/form-data') {
      try {
        const form = await new Response(raw, { headers: { 'content-type': contentType! } }).formData();
        for (const [k, v] of form) {
          args[k] = typeof v === 'string' ? v : { filename: v.name, size: v.size, type: v.type };
        }
      } catch {
        return { error: 'invalid_form_data' };
      }
    } else if (!type) {
      return { error: 'missing_post_type' };
    } else {
      return { error: 'invalid_post_type' };
    }
  }
  for (const k of JSON_KEYS) {
    const v = args[k];
    // Only JSON-looking strings: conversations.open's `users` is a plain 'U1,U2' list.
    if (typeof v === 'string' && /^\s*[[{]/.test(v)) {
      try {
        args[k] = JSON.parse(v);
      } catch {
        // Leave it as sent; the validate hook or the handler will see the raw string.
      }
    }
  }
  return { args };
}

/** The bearer token (header first, then the `token` argument, which is removed from args). */
function credentials(
  authorization: string | undefined,
  args: Args,
): { token: string | undefined; basic?: { user: string; password: string } } {
  const bodyToken = typeof args.token === 'string' && args.token ? args.token : undefined;
  delete args.token;
  const [scheme, value] = (authorization ?? '').split(/\s+/, 2);
  if (scheme?.toLowerCase() === 'bearer' && value) return { token: value };
  if (scheme?.toLowerCase() === 'basic' && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const basic = {
      user: decodeURIComponent(decoded.slice(0, colon)),
      password: decodeURIComponent(decoded.slice(colon + 1)),
    };
    return { token: bodyToken, basic };
  }
  return { token: bodyToken };
}

function userShape(u: Required<SeedUser>): Args {
  const { label, offset } = zoneInfo(u.tz);
  return {
    id: u.id,
    team_id: u.teamId,
    name: u.name,
    real_name: u.realName,
    tz: u.tz,
    tz_label: label,
    tz_offset: offset,
    is_bot: false,
    deleted: u.deleted,
    is_email_confirmed: u.emailConfirmed,
    profile: { email: u.email, real_name: u.realName, display_name: u.displayName },
  };
}

/** The zone's long name and current UTC offset in seconds, as Slack reports `tz_label`/`tz_offset`. */
function zoneInfo(tz: string): { label: string; offset: number } {
  const now = new Date();
  const part = (style: 'long' | 'longOffset'): string =>
    new Intl.DateTimeFormat('en-US', { timeZone: tz, timeZoneName: style })
      .formatToParts(now)
      .find((p) => p.type === 'timeZoneName')?.value ?? '';
  const m = /GMT([+-])(\d{2}):(\d{2})/.exec(part('longOffset'));
  const offset = m ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 3600 + Number(m[3]) * 60) : 0;
  return { label: part('long'), offset };
}

function channelShape(c: Channel, auth: Auth): Args {
  return {
    id: c.id,
    name: c.name,
    name_normalized: c.name,
    is_channel: true,
    is_group: false,
    is_im: false,
    is_private: c.isPrivate,
    is_archived: c.isArchived,
    is_general: c.isGeneral,
    is_member: c.members.has(auth.botUserId),
    context_team_id: c.teamId,
    num_members: c.members.size,
  };
}

/** A comma-separated id list as Slack takes `users` (an array, if JSON sent one, is taken too). */
function idList(v: unknown): string[] {
  const parts = Array.isArray(v) ? v.map(String) : String(v ?? '').split(',');
  return parts.map((u) => u.trim()).filter(Boolean);
}

function messageShape(m: StoredMessage): Args {
  return {
    type: 'message',
    text: m.text ?? '',
    ...(m.blocks ? { blocks: m.blocks } : {}),
    ...(m.attachments ? { attachments: m.attachments } : {}),
    ...(m.metadata ? { metadata: m.metadata } : {}),
    ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
    ts: m.ts,
    user: m.user,
    bot_id: m.bot_id,
    app_id: APP_ID,
    team: m.team,
  };
}

/** The content fields present in args (absent ones are left out so chat.update can keep them). */
function content(args: Args): Pick<StoredMessage, 'text' | 'blocks' | 'attachments' | 'metadata'> {
  const out: Pick<StoredMessage, 'text' | 'blocks' | 'attachments' | 'metadata'> = {};
  if (typeof args.text === 'string') out.text = args.text;
  if (Array.isArray(args.blocks)) out.blocks = args.blocks;
  if (Array.isArray(args.attachments)) out.attachments = args.attachments;
  if (args.metadata !== undefined) out.metadata = args.metadata;
  return out;
}

function hasContent(args: Args): boolean {
  return (
    (typeof args.text === 'string' && args.text.length > 0) ||
    (Array.isArray(args.blocks) && args.blocks.length > 0) ||
    (Array.isArray(args.attachments) && args.attachments.length > 0)
  );
}

/** Posting to a user id goes to the bot's DM with them, which this stand-in names 'D' + user id. */
function dmChannel(id: string): string {
  return /^[UW]/.test(id) ? `D${id}` : id;
}

function key(channel: string, ts: string): string {
  return `${channel}|${ts}`;
}

function compareTs(a: string, b: string): number {
  const [as = '0', af = '0'] = a.split('.');
  const [bs = '0', bf = '0'] = b.split('.');
  return Number(as) - Number(bs) || Number(af.padEnd(6, '0')) - Number(bf.padEnd(6, '0'));
}

function truthy(v: unknown): boolean {
  return v === true || v === 1 || v === 'true' || v === '1';
}

function isObject(v: unknown): v is Args {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}
