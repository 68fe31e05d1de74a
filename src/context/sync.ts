/**
 * Syncing a context source (docs/ARCHITECTURE.md, "Context sources"): the part every type shares.
 *
 * One process syncs a source at a time (a lease on the source, renewed while the sync runs). A sync
 * writes the groups it read as a new generation of `context_groups`, in batches, then makes that
 * generation current with one guarded update of the source, then deletes the older ones. Readers
 * only ever see the current generation, so a sync that fails, or dies, half-way leaves the
 * previous memberships exactly as they were; it records its error, and the next sync removes what
 * it left. A source whose last success is older than its maximum age is stale; the first sync or
 * check that finds it so audits `context.source_stale` and logs it, once, until it recovers.
 */
import { randomUUID } from 'node:crypto';
import type { Auditor } from '../lifecycle/context.js';
import type { Logger } from '../logger.js';
import type { Database } from '../store/db.js';
import type { SecretBox } from '../store/secrets.js';
import { isStale } from './directory.js';
import { newStats, type SyncStats } from './http.js';
import type { ContextSourceType, Shift, SyncedGroup } from './types.js';

/** Members a `context_groups` document holds at most; bigger groups take several. */
export const MEMBERS_PER_PART = 10_000;
/** Documents a batch insert writes. */
const INSERT_BATCH = 100;
const LEASE_MS = 5 * 60_000;

/** What the console shows of a source and its last syncs. */
export interface SourceState {
  lastAttemptAt?: Date;
  lastSuccessAt?: Date;
  lastError?: string;
  lastErrorAt?: Date;
  /** Of the current generation. */
  groups?: number;
  memberships?: number;
  /** Of the last sync, successful or not. */
  stats?: SyncStats;
  durationMs?: number;
  mode?: 'full' | 'delta';
  /** Groups left out (two groups with one name), and other things an admin should know. */
  warnings?: string[];
  note?: string;
  /** Set while the source is stale, so it is reported once. */
  staleSince?: Date;
  /** The type's own state (e.g. Entra's delta link). */
  cursor?: Record<string, unknown>;
}

export type SyncReport =
  | {
      ok: true;
      source: string;
      mode: 'full' | 'delta';
      unchanged: boolean;
      groups: number;
      memberships: number;
      stats: SyncStats;
      durationMs: number;
      warnings: string[];
    }
  | { ok: false; source: string; error: string; stats: SyncStats; durationMs: number }
  | { ok: false; source: string; busy: true };

export interface ContextSyncDeps {
  db: Database;
  box: SecretBox;
  audit: Auditor;
  log: Logger;
  clock: () => Date;
  types: Record<string, ContextSourceType>;
  /** Waits between retries; the real one unless a test needs otherwise. */
  sleep?: (ms: number) => Promise<void>;
  /** Tells every admin (docs/ARCHITECTURE.md, "Admin notices"); `id` names the occasion. */
  tellAdmins?: (id: string, kind: string, text: string) => Promise<void>;
}

export class ContextSync {
  private readonly owner = `sync-${randomUUID().slice(0, 8)}`;

  constructor(private readonly d: ContextSyncDeps) {}

