/** App Home navigation: tabs and pages. */
import type { App, BlockAction } from '@slack/bolt';
import { ACTION } from '../../../../../blocks/slack/ids.js';
import { actorOf, type SlackDeps } from '../../context.js';

export function registerHomeActions(app: App, deps: SlackDeps): void {
  app.action<BlockAction>(new RegExp(`^${ACTION.section}`), async ({ ack, body, action }) => {
    await ack();
    const a = actorOf(body);
    await deps.home.publish(a.teamId, a.userId, { section: (action as { value?: string }).value, page: 0 });
  });

  app.action<BlockAction>(new RegExp(`^${ACTION.page}`), async ({ ack, body, action }) => {
    await ack();
    const [section, page] = ((action as { value?: string }).value ?? '').split(':');
    const a = actorOf(body);
    await deps.home.publish(a.teamId, a.userId, { section, page: Number(page) || 0 });
  });

  // ---- admin console: each opens or acts only after the server-side admin check ----
}
