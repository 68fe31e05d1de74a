/**
 * The Redis integration's settings as a form shows them (the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab"): one field per key of the config schema (config.ts).
 * test/unit/connector-forms.test.ts checks they stay the same keys.
 */
import type { ConnectorForm } from '../types.js';

export const redisForm: ConnectorForm = {
  fields: [
    { key: 'host', label: 'Host', kind: 'text', required: true, hint: 'e.g. cache.internal' },
    { key: 'port', label: 'Port', kind: 'number', default: 6379 },
    {
      key: 'username',
      label: 'ACL user',
      kind: 'text',
      default: 'default',
      hint: "Latch's own user: needs +acl (and +config|get +multi +exec +info +ping).",
    },
    { key: 'tls', label: 'Connect with TLS', kind: 'boolean', default: false },
    {
      key: 'resources',
      label: 'Resources',
      kind: 'yaml',
      required: true,
      hint: "- name: app\n  keys: ['app:*']\n  channels: ['app-events']",
    },
    {
      key: 'permissions',
      label: 'Permissions (command rules)',
      kind: 'yaml',
      hint: "Replaces or adds permissions, e.g. read: ['+@read', '+@connection', '-@dangerous']",
    },
    { key: 'userPrefix', label: 'ACL user prefix', kind: 'text', default: 'latch_' },
  ],
  secrets: [{ key: 'password', label: 'Password', hint: 'The password of the ACL user above.' }],
};
