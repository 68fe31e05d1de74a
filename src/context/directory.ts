/**
 * Reads of the synced groups (docs/ARCHITECTURE.md, "Context sources"): which groups a person is
 * in, and who is in a group. Only the current generation of each source counts, so a sync that is
 * writing its next one, or failed half-way, changes nothing anyone sees.
 */
import type { Database } from '../store/db.js';
import { ON_CALL_TYPES, onShift, qualifiedGroup, type Shift } from './types.js';

export interface SourceSummary {
  name: string;
  type: string;
  generation: number;
  lastSuccessAt?: Date;
  maxAgeMinutes: number;
  stale: boolean;
}

export interface PersonGroups {
  /** `<source>:<group>` for every group the person is in. */
  groups: string[];
  /** Those of them that come from a stale source. */
  stale: string[];
  /** Those of them that are on-call schedules the person is on shift for now. */
  onCall: string[];
}

/** Stale: no successful sync yet, or the last one is older than the source's maximum age. */
export function isStale(lastSuccessAt: Date | undefined, maxAgeMinutes: number, now: Date): boolean {
  return !lastSuccessAt || now.getTime() - lastSuccessAt.getTime() > maxAgeMinutes * 60_000;
}

export class ContextDirectory {
  constructor(
    private readonly db: Database,
    private readonly clock: () => Date,
  ) {}

  async sources(): Promise<SourceSummary[]> {
    const docs = await this.db.models.ContextSource.find(
      {},
      { name: 1, type: 1, generation: 1, maxAgeMinutes: 1, state: 1 },
    ).lean();
    const now = this.clock();
    return docs.map((d) => {
      const lastSuccessAt = (d.state as { lastSuccessAt?: Date } | undefined)?.lastSuccessAt;
      return {
        name: d.name,
        type: d.type,
        generation: d.generation ?? 0,
        lastSuccessAt,
        maxAgeMinutes: d.maxAgeMinutes,
        stale: isStale(lastSuccessAt, d.maxAgeMinutes, now),
      };
    });
  }

  /** The synced groups of the person with this email, named `<source>:<group>`. */
  async groupsOf(email: string, sources?: SourceSummary[]): Promise<PersonGroups> {
    const known = (sources ?? (await this.sources())).filter((s) => s.generation > 0);
    if (known.length === 0) return { groups: [], stale: [], onCall: [] };
    const bySource = new Map(known.map((s) => [s.name, s]));
    const docs = await this.db.models.ContextGroup.find(
      { members: email.toLowerCase(), source: { $in: [...bySource.keys()] } },
      { source: 1, generation: 1, name: 1, onCall: 1, shifts: 1 },
    ).lean();
    const groups = new Set<string>();
    const stale = new Set<string>();
    const onCall = new Set<string>();
    const now = this.clock();
    for (const d of docs) {
      const s = bySource.get(d.source);
      if (!s || d.generation !== s.generation) continue;
      if (d.onCall && !onShift(shifts(d.shifts), email.toLowerCase(), now)) continue;
      const name = qualifiedGroup(d.source, d.name);
      groups.add(name);
      if (s.stale) stale.add(name);
      if (d.onCall) onCall.add(name);
    }
    return { groups: [...groups].sort(), stale: [...stale].sort(), onCall: [...onCall].sort() };
  }

  /**
   * Who is on call for `<source>:<schedule>` now, each with when their time on call ends (shifts
   * that follow each other without a gap count as one); undefined when it is not a synced schedule.
   */
  async onCallNow(
    schedule: string,
    sources?: SourceSummary[],
  ): Promise<{ stale: boolean; people: Map<string, Date | undefined> } | undefined> {
    const colon = schedule.indexOf(':');
    if (colon <= 0) return undefined;
    const source = (sources ?? (await this.sources())).find((s) => s.name === schedule.slice(0, colon));
    if (!source || !ON_CALL_TYPES.has(source.type)) return undefined;
    const docs = await this.db.models.ContextGroup.find(
      { source: source.name, generation: source.generation, name: schedule.slice(colon + 1) },
      { shifts: 1 },
    ).lean();
    const now = this.clock();
    const all = docs.flatMap((d) => shifts(d.shifts));
    const people = new Map<string, Date | undefined>();
    for (const email of new Set(all.map((s) => s.email))) {
      if (!onShift(all, email, now)) continue;
      people.set(
        email,
        runEnd(
          all.filter((s) => s.email === email),
          now,
        ),
      );
    }
    return { stale: source.stale, people };
  }

