/**
 * The contract of a context source type (docs/ARCHITECTURE.md, "Context sources"): how its settings
 * are checked and how one sync reads its groups. A type only reads its API; storing generations,
 * leases, status and staleness is the shared part's (sync.ts), so every type fails the same way.
 */
import { z } from 'zod';
import type { SettingsIssue } from '../connectors/types.js';
import type { Logger } from '../logger.js';
import type { SyncStats } from './http.js';

/** One group as a sync found it. */
export interface SyncedGroup {
  /** The source's own id (Okta `00g…`, Entra object id). */
  id: string;
  name: string;
  /** Lower-case emails of its members, nested groups' members included where the source nests. */
  members: string[];
  /** Ids of the groups nested in it at any depth (Entra only). */
  nested?: string[];
  /**
   * On-call sources: the group is "who is on call for this schedule", and each member counts only
   * while one of their shifts covers the present. `members` lists everyone with a shift.
   */
  shifts?: Shift[];
}

/** One person's time on call, as the source's rota says; no end means until further notice. */
export interface Shift {
  email: string;
  start: Date;
  end?: Date;
}

/** Is `now` inside a shift of `email` (start inclusive, end exclusive)? */
export function onShift(shifts: readonly Shift[], email: string, now: Date): boolean {
  const t = now.getTime();
  return shifts.some(
    (s) => s.email === email && s.start.getTime() <= t && (s.end === undefined || t < s.end.getTime()),
  );
}

export interface SyncInput {
  source: string;
  config: Record<string, unknown>;
  /** Opened from the SecretBox, in memory only. */
  secrets: Record<string, string>;
  /** What the type kept from its last successful sync (e.g. Entra's delta link). */
  state: Record<string, unknown>;
  /** The groups of the current generation, read only when a type needs them (delta sync). */
  previous: () => Promise<SyncedGroup[]>;
  stats: SyncStats;
  log: Logger;
  /** Waits between retries; tests and the bench keep the real one. */
  sleep?: (ms: number) => Promise<void>;
  /** Aborted when the process stops: waits and requests end, and the sync fails (nothing switches). */
  signal?: AbortSignal;
  /**
   * The present by Latch's clock, for sources whose answer depends on it (on-call rotas are read
   * from now on); the real time when not given.
   */
  now?: Date;
}

export interface SyncOutcome {
  groups: SyncedGroup[];
  /** Kept for the next sync, replacing the old state. */
  state: Record<string, unknown>;
  mode: 'full' | 'delta';
  /**
   * Who manages whom, as the identity provider says (lower-case emails), for sources that read it:
   * manager approvers and requests for one's direct reports use it. Kept with the generation.
   */
  managers?: Array<{ email: string; manager: string }>;
  /**
   * Carry the current generation's managers to the new one instead (a delta sync that reads
   * groups only); `managers` is then ignored.
   */
  keepManagers?: boolean;
  /** Delta syncs: nothing changed, so the current generation stays (no rewrite). */
  unchanged?: boolean;
  /** Why a delta sync fell back to a full one, when it did. */
  note?: string;
  /** What an admin should know of this sync (people left out), shown with the source's status. */
  warnings?: string[];
}

export interface ContextSourceType {
  /** Checks config and secrets without contacting anything (flows file and console). */
  validate(config: Record<string, unknown>, secrets: Record<string, string>): SettingsIssue[];
  sync(input: SyncInput): Promise<SyncOutcome>;
}

/** Source types whose groups are on-call schedules (their groups carry shifts). */
export const ON_CALL_TYPES: ReadonlySet<string> = new Set(['pagerduty', 'jsm_ops']);

/** Source names become group-name prefixes (`okta:Engineering`), so no colon and nothing odd. */
export const SOURCE_NAME = z
  .string()
  .min(1)
  .max(40)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lower-case letters, digits, - and _ (it prefixes group names)');

/** The settings of a source every type shares; config and secrets are the type's own. */
export const contextSourceSchema = z
  .object({
    name: SOURCE_NAME,
    type: z.string().min(1),
    description: z.string().max(500).default(''),
    config: z.record(z.string(), z.unknown()).default({}),
    secrets: z.record(z.string(), z.string()).default({}),
    /** How often the sync job runs. */
    syncEveryMinutes: z
      .number()
      .int()
      .min(1)
      .max(24 * 60)
      .default(15),
    /** A source whose last success is older than this is stale: its groups are not trusted for automatic approval. */
    maxAgeMinutes: z
      .number()
      .int()
      .min(5)
      .max(30 * 24 * 60)
      .default(24 * 60),
  })
  .strict()
  .refine((s) => s.maxAgeMinutes > s.syncEveryMinutes, {
    message: 'must be longer than syncEveryMinutes, or every source would be stale between syncs',
    path: ['maxAgeMinutes'],
  });
export type ContextSourceInput = z.input<typeof contextSourceSchema>;
export type ContextSourceSettings = z.infer<typeof contextSourceSchema>;

/** The group name flows use: `<source name>:<group name>` (README, "Context sources"). */
export function qualifiedGroup(source: string, group: string): string {
  return `${source}:${group}`;
}
