import type { DiscoveredResource } from '../types.js';
import { withDirectory, type LdapContext } from './client.js';
import { readGroups } from './groups.js';
import { groupSetResourceId, groupResourceId, PERMISSION } from './names.js';

/** Each managed group is a resource, and each group set; both offer the one permission `member`. */
export function discover(ctx: LdapContext): Promise<DiscoveredResource[]> {
  return withDirectory(ctx, async (client) => {
    const groups = await readGroups(client, ctx, { members: false });
    return [
      ...groups
        .filter((g) => g.single)
        .map((g) => ({
          id: groupResourceId(g.dn),
          name: g.name,
          kind: 'group',
          tags: { dn: g.dn },
          permissions: [PERMISSION],
        })),
      ...Object.entries(ctx.config.groupSets).map(([name, dns]) => ({
        id: groupSetResourceId(name),
        name,
        kind: 'group-set',
        tags: { groups: dns.join('; ') },
        permissions: [PERMISSION],
      })),
    ];
  });
}
