/** Approvers' buttons on cards and in App Home: Approve (with a reason when the flow asks), Deny, Approve extension. */
import type { App, BlockAction } from '@slack/bolt';
import { reasonModal } from '../../../../../blocks/slack/admin-modals.js';
import { ACTION, VIEW } from '../../../../../blocks/slack/ids.js';
import { type SlackDeps } from '../../context.js';
import { handle, valueOf } from './handle.js';

export function registerApproverActions(app: App, deps: SlackDeps): void {
  const { latch } = deps;

  app.action<BlockAction>(
    ACTION.approve,
    handle(deps, async (who, args) => {
      // Checked before anything else, so a stale card or a bystander is told at once and learns nothing.
      const { id, reasonRequired } = await latch.requests.prepareDecision(who, valueOf(args), 'approve');
      if (reasonRequired) {
        await args.client.views.open({
          trigger_id: args.body.trigger_id,
          view: reasonModal({
            callbackId: VIEW.approve,
            title: `Approve ${id}`,
            intro: `This flow asks approvers for a reason. The requester and the audit log see it.`,
            submit: 'Approve',
            privateMetadata: JSON.stringify({ id }),
          }),
        });
        return;
      }
      const r = await latch.requests.approve(who, id);
      return r.state === 'pending'
        ? `Your approval of ${r.id} is recorded; it needs more approvals.`
        : undefined;
    }),
  );

  app.action<BlockAction>(
    ACTION.deny,
    handle(deps, async (who, args) => {
      const { body, client } = args;
      const { id } = await latch.requests.prepareDecision(who, valueOf(args), 'reject');
      await client.views.open({
        trigger_id: body.trigger_id,
        view: reasonModal({
          callbackId: VIEW.deny,
          title: `Deny ${id}`,
          intro: `The requester sees this reason.`,
          submit: 'Deny',
          privateMetadata: JSON.stringify({ id, home: body.view?.type === 'home' }),
        }),
      });
    }),
  );

  app.action<BlockAction>(
    ACTION.approveExtension,
    handle(deps, async (who, args) => {
      const r = await latch.requests.approveExtension(who, valueOf(args));
      return `${r.id} is extended.`;
    }),
  );
}
