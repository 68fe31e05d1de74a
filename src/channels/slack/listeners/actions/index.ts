/** Button clicks and select changes, by whose they are. */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../../context.js';
import { registerAdminActions } from './admin.js';
import { registerApproverActions } from './approver.js';
import { registerCredentialActions } from './credentials.js';
import { registerHomeActions } from './home.js';
import { registerRequesterActions } from './requester.js';

export function registerActions(app: App, deps: SlackDeps): void {
  registerRequesterActions(app, deps);
  registerApproverActions(app, deps);
  registerCredentialActions(app, deps);
  registerHomeActions(app, deps);
  registerAdminActions(app, deps);
}
