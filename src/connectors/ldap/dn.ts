/**
 * Distinguished names as strings (RFC 4514). The directory hands out DNs and Latch mostly passes
 * them back untouched; what it does itself is escape an attribute value into an RDN (tests and
 * tools build entries for hostile names), and compare DNs the way the server would, since one
 * entry can be spelled `CN=Ada,OU=People` or `cn=ada,ou=people` or `cn=\41da,ou=people`.
 */

export interface AttributeValue {
  type: string;
  /** The unescaped value; a `#`-hex (BER) value is kept as written, lowercased. */
  value: string;
}

/** One RDN: usually one type=value, several for a multi-valued RDN (`cn=a+uid=b`). */
export type Rdn = AttributeValue[];

/**
 * Escapes a value for use in an RDN (RFC 4514 section 2.4): `"` `+` `,` `;` `<` `>` `\` always,
 * `=` for good measure, `#` and space at the start, space at the end, and NUL as `\00`. Everything
 * else (unicode included) is written as is.
 */
export function escapeDNValue(value: string): string {
  let out = '';
  const chars = [...value];
  chars.forEach((ch, i) => {
    if (ch === '\0') out += '\\00';
    else if ('"+,;<>\\='.includes(ch)) out += `\\${ch}`;
    else if (i === 0 && (ch === '#' || ch === ' ')) out += `\\${ch}`;
    else if (i === chars.length - 1 && ch === ' ') out += '\\ ';
    else out += ch;
  });
  return out;
}

/** `type=value` with the value escaped, for building a DN from parts. */
export const rdn = (type: string, value: string): string => `${type}=${escapeDNValue(value)}`;

const TYPE = /^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)$/;
const HEX2 = /^[0-9A-Fa-f]{2}$/;
const SPECIAL = ' "#+,;<=>\\';

/**
 * Parses a DN string into its RDNs, leftmost first. Accepts what RFC 4514 writes and what older
 * servers send (RFC 2253's quoted values, `;` between RDNs, spaces around separators). Throws on
 * anything else, naming the DN.
 */
export function parseDN(dn: string): Rdn[] {
  const fail = (why: string): never => {
    throw new Error(`not a valid DN: ${JSON.stringify(dn)} (${why})`);
  };
  const rdns: Rdn[] = [];
  if (dn.trim() === '') return rdns;
  let i = 0;
  let current: Rdn = [];
  const skipSpaces = () => {
    while (dn[i] === ' ') i++;
  };
  for (;;) {
    skipSpaces();
    const eq = dn.indexOf('=', i);
    if (eq < 0) fail('an attribute type without =');
    const type = dn.slice(i, eq).trim();
    if (!TYPE.test(type)) fail(`bad attribute type ${JSON.stringify(type)}`);
    i = eq + 1;
    skipSpaces();
    let value: string;
    if (dn[i] === '#') {
      const m = /^#((?:[0-9A-Fa-f]{2})+)/.exec(dn.slice(i));
      if (!m) fail('bad #hex value');
      value = `#${m![1]!.toLowerCase()}`;
      i += m![0].length;
      skipSpaces();
    } else {
      const bytes: number[] = [];
      const quoted = dn[i] === '"';
      if (quoted) i++;
      // Unescaped trailing spaces are not part of the value; escaped ones are.
      let keep = 0;
      for (;;) {
        const ch = dn[i];
        if (ch === undefined) {
          if (quoted) fail('an unterminated quoted value');
          break;
        }
        if (quoted && ch === '"') {
          i++;
          keep = bytes.length;
          skipSpaces();
          break;
        }
        if (!quoted && (ch === ',' || ch === '+' || ch === ';')) break;
        if (ch === '\\') {
          const pair = dn.slice(i + 1, i + 3);
          if (HEX2.test(pair)) {
            bytes.push(parseInt(pair, 16));
            i += 3;
          } else if (dn[i + 1] !== undefined && SPECIAL.includes(dn[i + 1]!)) {
            bytes.push(dn.charCodeAt(i + 1));
            i += 2;
          } else fail(`a bad escape at position ${i}`);
          keep = bytes.length;
          continue;
        }
        if (ch === '\0') fail('an unescaped NUL');
        const cp = dn.codePointAt(i)!;
        const s = String.fromCodePoint(cp);
        bytes.push(...Buffer.from(s, 'utf8'));
        i += s.length;
        if (ch !== ' ') keep = bytes.length;
      }
      try {
        value = new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(bytes.slice(0, keep)));
      } catch {
        fail('a value that is not UTF-8');
      }
    }
    current.push({ type, value: value! });
    const sep = dn[i];
    if (sep === undefined) break;
    if (sep !== ',' && sep !== '+' && sep !== ';') fail(`unexpected ${JSON.stringify(sep)} at ${i}`);
    i++;
    if (sep !== '+') {
      rdns.push(current);
      current = [];
    }
    if (dn.slice(i).trim() === '') fail('a separator at the end');
  }
  rdns.push(current);
  return rdns;
}

/** True when `dn` parses as a DN. */
export function isDN(dn: string): boolean {
  try {
    parseDN(dn);
    return true;
  } catch {
    return false;
  }
}

/**
 * A DN in one comparable spelling: attribute types and values lowercased, runs of spaces in a value
 * made one, the values of a multi-valued RDN sorted. It follows the case-ignoring matching rules
 * that naming attributes (cn, uid, ou, dc) use in practice; it does not know attribute aliases
 * (`commonName` for `cn`).
 */
export function normalizeDN(dn: string): string {
  return normalizedRdns(dn).join(',');
}

function normalizedRdns(dn: string): string[] {
  return parseDN(dn).map((r) =>
    r
      .map(({ type, value }) => {
        const v = value.startsWith('#') ? value : value.toLowerCase().replace(/\s+/g, ' ').trim();
        return `${type.toLowerCase()}=${escapeDNValue(v)}`;
      })
      .sort()
      .join('+'),
  );
}

/**
 * Is `dn` at or below `base`? Compared RDN by RDN: as strings, `cn=x\,ou=groups,dc=t` would seem
 * to end with `,ou=groups,dc=t`.
 */
export function isAtOrUnder(dn: string, base: string): boolean {
  const d = normalizedRdns(dn);
  const b = normalizedRdns(base);
  if (b.length > d.length) return false;
  return b.every((r, k) => d[d.length - b.length + k] === r);
}