  /** Syncs one source now; `busy` when another process is syncing it. */
  async run(name: string, signal?: AbortSignal): Promise<SyncReport> {
    const { ContextSource } = this.d.db.models;
    const started = Date.now();
    const now = this.d.clock();
    const token = `${this.owner}:${randomUUID()}`;
    const doc = await ContextSource.findOneAndUpdate(
      { name, $or: [{ 'lease.until': { $exists: false } }, { 'lease.until': { $lte: now } }] },
      {
        $set: {
          lease: { owner: token, until: new Date(now.getTime() + LEASE_MS) },
          'state.lastAttemptAt': now,
        },
      },
      { returnDocument: 'after' },
    ).lean();
    if (!doc) {
      if (!(await ContextSource.exists({ name }))) throw new Error(`there is no context source ${name}`);
      return { ok: false, source: name, busy: true };
    }
    const renew = setInterval(
      () =>
        void ContextSource.updateOne(
          { name, 'lease.owner': token },
          { $set: { 'lease.until': new Date(this.d.clock().getTime() + LEASE_MS) } },
        ).catch((err: unknown) =>
          this.d.log.warn({ err, source: name }, 'could not renew a context sync lease'),
        ),
      LEASE_MS / 3,
    );
    const stats = newStats();
    const state = (doc.state ?? {}) as SourceState;
    const generation = doc.generation ?? 0;
    const next = generation + 1;
    try {
      const type = this.d.types[doc.type];
      if (!type) throw new Error(`unknown context source type ${doc.type}`);
      const outcome = await type.sync({
        source: name,
        config: (doc.config ?? {}) as Record<string, unknown>,
        secrets: this.d.box.openRecord((doc.secrets ?? {}) as Record<string, string>),
        state: state.cursor ?? {},
        previous: () => this.current(name, generation),
        stats,
        log: this.d.log,
        sleep: this.d.sleep,
        signal,
        now,
      });
      const finished = this.d.clock();
      const durationMs = Date.now() - started;
      if (outcome.unchanged) {
        await this.finish(name, token, generation, {
          ...state,
          lastSuccessAt: finished,
          lastError: undefined,
          lastErrorAt: undefined,
          staleSince: undefined,
          stats,
          durationMs,
          mode: outcome.mode,
          note: outcome.note,
          cursor: outcome.state,
        });
        await this.recovered(name, state);
        return {
          ok: true,
          source: name,
          mode: outcome.mode,
          unchanged: true,
          groups: state.groups ?? 0,
          memberships: state.memberships ?? 0,
          stats,
          durationMs,
          warnings: state.warnings ?? [],
        };
      }
      const { groups, warnings } = usable(outcome.groups);
      warnings.push(...(outcome.warnings ?? []));
      // Left by a sync that died before switching; nobody reads a generation above the current one.
      await this.d.db.models.ContextGroup.deleteMany({ source: name, generation: { $gt: generation } });
      await this.d.db.models.ContextManager.deleteMany({ source: name, generation: { $gt: generation } });
      await this.write(name, next, groups);
      await this.writeManagers(
        name,
        next,
        outcome.keepManagers ? await this.currentManagers(name, generation) : (outcome.managers ?? []),
      );
      const memberships = groups.reduce((n, g) => n + g.members.length, 0);
      await this.finish(name, token, next, {
        ...state,
        lastSuccessAt: finished,
        lastError: undefined,
        lastErrorAt: undefined,
        staleSince: undefined,
        groups: groups.length,
        memberships,
        stats,
        durationMs,
        mode: outcome.mode,
        warnings,
        note: outcome.note,
        cursor: outcome.state,
      });
      await this.d.db.models.ContextGroup.deleteMany({ source: name, generation: { $lt: next } });
      await this.d.db.models.ContextManager.deleteMany({ source: name, generation: { $lt: next } });
      await this.recovered(name, state);
      for (const w of warnings) this.d.log.warn({ source: name }, w);
      this.d.log.info(
        {
          source: name,
          mode: outcome.mode,
          groups: groups.length,
          memberships,
          requests: stats.requests,
          rateLimited: stats.rateLimited,
          durationMs,
        },
        'context source synced',
      );
      return {
        ok: true,
        source: name,
        mode: outcome.mode,
        unchanged: false,
        groups: groups.length,
        memberships,
        stats,
        durationMs,
        warnings,
      };
    } catch (err) {
      const error = err instanceof Error ? err.message : String(err);
      this.d.log.warn({ err, source: name, requests: stats.requests }, 'context source sync failed');
      // What this sync wrote of its generation is never read; removing it now just saves space.
      await this.d.db.models.ContextGroup.deleteMany({ source: name, generation: { $gt: generation } }).catch(
        () => undefined,
      );
      await this.d.db.models.ContextManager.deleteMany({
        source: name,
        generation: { $gt: generation },
      }).catch(() => undefined);
      await ContextSource.updateOne(
        { name, 'lease.owner': token },
        {
          $set: {
            'state.lastError': error,
            'state.lastErrorAt': this.d.clock(),
            'state.stats': stats,
            'state.durationMs': Date.now() - started,
            'lease.until': new Date(0),
          },
        },
      );
      await this.checkStale();
      return { ok: false, source: name, error, stats, durationMs: Date.now() - started };
    } finally {
      clearInterval(renew);
    }
  }

