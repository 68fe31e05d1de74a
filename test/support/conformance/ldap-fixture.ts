/**
 * The LDAP connector under the conformance suite: its own subtree (ou=lc<hex>) of the test slapd,
 * groups alpha, beta and gamma (groupOfNames, holding Latch's account as the placeholder member a
 * groupOfNames needs), and the group set `ops` = alpha + beta as the target, so a grant can fail
 * between its two modifies. The oracle is the directory's root account, asking slapd itself
 * (compare) whether a person's DN is a member.
 */
import { randomBytes } from 'node:crypto';
import { Attribute, Change, Client, EqualityFilter, NoSuchObjectError } from 'ldapts';
import { createLdapConnector, parseDN, rdn } from '../../../src/connectors/ldap/index.js';
import type { GrantHandle, GrantSpec } from '../../../src/connectors/types.js';
import type { ConformanceFixture } from '../connector-conformance.js';
import type { LdapTestDirectory } from '../ldap-server.js';

export function ldapTestDirectory(): LdapTestDirectory {
  const json = process.env.LDAP_TEST;
  if (!json) throw new Error('LDAP_TEST is not set: the test setup (test/support/servers.ts) starts slapd');
  return JSON.parse(json) as LdapTestDirectory;
}

/** A root-bound client for the test's own reads and writes (the oracle), and helpers over it. */
export async function ldapRoot(dir = ldapTestDirectory()) {
  const client = new Client({ url: dir.url, timeout: 10_000 });
  await client.bind(dir.rootDN, dir.rootPassword);
  const member = (group: string, value: string, operation: 'add' | 'delete', attribute = 'member') =>
    client.modify(
      group,
      new Change({ operation, modification: new Attribute({ type: attribute, values: [value] }) }),
    );
  return {
    client,
    addMember: (group: string, value: string, attribute?: string) => member(group, value, 'add', attribute),
    removeMember: (group: string, value: string, attribute?: string) =>
      member(group, value, 'delete', attribute),
    /** slapd's own answer, with its matching rules. */
    async isMember(group: string, value: string, attribute = 'member'): Promise<boolean> {
      try {
        return await client.compare(group, attribute, value);
      } catch (err) {
        if (err instanceof NoSuchObjectError) return false;
        throw err;
      }
    },
    async dnOfEmail(base: string, email: string): Promise<string | null> {
      const { searchEntries } = await client.search(base, {
        filter: new EqualityFilter({ attribute: 'mail', value: email }),
        attributes: ['1.1'],
      });
      return searchEntries.length === 1 ? searchEntries[0]!.dn : null;
    },
    /** Removes a subtree, leaves first. */
    async removeTree(dn: string): Promise<void> {
      let entries: string[];
      try {
        entries = (await client.search(dn, { scope: 'sub', attributes: ['1.1'] })).searchEntries.map(
          (e) => e.dn,
        );
      } catch (err) {
        if (err instanceof NoSuchObjectError) return;
        throw err;
      }
      // Deeper entries have more RDNs; they go first.
      const depth = (d: string) => parseDN(d).length;
      for (const d of entries.sort((a, b) => depth(b) - depth(a))) await client.del(d);
    },
  };
}

/** People's mail is IA5 (ASCII): the hostile text goes into it minus what IA5 cannot hold. */
export const asciiOf = (text: string): string => text.replace(/[^\x20-\x7e]/g, '');

