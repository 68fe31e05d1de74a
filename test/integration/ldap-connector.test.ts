/**
 * The LDAP connector against the test setup's slapd (test/support/ldap-server.ts), bound as the
 * service account the README describes (read everything, write member attributes only). Each run
 * works in its own subtree ou=lt<hex>; the root account reads and changes the directory behind
 * the connector's back (slapd's compare is the oracle). The conformance suites run it from
 * test/integration/connector-conformance.test.ts (test/support/conformance/ldap-fixture.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { Client, EqualityFilter } from 'ldapts';
import {
  createLdapConnector,
  ldapConfigSchema,
  rdn,
  validateLdapSettings,
  type LdapConnector,
} from '../../src/connectors/ldap/index.js';
import type { GrantSpec } from '../../src/connectors/types.js';
import { freePort } from '../../src/store/embedded-mongo.js';
import { ldapRoot, ldapTestDirectory } from '../support/conformance/ldap-fixture.js';

const dir = ldapTestDirectory();
const s = randomBytes(3).toString('hex');
const top = `ou=lt${s},${dir.suffix}`;
const people = `ou=people,${top}`;
const groupsDN = `ou=groups,${top}`;
const devs = `cn=devs,${groupsDN}`;
const ops = `cn=ops,${groupsDN}`;
const nested = `cn=nested,ou=team,${groupsDN}`;
const solo = `cn=solo,${groupsDN}`;
const admins = `cn=admins,${groupsDN}`;
const listed = `cn=listed,ou=other,${top}`;
const unmanaged = `cn=unmanaged,ou=other,${top}`;
const posix = `cn=posix,ou=posix,${top}`;
const uniq = `cn=uniq,ou=uniq,${top}`;
const nobody = `cn=nobody,${top}`;

let root: Awaited<ReturnType<typeof ldapRoot>>;
const connectors: LdapConnector[] = [];

function connector(config: Record<string, unknown> = {}, secrets = { bindPassword: dir.bindPassword }) {
  const c = createLdapConnector({
    name: 'ldap-test',
    type: 'ldap',
    config: { url: dir.url, bindDN: dir.bindDN, baseDN: people, groupsDN, ...config },
    secrets,
  }) as LdapConnector;
  connectors.push(c);
  return c;
}

let n = 0;
/** A person; `cn` goes into the RDN escaped, `mail` as given. */
async function person(cn: string, opts: { mail?: string; password?: string } = {}) {
  n += 1;
  const mail = opts.mail ?? `person${s}-${n}@example.com`;
  const dn = `${rdn('cn', cn)},${people}`;
  await root.client.add(dn, {
    objectClass: 'inetOrgPerson',
    cn,
    sn: 'Person',
    uid: `u${s}-${n}`,
    mail,
    ...(opts.password ? { userPassword: opts.password } : {}),
  });
  return { dn, mail, uid: `u${s}-${n}` };
}

function spec(resourceId: string, email: string, extra: Partial<GrantSpec> = {}): GrantSpec {
  n += 1;
  return {
    grantId: `g${s}-${n}`,
    requestId: `r${n}`,
    requesterEmail: email,
    resource: {
      id: resourceId,
      name: resourceId,
      kind: resourceId.startsWith('set:') ? 'group-set' : 'group',
    },
    permission: 'member',
    expiresAt: new Date(Date.now() + 3_600_000),
    ...extra,
  };
}

async function membersOf(group: string, attribute = 'member'): Promise<string[]> {
  const { searchEntries } = await root.client.search(group, { scope: 'base', attributes: [attribute] });
  const v = searchEntries[0]?.[attribute] ?? [];
  return (Array.isArray(v) ? v : [v]).map(String).sort();
}

beforeAll(async () => {
  root = await ldapRoot(dir);
  const ou = (dn: string) =>
    root.client.add(dn, { objectClass: 'organizationalUnit', ou: dn.slice(3, dn.indexOf(',')) });
  await ou(top);
  for (const o of [
    people,
    groupsDN,
    `ou=team,${groupsDN}`,
    `ou=other,${top}`,
    `ou=posix,${top}`,
    `ou=uniq,${top}`,
  ])
    await ou(o);
  await root.client.add(nobody, { objectClass: 'organizationalRole', cn: 'nobody' });
  const first = await person('Solo Holder');
  for (const [dn, member] of [
    [devs, dir.bindDN],
    [ops, dir.bindDN],
    [nested, dir.bindDN],
    [solo, first.dn],
    [admins, nobody],
    [listed, dir.bindDN],
    [unmanaged, dir.bindDN],
  ] as const)
    await root.client.add(dn, { objectClass: 'groupOfNames', cn: dn.slice(3, dn.indexOf(',')), member });
  await root.client.add(posix, { objectClass: 'posixGroup', cn: 'posix', gidNumber: '5000' });
  await root.client.add(uniq, { objectClass: 'groupOfUniqueNames', cn: 'uniq', uniqueMember: dir.bindDN });
});

