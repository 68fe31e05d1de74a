/**
 * A throwaway OpenLDAP directory for tests: LDAP_URL + LDAP_TEST (JSON) win when set, otherwise
 * Debian's slapd on a free loopback port with a generated slapd.conf in a temp dir (back_mdb, the
 * core/cosine/inetorgperson/nis schemas, no fsync), also on ldaps:// and with StartTLS, with a
 * certificate from a throwaway CA. It is seeded with the suffix, ou=people,
 * ou=groups, and a service account for Latch whose rights are only what the README asks an admin to
 * give: read the directory, write the member attributes.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Client } from 'ldapts';
import { freePort } from '../../src/store/embedded-mongo.js';

/** What a test needs to reach the directory: its root account (the oracle) and Latch's service account. */
export interface LdapTestDirectory {
  url: string;
  /** ldaps:// on another port; both it and StartTLS on `url` present a certificate signed by `ca`. */
  ldapsUrl: string;
  /** PEM of the CA that signed the server's certificate (for 127.0.0.1). */
  ca: string;
  suffix: string;
  rootDN: string;
  rootPassword: string;
  bindDN: string;
  bindPassword: string;
}

export interface LdapServer extends LdapTestDirectory {
  stop(): Promise<void>;
}

const SUFFIX = 'dc=latch,dc=test';
const ROOT_DN = `cn=admin,${SUFFIX}`;
const BIND_DN = `cn=latch,ou=services,${SUFFIX}`;

function findSlapd(): string {
  for (const p of ['/usr/sbin/slapd', '/usr/local/libexec/slapd']) if (existsSync(p)) return p;
  const which = spawnSync('which', ['slapd'], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  throw new Error("slapd not found: install Debian's slapd package (apt-get install -y slapd ldap-utils)");
}

/** A throwaway CA and a certificate for 127.0.0.1 signed by it, made with openssl. */
function makeCertificates(dir: string): void {
  const run = (args: string[]) =>
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  run([
    'req',
    '-x509',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=Latch test CA',
  ]);
  run([
    'req',
    '-newkey',
    'rsa:2048',
    '-nodes',
    '-keyout',
    'server.key',
    '-out',
    'server.csr',
    '-subj',
    '/CN=127.0.0.1',
  ]);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  run([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  ]);
}

function slapdConf(dir: string, rootPassword: string): string {
  const schema = (name: string) => `include /etc/ldap/schema/${name}.schema`;
  return [
    ...['core', 'cosine', 'inetorgperson', 'nis'].map(schema),
    `pidfile ${dir}/slapd.pid`,
    `TLSCACertificateFile ${dir}/ca.pem`,
    `TLSCertificateFile ${dir}/server.pem`,
    `TLSCertificateKeyFile ${dir}/server.key`,
    `argsfile ${dir}/slapd.args`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'database mdb',
    `suffix "${SUFFIX}"`,
    `rootdn "${ROOT_DN}"`,
    `rootpw ${rootPassword}`,
    `directory ${dir}/data`,
    'maxsize 268435456',
    'dbnosync',
    'index objectClass,mail,uid,member,memberUid,uniqueMember eq',
    // Latch's account may change memberships and read; nothing else.
    'access to attrs=userPassword by anonymous auth by * none',
    `access to attrs=member,uniqueMember,memberUid by dn.exact="${BIND_DN}" write by users read by * none`,
    'access to * by users read by * none',
    // Reconciliation pages through every person once; as a directory admin would, let Latch's
    // account have all pages (slapd's default stops paged searches at 500 entries too).
    `limits dn.exact="${BIND_DN}" size.soft=unlimited size.hard=unlimited size.prtotal=unlimited`,
    '',
  ].join('\n');
}

function seed(bindPassword: string): string {
  return `dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
dc: latch
o: Latch tests

dn: ou=people,${SUFFIX}
objectClass: organizationalUnit
ou: people

dn: ou=groups,${SUFFIX}
objectClass: organizationalUnit
ou: groups

dn: ou=services,${SUFFIX}
objectClass: organizationalUnit
ou: services

dn: ${BIND_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: latch
userPassword: ${bindPassword}
`;
}

async function waitForBind(dir: LdapTestDirectory): Promise<void> {
  let last: unknown;
  for (let i = 0; i < 100; i++) {
    const client = new Client({ url: dir.url, connectTimeout: 1000 });
    try {
      await client.bind(dir.rootDN, dir.rootPassword);
      await client.unbind();
      return;
    } catch (err) {
      last = err;
      await sleep(100);
    }
  }
  throw new Error(`slapd did not come up at ${dir.url}: ${String(last)}`);
}

export async function startLdap(): Promise<LdapServer> {
  if (process.env.LDAP_URL && process.env.LDAP_TEST) {
    return { ...(JSON.parse(process.env.LDAP_TEST) as LdapTestDirectory), stop: async () => {} };
  }
  const slapd = findSlapd();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'latch-ldap-'));
  mkdirSync(path.join(dir, 'data'));
  const rootPassword = `root-${Math.random().toString(36).slice(2)}`;
  const bindPassword = `latch-${Math.random().toString(36).slice(2)}`;
  const conf = path.join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir, rootPassword));
  writeFileSync(path.join(dir, 'seed.ldif'), seed(bindPassword));
  execFileSync('/usr/sbin/slapadd', ['-f', conf, '-l', path.join(dir, 'seed.ldif'), '-q'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  makeCertificates(dir);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const ldapsUrl = `ldaps://127.0.0.1:${await freePort()}`;
  // slapd forks into the background once it listens; its pid is in the pidfile.
  execFileSync(slapd, ['-f', conf, '-h', `${url}/ ${ldapsUrl}/`, '-s', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const directory: LdapTestDirectory = {
    url,
    ldapsUrl,
    ca: readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    suffix: SUFFIX,
    rootDN: ROOT_DN,
    rootPassword,
    bindDN: BIND_DN,
    bindPassword,
  };
  await waitForBind(directory);
  return {
    ...directory,
    stop: async () => {
      const pidFile = path.join(dir, 'slapd.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        try {
          process.kill(pid, 'SIGTERM');
          for (let i = 0; i < 100; i++) {
            process.kill(pid, 0);
            await sleep(50);
          }
        } catch {
          // gone
        }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