  /**
   * Audits and logs each source that has turned stale since it was last looked at (once per
   * stale spell). Run after a failed sync and by the scheduling job, so a source whose syncs no
   * longer run at all is reported too.
   */
  async checkStale(): Promise<string[]> {
    const { ContextSource } = this.d.db.models;
    const now = this.d.clock();
    const docs = await ContextSource.find({ 'state.staleSince': { $exists: false } }).lean();
    const turned: string[] = [];
    for (const d of docs) {
      const state = (d.state ?? {}) as SourceState;
      if (!isStale(state.lastSuccessAt, d.maxAgeMinutes, now)) continue;
      // Never synced and just created: give its first sync the time a sync may take.
      if (
        !state.lastSuccessAt &&
        d.createdAt &&
        now.getTime() - d.createdAt.getTime() < d.maxAgeMinutes * 60_000
      )
        continue;
      // Told before it is marked: a crash in between tells again under the same id, i.e. once.
      await this.d.tellAdmins?.(
        `context.source_stale:${d.name}:${state.lastSuccessAt?.toISOString() ?? 'never'}`,
        'context.source_stale',
        `Context source ${d.name} is stale: ${state.lastSuccessAt ? `its last successful sync was ${state.lastSuccessAt.toISOString()}` : 'it has never synced'}${state.lastError ? ` (last error: ${state.lastError.slice(0, 300)})` : ''}. Its groups no longer approve anything automatically; requests that would have been go to approvers.`,
      );
      const r = await ContextSource.updateOne(
        { _id: d._id, 'state.staleSince': { $exists: false } },
        { $set: { 'state.staleSince': now } },
      );
      if (r.modifiedCount === 0) continue;
      turned.push(d.name);
      this.d.log.warn(
        {
          source: d.name,
          lastSuccessAt: state.lastSuccessAt,
          lastError: state.lastError,
          maxAgeMinutes: d.maxAgeMinutes,
        },
        'context source is stale: its groups no longer approve anything automatically',
      );
      await this.d.audit.append({
        actor: { type: 'system', id: 'latch' },
        action: 'context.source_stale',
        subject: { type: 'context_source', id: d.name },
        details: {
          lastSuccessAt: state.lastSuccessAt ?? null,
          lastError: state.lastError ?? null,
          maxAgeMinutes: d.maxAgeMinutes,
        },
        at: now,
      });
    }
    return turned;
  }

  /** The groups of a generation, members merged across parts. */
  private async current(source: string, generation: number): Promise<SyncedGroup[]> {
    if (generation === 0) return [];
    const docs = await this.d.db.models.ContextGroup.find({ source, generation }).lean();
    const byId = new Map<string, SyncedGroup>();
    for (const d of docs) {
      const g: SyncedGroup = byId.get(d.groupId) ?? {
        id: d.groupId,
        name: d.name,
        members: [],
        nested: [],
        ...(d.onCall ? { shifts: [] } : {}),
      };
      g.members.push(...(d.members ?? []));
      if (g.shifts) g.shifts.push(...(d.shifts ?? []).map(fromStoredShift));
      if ((d.part ?? 0) === 0) g.nested = d.nested ?? [];
      byId.set(d.groupId, g);
    }
    return [...byId.values()];
  }

