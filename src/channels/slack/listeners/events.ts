/** Events API: draw App Home when it is opened; forget a workspace that uninstalled Latch. */
import type { App } from '@slack/bolt';
import type { SlackDeps } from '../context.js';

export function registerEvents(app: App, deps: SlackDeps): void {
  app.event('app_home_opened', async ({ event, body }) => {
    if (event.tab !== 'home') return;
    const teamId = (body as { team_id?: string }).team_id;
    await deps.home.publish(teamId, event.user).catch((err) => deps.log.warn({ err }, 'home publish failed'));
  });

  app.event('app_uninstalled', async ({ body }) => {
    const teamId = (body as { team_id?: string }).team_id;
    if (teamId) await deps.m.Installation.deleteOne({ _id: teamId });
    deps.log.info({ teamId }, 'Latch was uninstalled from a workspace');
  });
}
