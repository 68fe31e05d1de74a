/**
 * The Slack connector's settings as a form shows them (the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab"): one field per key of slackConnectorConfigSchema
 * (config.ts). test/unit/connector-forms.test.ts checks they stay the same keys.
 */
import type { ConnectorForm } from '../types.js';
import { DEFAULT_SLACK_API_URL } from './config.js';

export const slackConnectorForm: ConnectorForm = {
  fields: [
    {
      key: 'channels',
      label: 'Channels to manage',
      kind: 'list',
      hint: 'Channel names, comma-separated. Empty: every channel Latch’s Slack user is in (never #general).',
    },
    {
      key: 'usergroups',
      label: 'User groups to manage',
      kind: 'list',
      hint: 'Handles, comma-separated. Empty: every enabled user group.',
    },
    { key: 'retries', label: 'Retries of a failed call', kind: 'number', default: 3 },
    {
      key: 'apiUrl',
      label: 'Slack Web API URL',
      kind: 'text',
      default: DEFAULT_SLACK_API_URL,
      hint: 'Only for a proxy or a test stand-in.',
    },
  ],
  secrets: [
    {
      key: 'token',
      label: 'Token',
      hint: 'A bot (xoxb-) or user (xoxp-) token with channels:read, groups:read, channels:manage, groups:write, usergroups:read, usergroups:write, users:read, users:read.email.',
    },
  ],
};