  /** The person's manager's email, from the first current source that knows one. */
  async managerOf(email: string, sources?: SourceSummary[]): Promise<string | undefined> {
    const current = (sources ?? (await this.sources())).filter((s) => s.generation > 0);
    if (current.length === 0) return undefined;
    const docs = await this.db.models.ContextManager.find(
      { email: email.toLowerCase(), $or: current.map((s) => ({ source: s.name, generation: s.generation })) },
      { source: 1, manager: 1 },
    ).lean();
    const order = current.map((s) => s.name);
    docs.sort((a, b) => order.indexOf(a.source) - order.indexOf(b.source));
    return docs[0]?.manager;
  }

  /** The emails of the people whose manager this is, by any current source. */
  async reportsOf(manager: string, sources?: SourceSummary[]): Promise<string[]> {
    const current = (sources ?? (await this.sources())).filter((s) => s.generation > 0);
    if (current.length === 0) return [];
    const docs = await this.db.models.ContextManager.find(
      {
        manager: manager.toLowerCase(),
        $or: current.map((s) => ({ source: s.name, generation: s.generation })),
      },
      { email: 1 },
    ).lean();
    return [...new Set(docs.map((d) => d.email))].sort();
  }

  /** Every on-call schedule of the current generations, named `<source>:<schedule>` (for forms). */
  async schedules(sources?: SourceSummary[]): Promise<string[]> {
    const onCall = (sources ?? (await this.sources())).filter(
      (s) => ON_CALL_TYPES.has(s.type) && s.generation > 0,
    );
    if (onCall.length === 0) return [];
    const docs = await this.db.models.ContextGroup.find(
      { $or: onCall.map((s) => ({ source: s.name, generation: s.generation })), part: 0 },
      { source: 1, name: 1 },
    ).lean();
    return [...new Set(docs.map((d) => qualifiedGroup(d.source, d.name)))].sort();
  }

  /**
   * The member emails of `<source>:<group>`, or undefined when the name is not a synced source's
   * (a Slack user group, say). A source that has never synced has no members in any group.
   */
  async membersOf(group: string, sources?: SourceSummary[]): Promise<string[] | undefined> {
    const colon = group.indexOf(':');
    if (colon <= 0) return undefined;
    const source = (sources ?? (await this.sources())).find((s) => s.name === group.slice(0, colon));
    if (!source) return undefined;
    const docs = await this.db.models.ContextGroup.find(
      { source: source.name, generation: source.generation, name: group.slice(colon + 1) },
      { members: 1, onCall: 1, shifts: 1 },
    ).lean();
    const now = this.clock();
    return [
      ...new Set(
        docs.flatMap((d) =>
          d.onCall
            ? (d.members ?? []).filter((m: string) => onShift(shifts(d.shifts), m, now))
            : (d.members ?? []),
        ),
      ),
    ];
  }
}

function shifts(stored: Array<{ email: string; start: Date; end?: Date | null }> | undefined): Shift[] {
  return (stored ?? []).map((s) => ({ email: s.email, start: s.start, ...(s.end ? { end: s.end } : {}) }));
}

/** The end of the unbroken time on call that covers `now`; undefined when it has no end. */
function runEnd(own: Shift[], now: Date): Date | undefined {
  let end: Date | undefined = now;
  for (let grew = true; grew && end;) {
    grew = false;
    for (const s of own) {
      if (s.start.getTime() <= end.getTime() && (s.end === undefined || s.end.getTime() > end.getTime())) {
        end = s.end;
        grew = true;
        if (!end) break;
      }
    }
  }
  return end;
}
