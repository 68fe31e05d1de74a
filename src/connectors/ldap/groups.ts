/** Reading the groups Latch manages and their members. */
import { EqualityFilter, type Client } from 'ldapts';
import { isNoSuchObject, valuesOf, type LdapContext } from './client.js';
import { normalizeDN } from './dn.js';
import { memberKey } from './names.js';

export interface GroupEntry {
  dn: string;
  name: string;
  /** Offered as a resource of its own (under groupsDN or in groups), not only inside a group set. */
  single: boolean;
  /** Member values as stored. */
  members: string[];
}

/** The members of one group as stored, or null if the group does not exist. */
export async function readMembers(client: Client, ctx: LdapContext, group: string): Promise<string[] | null> {
  try {
    const { searchEntries } = await client.search(group, {
      scope: 'base',
      attributes: [ctx.config.memberAttribute],
    });
    const entry = searchEntries[0];
    return entry ? valuesOf(entry, ctx.config.memberAttribute) : null;
  } catch (err) {
    if (isNoSuchObject(err)) return null;
    throw err;
  }
}

/** Stored member values by member key, for matching a value however it was spelled. */
export function byKey(ctx: LdapContext, members: string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const v of members) {
    try {
      out.set(memberKey(ctx.config.memberValue, v), v);
    } catch {
      out.set(`\0${v}`, v); // not a DN: matches nothing Latch grants, still listed as is
    }
  }
  return out;
}

/**
 * Every managed group: those of groupObjectClass under groupsDN (one paged search), then listed and
 * groups of sets not among them (one read each; a missing one is left out, health reports it).
 */
export async function readGroups(
  client: Client,
  ctx: LdapContext,
  opts: { members: boolean },
): Promise<GroupEntry[]> {
  const { groupsDN, groupObjectClass, memberAttribute, groups, groupSets } = ctx.config;
  const attributes = opts.members ? ['cn', memberAttribute] : ['cn'];
  const found = new Map<string, GroupEntry>();
  if (groupsDN) {
    for await (const page of client.searchPaginated(groupsDN, {
      scope: 'sub',
      filter: new EqualityFilter({ attribute: 'objectClass', value: groupObjectClass }),
      attributes,
      paged: { pageSize: 500 },
    })) {
      for (const e of page.searchEntries) {
        if (normalizeDN(e.dn) === normalizeDN(groupsDN)) continue; // the container, not a group in it
        found.set(normalizeDN(e.dn), {
          dn: e.dn,
          name: valuesOf(e, 'cn')[0] ?? e.dn,
          single: true,
          members: opts.members ? valuesOf(e, memberAttribute) : [],
        });
      }
    }
  }
  const listed = new Set(groups.map(normalizeDN));
  const extra = [...groups, ...Object.values(groupSets).flat()].filter((g) => !found.has(normalizeDN(g)));
  const unique = [...new Map(extra.map((g) => [normalizeDN(g), g])).values()];
  const read = await Promise.all(
    unique.map(async (g) => {
      try {
        const { searchEntries } = await client.search(g, { scope: 'base', attributes });
        return searchEntries[0] ?? null;
      } catch (err) {
        if (isNoSuchObject(err)) return null;
        throw err;
      }
    }),
  );
  for (const e of read) {
    if (!e) continue;
    found.set(normalizeDN(e.dn), {
      dn: e.dn,
      name: valuesOf(e, 'cn')[0] ?? e.dn,
      single: listed.has(normalizeDN(e.dn)),
      members: opts.members ? valuesOf(e, memberAttribute) : [],
    });
  }
  return [...found.values()];
}
