/**
 * DNs as the LDAP connector reads and writes them (src/connectors/ldap/dn.ts): values escaped per
 * RFC 4514 parse back to themselves, DNs spelled differently compare equal, and "is under" is
 * decided RDN by RDN.
 */
import { describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { rewrapPem } from '../../src/connectors/ldap/client.js';
import { escapeDNValue, isAtOrUnder, normalizeDN, parseDN, rdn } from '../../src/connectors/ldap/dn.js';
import { accessKeyOf, handleOf } from '../../src/connectors/ldap/names.js';

describe('LDAP DNs', () => {
  it('escapes what RFC 4514 requires, and nothing that changes unicode', () => {
    expect(escapeDNValue('Sue, Grabbit and Runn')).toBe('Sue\\, Grabbit and Runn');
    expect(escapeDNValue('a+b"c\\d<e>f;g=h')).toBe('a\\+b\\"c\\\\d\\<e\\>f\\;g\\=h');
    expect(escapeDNValue('#x')).toBe('\\#x');
    expect(escapeDNValue('x#')).toBe('x#');
    expect(escapeDNValue(' x ')).toBe('\\ x\\ ');
    expect(escapeDNValue('a\0b')).toBe('a\\00b');
    expect(escapeDNValue('zoë 名前 🙂')).toBe('zoë 名前 🙂');
    expect(rdn('cn', 'Lu, C')).toBe('cn=Lu\\, C');
  });

  it('parses RFC 4514 examples, hex escapes and the older forms servers still send', () => {
    expect(parseDN('UID=jsmith,DC=example,DC=net')).toEqual([
      [{ type: 'UID', value: 'jsmith' }],
      [{ type: 'DC', value: 'example' }],
      [{ type: 'DC', value: 'net' }],
    ]);
    expect(parseDN('OU=Sales+CN=J.  Smith,DC=example,DC=net')[0]).toEqual([
      { type: 'OU', value: 'Sales' },
      { type: 'CN', value: 'J.  Smith' },
    ]);
    expect(parseDN('CN=James \\"Jim\\" Smith\\, III,DC=example,DC=net')[0]![0]!.value).toBe(
      'James "Jim" Smith, III',
    );
    expect(parseDN('CN=Before\\0dAfter,DC=example,DC=net')[0]![0]!.value).toBe('Before\rAfter');
    expect(parseDN('1.3.6.1.4.1.1466.0=#04024869,DC=example,DC=com')[0]![0]!.value).toBe('#04024869');
    expect(parseDN('CN=Lu\\C4\\8Di\\C4\\87')[0]![0]!.value).toBe('Lučić');
    expect(parseDN('cn="a, b" ; ou = x')).toEqual([
      [{ type: 'cn', value: 'a, b' }],
      [{ type: 'ou', value: 'x' }],
    ]);
    expect(parseDN('cn=trailing\\ ,dc=x')[0]![0]!.value).toBe('trailing ');
    expect(parseDN('')).toEqual([]);
    for (const bad of ['cn', 'cn=a,', '=a', 'cn=a\\zz', 'cn="open', 'c n=a', 'cn=\\FF'])
      expect(() => parseDN(bad)).toThrow(/not a valid DN/);
  });

  it('escape then parse gives back any value, random ones included', () => {
    const specials = [',', '+', '"', '\\', '<', '>', ';', '=', '#', ' ', '\0', '*', '(', ')', 'é', '🙂', 'a'];
    const values = ['#', ' ', '  ', '\\', '\0', ' # ', 'x'.repeat(300)];
    for (let i = 0; i < 500; i++) {
      const bytes = randomBytes(12);
      values.push([...bytes].map((b) => specials[b % specials.length]).join(''));
    }
    for (const v of values) {
      const parsed = parseDN(`${rdn('cn', v)},ou=people,dc=x`);
      expect(parsed).toHaveLength(3);
      expect(parsed[0]).toEqual([{ type: 'cn', value: v }]);
    }
  });

  it('compares DNs as the server would, however they are spelled', () => {
    const canonical = normalizeDN('cn=Ada Lovelace,ou=People,dc=example,dc=com');
    for (const spelling of [
      'CN=ada lovelace,OU=people,DC=EXAMPLE,DC=COM',
      'cn=Ada  Lovelace, ou=People, dc=example, dc=com',
      'cn=\\41da Lovelace,ou=People,dc=example,dc=com',
      'cn="Ada Lovelace";ou=People;dc=example;dc=com',
    ])
      expect(normalizeDN(spelling)).toBe(canonical);
    expect(normalizeDN('cn=a+uid=b,dc=x')).toBe(normalizeDN('UID=B+CN=A,dc=x'));
    expect(normalizeDN('cn=a\\,b,dc=x')).not.toBe(normalizeDN('cn=a,cn=b,dc=x'));
  });

  it('decides "under" RDN by RDN: an escaped comma is not a level', () => {
    expect(isAtOrUnder('cn=ops,ou=groups,dc=x', 'ou=groups,dc=x')).toBe(true);
    expect(isAtOrUnder('cn=ops,ou=team,OU=Groups,dc=x', 'ou=groups,dc=x')).toBe(true);
    expect(isAtOrUnder('ou=groups,dc=x', 'ou=groups,dc=x')).toBe(true);
    expect(isAtOrUnder('cn=ops\\,ou=groups,dc=x', 'ou=groups,dc=x')).toBe(false);
    expect(isAtOrUnder('cn=ops,ou=othergroups,dc=x', 'ou=groups,dc=x')).toBe(false);
    expect(isAtOrUnder('dc=x', 'ou=groups,dc=x')).toBe(false);
  });

  it('gives one access key for one membership, however the handle spells the DNs', () => {
    const a = handleOf({
      resourceId: 'group:cn=ops,dc=x',
      groups: ['cn=ops,dc=x'],
      member: 'cn=Ada,dc=x',
      memberValue: 'dn',
    });
    const b = handleOf({
      resourceId: 'group:CN=OPS,DC=X',
      groups: ['CN=OPS,DC=X'],
      member: 'CN=ada,DC=x',
      memberValue: 'dn',
    });
    expect(accessKeyOf(a)).toBe(accessKeyOf(b));
    expect(a.shareKey).toBe(accessKeyOf(a));
    const uid = handleOf({
      resourceId: 'group:cn=ops,dc=x',
      groups: ['cn=ops,dc=x'],
      member: 'Ada',
      memberValue: 'uid',
    });
    const other = handleOf({
      resourceId: 'group:cn=ops,dc=x',
      groups: ['cn=ops,dc=x'],
      member: 'ada',
      memberValue: 'uid',
    });
    expect(accessKeyOf(uid)).not.toBe(accessKeyOf(other)); // memberUid matches exactly
    expect(accessKeyOf({})).toBe('');
  });

  it('re-wraps a PEM whose line breaks were lost in a form', () => {
    const body = randomBytes(120).toString('base64');
    const pem = `-----BEGIN CERTIFICATE-----\n${body.match(/.{1,64}/g)!.join('\n')}\n-----END CERTIFICATE-----\n`;
    expect(rewrapPem(pem.replace(/\n/g, ' '))).toBe(pem);
    expect(rewrapPem(pem.replace(/\n/g, ''))).toBe(pem);
    expect(rewrapPem(pem)).toBe(pem);
  });
});
