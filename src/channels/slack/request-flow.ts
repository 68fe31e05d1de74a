/**
 * The request modal from open to submit: opened at once with a loading view (the trigger id
 * expires in 3 seconds), filled in with views.update, redrawn when the choice changes, and
 * submitted through the lifecycle with refusals shown inline on the field they concern.
 */
import type { ViewErrorsResponseAction, ViewUpdateResponseAction } from '@slack/bolt';
import type { KnownBlock, ModalView } from '@slack/types';
import type { WebClient } from '@slack/web-api';
import pLimit from 'p-limit';
import { BLOCK } from '../../../blocks/slack/ids.js';
import { option } from '../../../blocks/slack/text.js';
import {
  loadingModal,
  parseDurationValue,
  requestModal,
  submittedModal,
} from '../../../blocks/slack/request-modal.js';
import { plainTargets } from '../../../blocks/slack/messages.js';
import { describeApprovers } from '../../domain/approval.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import { errorText, type SlackDeps } from './context.js';
import { searchOffers } from '../../lifecycle/queries/request-options.js';
import { buildForm, offerOf, offerValue, type FormState } from './request-form.js';

export interface ViewPayload {
  id: string;
  hash?: string;
  callback_id?: string;
  private_metadata?: string;
  state?: { values?: Record<string, Record<string, StateValue>> };
}

export interface StateValue {
  type?: string;
  value?: string | null;
  selected_option?: { value: string } | null;
  selected_options?: Array<{ value: string }>;
  selected_users?: string[];
  selected_conversation?: string | null;
}

interface Meta {
  w?: string;
}

export async function openRequestModal(
  deps: SlackDeps,
  client: WebClient,
  triggerId: string,
  who: () => Promise<Identity>,
  words?: string,
): Promise<void> {
  lastOpenAt = performance.now();
  const opened = await client.views.open({ trigger_id: triggerId, view: loadingModal() });
  const view = opened.view as { id: string; hash: string };
  // Opening must beat the trigger's 3 seconds; filling in can wait. While commands keep arriving
  // the filling waits for a lull (every busy turn of this event loop delays the next command's
  // views.open, and without the front, docs/ARCHITECTURE.md "Web", its acknowledgement too), then
  // runs a few at a time.
  await fillInTurn(async () => {
    await lull();
    await fillRequestModal(deps, client, view, who, words);
  });
}

const fillInTurn = pLimit(4);
let lastOpenAt = 0;
const LULL_MS = 30;
const MAX_WAIT_MS = 1_500;

async function lull(): Promise<void> {
  const start = performance.now();
  while (performance.now() - lastOpenAt < LULL_MS && performance.now() - start < MAX_WAIT_MS) {
    await new Promise((r) => setTimeout(r, LULL_MS));
  }
}

async function fillRequestModal(
  deps: SlackDeps,
  client: WebClient,
  view: { id: string; hash: string },
  who: () => Promise<Identity>,
  words?: string,
): Promise<void> {
  let next: ModalView;
  try {
    const identity = await who();
    const all = await deps.latch.queries.offers(identity);
    next = requestModal(buildForm(all, { selected: [], words }, JSON.stringify({ w: words } satisfies Meta)));
  } catch (err) {
    next = requestModalError(errorText(deps, err));
  }
  await client.views.update({ view_id: view.id, hash: view.hash, view: next });
}

function requestModalError(text: string): ModalView {
  const blocks: KnownBlock[] = [{ type: 'section', text: { type: 'mrkdwn', text: `:warning: ${text}` } }];
  return { ...loadingModal(), blocks };
}

export function stateOf(view: ViewPayload): FormState {
  const v = view.state?.values ?? {};
  const first = (block: string) => Object.values(v[block] ?? {})[0];
  const duration = first(BLOCK.duration)?.selected_option?.value;
  return {
    selected: (first(BLOCK.resources)?.selected_options ?? []).map((o) => o.value),
    bundle: first(BLOCK.bundle)?.selected_option?.value ?? undefined,
    flowId: first(BLOCK.flow)?.selected_option?.value ?? undefined,
    permission: first(BLOCK.permission)?.selected_option?.value ?? undefined,
    duration: parseDurationValue(duration),
  };
}

