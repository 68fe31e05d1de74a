/**
 * What a console's context source editor tells an admin about each type (docs/ARCHITECTURE.md,
 * "Context sources"): the secrets it needs and a config to start from. Kept beside the types
 * rather than in them, and checked against each type's `validate` by a test so it cannot drift.
 */
export interface ContextSourceForm {
  /** Names of the secrets the type needs; their values are write-only. */
  secrets: string[];
  /** A config with the type's required settings, as the editor's starting point. */
  example: Record<string, unknown>;
}

export const CONTEXT_FORMS: Record<string, ContextSourceForm> = {
  okta: { secrets: ['apiToken'], example: { orgUrl: 'https://example.okta.com' } },
  entra: {
    secrets: ['clientSecret'],
    example: { tenantId: 'example.onmicrosoft.com', clientId: '00000000-0000-0000-0000-000000000000' },
  },
  pagerduty: { secrets: ['apiToken'], example: { scheduleIds: ['PABC123'] } },
  jsm_ops: {
    secrets: ['apiToken'],
    example: {
      cloudId: '00000000-0000-0000-0000-000000000000',
      siteUrl: 'https://example.atlassian.net',
      email: 'oncall-bot@example.com',
    },
  },
};

/** The form of `type`; a type without one (a test's own) gets no hints, not an error. */
export function contextFormOf(type: string): ContextSourceForm {
  return Object.hasOwn(CONTEXT_FORMS, type) ? CONTEXT_FORMS[type]! : { secrets: [], example: {} };
}
