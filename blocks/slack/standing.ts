/**
 * Standing access in Slack (docs/ARCHITECTURE.md, "Reconciliation", "Slack channel"): the App
 * Home's admin section listing access found on the systems that no Latch grant holds, with each
 * integration's last reconciliation, and the modal that turns one entry into requestable access.
 */
import type { InputBlock, KnownBlock, ModalView } from '@slack/types';
import type { ReconcileStatusView, StandingView } from '../../src/lifecycle/standing.js';
import { ACTION, VIEW } from './ids.js';
import {
  button,
  context,
  divider,
  esc,
  header,
  modal,
  option,
  plain,
  section,
  truncate,
  when,
} from './text.js';

/** Input blocks of the convert modal; the core's error fields map onto them. */
export const STANDING_BLOCK = {
  mode: 'flow_mode',
  name: 'flow_name',
  flow: 'flow_id',
  person: 'person',
} as const;

/** At most this many integrations are listed with their reconciliation, to stay under 100 blocks. */
const MAX_INTEGRATIONS = 15;

export interface StandingHomeModel {
  /** All standing access, every page. */
  total: number;
  /** The page shown (0-based, within range) and how many there are. */
  page: number;
  pages: number;
  items: StandingView[];
  /** Every integration, with its last reconciliation when there was one. */
  integrations: Array<{ name: string; status?: ReconcileStatusView }>;
}

/** What a button carries to name one entry: integration names hold no `|` (letters, digits, - and _). */
export function standingRef(item: Pick<StandingView, 'integration' | 'key'>): string {
  return `${item.integration}|${item.key}`;
}

export function parseStandingRef(value: string): { integration: string; key: string } {
  const at = value.indexOf('|');
  return at < 0
    ? { integration: '', key: '' }
    : { integration: value.slice(0, at), key: value.slice(at + 1) };
}

/** Convertible: it is on a resource Latch manages, with a permission a flow can offer. */
export const convertible = (item: StandingView) => Boolean(item.resourceId && item.permission);

function itemText(item: StandingView, timeZone?: string): string {
  const owner = item.email ? esc(item.email) : '_owner unknown_';
  const what = convertible(item)
    ? `${esc(item.permission)} on *${esc(truncate(item.resourceName, 200))}*`
    : 'no resource Latch manages: remove it on the system';
  const marker = item.madeByLatch ? ' · :label: made by Latch, left over' : '';
  return truncate(
    `*${esc(item.account)}* · ${owner}\n${what} · ${esc(item.integration)}${marker} · first seen ${when(item.firstSeenAt, timeZone)}`,
    3000,
  );
}

function statusText(name: string, s: ReconcileStatusView | undefined, timeZone?: string): string {
  if (!s) return `*${esc(name)}* · :white_circle: not reconciled yet`;
  if (!s.ok)
    return truncate(
      `*${esc(name)}* · :red_circle: failed ${when(s.at, timeZone)}: ${esc(truncate(s.error ?? 'unknown error', 500))}`,
      3000,
    );
  const c = s.counts;
  const n = (k: string) => c[k] ?? 0;
  const drift = n('missing') + n('revoked') + n('revokeFailed');
  return `*${esc(name)}* · ${drift ? ':large_yellow_circle:' : ':large_green_circle:'} reconciled ${when(s.at, timeZone)}\n${n('listed')} listed · ${n('matched')} held through Latch · ${n('standing')} standing · ${n('missing')} missing (${n('reapplied')} re-applied) · ${n('revoked')} revoked${n('revokeFailed') ? ` · ${n('revokeFailed')} could not be revoked` : ''}`;
}

