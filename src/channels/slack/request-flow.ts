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
import {
  prepareRequest,
  refusalField,
  searchOffers,
  type FieldErrors,
  type RequestField,
} from '../../lifecycle/queries/request-options.js';
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
  selected_user?: string | null;
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
    breakGlass: (first(BLOCK.breakGlass)?.selected_options ?? []).some((o) => o.value === 'on') || undefined,
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

const FIELD_BLOCKS: Record<RequestField, string> = {
  targets: BLOCK.resources,
  bundle: BLOCK.bundle,
  flow: BLOCK.flow,
  permission: BLOCK.permission,
  duration: BLOCK.duration,
  justification: BLOCK.justification,
  breakGlass: BLOCK.breakGlass,
  onBehalfOf: BLOCK.onBehalfOf,
};

export type SubmissionAck = ViewErrorsResponseAction | ViewUpdateResponseAction;

/** The core's checks (prepareRequest), with each refusal on the block of the field it concerns. */
export async function submitRequest(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
  teamId?: string,
): Promise<SubmissionAck> {
  const state = stateOf(view);
  const values = view.state?.values ?? {};
  // A picked Slack user is asked for by email (docs/ARCHITECTURE.md, "Asking for someone else").
  const forUser = Object.values(values[BLOCK.onBehalfOf] ?? {})[0]?.selected_user ?? undefined;
  const onBehalfOf = forUser
    ? await deps.directory
        .emailsOf(teamId, [forUser])
        .then((emails) => emails[0])
        .catch(() => undefined)
    : undefined;
  if (forUser && !onBehalfOf)
    return {
      response_action: 'errors',
      errors: { [BLOCK.onBehalfOf]: 'Latch cannot see this person’s email in Slack; pick someone else.' },
    };
  const justification = Object.values(values[BLOCK.justification] ?? {})[0]?.value ?? '';
  const shown = new Set(
    (Object.keys(FIELD_BLOCKS) as RequestField[]).filter((f) => values[FIELD_BLOCKS[f]] !== undefined),
  );
  const errorsOn = (errors: FieldErrors): SubmissionAck => ({
    response_action: 'errors',
    errors: Object.fromEntries(
      Object.entries(errors).map(([field, text]) => [
        FIELD_BLOCKS[field as RequestField],
        text.slice(0, 2000),
      ]),
    ),
  });

  const all = await deps.latch.queries.offers(who);
  const prepared = prepareRequest(
    all,
    {
      ...state,
      selected: state.selected.map((v) => offerOf(all, v)?.key ?? v),
      justification,
      ...(onBehalfOf ? { onBehalfOf } : {}),
    },
    shown,
  );
  if ('errors' in prepared) return errorsOn(prepared.errors);
  try {
    const request = await deps.latch.requests.submit(who, { ...prepared.input, source: 'slack' });
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
        routing: request.routing,
        breakGlass: request.breakGlass,
        ...(request.askedBy ? { forWhom: request.requester.email } : {}),
      }),
    };
  } catch (err) {
    const field = refusalField(err instanceof LatchError ? err.field : undefined, shown);
    return errorsOn({ [field]: errorText(deps, err) });
  }
}
