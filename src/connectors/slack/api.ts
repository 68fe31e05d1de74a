/**
 * The Slack Web API calls the connector makes, through @slack/web-api's WebClient (which retries
 * HTTP errors, network errors and 429s after their Retry-After, within `retries`). Reads page by
 * cursor. Errors keep Slack's error code and say which call and which thing failed; the token never
 * appears in them.
 */
import { ErrorCode, LogLevel, WebClient, type Logger } from '@slack/web-api';

/** WebClient logs to the console by default; errors reach Latch as thrown errors instead. */
const quiet: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  setLevel: () => {},
  getLevel: () => LogLevel.ERROR,
  setName: () => {},
};

/** Slack's advice for cursor paging: at most 200 items a page. */
const PAGE = 200;
/**
 * conversations.members takes up to 1000: a channel grant reads all members first, and a large
 * channel should not cost a call per 200 of them (the method allows about 100 calls a minute).
 */
const MEMBERS_PAGE = 1000;

/** Slack answered, but the change may or may not have been made. */
const UNKNOWN_OUTCOME_ERRORS = new Set([
  'internal_error',
  'fatal_error',
  'service_unavailable',
  'request_timeout',
  'ratelimited',
]);

export interface SlackChannel {
  id: string;
  name: string;
  is_private?: boolean;
  is_general?: boolean;
  is_archived?: boolean;
  /** Whether the token's own user is a member. */
  is_member?: boolean;
}

export interface SlackUserGroup {
  id: string;
  handle: string;
  name?: string;
  date_delete?: number;
  users?: string[];
}

export interface SlackUser {
  id: string;
  deleted?: boolean;
  is_bot?: boolean;
  profile?: { email?: string };
}

/** Slack's error code of a failed call (`channel_not_found`...), if Slack answered with one. */
export function slackCode(err: unknown): string | undefined {
  const e = err as { code?: string; data?: { error?: unknown } } | undefined;
  return e?.code === ErrorCode.PlatformError && typeof e.data?.error === 'string' ? e.data.error : undefined;
}

/** A call that failed in a way that leaves open whether Slack carried it out. */
export function outcomeUnknown(err: unknown): boolean {
  const code = (err as { code?: string } | undefined)?.code;
  if (code === ErrorCode.HTTPError || code === ErrorCode.RequestError || code === ErrorCode.RateLimitedError)
    return true;
  const slack = slackCode(err);
  return slack !== undefined && UNKNOWN_OUTCOME_ERRORS.has(slack);
}

/** An error naming the call and the thing, with Slack's code (or the transport's message) as the reason. */
export function callError(method: string, what: string, err: unknown): Error {
  const reason = slackCode(err) ?? (err instanceof Error ? err.message : String(err));
  return new Error(`Slack ${method} (${what}) failed: ${reason}`, { cause: err });
}

export class SlackApi {
  private readonly client: WebClient;
  private self: Promise<{ userId: string; team: string; user: string }> | undefined;

  constructor(token: string, opts: { apiUrl: string; retries: number }) {
    this.client = new WebClient(token, {
      slackApiUrl: opts.apiUrl,
      logger: quiet,
      timeout: 30_000,
      maxRequestConcurrency: 10,
      retryConfig: { retries: opts.retries, factor: 2, minTimeout: 500, maxTimeout: 30_000, randomize: true },
    });
  }

  /** Who the token is (auth.test), asked once: the user Latch acts as, which it never removes. */
  whoAmI(): Promise<{ userId: string; team: string; user: string }> {
    this.self ??= this.client.auth.test().then(
      (r) => ({ userId: String(r.user_id ?? ''), team: String(r.team ?? ''), user: String(r.user ?? '') }),
      (err: unknown) => {
        this.self = undefined;
        throw callError('auth.test', 'the token', err);
      },
    );
    return this.self;
  }

  async userByEmail(email: string): Promise<SlackUser | null> {
    try {
      const r = await this.client.users.lookupByEmail({ email });
      return (r.user as SlackUser | undefined) ?? null;
    } catch (err) {
      if (slackCode(err) === 'users_not_found') return null;
      throw callError('users.lookupByEmail', email, err);
    }
  }

