import type { HealthResult } from '../types.js';
import { isNoSuchObject, withDirectory, type LdapContext } from './client.js';
import { readGroups } from './groups.js';
import { normalizeDN } from './dn.js';

/** Binds, reads baseDN and groupsDN, and finds every listed group and every group of a set. Never throws. */
export async function health(ctx: LdapContext): Promise<HealthResult> {
  const { url, bindDN, baseDN, groupsDN, groups, groupSets } = ctx.config;
  const where = `${bindDN} at ${url}`;
  try {
    return await withDirectory(ctx, async (client) => {
      for (const [label, dn] of [
        ['baseDN', baseDN],
        ['groupsDN', groupsDN],
      ] as const) {
        if (!dn) continue;
        try {
          await client.search(dn, { scope: 'base', attributes: ['1.1'] });
        } catch (err) {
          if (isNoSuchObject(err)) return { ok: false, message: `${where}: ${label} ${dn} does not exist` };
          throw err;
        }
      }
      const found = await readGroups(client, ctx, { members: false });
      const have = new Set(found.map((g) => normalizeDN(g.dn)));
      const missing = [...new Set([...groups, ...Object.values(groupSets).flat()])].filter(
        (g) => !have.has(normalizeDN(g)),
      );
      if (missing.length > 0)
        return { ok: false, message: `${where}: groups not found (or not readable): ${missing.join('; ')}` };
      return { ok: true, message: `bound as ${where}; ${found.length} groups managed` };
    });
  } catch (err) {
    return { ok: false, message: `${where}: ${err instanceof Error ? err.message : String(err)}` };
  }
}
