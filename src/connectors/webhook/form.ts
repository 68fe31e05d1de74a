/**
 * The webhook integration's settings as a form shows them (the Teams tab's integration editor,
 * docs/ARCHITECTURE.md, "Personal tab"): one field per key of webhookConfigSchema (config.ts), with
 * its default. test/unit/connector-forms.test.ts checks they stay the same keys.
 */
import type { ConnectorForm } from '../types.js';

export const webhookForm: ConnectorForm = {
  fields: [
    {
      key: 'url',
      label: 'Endpoint URL',
      kind: 'text',
      required: true,
      hint: 'https://… (http only to 127.0.0.1, localhost or [::1]). Latch POSTs signed JSON here.',
    },
    { key: 'timeoutMs', label: 'Timeout per attempt (ms)', kind: 'number', default: 10000 },
    { key: 'retries', label: 'Retries', kind: 'number', default: 3, hint: 'For 5xx, 408, 429 and timeouts.' },
    {
      key: 'backoffMs',
      label: 'First retry after (ms)',
      kind: 'number',
      default: 500,
      hint: 'Doubled each retry.',
    },
    { key: 'batchSize', label: 'Grants per batch POST', kind: 'number', default: 100 },
    {
      key: 'resources',
      label: 'Resources, if the endpoint does not answer discover',
      kind: 'yaml',
      hint: '- {id: billing, name: Billing, permissions: [read, write]}',
    },
  ],
  secrets: [
    {
      key: 'signingSecret',
      label: 'Signing secret',
      hint: 'Shared with the endpoint; at least 16 characters (e.g. openssl rand -hex 32).',
    },
  ],
};