  /** Every user of the workspace (for emails), one paged read. */
  async users(): Promise<SlackUser[]> {
    const out: SlackUser[] = [];
    await this.pages('users.list', {}, (r) =>
      out.push(...((r.members as SlackUser[] | undefined) ?? [])),
    ).catch((err: unknown) => {
      throw callError('users.list', 'the workspace', err);
    });
    return out;
  }

  /** Public channels and the private ones the token's user is in, archived ones left out. */
  async channels(): Promise<SlackChannel[]> {
    const out: SlackChannel[] = [];
    await this.pages(
      'conversations.list',
      { types: 'public_channel,private_channel', exclude_archived: true },
      (r) => out.push(...((r.channels as SlackChannel[] | undefined) ?? [])),
    ).catch((err: unknown) => {
      throw callError('conversations.list', 'the workspace', err);
    });
    return out;
  }

  /** The channel as the token's user sees it; null if it does not exist or is private and unseen. */
  async channel(id: string): Promise<SlackChannel | null> {
    try {
      const r = await this.client.conversations.info({ channel: id });
      return (r.channel as SlackChannel | undefined) ?? null;
    } catch (err) {
      if (slackCode(err) === 'channel_not_found') return null;
      throw callError('conversations.info', id, err);
    }
  }

  /** All members of a channel (one paged read); null if the channel cannot be seen. */
  async channelMembers(id: string): Promise<Set<string> | null> {
    const members = new Set<string>();
    try {
      await this.pages('conversations.members', { channel: id }, (r) => {
        for (const m of (r.members as string[] | undefined) ?? []) members.add(m);
      });
    } catch (err) {
      if (slackCode(err) === 'channel_not_found') return null;
      throw callError('conversations.members', id, err);
    }
    return members;
  }

  /** Adds one user; `already` when they were a member (Slack's `already_in_channel`). */
  async invite(channel: string, user: string): Promise<'invited' | 'already'> {
    try {
      await this.client.conversations.invite({ channel, users: user });
      return 'invited';
    } catch (err) {
      if (slackCode(err) === 'already_in_channel') return 'already';
      throw err;
    }
  }

  /**
   * Removes one user; `absent` when they were not a member. Slack answers `not_in_channel` also
   * when the token's own user is not in the channel, so callers check that first.
   */
  async kick(channel: string, user: string): Promise<'removed' | 'absent'> {
    try {
      await this.client.conversations.kick({ channel, user });
      return 'removed';
    } catch (err) {
      if (slackCode(err) === 'not_in_channel') return 'absent';
      throw err;
    }
  }

  async usergroups(
    opts: { includeUsers?: boolean; includeDisabled?: boolean } = {},
  ): Promise<SlackUserGroup[]> {
    try {
      const r = await this.client.usergroups.list({
        include_users: opts.includeUsers ?? false,
        include_disabled: opts.includeDisabled ?? false,
      });
      return (r.usergroups as SlackUserGroup[] | undefined) ?? [];
    } catch (err) {
      throw callError('usergroups.list', 'the workspace', err);
    }
  }

  /** A user group's members; null if there is no such group. */
  async usergroupMembers(id: string): Promise<string[] | null> {
    try {
      const r = await this.client.usergroups.users.list({ usergroup: id, include_disabled: true });
      return r.users ?? [];
    } catch (err) {
      if (slackCode(err) === 'no_such_subteam') return null;
      throw callError('usergroups.users.list', id, err);
    }
  }

  /** Replaces a user group's whole member list (Slack has no add or remove of one member). */
  async setUsergroupMembers(id: string, users: string[]): Promise<void> {
    await this.client.usergroups.users.update({ usergroup: id, users: users.join(',') });
  }

  private async pages(
    method: 'users.list' | 'conversations.list' | 'conversations.members',
    args: Record<string, unknown>,
    each: (page: Record<string, unknown>) => void,
  ): Promise<void> {
    let cursor: string | undefined;
    do {
      const r = await this.client.apiCall(method, {
        ...args,
        limit: method === 'conversations.members' ? MEMBERS_PAGE : PAGE,
        ...(cursor ? { cursor } : {}),
      });
      each(r as unknown as Record<string, unknown>);
      cursor = r.response_metadata?.next_cursor || undefined;
    } while (cursor);
  }
}
