/** Modal submissions: the request form, reasons for deny/revoke, and the admin console's forms. */
import type {
  AllMiddlewareArgs,
  App,
  SlackViewMiddlewareArgs,
  ViewSubmitAction,
  ViewUpdateResponseAction,
} from '@slack/bolt';
import { BLOCK, VIEW } from '../../../../blocks/slack/ids.js';
import type { Identity } from '../../../domain/identity.js';
import { actorOf, errorText, identityOf, parseMetadata, type SlackDeps } from '../context.js';
import {
  saveFlowFromView,
  saveIntegrationFromView,
  saveSettingsFromView,
  type FormAck,
} from '../admin-forms.js';
import { saveContextSourceFromView } from '../context-source-form.js';
import { convertStandingFromView, type ConvertAck } from '../standing.js';
import { STANDING_BLOCK } from '../../../../blocks/slack/standing.js';
import { saveWebhookFromView } from '../webhook-form.js';
import { submitRequest, type SubmissionAck, type ViewPayload } from '../request-flow.js';

type Args = SlackViewMiddlewareArgs<ViewSubmitAction> & AllMiddlewareArgs;

function reasonOf(view: ViewPayload): string {
  return (Object.values(view.state?.values?.[BLOCK.reason] ?? {})[0]?.value ?? '').trim();
}

/**
 * Runs a submission as the verified submitter. Errors go back into the modal: on `errorBlock`
 * for refusals, so nothing is lost and the person can correct or cancel.
 */
function submission(
  deps: SlackDeps,
  errorBlock: string,
  run: (
    who: Identity,
    view: ViewPayload,
    args: Args,
  ) => Promise<FormAck | ConvertAck | ViewUpdateResponseAction>,
  refreshHome = true,
) {
  return async (args: Args) => {
    const view = args.view as unknown as ViewPayload;
    let result: FormAck | ConvertAck | ViewUpdateResponseAction;
    try {
      result = await run(await identityOf(deps, args.body), view, args);
    } catch (err) {
      result = { response_action: 'errors', errors: { [errorBlock]: errorText(deps, err).slice(0, 2000) } };
    }
    await args.ack(result);
    // Saved: the modal closed, or shows what comes next (a webhook's secret, once).
    if (refreshHome && result?.response_action !== 'errors') {
      const a = actorOf(args.body);
      await deps.home
        .publish(a.teamId, a.userId)
        .catch((err) => deps.log.warn({ err }, 'home refresh failed'));
    }
  };
}

/** Approve or Deny from their reason modal: the request id rides in private_metadata. */
function decisionWithReason(
  deps: SlackDeps,
  missing: string,
  decide: (who: Identity, id: string, reason: string) => Promise<unknown>,
) {
  return submission(deps, BLOCK.reason, async (who, view) => {
    const { id } = parseMetadata<{ id: string }>(view.private_metadata);
    const reason = reasonOf(view);
    if (!reason) return { response_action: 'errors', errors: { [BLOCK.reason]: missing } };
    await decide(who, id ?? '', reason);
    return undefined;
  });
}

export function registerViews(app: App, deps: SlackDeps): void {
  const { latch } = deps;

  app.view<ViewSubmitAction>(VIEW.request, async (args) => {
    const view = args.view as unknown as ViewPayload;
    let result: SubmissionAck;
    try {
      result = await submitRequest(deps, view, await identityOf(deps, args.body), actorOf(args.body).teamId);
    } catch (err) {
      result = {
        response_action: 'errors',
        errors: { [BLOCK.resources]: errorText(deps, err).slice(0, 2000) },
      };
    }
    // The requester's App Home is redrawn by the notifier, like after every change to their requests.
    await args.ack(result);
  });

  app.view<ViewSubmitAction>(
    VIEW.approve,
    decisionWithReason(deps, 'This flow asks approvers for a reason.', (who, id, reason) =>
      latch.requests.approve(who, id, reason),
    ),
  );

  app.view<ViewSubmitAction>(
    VIEW.deny,
    decisionWithReason(deps, 'Say why, so the requester knows what to change.', (who, id, reason) =>
      latch.requests.reject(who, id, reason),
    ),
  );

  app.view<ViewSubmitAction>(
    VIEW.revoke,
    submission(deps, BLOCK.reason, async (who, view) => {
      const { id } = parseMetadata<{ id: string }>(view.private_metadata);
      await latch.admin.assertAdmin(who, 'request.revoke');
      await latch.requests.revoke(who, id ?? '', reasonOf(view) || undefined);
      return undefined;
    }),
  );

  app.view<ViewSubmitAction>(
    VIEW.revokeAll,
    submission(deps, BLOCK.reason, async (who, view) => {
      await latch.admin.assertAdmin(who, 'request.revoke_all');
      const reason = reasonOf(view);
      const typed = (Object.values(view.state?.values?.[BLOCK.confirm] ?? {})[0]?.value ?? '').trim();
      const errors: Record<string, string> = {};
      if (!reason) errors[BLOCK.reason] = 'Give a reason; everyone affected will see it.';
      if (typed !== 'REVOKE ALL') errors[BLOCK.confirm] = 'Type REVOKE ALL, in capitals, to confirm.';
      if (Object.keys(errors).length) return { response_action: 'errors', errors };
      await latch.requests.revokeAll(who, reason);
      return undefined;
    }),
  );

  app.view<ViewSubmitAction>(
    VIEW.reviewClose,
    submission(deps, BLOCK.note, async (who, view) => {
      const { id } = parseMetadata<{ id: string }>(view.private_metadata);
      const note = (Object.values(view.state?.values?.[BLOCK.note] ?? {})[0]?.value ?? '').trim();
      if (!note)
        return {
          response_action: 'errors',
          errors: { [BLOCK.note]: 'Write a note: what you checked, and what follows from it.' },
        };
      await latch.admin.closeReview(who, id ?? '', note);
      return undefined;
    }),
  );

  app.view<ViewSubmitAction>(
    VIEW.flow,
    submission(deps, 'name', (who, view) => saveFlowFromView(deps, view, who)),
  );
  app.view<ViewSubmitAction>(
    VIEW.integration,
    submission(deps, 'config', (who, view) => saveIntegrationFromView(deps, view, who)),
  );
  app.view<ViewSubmitAction>(
    VIEW.contextSource,
    submission(deps, 'config', (who, view, args) => {
      const a = actorOf(args.body);
      return saveContextSourceFromView(deps, view, who, () => deps.home.publish(a.teamId, a.userId));
    }),
  );
  // docs/ARCHITECTURE.md, "Reconciliation": the modal says what was done, and the home is redrawn.
  app.view<ViewSubmitAction>(
    VIEW.standingConvert,
    submission(deps, STANDING_BLOCK.mode, (who, view) => convertStandingFromView(deps, view, who)),
  );
  app.view<ViewSubmitAction>(
    VIEW.webhook,
    submission(deps, 'name', (who, view) => saveWebhookFromView(deps, view, who)),
  );
  app.view<ViewSubmitAction>(
    VIEW.settings,
    submission(deps, 'admins', (who, view) => saveSettingsFromView(deps, view, who)),
  );
}