export function standingSection(m: StandingHomeModel | undefined, timeZone?: string): KnownBlock[] {
  const total = m?.total ?? 0;
  const out: KnownBlock[] = [
    header(`Standing access (${total})`),
    context(
      'Access found on the systems that no Latch grant holds. *Convert…* removes it and makes it requestable under a flow.',
    ),
  ];
  if (!m || total === 0)
    out.push(context('None found: everything on the systems is held through Latch (as of the last run).'));
  for (const item of m?.items ?? [])
    out.push(
      section(
        itemText(item, timeZone),
        convertible(item) ? { accessory: button('Convert…', ACTION.standingConvert, standingRef(item)) } : {},
      ),
    );
  if (m && m.pages > 1) {
    out.push({
      type: 'actions',
      block_id: 'pager:standing',
      elements: [
        ...(m.page > 0 ? [button('‹ Previous', `${ACTION.page}:prev`, `standing:${m.page - 1}`)] : []),
        ...(m.page < m.pages - 1 ? [button('Next ›', `${ACTION.page}:next`, `standing:${m.page + 1}`)] : []),
      ],
    });
    out.push(context(`Page ${m.page + 1} of ${m.pages} · ${total} in all`));
  }

  const integrations = m?.integrations ?? [];
  out.push(divider, header('Reconciliation'), {
    type: 'actions',
    block_id: 'reconcile_top',
    elements: [button('Reconcile all now', ACTION.reconcileNow, '*')],
  });
  if (integrations.length === 0) out.push(context('No integrations yet.'));
  for (const i of integrations.slice(0, MAX_INTEGRATIONS))
    out.push(
      section(statusText(i.name, i.status, timeZone), {
        accessory: button('Reconcile now', ACTION.reconcileNow, i.name),
      }),
    );
  if (integrations.length > MAX_INTEGRATIONS)
    out.push(
      context(`…and ${integrations.length - MAX_INTEGRATIONS} more: *Reconcile all now* covers them.`),
    );
  return out;
}

/** The name a new flow is offered with: what it covers, and whose it was when that name is taken. */
export function suggestedFlowName(item: StandingView, taken: readonly string[] = []): string {
  const plainName = truncate(`${item.resourceName} ${item.permission}`, 80);
  const isTaken = (n: string) => taken.some((t) => t.toLowerCase() === n.toLowerCase());
  return isTaken(plainName)
    ? truncate(`${item.resourceName} ${item.permission} (${item.account})`, 80)
    : plainName;
}

export function standingConvertModal(m: {
  item: StandingView;
  flows: Array<{ id: string; name: string }>;
  timeZone?: string;
}): ModalView {
  const { item } = m;
  const modes = [
    option('New flow', 'new', 'You approve; at most 8 hours. Edit it later.'),
    ...(m.flows.length ? [option('Add to an existing flow', 'extend', 'Its targets and people grow')] : []),
  ];
  const person: InputBlock = {
    type: 'input',
    block_id: STANDING_BLOCK.person,
    optional: Boolean(item.email),
    label: plain("The person's email"),
    hint: plain(
      item.email
        ? 'Who may ask for it from now on: the email the system gave, unless you change it.'
        : 'The system does not say whose account this is: give the email of the person who may ask for it from now on.',
    ),
    element: {
      type: 'plain_text_input',
      action_id: 'value',
      max_length: 254,
      ...(item.email ? { initial_value: item.email } : {}),
    },
  };
  const blocks: KnownBlock[] = [
    section(itemText(item, m.timeZone)),
    {
      type: 'input',
      block_id: STANDING_BLOCK.mode,
      label: plain('Make it requestable under'),
      element: { type: 'radio_buttons', action_id: 'value', options: modes, initial_option: modes[0] },
    },
    {
      type: 'input',
      block_id: STANDING_BLOCK.name,
      optional: true,
      label: plain('Name of the new flow'),
      element: {
        type: 'plain_text_input',
        action_id: 'value',
        max_length: 80,
        initial_value: suggestedFlowName(
          item,
          m.flows.map((f) => f.name),
        ),
      },
    },
    ...(m.flows.length
      ? [
          {
            type: 'input',
            block_id: STANDING_BLOCK.flow,
            optional: true,
            label: plain('Existing flow'),
            hint: plain(
              'For "Add to an existing flow": it is extended to cover this access and this person.',
            ),
            element: {
              type: 'static_select',
              action_id: 'value',
              placeholder: plain('Choose a flow'),
              options: m.flows.slice(0, 100).map((f) => option(truncate(f.name, 75), f.id)),
            },
          } satisfies InputBlock,
        ]
      : []),
    person,
    section(
      `:warning: *${esc(item.account)}*'s access to *${esc(truncate(item.resourceName, 200))}* (${esc(item.permission)}) on ${esc(item.integration)} *is removed now*, when you convert. From then on the person asks for it with \`/access\`, under the flow.`,
    ),
  ];
  return modal({
    callbackId: VIEW.standingConvert,
    title: 'Convert standing access',
    submit: 'Remove and convert',
    blocks,
    privateMetadata: JSON.stringify(parseStandingRef(standingRef(item))),
  });
}
