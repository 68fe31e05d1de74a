/**
 * The PostgreSQL integration's settings as a form shows them (the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab"): one field per key of postgresConfigSchema (config.ts),
 * with its default. test/unit/connector-forms.test.ts checks they stay the same keys.
 */
import type { ConnectorForm } from '../types.js';

export const postgresForm: ConnectorForm = {
  fields: [
    { key: 'host', label: 'Host', kind: 'text', required: true, hint: 'e.g. db.internal' },
    { key: 'port', label: 'Port', kind: 'number', default: 5432 },
    {
      key: 'user',
      label: 'User',
      kind: 'text',
      required: true,
      hint: "Latch's own account: a superuser, or one with CREATEROLE.",
    },
    { key: 'database', label: 'Database Latch connects to', kind: 'text', default: 'postgres' },
    { key: 'ssl', label: 'Connect with TLS (ssl)', kind: 'boolean', default: false },
    {
      key: 'mode',
      label: 'Mode',
      kind: 'select',
      options: ['temporary_login', 'existing_login'],
      default: 'temporary_login',
      hint: 'temporary_login: a login per grant; existing_login: the requester’s own login joins a group role.',
    },
    {
      key: 'databases',
      label: 'Databases to discover',
      kind: 'list',
      hint: 'Comma-separated. Empty: every database.',
    },
    { key: 'rolePrefix', label: 'Role prefix', kind: 'text', default: 'latch_' },
    { key: 'poolSize', label: 'Connection pool size', kind: 'number', default: 10 },
    {
      key: 'roleMap.read',
      label: 'existing_login: group role for read',
      kind: 'text',
    },
    { key: 'roleMap.write', label: 'existing_login: group role for write', kind: 'text' },
    { key: 'roleMap.admin', label: 'existing_login: group role for admin', kind: 'text' },
    {
      key: 'loginMapping',
      label: 'existing_login: login of each requester',
      kind: 'yaml',
      default: 'email_localpart',
      hint: 'email_localpart, email, or map: {ada@example.com: ada}',
    },
  ],
  secrets: [
    {
      key: 'password',
      label: 'Password',
      hint: 'The password of the user above.',
    },
  ],
};
