/**
 * Button clicks and select changes: decisions on approver cards, the requester's own buttons,
 * App Home navigation and the admin console. Every handler acts as the verified clicker; the
 * use-cases decide whether that person may, so a forged payload gets the same refusal as a click.
 */
import type { App, BlockAction, SlackActionMiddlewareArgs, AllMiddlewareArgs } from '@slack/bolt';
import { credentialsModal, reasonModal } from '../../../../blocks/slack/admin-modals.js';
import { ACTION, VIEW } from '../../../../blocks/slack/ids.js';
import type { Identity } from '../../../domain/identity.js';
import { registerSecret } from '../../../secret-scrubber.js';
import { actorOf, errorText, identityOf, tell, type SlackDeps } from '../context.js';
import { CredentialDrops } from '../credential-drops.js';
import { openFlowModal, openIntegrationModal, openSettingsModal } from '../admin-forms.js';
import { openRequestModal, refreshRequestModal, type ViewPayload } from '../request-flow.js';

type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

function valueOf(args: Args): string {
  const a = args.action as { value?: string; selected_option?: { value: string } };
  return a.value ?? a.selected_option?.value ?? '';
}

/** Runs a click as the verified clicker; refusals and failures are told where the click happened. */
function handle(deps: SlackDeps, run: (who: Identity, args: Args) => Promise<string | void>) {
  return async (args: Args) => {
    await args.ack();
    const { body, client, respond } = args;
    try {
      const who = await identityOf(deps, body);
      const done = await run(who, args);
      if (done) await tell(client, body, respond, done);
    } catch (err) {
      await tell(client, body, respond, `:warning: ${errorText(deps, err)}`);
    }
    if (body.view?.type === 'home') {
      const a = actorOf(body);
      await deps.home
        .publish(a.teamId, a.userId)
        .catch((err) => deps.log.warn({ err }, 'home refresh failed'));
    }
  };
}

export function registerActions(app: App, deps: SlackDeps): void {
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
    new RegExp(`^(${ACTION.permission}|${ACTION.duration}|${ACTION.justification})$`),
    async ({ ack }) => ack(),
  );

  app.action<BlockAction>(
    ACTION.openRequest,
    handle(deps, async (who, { body, client }) => {
      await openRequestModal(deps, client, body.trigger_id, async () => who);
    }),
  );

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
          }) as never,
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
        }) as never,
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

  app.action<BlockAction>(
    ACTION.showCredentials,
    handle(deps, async (who, args) => {
      const dropId = valueOf(args);
      const drops = new CredentialDrops(deps.m, deps.box);
      const claim = await drops.claim(dropId, who.id, latch.queries.now());
      if (claim.outcome === 'not_owner' || claim.outcome === 'gone') {
        if (claim.outcome === 'not_owner')
          await latch.requests.refuseCredentials(who, claim.requestId, 'not the requester');
        return 'These credentials were already shown once (or are not yours). If you lost them, revoke this access and request it again.';
      }
      if (claim.outcome === 'busy') return 'Your credentials are being opened in another window.';
      // A web process apart from the worker that generated them has not seen them yet.
      for (const set of claim.sets) registerSecret(set.values.password);
      try {
        await args.client.views.open({
          trigger_id: args.body.trigger_id,
          view: credentialsModal(claim.sets) as never,
        });
      } catch (err) {
        // Not shown, so not used up: the next click tries again.
        await drops.release(claim);
        deps.log.warn({ err: (err as Error).message }, 'could not open the credentials window');
        return 'Slack could not open the window with your credentials. They are kept: click *Show credentials* again.';
      }
      await drops.consume(claim);
      await latch.requests.credentialsShown(who, claim.requestId);
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

  app.action<BlockAction>(
    ACTION.cancel,
    handle(deps, async (who, args) => {
      await latch.requests.cancel(who, valueOf(args));
    }),
  );

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
        }) as never,
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
        }) as never,
      });
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
