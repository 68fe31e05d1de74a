/**
 * Standing access in the App Home (docs/ARCHITECTURE.md, "Reconciliation", "Slack channel"): the
 * section's model from the core's queries, the convert modal filled in from the entry, and its
 * submission turned into `admin.convertStanding`. Checking is the use-case's; this module puts each
 * refusal on the field it concerns, or says it in words when it concerns none.
 */
import type { ViewErrorsResponseAction, ViewUpdateResponseAction } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import { PAGE_SIZE } from '../../../blocks/slack/home.js';
import { noticeModal } from '../../../blocks/slack/request-modal.js';
import { esc } from '../../../blocks/slack/text.js';
import {
  parseStandingRef,
  STANDING_BLOCK,
  standingConvertModal,
  type StandingHomeModel,
} from '../../../blocks/slack/standing.js';
import type { ChannelCore } from '../../app.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import { errorText, parseMetadata, type SlackDeps } from './context.js';
import type { StateValue, ViewPayload } from './request-flow.js';

type Values = Record<string, Record<string, StateValue>>;
const first = (v: Values, block: string): StateValue | undefined => Object.values(v[block] ?? {})[0];

/**
 * The section's model. Outside the section only the count is read (the nav shows it); a page past
 * the end (the last entry of a page converted) shows the last page.
 */
export async function standingHome(
  q: ChannelCore['queries'],
  who: Identity,
  section: string,
  page: number,
): Promise<StandingHomeModel> {
  if (section !== 'standing') {
    const { total } = await q.standingAccess(who, { limit: 1 });
    return { total, page: 0, pages: 1, items: [], integrations: [] };
  }
  const read = (p: number) => q.standingAccess(who, { limit: PAGE_SIZE, offset: p * PAGE_SIZE });
  let listed = await read(Math.max(0, page));
  const pages = Math.max(1, Math.ceil(listed.total / PAGE_SIZE));
  const shown = Math.min(Math.max(0, page), pages - 1);
  if (shown !== page) listed = await read(shown);
  const [statuses, choices] = await Promise.all([q.reconcileStatus(who), q.flowFormChoices(who)]);
  return {
    total: listed.total,
    page: shown,
    pages,
    items: listed.items,
    integrations: choices.integrations.map((name) => ({
      name,
      status: statuses.find((s) => s.integration === name),
    })),
  };
}

export async function openStandingConvertModal(
  deps: SlackDeps,
  who: Identity,
  client: WebClient,
  triggerId: string,
  ref: string,
): Promise<void> {
  const { integration, key } = parseStandingRef(ref);
  const q = deps.latch.queries;
  const [listed, flows] = await Promise.all([
    integration && key ? q.standingAccess(who, { integration, key, limit: 1 }) : { total: 0, items: [] },
    q.flows(who),
  ]);
  const item = listed.items[0];
  if (!item)
    throw new LatchError(
      'not_found',
      'That standing access is no longer listed (reconciliation found it gone).',
    );
  await client.views.open({
    trigger_id: triggerId,
    view: standingConvertModal({
      item,
      flows: flows.map((f) => ({ id: f.id, name: f.name })),
      timeZone: who.timeZone,
    }),
  });
}

/** A core error's field → the modal block it belongs on; any other field is about the choice of flow. */
const FIELD_BLOCK: Record<string, string> = {
  person: STANDING_BLOCK.person,
  name: STANDING_BLOCK.name,
  flowId: STANDING_BLOCK.flow,
};

export type ConvertAck = ViewErrorsResponseAction | ViewUpdateResponseAction;

/** The submission: errors on their fields (nothing changed), else what was done, in the modal. */
export async function convertStandingFromView(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
): Promise<ConvertAck> {
  // Who before what: a forged submission by a non-admin is refused (and audited) unread.
  await deps.latch.admin.assertAdmin(who, 'standing.convert');
  const v = view.state?.values ?? {};
  const ref = parseMetadata<{ integration: string; key: string }>(view.private_metadata);
  const mode = first(v, STANDING_BLOCK.mode)?.selected_option?.value === 'extend' ? 'extend' : 'new';
  const name = (first(v, STANDING_BLOCK.name)?.value ?? '').trim();
  const flowId = first(v, STANDING_BLOCK.flow)?.selected_option?.value ?? '';
  const person = (first(v, STANDING_BLOCK.person)?.value ?? '').trim();
  const errors: Record<string, string> = {};
  if (mode === 'new' && !name) errors[STANDING_BLOCK.name] = 'Give the new flow a name.';
  if (mode === 'extend' && !flowId) errors[STANDING_BLOCK.flow] = 'Choose the flow to add it to.';
  if (mode === 'new' && name) {
    // Checked here so the message lands on the name, not after the flow is half made.
    const taken = (await deps.latch.queries.flows(who)).some(
      (f) => f.name.toLowerCase() === name.toLowerCase(),
    );
    if (taken)
      errors[STANDING_BLOCK.name] =
        `A flow called ${name} already exists: choose another name, or add it to that flow.`;
  }
  if (Object.keys(errors).length) return { response_action: 'errors', errors };
  try {
    const { flow, removed } = await deps.latch.admin.convertStanding(who, {
      integration: ref.integration ?? '',
      key: ref.key ?? '',
      ...(person ? { person } : {}),
      flow: mode === 'new' ? { mode, name } : { mode, flowId },
    });
    return {
      response_action: 'update',
      view: noticeModal(
        'Standing access',
        `:white_check_mark: *${esc(removed.account)}*'s access to ${esc(removed.resourceName)} (${esc(removed.permission)}) is removed. Flow *${esc(flow.name)}* now covers it: it can be asked for with \`/access\`.`,
      ),
    };
  } catch (err) {
    if (err instanceof LatchError && err.field) {
      const block = FIELD_BLOCK[err.field] ?? STANDING_BLOCK.mode;
      return { response_action: 'errors', errors: { [block]: errorText(deps, err).slice(0, 2000) } };
    }
    if (err instanceof LatchError && err.code === 'forbidden') throw err;
    // Not about a field (gone meanwhile, or the system refused the removal): said in words.
    return {
      response_action: 'update',
      view: noticeModal('Standing access', `:warning: ${esc(errorText(deps, err))}`),
    };
  }
}