  /** Batches of documents (a few hundred writes for thousands of memberships; the store is slow). */
  private async write(source: string, generation: number, groups: SyncedGroup[]): Promise<void> {
    const docs = groups.flatMap((g) => {
      const parts = Math.max(1, Math.ceil(g.members.length / MEMBERS_PER_PART));
      return Array.from({ length: parts }, (_, part) => {
        const members = g.members.slice(part * MEMBERS_PER_PART, (part + 1) * MEMBERS_PER_PART);
        const here = new Set(members);
        return {
          source,
          generation,
          groupId: g.id,
          part,
          name: g.name,
          members,
          nested: part === 0 ? (g.nested ?? []) : [],
          // A part carries its own members' shifts: the lookup by member finds the part and its shifts.
          onCall: g.shifts !== undefined,
          shifts: (g.shifts ?? []).filter((s) => here.has(s.email)),
        };
      });
    });
    for (let i = 0; i < docs.length; i += INSERT_BATCH) {
      await this.d.db.models.ContextGroup.insertMany(docs.slice(i, i + INSERT_BATCH), {
        ordered: false,
        lean: true,
      });
    }
  }

  private async currentManagers(
    source: string,
    generation: number,
  ): Promise<Array<{ email: string; manager: string }>> {
    if (generation === 0) return [];
    return this.d.db.models.ContextManager.find(
      { source, generation },
      { _id: 0, email: 1, manager: 1 },
    ).lean();
  }

  private async writeManagers(
    source: string,
    generation: number,
    managers: Array<{ email: string; manager: string }>,
  ): Promise<void> {
    const docs = managers
      .filter((m) => m.email && m.manager && m.email !== m.manager)
      .map((m) => ({ source, generation, email: m.email.toLowerCase(), manager: m.manager.toLowerCase() }));
    for (let i = 0; i < docs.length; i += INSERT_BATCH * 10)
      await this.d.db.models.ContextManager.insertMany(docs.slice(i, i + INSERT_BATCH * 10), {
        ordered: false,
        lean: true,
      });
  }

  /** Makes `generation` current and frees the lease, if this sync still holds it. */
  private async finish(name: string, token: string, generation: number, state: SourceState): Promise<void> {
    const r = await this.d.db.models.ContextSource.updateOne(
      { name, 'lease.owner': token },
      { $set: { generation, state: withoutUndefined(state), 'lease.until': new Date(0) } },
    );
    if (r.matchedCount === 0)
      throw new Error('the sync took so long that its lease ran out; another sync took over');
  }

  /** A stale source that synced again is reported as recovered. */
  private async recovered(name: string, before: SourceState): Promise<void> {
    if (!before.staleSince) return;
    this.d.log.info({ source: name }, 'context source is fresh again');
    await this.d.audit.append({
      actor: { type: 'system', id: 'latch' },
      action: 'context.source_fresh',
      subject: { type: 'context_source', id: name },
      details: { staleSince: before.staleSince },
      at: this.d.clock(),
    });
    await this.d.tellAdmins?.(
      `context.source_fresh:${name}:${new Date(before.staleSince).toISOString()}`,
      'context.source_fresh',
      `Context source ${name} synced again: its groups approve automatically where flows say so.`,
    );
  }
}

/**
 * Groups named the same in one source are left out: a flow naming `okta:DBA` must mean one
 * group, and in Entra anyone allowed to create groups could otherwise make a second "DBA".
 */
function usable(groups: SyncedGroup[]): { groups: SyncedGroup[]; warnings: string[] } {
  const count = new Map<string, number>();
  for (const g of groups) count.set(g.name, (count.get(g.name) ?? 0) + 1);
  const dup = [...count].filter(([, n]) => n > 1).map(([name]) => name);
  return {
    groups: groups.filter((g) => count.get(g.name) === 1),
    warnings: dup.map(
      (name) => `${count.get(name)} groups are named "${name}"; none of them is used until the names differ`,
    ),
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function fromStoredShift(s: { email: string; start: Date; end?: Date | null }): Shift {
  return { email: s.email, start: s.start, ...(s.end ? { end: s.end } : {}) };
}