export async function createLdapFixture(): Promise<ConformanceFixture> {
  const dir = ldapTestDirectory();
  const root = await ldapRoot(dir);
  const s = randomBytes(3).toString('hex');
  const top = `ou=lc${s},${dir.suffix}`;
  const people = `ou=people,${top}`;
  const groupsDN = `ou=groups,${top}`;
  const group = (name: string) => `cn=${name},${groupsDN}`;
  const [alpha, beta, gamma] = ['alpha', 'beta', 'gamma'].map(group) as [string, string, string];
  const away = group('beta-away');

  await root.client.add(top, { objectClass: 'organizationalUnit', ou: `lc${s}` });
  for (const ou of [people, groupsDN])
    await root.client.add(ou, { objectClass: 'organizationalUnit', ou: ou.slice(3, ou.indexOf(',')) });
  for (const [dn, cn] of [
    [alpha, 'alpha'],
    [beta, 'beta'],
    [gamma, 'gamma'],
  ] as const)
    await root.client.add(dn, { objectClass: 'groupOfNames', cn, member: dir.bindDN });

  const integration = {
    type: 'ldap',
    config: {
      url: dir.url,
      bindDN: dir.bindDN,
      baseDN: people,
      groupsDN,
      groupSets: { ops: [alpha, beta] },
    },
    secrets: { bindPassword: dir.bindPassword },
  };
  const resource = { id: 'set:ops', name: 'ops', kind: 'group-set' };
  let n = 0;

  /** A person whose cn and uid carry `name` (escaped into the DN) and whose mail carries its ASCII. */
  async function newPerson(name: string): Promise<{ dn: string; email: string }> {
    n += 1;
    const cn = `${name} ${s}-${n}`;
    const email = `${asciiOf(name)}${s}-${n}@example.com`;
    // back_mdb keys entries by RDN and refuses long ones (result 80): an over-long name goes into
    // cn, uid and mail only.
    const dn =
      Buffer.byteLength(cn) > 200
        ? `${rdn('uid', `long-${s}-${n}`)},${people}`
        : `${rdn('cn', cn)},${people}`;
    await root.client.add(dn, { objectClass: 'inetOrgPerson', cn, sn: 'Person', uid: cn, mail: email });
    return { dn, email };
  }

  const setHolds = async (email: string) => {
    const dn = await root.dnOfEmail(people, email);
    if (!dn) return false;
    return (await root.isMember(alpha, dn)) && (await root.isMember(beta, dn));
  };

  return {
    integration,
    target: { resourceId: resource.id, permission: 'member' },
    person: async () => (await newPerson('p')).email,
    connector: () => createLdapConnector({ name: 'conformance', ...integration }),
    async spec(opts = {}): Promise<GrantSpec> {
      const { email } = await newPerson(opts.hostile ?? 'p');
      const id = `${opts.hostile ?? 'g'}-${s}-${n}`;
      return {
        grantId: id,
        requestId: `r-${id}`,
        requesterEmail: email,
        resource,
        permission: 'member',
        expiresAt: new Date(Date.now() + 3_600_000),
      };
    },
    present: (spec: GrantSpec) => setHolds(spec.requesterEmail),
    async snapshot() {
      const { searchEntries } = await root.client.search(top, {
        scope: 'sub',
        filter: '(objectClass=groupOfNames)',
        attributes: ['member'],
      });
      return searchEntries.flatMap((e) => {
        const members = Array.isArray(e.member) ? e.member : [e.member];
        return members.map((m) => `${e.dn} member ${String(m)}`);
      });
    },
    async failPartWay() {
      // The grant adds to alpha, then finds no beta; the undo puts beta back as it was.
      await root.client.modifyDN(beta, away.split(',')[0]!);
      return async () => {
        await root.client.modifyDN(away, beta.split(',')[0]!);
      };
    },
    async removeBehindBack(spec: GrantSpec, _handle: GrantHandle) {
      const dn = await root.dnOfEmail(people, spec.requesterEmail);
      if (dn && (await root.isMember(alpha, dn))) await root.removeMember(alpha, dn);
    },
    async createStanding() {
      const { dn } = await newPerson('standing');
      await root.addMember(gamma, dn);
      return { account: dn, resourceId: `group:${gamma}`, permission: 'member' };
    },
    async close() {
      await root.removeTree(top);
      await root.client.unbind();
    },
  };
}
