/**
 * The memberships that exist in the managed groups (Connector.listAccess, docs/ARCHITECTURE.md,
 * "Reconciliation"). The directory does not record who added a member, so no entry is marked as
 * Latch's: reconciliation matches keys against its grants. Someone in every group of a set is
 * listed once for the set; their other memberships are listed per group.
 */
import type { AccessEntry } from '../types.js';
import { withDirectory, type LdapContext } from './client.js';
import { normalizeDN } from './dn.js';
import { readGroups, type GroupEntry } from './groups.js';
import {
  accessKeyOf,
  groupSetResourceId,
  groupResourceId,
  handleOf,
  memberKey,
  PERMISSION,
} from './names.js';
import { emailsByMember } from './people.js';
import { isProtectedMember } from './scope.js';

interface Holder {
  value: string;
  groups: Map<string, GroupEntry>;
}

export function listAccess(ctx: LdapContext): Promise<AccessEntry[]> {
  const { memberValue: kind, groupSets } = ctx.config;
  return withDirectory(ctx, async (client) => {
    const groups = await readGroups(client, ctx, { members: true });
    const emails = await emailsByMember(client, ctx, kind);
    const holders = new Map<string, Holder>();
    for (const g of groups) {
      for (const value of g.members) {
        if (isProtectedMember(ctx.config, kind, value, g.dn)) continue;
        let key: string;
        try {
          key = memberKey(kind, value);
        } catch {
          continue; // not a DN where DNs are expected: nothing Latch could grant or revoke
        }
        const h = holders.get(key) ?? { value, groups: new Map() };
        h.groups.set(normalizeDN(g.dn), g);
        holders.set(key, h);
      }
    }
    const setOf = (dn: string) =>
      Object.entries(groupSets).find(([, dns]) => dns.some((d) => normalizeDN(d) === dn))?.[0];

    const entries: AccessEntry[] = [];
    const add = (resourceId: string, handleResource: string, groupDNs: string[], h: Holder, key: string) => {
      const email = emails.get(key);
      const handle = handleOf({
        resourceId: handleResource,
        groups: groupDNs,
        member: h.value,
        memberValue: kind,
        email,
      });
      entries.push({
        key: accessKeyOf(handle),
        resourceId,
        permission: PERMISSION,
        account: h.value,
        ...(email ? { email } : {}),
        madeByLatch: false,
        handle,
      });
    };
    for (const [key, h] of holders) {
      const covered = new Set<string>();
      for (const [name, dns] of Object.entries(groupSets)) {
        const norm = dns.map(normalizeDN);
        if (!norm.every((d) => h.groups.has(d))) continue;
        norm.forEach((d) => covered.add(d));
        add(groupSetResourceId(name), groupSetResourceId(name), dns, h, key);
      }
      for (const [d, g] of h.groups) {
        if (covered.has(d)) continue;
        // A group offered only inside a set is listed under the set, but holds just this one membership.
        const resourceId = g.single ? groupResourceId(g.dn) : groupSetResourceId(setOf(d) ?? '');
        add(resourceId, groupResourceId(g.dn), [g.dn], h, key);
      }
    }
    return entries;
  });
}
