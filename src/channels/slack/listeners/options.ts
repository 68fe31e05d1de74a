/** Options for the request modal's searchable resources select. */
import type { App } from '@slack/bolt';
import { ACTION } from '../../../../blocks/slack/ids.js';
import { identityOf, type SlackDeps } from '../context.js';
import { resourceOptions } from '../request-flow.js';

export function registerOptions(app: App, deps: SlackDeps): void {
  app.options(ACTION.resources, async ({ ack, body, options }) => {
    try {
      await ack(await resourceOptions(deps, await identityOf(deps, body), options.value ?? ''));
    } catch (err) {
      deps.log.warn({ err }, 'resource search failed');
      await ack({ options: [] });
    }
  });
}
