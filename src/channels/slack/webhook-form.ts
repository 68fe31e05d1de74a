/**
 * The App Home's webhook editor (docs/ARCHITECTURE.md, "Lifecycle webhooks"): opens the modal from
 * the core's query, and turns a submission into createWebhook or updateWebhook. Checking is the
 * use-case's; this module puts each problem on its field. A secret Latch generated replaces the
 * modal, shown once; nothing shows it again.
 */
import type { ViewUpdateResponseAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { WEBHOOK_BLOCK, webhookModal, webhookSecretModal } from '../../../blocks/slack/webhooks.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import type { WebhookInput } from '../../webhooks/subscription.js';
import type { FormAck } from './admin-forms.js';
import { errorText, parseMetadata, type SlackDeps } from './context.js';
import type { StateValue, ViewPayload } from './request-flow.js';

type Values = Record<string, Record<string, StateValue>>;
const first = (v: Values, block: string): StateValue | undefined => Object.values(v[block] ?? {})[0];
const text = (v: Values, block: string) => (first(v, block)?.value ?? '').trim();
const selectedMany = (v: Values, block: string) =>
  (first(v, block)?.selected_options ?? []).map((o) => o.value);

export async function openWebhookModal(
  deps: SlackDeps,
  who: Identity,
  client: WebClient,
  triggerId: string,
  id?: string,
): Promise<void> {
  const q = deps.latch.queries;
  const webhook = id ? await q.webhook(who, id, 0) : undefined;
  if (id && !webhook) throw new LatchError('not_found', 'That webhook subscription no longer exists.');
  await client.views.open({
    trigger_id: triggerId,
    view: webhookModal({
      webhook: webhook ?? undefined,
      events: q.webhookEvents(),
      privateMetadata: JSON.stringify({ id }),
    }),
  });
}

/** The modal's block for a problem's field. */
function blockOf(field: string): string {
  return (Object.values(WEBHOOK_BLOCK) as string[]).includes(field) ? field : WEBHOOK_BLOCK.url;
}

export async function saveWebhookFromView(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
): Promise<FormAck | ViewUpdateResponseAction> {
  // Who before what: a forged submission from a non-admin is refused (and audited) unread.
  await deps.latch.admin.assertAdmin(who, 'webhook.save');
  const v = view.state?.values ?? {};
  const { id } = parseMetadata<{ id: string }>(view.private_metadata);
  const input: WebhookInput = {
    name: text(v, WEBHOOK_BLOCK.name),
    url: text(v, WEBHOOK_BLOCK.url),
    events: selectedMany(v, WEBHOOK_BLOCK.events),
    secret: text(v, WEBHOOK_BLOCK.secret),
    // A modal without the box (drawn by an older version) leaves the subscription enabled.
    enabled: v[WEBHOOK_BLOCK.enabled] ? selectedMany(v, WEBHOOK_BLOCK.enabled).includes('on') : true,
  };
  const errors: Record<string, string> = {};
  for (const issue of await deps.latch.admin.webhookIssues(who, input, id)) {
    const block = blockOf(issue.field);
    errors[block] = (errors[block] ? `${errors[block]}; ${issue.message}` : issue.message).slice(0, 2000);
  }
  if (Object.keys(errors).length) return { response_action: 'errors', errors };
  try {
    if (id) {
      await deps.latch.admin.updateWebhook(who, id, input);
      return undefined;
    }
    const saved = await deps.latch.admin.createWebhook(who, input);
    if (!saved.secret) return undefined;
    return { response_action: 'update', view: webhookSecretModal(saved.webhook.name, saved.secret) };
  } catch (err) {
    const block = err instanceof LatchError && err.field ? blockOf(err.field) : WEBHOOK_BLOCK.name;
    return { response_action: 'errors', errors: { [block]: errorText(deps, err).slice(0, 2000) } };
  }
}