afterAll(async () => {
  await Promise.all(connectors.map((c) => c.close()));
  await root.removeTree(top);
  await root.client.unbind();
});

describe('LDAP connector: settings', () => {
  it('applies defaults to a config with only the required fields', () => {
    const cfg = ldapConfigSchema.parse({
      url: 'ldap://dir:389',
      bindDN: 'cn=latch,dc=x',
      baseDN: 'dc=x',
      groupsDN: 'ou=g,dc=x',
    });
    expect(cfg).toMatchObject({
      groups: [],
      groupSets: {},
      groupObjectClass: 'groupOfNames',
      memberAttribute: 'member',
      memberValue: 'dn',
      userAttribute: 'mail',
      uidAttribute: 'uid',
      ignoreMembers: [],
      startTLS: false,
      tlsRejectUnauthorized: true,
      timeoutMs: 10000,
    });
  });

  it('reports each bad setting at its field, and never the password', () => {
    const base = { url: 'ldap://dir', bindDN: 'cn=latch,dc=x', baseDN: 'dc=x', groupsDN: 'ou=g,dc=x' };
    expect(validateLdapSettings(base, { bindPassword: 'pw' })).toEqual([]);
    const issue = (config: Record<string, unknown>, secrets: Record<string, string> = {}) =>
      validateLdapSettings(config, secrets).map((i) => [
        i.path.join('.'),
        i.message,
        i.unknownField ?? false,
      ]);
    expect(issue({ ...base, url: 'http://dir' })).toEqual([
      ['config.url', expect.stringMatching(/ldap:\/\//), false],
    ]);
    expect(issue({ ...base, groupsDN: 'not a dn' })).toEqual([
      ['config.groupsDN', expect.stringMatching(/DN/), false],
    ]);
    expect(issue({ url: 'ldap://dir', bindDN: 'cn=a', baseDN: 'dc=x' })).toEqual([
      ['config.groupsDN', expect.stringMatching(/groupsDN, groups or groupSets/), false],
    ]);
    expect(issue({ ...base, userFilter: '(objectClass=person' })).toEqual([
      ['config.userFilter', expect.stringMatching(/filter/), false],
    ]);
    expect(issue({ ...base, memberAttribute: 'member)(x=*' })).toEqual([
      ['config.memberAttribute', expect.stringMatching(/attribute/), false],
    ]);
    expect(issue({ ...base, url: 'ldaps://dir', startTLS: true })).toEqual([
      ['config.startTLS', expect.stringMatching(/ldap:\/\//), false],
    ]);
    expect(issue({ ...base, memberValue: 'email' })[0]?.[0]).toBe('config.memberValue');
    expect(issue({ ...base, groupDN: 'ou=g,dc=x' })).toEqual([['config.groupDN', 'unknown field', true]]);
    expect(issue(base, { password: 'hunter2' })).toEqual([['secrets.password', 'unknown secret', true]]);
    expect(() => connector({ url: 'ftp://x' })).toThrow(
      /invalid config for LDAP integration ldap-test[\s\S]*url/,
    );
  });
});

describe('LDAP connector: discovery and health', () => {
  it('offers every group under groupsDN (nested too), listed groups and groupSets, each with the permission member', async () => {
    const resources = await connector({ groups: [listed], groupSets: { oncall: [devs, ops] } }).discover();
    const byId = new Map(resources.map((r) => [r.id, r]));
    for (const g of [devs, ops, nested, solo, admins, listed])
      expect(byId.get(`group:${g}`)).toMatchObject({ kind: 'group', permissions: ['member'] });
    expect(byId.get('set:oncall')).toMatchObject({
      kind: 'group-set',
      name: 'oncall',
      permissions: ['member'],
    });
    expect(byId.has(`group:${unmanaged}`)).toBe(false);
    expect(byId.has(`group:${posix}`)).toBe(false); // not of the configured class, nor under groupsDN
    expect([...byId.keys()].some((id) => id.includes('ou=team,') && !id.startsWith('group:cn='))).toBe(false);
    expect(byId.get(`group:${devs}`)?.name).toBe('devs');
  });

  it('is healthy with the service account, and not (without throwing, without the password) otherwise', async () => {
    expect(await connector().health()).toMatchObject({
      ok: true,
      message: expect.stringMatching(/bound as/),
    });
    const wrong = await connector({}, { bindPassword: 'not-the-password' }).health();
    expect(wrong).toMatchObject({ ok: false, message: expect.stringMatching(/invalid credentials/) });
    expect(wrong.message).not.toContain('not-the-password');
    const none = await connector({}, {} as { bindPassword: string }).health();
    expect(none).toMatchObject({ ok: false, message: expect.stringMatching(/bindPassword/) });
    const down = await connector({ url: `ldap://127.0.0.1:${await freePort()}`, timeoutMs: 2000 }).health();
    expect(down.ok).toBe(false);
    const missing = await connector({ groups: [`cn=gone,${top}`] }).health();
    expect(missing).toMatchObject({ ok: false, message: expect.stringContaining(`cn=gone,${top}`) });
    const noBase = await connector({ groupsDN: `ou=nowhere,${top}` }).health();
    expect(noBase).toMatchObject({ ok: false, message: expect.stringMatching(/groupsDN .* does not exist/) });
  });
  it('speaks TLS: StartTLS and ldaps:// trusting the configured CA, and refuses an unknown certificate', async () => {
    const flatCA = dir.ca.replace(/\n/g, ' '); // as pasted into a one-line form field
    expect(await connector({ startTLS: true, tlsCA: flatCA }).health()).toMatchObject({ ok: true });
    expect(await connector({ url: dir.ldapsUrl, tlsCA: dir.ca }).health()).toMatchObject({ ok: true });
    const untrusted = await connector({ url: dir.ldapsUrl }).health();
    expect(untrusted).toMatchObject({ ok: false, message: expect.stringMatching(/certificate/i) });
    expect(await connector({ url: dir.ldapsUrl, tlsRejectUnauthorized: false }).health()).toMatchObject({
      ok: true,
    });
  });
});

describe('LDAP connector: grants', () => {
  it('adds and removes the requester’s DN, idempotently; a person bound to the directory sees the group go', async () => {
    const ada = await person('Ada Lovelace', { password: `pw-${s}` });
    const c = connector();
    const sp = spec(`group:${devs}`, ada.mail.toUpperCase()); // email case does not matter to mail's matching rule
    const { handle } = await c.grant(sp);
    expect(handle).toMatchObject({ member: ada.dn, shareKey: c.accessKey(handle) });
    await c.grant(sp);
    expect(await root.isMember(devs, ada.dn)).toBe(true);
    expect(await c.check(sp, handle)).toBe(true);

    // What an application does: bind as the person and look up their groups.
    const app = new Client({ url: dir.url });
    await app.bind(ada.dn, `pw-${s}`);
    const groupsOfAda = async () =>
      (
        await app.search(groupsDN, {
          filter: new EqualityFilter({ attribute: 'member', value: ada.dn }),
          attributes: ['cn'],
        })
      ).searchEntries.map((e) => e.cn);
    expect(await groupsOfAda()).toEqual(['devs']);
    await c.extend(sp, handle, new Date(Date.now() + 7_200_000)); // nothing to move; membership stays
    expect(await root.isMember(devs, ada.dn)).toBe(true);

    await c.revoke(sp, handle);
    await c.revoke(sp, handle);
    expect(await root.isMember(devs, ada.dn)).toBe(false);
    // The same connection, still open, sees the membership gone on its next read.
    expect(await groupsOfAda()).toEqual([]);
    await app.unbind();
    expect(await membersOf(devs)).toEqual([dir.bindDN]);
  });

  it('refuses a requester the directory does not know, or knows twice, changing nothing', async () => {
    const c = connector();
    await expect(c.grant(spec(`group:${devs}`, `nobody-${s}@example.com`))).rejects.toThrow(
      new RegExp(`no entry under ${people} has mail=nobody-${s}@example.com`),
    );
    const twin = `twin-${s}@example.com`;
    await person('Twin One', { mail: twin });
    await person('Twin Two', { mail: twin });
    await expect(c.grant(spec(`group:${devs}`, twin))).rejects.toThrow(/2 entries .* refusing to pick one/);
    await expect(c.grant(spec(`group:${devs}`, twin, { permission: 'admin' }))).rejects.toThrow(
      /only the permission "member"/,
    );
    await expect(c.grant(spec(`group:${unmanaged}`, twin))).rejects.toThrow(
      /not a group this integration manages/,
    );
    expect(await membersOf(devs)).toEqual([dir.bindDN]);
  });

  it('takes an email as a value, never as filter syntax', async () => {
    const victim = await person('Victim', { mail: `victim-${s}@example.com` });
    const c = connector();
    for (const email of [
      '*',
      `victim-${s}*`,
      `*)(mail=victim-${s}@example.com`,
      `x)(|(mail=*`,
      `victim-${s}@example.com\0`,
    ])
      await expect(c.grant(spec(`group:${devs}`, email))).rejects.toThrow(/no entry|control characters/);
    expect(await root.isMember(devs, victim.dn)).toBe(false);
    // A real address full of filter characters finds exactly its owner.
    const odd = await person('Odd Mail', { mail: `a*(b)\\c-${s}@example.com` });
    await person('Near Miss', { mail: `a-anything-(b)\\c-${s}@example.com` });
    const sp = spec(`group:${devs}`, odd.mail);
    const { handle } = await c.grant(sp);
    expect(await membersOf(devs)).toEqual([dir.bindDN, odd.dn].sort());
    await c.revoke(sp, handle);
  });

  const hostile = [
    'comma, plus+ quote" backslash\\ lt< gt> semi; eq=',
    'star* parens() ampersand& pipe|',
    '#leading hash',
    ' leading and trailing space ',
    'nul\0inside',
    'zoë 名前 🙂',
  ];
  it.each(hostile)('a person named %j is granted, listed and revoked exactly', async (name) => {
    const p = await person(name);
    const c = connector();
    const before = await membersOf(ops);
    const sp = spec(`group:${ops}`, p.mail);
    const { handle } = await c.grant(sp);
    expect(await root.isMember(ops, p.dn)).toBe(true);
    expect(await c.check(sp, handle)).toBe(true);
    const entry = (await c.listAccess()).find((e) => e.key === c.accessKey(handle));
    expect(entry).toMatchObject({ resourceId: `group:${ops}`, email: p.mail, madeByLatch: false });
    await c.revoke(sp, handle);
    expect(await root.isMember(ops, p.dn)).toBe(false);
    expect(await membersOf(ops)).toEqual(before);
  });

  it('a group set is all or nothing: a missing group undoes the memberships the grant added, not those there before', async () => {
    const p = await person('Set Person');
    const c = connector({ groupSets: { oncall: [devs, ops, `cn=gone,${groupsDN}`] } });
    await root.addMember(ops, p.dn); // held before, by hand
    await expect(c.grant(spec('set:oncall', p.mail))).rejects.toThrow(/cn=gone.*does not exist/);
    expect(await root.isMember(devs, p.dn)).toBe(false);
    expect(await root.isMember(ops, p.dn)).toBe(true);
    await root.removeMember(ops, p.dn);
  });
});

describe('LDAP connector: what Latch must not touch', () => {
  it('refuses handles naming its own account, an ignored member, or a group it does not manage', async () => {
    const c = connector({ ignoreMembers: [nobody] });
    const p = await person('Guarded');
    await root.addMember(unmanaged, p.dn);
    const sp = spec(`group:${devs}`, p.mail);
    const handle = (groups: string[], member: string) => ({
      resourceId: `group:${groups[0]}`,
      groups: JSON.stringify(groups),
      member,
      memberValue: 'dn',
    });
    const outcomes = await c.revokeMany([
      { spec: sp, handle: handle([devs], dir.bindDN) },
      { spec: sp, handle: handle([admins], nobody) },
      { spec: sp, handle: handle([unmanaged], p.dn) },
      // An escaped comma is part of a value: this group is not under groupsDN.
      { spec: sp, handle: handle([`cn=x\\,${groupsDN}`], p.dn) },
    ]);
    expect(outcomes.map((o) => o?.message)).toEqual([
      expect.stringMatching(/Latch's own account/),
      expect.stringMatching(/ignoreMembers/),
      expect.stringMatching(/not a group this integration manages/),
      expect.stringMatching(/not a group this integration manages/),
    ]);
    expect(await root.isMember(devs, dir.bindDN)).toBe(true);
    expect(await root.isMember(admins, nobody)).toBe(true);
    expect(await root.isMember(unmanaged, p.dn)).toBe(true);
    await expect(c.grant(spec(`group:${devs}`, 'x', { requesterEmail: '' }))).rejects.toThrow(/no entry/);
    expect((await c.listAccess()).some((e) => e.account === nobody || e.account === dir.bindDN)).toBe(false);
  });

  it('revokeMany gives each item its own outcome: the last member of a groupOfNames is kept, with the reason', async () => {
    const c = connector();
    const [soloHolder] = await membersOf(solo);
    const p = await person('Many');
    const granted = await c.grant(spec(`group:${devs}`, p.mail));
    const outcomes = await c.revokeMany([
      {
        spec: spec(`group:${solo}`, 'x'),
        handle: {
          resourceId: `group:${solo}`,
          groups: JSON.stringify([solo]),
          member: soloHolder!,
          memberValue: 'dn',
        },
      },
      { spec: spec(`group:${devs}`, p.mail), handle: granted.handle },
    ]);
    expect(outcomes[0]?.message).toMatch(/must keep one member.*placeholder/);
    expect(outcomes[1]).toBeNull();
    expect(await membersOf(solo)).toEqual([soloHolder]);
    expect(await root.isMember(devs, p.dn)).toBe(false);
  });
});

describe('LDAP connector: listAccess', () => {
  it('lists hand-given memberships with the email, matches DNs however they are spelled, and lists a full group set once', async () => {
    const c = connector({ groupSets: { oncall: [devs, ops] } });
    const standing = await person('Standing Person');
    await root.addMember(nested, standing.dn.toUpperCase());
    const holder = await person('Set Holder');
    const granted = await c.grant(spec('set:oncall', holder.mail));
    // The same person granted nested by Latch: one membership, one key, however slapd spells it.
    const sameAsStanding = await c.grant(spec(`group:${nested}`, standing.mail));
    const entries = await c.listAccess();

    const mine = entries.filter((e) => e.account === holder.dn);
    expect(mine).toEqual([
      expect.objectContaining({
        key: c.accessKey(granted.handle),
        resourceId: 'set:oncall',
        email: holder.mail,
      }),
    ]);
    const theirs = entries.filter((e) => e.resourceId === `group:${nested}` && e.email === standing.mail);
    expect(theirs).toHaveLength(1);
    expect(theirs[0]!.key).toBe(c.accessKey(sameAsStanding.handle));

    // Revoking what listAccess gave removes exactly that membership.
    await c.revoke(spec(`group:${nested}`, ''), theirs[0]!.handle);
    expect(await root.isMember(nested, standing.dn)).toBe(false);
    // Half a set is listed per group, so it can be converted or removed on its own.
    await root.removeMember(ops, holder.dn);
    const half = (await c.listAccess()).filter((e) => e.account === holder.dn);
    expect(half.map((e) => e.resourceId)).toEqual([`group:${devs}`]);
    expect(await c.check(spec('set:oncall', holder.mail), granted.handle)).toBe(false);
    await c.revoke(spec('set:oncall', holder.mail), granted.handle);
    expect(await root.isMember(devs, holder.dn)).toBe(false);
  });
});

describe('LDAP connector: other group kinds', () => {
  it('posixGroup: memberUid holds the uid', async () => {
    const c = connector({
      groupsDN: `ou=posix,${top}`,
      groupObjectClass: 'posixGroup',
      memberAttribute: 'memberUid',
      memberValue: 'uid',
    });
    const p = await person('Posix Person');
    expect((await c.discover()).map((r) => r.id)).toEqual([`group:${posix}`]);
    const sp = spec(`group:${posix}`, p.mail);
    const { handle } = await c.grant(sp);
    expect(await membersOf(posix, 'memberUid')).toEqual([p.uid]);
    expect(await c.checkMany([{ spec: sp, handle }])).toEqual([true]);
    const entries = await c.listAccess();
    expect(entries).toEqual([
      expect.objectContaining({
        account: p.uid,
        email: p.mail,
        key: c.accessKey(handle),
        resourceId: `group:${posix}`,
      }),
    ]);
    await c.revoke(sp, handle);
    expect(await membersOf(posix, 'memberUid')).toEqual([]);
    expect(await c.check(sp, handle)).toBe(false);
  });

  it('groupOfUniqueNames: uniqueMember holds the DN', async () => {
    const c = connector({
      groupsDN: `ou=uniq,${top}`,
      groupObjectClass: 'groupOfUniqueNames',
      memberAttribute: 'uniqueMember',
    });
    const p = await person('Unique Person');
    const sp = spec(`group:${uniq}`, p.mail);
    const { handle } = await c.grant(sp);
    expect(await root.isMember(uniq, p.dn, 'uniqueMember')).toBe(true);
    await c.revoke(sp, handle);
    expect(await membersOf(uniq, 'uniqueMember')).toEqual([dir.bindDN]);
  });
});
