/** Finding people: the requester by email, and the emails of many members at once. */
import { AndFilter, EqualityFilter, FilterParser, PresenceFilter, type Client, type Filter } from 'ldapts';
import { valuesOf, type LdapContext } from './client.js';
import { normalizeDN } from './dn.js';
import type { MemberValueKind } from './names.js';

export interface Person {
  dn: string;
  /** The value a group holds for this person (DN or uid, per memberValue). */
  member: string;
  email: string;
}

function peopleFilter(ctx: LdapContext, own: Filter): Filter {
  const extra = ctx.config.userFilter;
  return extra ? new AndFilter({ filters: [FilterParser.parseString(extra), own] }) : own;
}

/**
 * The one person whose userAttribute is `email`. The filter is built as an object and sent as BER,
 * so no character of the email can change its meaning. None: null; several: an error, since
 * giving access to the wrong one of two is worse than giving none.
 */
export async function findPerson(client: Client, ctx: LdapContext, email: string): Promise<Person | null> {
  const { baseDN, userAttribute, uidAttribute, memberValue } = ctx.config;
  const wanted = email.trim();
  if (!wanted) return null;
  // What follows a NUL gets lost on the way (against slapd, `victim@x\0` found victim@x): refused.
  if ([...wanted].some((ch) => ch.charCodeAt(0) < 0x20 || ch.charCodeAt(0) === 0x7f))
    throw new Error(`not a usable email: ${JSON.stringify(wanted)} contains control characters`);
  const { searchEntries } = await client.search(baseDN, {
    scope: 'sub',
    filter: peopleFilter(ctx, new EqualityFilter({ attribute: userAttribute, value: wanted })),
    attributes: [uidAttribute],
  });
  if (searchEntries.length === 0) return null;
  if (searchEntries.length > 1)
    throw new Error(
      `${searchEntries.length} entries under ${baseDN} have ${userAttribute}=${wanted}; refusing to pick one`,
    );
  const entry = searchEntries[0]!;
  if (memberValue === 'dn') return { dn: entry.dn, member: entry.dn, email: wanted };
  const uids = valuesOf(entry, uidAttribute);
  if (uids.length !== 1)
    throw new Error(`${entry.dn} has ${uids.length} values of ${uidAttribute}; the group needs exactly one`);
  return { dn: entry.dn, member: uids[0]!, email: wanted };
}

/**
 * Everyone under baseDN who has an email, by member key (normalized DN or uid): one paged search,
 * rather than one per member.
 */
export async function emailsByMember(
  client: Client,
  ctx: LdapContext,
  kind: MemberValueKind,
): Promise<Map<string, string>> {
  const { baseDN, userAttribute, uidAttribute } = ctx.config;
  const out = new Map<string, string>();
  try {
    for await (const page of client.searchPaginated(baseDN, {
      scope: 'sub',
      filter: peopleFilter(ctx, new PresenceFilter({ attribute: userAttribute })),
      attributes: [userAttribute, uidAttribute],
      paged: { pageSize: 500 },
    })) {
      for (const entry of page.searchEntries) {
        const email = valuesOf(entry, userAttribute)[0];
        if (!email) continue;
        if (kind === 'dn') out.set(normalizeDN(entry.dn), email);
        else for (const uid of valuesOf(entry, uidAttribute)) out.set(uid, email);
      }
    }
  } catch (err) {
    // sizeLimitExceeded: the server's limit for this account, not a fault Latch can retry past.
    if ((err as { code?: number }).code === 4)
      throw new Error(
        `the directory stopped listing the people under ${baseDN} at its size limit for ${ctx.config.bindDN}; ` +
          'allow that account paged searches of the whole directory (OpenLDAP: limits ... size.prtotal=unlimited)',
        { cause: err },
      );
    throw err;
  }
  return out;
}
