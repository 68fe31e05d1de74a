/**
 * The MySQL/MariaDB integration's settings as a form shows them (the Teams tab's integration
 * editor, docs/ARCHITECTURE.md, "Personal tab"): one field per key of mysqlConfigSchema (config.ts),
 * with its default. test/unit/connector-forms.test.ts checks they stay the same keys.
 */
import type { ConnectorForm } from '../types.js';

export const mysqlForm: ConnectorForm = {
  fields: [
    { key: 'host', label: 'Host', kind: 'text', required: true, hint: 'e.g. db.internal' },
    { key: 'port', label: 'Port', kind: 'number', default: 3306 },
    {
      key: 'user',
      label: 'User',
      kind: 'text',
      required: true,
      hint: "Latch's own account: CREATE USER, CONNECTION ADMIN, SELECT and UPDATE on mysql.*, ALL WITH GRANT OPTION on the databases.",
    },
    { key: 'ssl', label: 'Connect with TLS (ssl)', kind: 'boolean', default: false },
    {
      key: 'mode',
      label: 'Mode',
      kind: 'select',
      options: ['temporary_user', 'existing_user'],
      default: 'temporary_user',
      hint: 'temporary_user: an account per grant; existing_user: the requester’s own account gets a role.',
    },
    {
      key: 'databases',
      label: 'Databases to discover',
      kind: 'list',
      hint: 'Comma-separated. Empty: every database.',
    },
    { key: 'userPrefix', label: 'Temporary user prefix', kind: 'text', default: 'latch_' },
    {
      key: 'expiryEvents',
      label: 'Also drop temporary users by a scheduled EVENT at expiry',
      kind: 'boolean',
      default: true,
      hint: 'Used where the server’s event_scheduler is ON.',
    },
    { key: 'eventDatabase', label: 'Database for the expiry events', kind: 'text', default: 'latch' },
    { key: 'poolSize', label: 'Connection pool size', kind: 'number', default: 10 },
    { key: 'roleMap.read', label: 'existing_user: role for read', kind: 'text' },
    { key: 'roleMap.write', label: 'existing_user: role for write', kind: 'text' },
    { key: 'roleMap.admin', label: 'existing_user: role for admin', kind: 'text' },
    {
      key: 'loginMapping',
      label: 'existing_user: account of each requester',
      kind: 'yaml',
      default: 'email_localpart',
      hint: 'email_localpart, email, or map: {ada@example.com: ada}',
    },
    { key: 'loginHost', label: 'existing_user: host part of those accounts', kind: 'text', default: '%' },
  ],
  secrets: [{ key: 'password', label: 'Password', hint: 'The password of the user above.' }],
};
