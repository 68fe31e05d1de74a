/** The admin console's buttons: each opens or acts only after the server-side admin check. */
import type { App, BlockAction } from '@slack/bolt';
import { reasonModal } from '../../../../../blocks/slack/admin-modals.js';
import { ACTION, VIEW } from '../../../../../blocks/slack/ids.js';
import { reviewCloseModal } from '../../../../../blocks/slack/reviews.js';
import { actorOf, type SlackDeps } from '../../context.js';
import { openFlowModal, openIntegrationModal, openSettingsModal } from '../../admin-forms.js';
import { openContextSourceModal } from '../../context-source-form.js';
import { openStandingConvertModal } from '../../standing.js';
import { openWebhookModal } from '../../webhook-form.js';
import { webhookDeliveriesModal, webhookSecretModal } from '../../../../../blocks/slack/webhooks.js';
import { handle, valueOf } from './handle.js';

export function registerAdminActions(app: App, deps: SlackDeps): void {
  const { latch } = deps;

  app.action<BlockAction>(
    ACTION.flowNew,
    handle(deps, async (who, { body, client }) => {
      await latch.admin.assertAdmin(who, 'flow.create');
      await openFlowModal(deps, who, client, body.trigger_id, actorOf(body).teamId);
    }),
  );

  app.action<BlockAction>(
    ACTION.flowEdit,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'flow.edit');
      await openFlowModal(
        deps,
        who,
        args.client,
        args.body.trigger_id,
        actorOf(args.body).teamId,
        valueOf(args),
      );
    }),
  );

  app.action<BlockAction>(
    ACTION.flowToggle,
    handle(deps, async (who, args) => {
      const [id = '', to] = valueOf(args).split(':');
      await latch.admin.setFlowEnabled(who, id, to === 'on');
    }),
  );

  app.action<BlockAction>(
    ACTION.flowDelete,
    handle(deps, async (who, args) => {
      await latch.admin.deleteFlow(who, valueOf(args));
    }),
  );

  app.action<BlockAction>(
    ACTION.integrationNew,
    handle(deps, async (who, { body, client }) => {
      await latch.admin.assertAdmin(who, 'integration.create');
      await openIntegrationModal(deps, who, client, body.trigger_id);
    }),
  );

  app.action<BlockAction>(
    ACTION.integrationEdit,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'integration.edit');
      await openIntegrationModal(deps, who, args.client, args.body.trigger_id, valueOf(args));
    }),
  );

  app.action<BlockAction>(
    ACTION.contextSync,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'context_source.sync');
      const name = valueOf(args);
      const { teamId, userId } = actorOf(args.body);
      // A sync can take minutes (rate limits): it runs on, and the admin's home is redrawn with its
      // outcome (counts, or the error) when it ends.
      void latch.admin
        .syncContextSource(who, name)
        .catch((err: unknown) => deps.log.warn({ err, source: name }, 'context sync from the console failed'))
        .finally(() =>
          deps.home.publish(teamId, userId).catch((err) => deps.log.warn({ err }, 'home refresh failed')),
        );
      return `Syncing ${name} now: this tab shows the outcome when it is done.`;
    }),
  );

  app.action<BlockAction>(
    ACTION.contextNew,
    handle(deps, async (who, { body, client }) => {
      await latch.admin.assertAdmin(who, 'context_source.create');
      await openContextSourceModal(deps, who, client, body.trigger_id);
    }),
  );

  app.action<BlockAction>(
    ACTION.contextEdit,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'context_source.edit');
      await openContextSourceModal(deps, who, args.client, args.body.trigger_id, valueOf(args));
    }),
  );

  // Slack asked for confirmation before sending this; the use-case checks the clicker is an admin.
  app.action<BlockAction>(
    ACTION.contextDelete,
    handle(deps, async (who, args) => {
      await latch.admin.deleteContextSource(who, valueOf(args));
    }),
  );

  app.action<BlockAction>(
    ACTION.adminRevoke,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'request.revoke');
      const id = valueOf(args);
      await args.client.views.open({
        trigger_id: args.body.trigger_id,
        view: reasonModal({
          callbackId: VIEW.revoke,
          title: `Revoke ${id}`,
          intro: `End ${id} now. The requester sees the reason.`,
          submit: 'Revoke',
          privateMetadata: JSON.stringify({ id }),
        }),
      });
    }),
  );

  app.action<BlockAction>(
    ACTION.revokeAll,
    handle(deps, async (who, { body, client }) => {
      await latch.admin.assertAdmin(who, 'request.revoke_all');
      const active = await latch.queries.revocableCount(who);
      await client.views.open({
        trigger_id: body.trigger_id,
        view: reasonModal({
          callbackId: VIEW.revokeAll,
          title: 'Revoke everything',
          intro: `:rotating_light: This ends *all ${active}* active or approved access grants in the organisation at once. Everyone affected is told, with your reason.`,
          submit: 'Revoke all',
          confirmPhrase: 'REVOKE ALL',
          privateMetadata: '{}',
        }),
      });
    }),
  );

  // From the App Home's Reviews and from the break-glass DM (docs/ARCHITECTURE.md, "Break-glass").
  app.action<BlockAction>(
    ACTION.reviewClose,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'review.close');
      const id = valueOf(args);
      const review = await latch.queries.review(who, id);
      if (!review) return `There is no break-glass review for ${id}.`;
      if (review.state === 'closed')
        return `The review of ${review.id} is already closed${review.closedBy ? ` by ${review.closedBy}` : ''}.`;
      await args.client.views.open({
        trigger_id: args.body.trigger_id,
        view: reviewCloseModal(review, who.timeZone),
      });
    }),
  );

  // Standing access (docs/ARCHITECTURE.md, "Reconciliation"): the modal asks before anything is removed.
  app.action<BlockAction>(
    ACTION.standingConvert,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'standing.convert');
      await openStandingConvertModal(deps, who, args.client, args.body.trigger_id, valueOf(args));
    }),
  );

  // Runs while the click's handler waits (acknowledged already); the home redrawn after shows the outcome.
  app.action<BlockAction>(
    ACTION.reconcileNow,
    handle(deps, async (who, args) => {
      const name = valueOf(args);
      await latch.admin.reconcileNow(who, name === '*' ? undefined : name);
    }),
  );

  // ---- lifecycle webhooks (docs/ARCHITECTURE.md, "Lifecycle webhooks") ----

  app.action<BlockAction>(
    ACTION.webhookNew,
    handle(deps, async (who, { body, client }) => {
      await latch.admin.assertAdmin(who, 'webhook.create');
      await openWebhookModal(deps, who, client, body.trigger_id);
    }),
  );

  app.action<BlockAction>(
    ACTION.webhookEdit,
    handle(deps, async (who, args) => {
      await latch.admin.assertAdmin(who, 'webhook.edit');
      await openWebhookModal(deps, who, args.client, args.body.trigger_id, valueOf(args));
    }),
  );

  app.action<BlockAction>(
    ACTION.webhookDeliveries,
    handle(deps, async (who, args) => {
      const webhook = await latch.queries.webhook(who, valueOf(args));
      if (!webhook) return 'That webhook subscription no longer exists.';
      await args.client.views.open({
        trigger_id: args.body.trigger_id,
        view: webhookDeliveriesModal(webhook, who.timeZone),
      });
    }),
  );

  // Slack asked for confirmation before sending these; the use-cases check the clicker is an admin.
  app.action<BlockAction>(
    ACTION.webhookRotate,
    handle(deps, async (who, args) => {
      const saved = await latch.admin.rotateWebhookSecret(who, valueOf(args));
      await args.client.views.open({
        trigger_id: args.body.trigger_id,
        view: webhookSecretModal(saved.webhook.name, saved.secret!, true),
      });
    }),
  );

  app.action<BlockAction>(
    ACTION.webhookDelete,
    handle(deps, async (who, args) => {
      await latch.admin.deleteWebhook(who, valueOf(args));
    }),
  );

  app.action<BlockAction>(
    ACTION.settingsEdit,
    handle(deps, async (who, { body, client }) => {
      await latch.admin.assertAdmin(who, 'settings.edit');
      await openSettingsModal(deps, who, client, body.trigger_id, actorOf(body).teamId);
    }),
  );
}