/** Redraws the modal after the resources, bundle or flow changed, keeping what was typed. */
export async function refreshRequestModal(
  deps: SlackDeps,
  client: WebClient,
  view: ViewPayload,
  who: Identity,
): Promise<void> {
  const all = await deps.latch.queries.offers(who);
  const state = stateOf(view);
  const form = buildForm(
    all,
    { ...state, duration: undefined, permission: state.permission },
    view.private_metadata ?? '{}',
  );
  try {
    await client.views.update({ view_id: view.id, hash: view.hash, view: requestModal(form) });
  } catch (err) {
    // A faster second change already redrew the modal.
    if ((err as { data?: { error?: string } }).data?.error !== 'hash_conflict') throw err;
  }
}

export async function resourceOptions(deps: SlackDeps, who: Identity, query: string) {
  const { offers } = await deps.latch.queries.offers(who);
  return { options: searchOffers(offers, query).map((o) => option(o.label, offerValue(o))) };
}

const FIELD_TO_BLOCK: Record<string, string> = {
  targets: BLOCK.resources,
  bundle: BLOCK.bundle,
  duration: BLOCK.duration,
  justification: BLOCK.justification,
  flow: BLOCK.flow,
};

export type SubmissionAck = ViewErrorsResponseAction | ViewUpdateResponseAction;

export async function submitRequest(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
): Promise<SubmissionAck> {
  const state = stateOf(view);
  const values = view.state?.values ?? {};
  const justification = Object.values(values[BLOCK.justification] ?? {})[0]?.value ?? '';
  const present = (block: string) => values[block] !== undefined;
  const errors: Record<string, string> = {};
  if (state.selected.length === 0 && !state.bundle) {
    errors[present(BLOCK.resources) ? BLOCK.resources : BLOCK.bundle] =
      'Choose at least one resource or a bundle.';
  }
  if (state.selected.length > 0 && state.bundle)
    errors[BLOCK.bundle] = 'Choose resources or a bundle, not both.';
  if (state.selected.length > 0 && !state.permission && !errors[BLOCK.resources]) {
    errors[present(BLOCK.permission) ? BLOCK.permission : BLOCK.resources] = present(BLOCK.permission)
      ? 'Choose a permission.'
      : 'No single access flow offers a common permission on all of these; request them separately.';
  }
  if (state.duration === undefined) {
    if (present(BLOCK.duration)) errors[BLOCK.duration] = 'Choose a duration.';
    else if (!errors[BLOCK.resources] && !errors[BLOCK.bundle])
      errors[present(BLOCK.resources) ? BLOCK.resources : BLOCK.bundle] =
        'No access flow covers this choice.';
  }
  if (Object.keys(errors).length > 0) return { response_action: 'errors', errors };

  const all = await deps.latch.queries.offers(who);
  const targets = state.selected.map((value) => {
    const o = offerOf(all, value);
    if (!o) return undefined;
    return { integration: o.resource.integration, resourceId: o.resource.id, permission: state.permission! };
  });
  if (targets.some((t) => t === undefined)) {
    return {
      response_action: 'errors',
      errors: { [BLOCK.resources]: 'One of these is no longer offered to you; choose again.' },
    };
  }
  try {
    const request = await deps.latch.requests.submit(who, {
      ...(state.bundle
        ? { bundle: state.bundle }
        : { targets: targets as NonNullable<(typeof targets)[number]>[] }),
      flowId: state.flowId,
      durationMinutes: state.duration ?? null,
      justification,
      source: 'slack',
    });
    // The offers already hold the flows (the fallback flow too); no need to read them again.
    const flow = all.flows.find((f) => f.id === request.flowId);
    const waitingOn = flow?.approval.steps[0] ? describeApprovers(flow.approval.steps[0]) : 'the admins';
    return {
      response_action: 'update',
      view: submittedModal({
        id: request.id,
        summary: plainTargets(request),
        waitingOn,
        auto: request.state !== 'pending',
      }),
    };
  } catch (err) {
    const text = errorText(deps, err);
    const field = err instanceof LatchError && err.field ? FIELD_TO_BLOCK[err.field] : undefined;
    const block = field && present(field) ? field : present(BLOCK.resources) ? BLOCK.resources : BLOCK.bundle;
    return { response_action: 'errors', errors: { [block]: text.slice(0, 2000) } };
  }
}
