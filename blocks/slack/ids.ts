/** Callback and action ids shared by the view builders and the Slack listeners. */
export const VIEW = {
  loading: 'latch_loading',
  request: 'latch_request',
  submitted: 'latch_submitted',
  approve: 'latch_approve',
  deny: 'latch_deny',
  credentials: 'latch_credentials',
  revoke: 'latch_revoke',
  revokeAll: 'latch_revoke_all',
  flow: 'latch_flow',
  integration: 'latch_integration',
  contextSource: 'latch_context_source',
  settings: 'latch_settings',
  notice: 'latch_notice',
  reviewClose: 'latch_review_close',
} as const;

export const ACTION = {
  // request modal
  resources: 'request_resources',
  bundle: 'request_bundle',
  flow: 'request_flow',
  permission: 'request_permission',
  duration: 'request_duration',
  justification: 'request_justification',
  breakGlass: 'request_break_glass',
  onBehalfOf: 'request_on_behalf_of',
  // approver messages
  approve: 'approval_approve',
  deny: 'approval_deny',
  approveExtension: 'extension_approve',
  // requester messages and home
  showCredentials: 'credentials_show',
  extend: 'access_extend',
  revoke: 'access_revoke',
  cancel: 'request_cancel',
  decline: 'request_decline',
  openRequest: 'home_request',
  section: 'home_section',
  page: 'home_page',
  // admin console
  flowNew: 'admin_flow_new',
  flowEdit: 'admin_flow_edit',
  flowToggle: 'admin_flow_toggle',
  flowDelete: 'admin_flow_delete',
  integrationNew: 'admin_integration_new',
  integrationEdit: 'admin_integration_edit',
  contextSync: 'admin_context_sync',
  contextNew: 'admin_context_new',
  contextEdit: 'admin_context_edit',
  contextDelete: 'admin_context_delete',
  adminRevoke: 'admin_revoke',
  revokeAll: 'admin_revoke_all',
  settingsEdit: 'admin_settings_edit',
  reviewClose: 'admin_review_close',
} as const;

/** Input block ids of modals; a LatchError's `field` maps onto them for inline errors. */
export const BLOCK = {
  resources: 'resources',
  bundle: 'bundle',
  flow: 'flow',
  permission: 'permission',
  duration: 'duration',
  justification: 'justification',
  breakGlass: 'break_glass',
  onBehalfOf: 'on_behalf_of',
  reason: 'reason',
  note: 'note',
  confirm: 'confirm',
} as const;
