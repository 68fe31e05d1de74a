/**
 * Slack users and user groups as Latch sees them. A Slack user becomes a Latch identity only
 * through an email Slack has confirmed (`users.info`), so nobody can claim someone else's access by
 * editing a display name. Profiles are cached in MongoDB for a few minutes, user groups in memory.
 */
import type { WebClient } from '@slack/web-api';
import pLimit from 'p-limit';
import { normalizeEmail, type Identity } from '../../domain/identity.js';
import { forbidden } from '../../lifecycle/errors.js';
import type { Logger } from '../../logger.js';
import type { SlackModels } from './store.js';
import type { Workspaces } from './workspaces.js';

export interface SlackUserRef {
  teamId?: string;
  userId: string;
}

interface UserGroup {
  id: string;
  handle: string;
  name: string;
  users: string[];
}

interface SlackProfileUser {
  id: string;
  team_id?: string;
  is_bot?: boolean;
  deleted?: boolean;
  is_email_confirmed?: boolean;
  tz?: string;
  real_name?: string;
  name?: string;
  profile?: { email?: string; display_name?: string; real_name?: string };
}

const PROFILE_TTL_MS = 10 * 60_000;
const GROUPS_TTL_MS = 5 * 60_000;
const RETRY_GROUPS_MS = 30_000;
const LOOKUP_TTL_MS = 10 * 60_000;
/** Someone not (yet) in Slack is asked about again sooner: they may join any minute. */
const MISS_TTL_MS = 60_000;

export class SlackDirectory {
  private readonly groupCache = new Map<string, { at: number; ok: boolean; groups: Promise<UserGroup[]> }>();

