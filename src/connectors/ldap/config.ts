import { FilterParser } from 'ldapts';
import { z } from 'zod';
import { settingsIssues } from '../settings.js';
import type { ConnectorValidator } from '../types.js';
import { isDN } from './dn.js';

const dn = z.string().min(1).refine(isDN, 'must be a DN, e.g. ou=groups,dc=example,dc=com');
/** An attribute description as it goes into a filter or a modify: a name or an OID, nothing else. */
const attribute = z
  .string()
  .regex(/^(?:[A-Za-z][A-Za-z0-9-]*|\d+(?:\.\d+)*)$/, 'must be an attribute name such as mail');

function parsesAsFilter(s: string): boolean {
  try {
    FilterParser.parseString(s);
    return true;
  } catch {
    return false;
  }
}

/** The fields, without the rules between them (the form lists exactly these keys). */
export const ldapConfigFields = z.object({
  /** ldap://host:389 or ldaps://host:636. */
  url: z.string().regex(/^ldaps?:\/\/[^/\s]+\/?$/i, 'must be ldap://host[:port] or ldaps://host[:port]'),
  /** Latch's own account: reads the directory, writes the groups' member attribute. */
  bindDN: dn,
  /** Where people are: the requester is found under it by userAttribute = their email. */
  baseDN: dn,
  /** Every group (of groupObjectClass) under it is a resource. */
  groupsDN: dn.optional(),
  /** Groups offered as resources by DN, in addition to (or instead of) those under groupsDN. */
  groups: z.array(dn).default([]),
  /** A group set is a resource that is membership of several groups at once (all or nothing). */
  groupSets: z.record(z.string().min(1), z.array(dn).min(1)).default({}),
  groupObjectClass: attribute.default('groupOfNames'),
  /** member (groupOfNames), uniqueMember (groupOfUniqueNames), memberUid (posixGroup)... */
  memberAttribute: attribute.default('member'),
  /** What a member value is: the person's DN, or their uid (posixGroup's memberUid). */
  memberValue: z.enum(['dn', 'uid']).default('dn'),
  /** The people's attribute holding their email. */
  userAttribute: attribute.default('mail'),
  /** The people's attribute holding their uid, for memberValue uid. */
  uidAttribute: attribute.default('uid'),
  /** An extra LDAP filter people must match, e.g. (objectClass=inetOrgPerson). */
  userFilter: z
    .string()
    .refine(parsesAsFilter, 'must be an LDAP filter, e.g. (objectClass=person)')
    .optional(),
  /** Members that are not access (placeholders, service accounts): never listed, never removed. */
  ignoreMembers: z.array(z.string().min(1)).default([]),
  startTLS: z.boolean().default(false),
  /** PEM of the CA that signed the server's certificate (ldaps:// or startTLS). */
  tlsCA: z.string().optional(),
  tlsRejectUnauthorized: z.boolean().default(true),
  timeoutMs: z.number().int().min(100).max(300_000).default(10_000),
});

type Fields = z.infer<typeof ldapConfigFields>;

function rules(c: Fields, ctx: z.RefinementCtx): void {
  if (c.groupsDN === undefined && c.groups.length === 0 && Object.keys(c.groupSets).length === 0)
    ctx.addIssue({
      code: 'custom',
      message: 'set groupsDN, groups or groupSets: which groups Latch manages',
      path: ['groupsDN'],
    });
  if (c.startTLS && /^ldaps:/i.test(c.url))
    ctx.addIssue({
      code: 'custom',
      message: 'startTLS is for ldap:// URLs; ldaps:// is TLS already',
      path: ['startTLS'],
    });
}

export const ldapConfigSchema = ldapConfigFields.superRefine(rules);

export const ldapSecretsSchema = z.object({
  bindPassword: z.string().optional(),
});

/** Checks an LDAP integration's settings before they are stored; unknown keys are reported. */
export const validateLdapSettings: ConnectorValidator = (config, secrets) => [
  ...settingsIssues(z.strictObject(ldapConfigFields.shape).superRefine(rules), config, 'config'),
  ...settingsIssues(z.strictObject(ldapSecretsSchema.shape), secrets, 'secrets'),
];

export type LdapConfig = z.infer<typeof ldapConfigSchema>;
export type LdapSecrets = z.infer<typeof ldapSecretsSchema>;
