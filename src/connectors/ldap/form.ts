/**
 * The LDAP integration's settings as a form shows them (the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab"): one field per key of ldapConfigFields (config.ts), with
 * its default. test/unit/connector-forms.test.ts checks they stay the same keys.
 */
import type { ConnectorForm } from '../types.js';

export const ldapForm: ConnectorForm = {
  fields: [
    {
      key: 'url',
      label: 'Server URL',
      kind: 'text',
      required: true,
      hint: 'ldap://dir.internal:389 or ldaps://dir.internal:636',
    },
    {
      key: 'bindDN',
      label: 'Bind DN',
      kind: 'text',
      required: true,
      hint: "Latch's own account: reads people and groups, writes the groups' member attribute.",
    },
    {
      key: 'baseDN',
      label: 'People base DN',
      kind: 'text',
      required: true,
      hint: 'Requesters are found under it by their email, e.g. ou=people,dc=example,dc=com',
    },
    {
      key: 'groupsDN',
      label: 'Groups base DN',
      kind: 'text',
      hint: 'Every group under it is a resource. Set this, groups or groupSets.',
    },
    // yaml, not list: a list field splits at commas, and DNs are full of them.
    {
      key: 'groups',
      label: 'Groups (DNs)',
      kind: 'yaml',
      hint: 'A YAML list of group DNs offered as resources too, e.g. [cn=ops,ou=groups,dc=example,dc=com]',
    },
    {
      key: 'groupSets',
      label: 'Group sets',
      kind: 'yaml',
      hint: 'name: [group DN, ...]: one resource giving membership of all those groups, all or nothing.',
    },
    { key: 'groupObjectClass', label: 'Group object class', kind: 'text', default: 'groupOfNames' },
    {
      key: 'memberAttribute',
      label: 'Member attribute',
      kind: 'text',
      default: 'member',
      hint: 'member (groupOfNames), uniqueMember (groupOfUniqueNames), memberUid (posixGroup)',
    },
    {
      key: 'memberValue',
      label: 'Member value',
      kind: 'select',
      options: ['dn', 'uid'],
      default: 'dn',
      hint: "dn: the person's DN; uid: their uid (posixGroup's memberUid).",
    },
    { key: 'userAttribute', label: 'Email attribute of people', kind: 'text', default: 'mail' },
    { key: 'uidAttribute', label: 'uid attribute of people', kind: 'text', default: 'uid' },
    {
      key: 'userFilter',
      label: 'Extra people filter',
      kind: 'text',
      hint: 'e.g. (objectClass=inetOrgPerson)',
    },
    {
      key: 'ignoreMembers',
      label: 'Members to ignore',
      kind: 'yaml',
      hint: 'A YAML list of DNs (or uids): placeholders and service accounts, never listed as access nor removed.',
    },
    { key: 'startTLS', label: 'StartTLS on ldap://', kind: 'boolean', default: false },
    {
      key: 'tlsCA',
      label: 'CA certificate (PEM)',
      kind: 'yaml',
      hint: 'For ldaps:// or StartTLS: paste the PEM (line breaks may be lost; Latch re-wraps it).',
    },
    {
      key: 'tlsRejectUnauthorized',
      label: "Verify the server's certificate",
      kind: 'boolean',
      default: true,
    },
    { key: 'timeoutMs', label: 'Timeout (ms)', kind: 'number', default: 10000 },
  ],
  secrets: [{ key: 'bindPassword', label: 'Bind password', hint: 'The password of the bind DN.' }],
};