  constructor(
    private readonly m: SlackModels,
    private readonly workspaces: Workspaces,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** The Latch identity of a Slack user; refuses users without a confirmed email. */
  async identity(teamId: string | undefined, userId: string): Promise<Identity> {
    const key = `${teamId ?? '-'}:${userId}`;
    let doc = await this.m.SlackUser.findById(key).lean();
    if (!doc || this.now().getTime() - doc.fetchedAt.getTime() > PROFILE_TTL_MS) {
      const client = await this.workspaces.client(teamId);
      const res = await client.users.info({ user: userId });
      const user = res.user as SlackProfileUser | undefined;
      const email = user?.profile?.email;
      if (!user || user.is_bot || user.deleted || !email) {
        throw forbidden(
          'Latch could not find an email address on your Slack profile, so it cannot tell who you are.',
        );
      }
      if (user.is_email_confirmed === false) {
        throw forbidden('Your Slack email address is not confirmed yet; confirm it, then try again.');
      }
      const all = await this.userGroups(teamId, client);
      // When Slack could not list groups, keep what we knew and ask again soon rather than
      // forgetting someone's groups (and so their flows) for the whole profile lifetime.
      const groups = all.ok
        ? all.groups.filter((g) => g.users.includes(userId)).map((g) => g.handle)
        : (doc?.groups ?? []);
      const fields = {
        teamId: teamId ?? '-',
        userId,
        email: normalizeEmail(email),
        displayName: user.profile?.real_name || user.real_name || user.profile?.display_name || user.name,
        timeZone: user.tz,
        groups,
        fetchedAt: all.ok ? this.now() : new Date(this.now().getTime() - PROFILE_TTL_MS + RETRY_GROUPS_MS),
      };
      await this.m.SlackUser.updateOne({ _id: key }, { $set: fields }, { upsert: true });
      doc = { _id: key, ...fields } as typeof doc & object;
    }
    return {
      id: doc!.email,
      email: doc!.email,
      displayName: doc!.displayName ?? undefined,
      groups: [...(doc!.groups ?? [])],
      timeZone: doc!.timeZone ?? undefined,
      aliases: [userId],
    };
  }

  /** Where to reach a Latch identity in Slack; cached profiles first, then users.lookupByEmail. */
  async findByEmail(email: string): Promise<SlackUserRef | null> {
    return (await this.findManyByEmail([email])).get(normalizeEmail(email)) ?? null;
  }

  /**
   * Where to reach many people at once (a step's approvers): one read of the cached profiles for
   * all of them, then users.lookupByEmail for the rest, a few at a time, remembered for minutes
   * (misses too), so a notification to a hundred approvers is not a hundred lookups every time.
   */
  async findManyByEmail(emails: string[]): Promise<Map<string, SlackUserRef | null>> {
    const wanted = [...new Set(emails.map(normalizeEmail))];
    const found = new Map<string, SlackUserRef | null>();
    const now = this.now().getTime();
    const missing: string[] = [];
    for (const e of wanted) {
      const hit = this.lookups.get(e);
      if (hit) {
        const ref = await hit.ref.catch(() => undefined);
        if (ref !== undefined && now - hit.at < (ref ? LOOKUP_TTL_MS : MISS_TTL_MS)) {
          found.set(e, ref);
          continue;
        }
      }
      missing.push(e);
    }
    if (missing.length === 0) return found;
    const known = await this.m.SlackUser.find(
      { email: { $in: missing } },
      { email: 1, teamId: 1, userId: 1 },
    ).lean();
    for (const k of known) {
      if (!found.has(k.email))
        found.set(k.email, { teamId: k.teamId === '-' ? undefined : k.teamId, userId: k.userId });
    }
    const unknown = missing.filter((e) => !found.has(e));
    const refs = await Promise.all(
      unknown.map((e) => {
        const ref = this.lookupLimit(() => this.lookupByEmail(e));
        this.lookups.set(e, { at: now, ref });
        // A failed lookup is not an answer; forget it so the next notification asks again.
        ref.catch(() => this.lookups.delete(e));
        if (this.lookups.size > 5_000) this.lookups.delete(this.lookups.keys().next().value!);
        return ref;
      }),
    );
    unknown.forEach((e, i) => found.set(e, refs[i]!));
    return found;
  }

  private readonly lookups = new Map<string, { at: number; ref: Promise<SlackUserRef | null> }>();
  private readonly lookupLimit = pLimit(4);

  private async lookupByEmail(e: string): Promise<SlackUserRef | null> {
    for (const { teamId, client } of await this.workspaces.all()) {
      try {
        const res = await client.users.lookupByEmail({ email: e });
        const id = (res.user as SlackProfileUser | undefined)?.id;
        if (id) return { teamId, userId: id };
      } catch (err) {
        if ((err as { data?: { error?: string } }).data?.error !== 'users_not_found') throw err;
      }
    }
    return null;
  }

  /** Slack users in a user group, named by handle (`db-admins`), name or id, across workspaces. */
  async groupMembers(group: string): Promise<SlackUserRef[]> {
    const out: SlackUserRef[] = [];
    for (const { teamId, client } of await this.workspaces.all()) {
      const g = (await this.userGroups(teamId, client)).groups.find(
        (x) => x.handle === group || x.id === group || x.name === group,
      );
      if (g) out.push(...g.users.map((userId) => ({ teamId, userId })));
    }
    return out;
  }

  async listGroups(teamId?: string): Promise<UserGroup[]> {
    return (await this.userGroups(teamId, await this.workspaces.client(teamId))).groups;
  }

  /** Emails of Slack users picked in a users select, for storing in flows and settings. */
  async emailsOf(teamId: string | undefined, userIds: string[]): Promise<string[]> {
    const ids = await Promise.all(userIds.map((u) => this.identity(teamId, u)));
    return ids.map((i) => i.email);
  }

  /** Slack user ids for emails, where Slack knows them, for pre-filling users selects. */
  async userIdsOf(emails: string[]): Promise<string[]> {
    const refs = await Promise.all(emails.map((e) => this.findByEmail(e).catch(() => null)));
    return refs.filter((r): r is SlackUserRef => r !== null).map((r) => r.userId);
  }

  /**
   * All user groups of a workspace, cached for minutes and shared by concurrent callers (Slack
   * rate-limits usergroups.list hard). A failed listing is retried after 30 seconds, not 5 minutes.
   */
  private async userGroups(
    teamId: string | undefined,
    client: WebClient,
  ): Promise<{ ok: boolean; groups: UserGroup[] }> {
    const key = teamId ?? '-';
    const now = this.now().getTime();
    const hit = this.groupCache.get(key);
    if (hit && now - hit.at < (hit.ok ? GROUPS_TTL_MS : RETRY_GROUPS_MS))
      return { ok: hit.ok, groups: await hit.groups };
    const entry = { at: now, ok: true, groups: Promise.resolve<UserGroup[]>([]) };
    entry.groups = client.usergroups.list({ include_users: true }).then(
      (res) =>
        (res.usergroups ?? []).map((g) => ({
          id: g.id ?? '',
          handle: g.handle ?? '',
          name: g.name ?? '',
          users: g.users ?? [],
        })),
      (err: unknown) => {
        // Free workspaces have no user groups (a settled answer); anything else is worth a retry.
        const code = (err as { data?: { error?: string } }).data?.error;
        entry.ok = code === 'paid_teams_only' || code === 'missing_scope';
        this.log.debug({ err }, 'usergroups.list failed');
        return [];
      },
    );
    this.groupCache.set(key, entry);
    const groups = await entry.groups;
    return { ok: entry.ok, groups };
  }
}
