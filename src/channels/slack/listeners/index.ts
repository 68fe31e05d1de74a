/** Every Slack listener, registered by kind. */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../context.js';
import { registerActions } from './actions/index.js';
import { registerCommands } from './commands.js';
import { registerEvents } from './events.js';
import { registerOptions } from './options.js';
import { registerViews } from './views.js';

export function registerListeners(app: App, deps: SlackDeps): void {
  registerCommands(app, deps);
  registerActions(app, deps);
  registerViews(app, deps);
  registerEvents(app, deps);
  registerOptions(app, deps);
}
