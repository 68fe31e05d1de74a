/** The requester's buttons: the request form as it is filled in, Extend, Revoke, Cancel and Decline. */
import type { App, BlockAction } from '@slack/bolt';
import { ACTION } from '../../../../../blocks/slack/ids.js';
import { identityOf, type SlackDeps } from '../../context.js';
import { openRequestModal, refreshRequestModal, type ViewPayload } from '../../request-flow.js';
import { handle, valueOf } from './handle.js';

export function registerRequesterActions(app: App, deps: SlackDeps): void {
  const { latch } = deps;

  // The request modal redraws when the choice changes (dispatch_action on these inputs).
  app.action<BlockAction>(
    new RegExp(`^(${ACTION.resources}|${ACTION.bundle}|${ACTION.flow})$`),
    async ({ ack, body, client }) => {
      await ack();
      if (!body.view) return;
      try {
        await refreshRequestModal(
          deps,
          client,
          body.view as unknown as ViewPayload,
          await identityOf(deps, body),
        );
      } catch (err) {
        deps.log.warn({ err }, 'request modal refresh failed');
      }
    },
  );

  // Inputs that need no reaction until submit.
  app.action<BlockAction>(
    new RegExp(`^(${ACTION.permission}|${ACTION.duration}|${ACTION.justification}|${ACTION.onBehalfOf})$`),
    async ({ ack }) => ack(),
  );

  app.action<BlockAction>(
    ACTION.openRequest,
    handle(deps, async (who, { body, client }) => {
      await openRequestModal(deps, client, body.trigger_id, async () => who);
    }),
  );

  app.action<BlockAction>(
    new RegExp(`^${ACTION.extend}(:|$)`),
    handle(deps, async (who, args) => {
      const [id = '', minutes = ''] = valueOf(args).split(':');
      // The requester is told by DM whether it is extended or waiting for an approver.
      await latch.requests.extend(who, id, Number(minutes));
    }),
  );

  app.action<BlockAction>(
    ACTION.revoke,
    handle(deps, async (who, args) => {
      const r = await latch.requests.revoke(who, valueOf(args));
      return `${r.id} is being revoked; you will get a DM when it is done.`;
    }),
  );

  // Only the person it is for may decline; the core checks (docs/ARCHITECTURE.md, "Asking for someone else").
  app.action<BlockAction>(
    ACTION.decline,
    handle(deps, async (who, args) => {
      const r = await latch.requests.decline(who, valueOf(args));
      return `You declined ${r.id}; ${r.state === 'cancelled' ? 'it is cancelled' : 'your access is being revoked'}, and whoever asked for it is told.`;
    }),
  );

  app.action<BlockAction>(
    ACTION.cancel,
    handle(deps, async (who, args) => {
      await latch.requests.cancel(who, valueOf(args));
    }),
  );
}
