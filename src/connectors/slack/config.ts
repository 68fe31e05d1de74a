import { z } from 'zod';
import { settingsIssues } from '../settings.js';
import type { ConnectorValidator } from '../types.js';

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/';

/** Slack channel names are lowercase, at most 80 characters; a leading # is accepted and dropped. */
const channelName = z
  .string()
  .trim()
  .transform((s) => s.replace(/^#/, '').toLowerCase())
  .pipe(z.string().min(1).max(80));

/** A user group's handle, as mentioned (@oncall); a leading @ is accepted and dropped. */
const groupHandle = z
  .string()
  .trim()
  .transform((s) => s.replace(/^@/, '').toLowerCase())
  .pipe(z.string().min(1).max(80));

export const slackConnectorConfigSchema = z.object({
  /** Where the Web API is; tests point it at a stand-in. WebClient appends the method name. */
  apiUrl: z
    .url({ protocol: /^https?$/ })
    .transform((u) => (u.endsWith('/') ? u : `${u}/`))
    .default(DEFAULT_SLACK_API_URL),
  /** Channels to manage, by name. Absent: every channel Latch's Slack user is in; empty: none. */
  channels: z.array(channelName).optional(),
  /** User groups to manage, by handle. Absent: every enabled user group; empty: none. */
  usergroups: z.array(groupHandle).optional(),
  /** Retries of a call that failed on the way (HTTP error, network, rate limit after Retry-After). */
  retries: z.number().int().min(0).max(10).default(3),
});

export const slackConnectorSecretsSchema = z.object({
  /** A bot (xoxb-) or user (xoxp-) token; see the README for the scopes it needs. */
  token: z.string().min(1),
});

/**
 * Checks a Slack integration's settings before they are stored; unknown keys are reported (nearly
 * always a typo), while the connector itself ignores them so an older stored config keeps working.
 */
export const validateSlackConnectorSettings: ConnectorValidator = (config, secrets) => [
  ...settingsIssues(z.strictObject(slackConnectorConfigSchema.shape), config, 'config'),
  ...settingsIssues(z.strictObject(slackConnectorSecretsSchema.shape), secrets, 'secrets'),
];

export type SlackConnectorConfig = z.infer<typeof slackConnectorConfigSchema>;
