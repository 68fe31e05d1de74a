/** The /access request modal, its loading state and the confirmation shown after submitting. */
import type { KnownBlock, ModalView } from '@slack/types';
import { TEXT_LIMITS } from '../../src/domain/limits.js';
import type { RequestOptions } from '../../src/lifecycle/queries/request-options.js';
import { formatDuration } from '../../src/domain/duration.js';
import { ACTION, BLOCK, VIEW } from './ids.js';
import { context, encodeValue, esc, md, modal, option, plain, section, truncate } from './text.js';

export interface ResourceChoice {
  /** Option value: the offer's key, encoded for Slack (see offerValue). */
  value: string;
  label: string;
}

/** The core's request options (src/lifecycle/queries), with offers as Slack option values. */
export type RequestForm = Omit<RequestOptions, 'selected' | 'bundles'> & {
  selected: ResourceChoice[];
  bundles: Array<{ name: string; description: string }>;
  privateMetadata: string;
};

export function loadingModal(title = 'Request access'): ModalView {
  return modal({ callbackId: VIEW.loading, title, blocks: [section(':hourglass_flowing_sand: Loading…')] });
}

export function noticeModal(title: string, text: string): ModalView {
  return modal({ callbackId: VIEW.notice, title, blocks: [section(text)] });
}

export function durationValue(minutes: number | null): string {
  return minutes === null ? 'indefinite' : String(minutes);
}

export function parseDurationValue(value: string | undefined): number | null | undefined {
  if (value === undefined) return undefined;
  if (value === 'indefinite') return null;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

export function requestModal(form: RequestForm): ModalView {
  if (!form.anything) {
    return modal({
      callbackId: VIEW.notice,
      title: 'Request access',
      blocks: [
        section(
          form.closed.length > 0
            ? 'There is nothing you can ask for right now:'
            : 'There is nothing you can ask for right now: no access flow lists you, or its resources are outside its hours. An admin can add you to a flow.',
        ),
        ...form.closed.slice(0, 5).map((why) => section(`• ${esc(why)}`)),
      ],
    });
  }
  const blocks: KnownBlock[] = [];
  blocks.push({
    type: 'input',
    block_id: BLOCK.resources,
    optional: form.bundles.length > 0,
    dispatch_action: true,
    label: plain('Resources', 2000),
    hint: plain('Type to search everything you may ask for.', 2000),
    element: {
      type: 'multi_external_select',
      action_id: ACTION.resources,
      min_query_length: 0,
      placeholder: plain('Search resources', 150),
      ...(form.selected.length > 0
        ? { initial_options: form.selected.slice(0, 100).map((r) => option(r.label, r.value)) }
        : {}),
    },
  });
  if (form.bundles.length > 0) {
    const bundleOptions = form.bundles
      .slice(0, 100)
      .map((b) => option(b.name, encodeValue(b.name), b.description || undefined));
    const selectedBundle = bundleOptions.find(
      (o) => form.selectedBundle && o.value === encodeValue(form.selectedBundle),
    );
    blocks.push({
      type: 'input',
      block_id: BLOCK.bundle,
      optional: true,
      dispatch_action: true,
      label: plain('…or a bundle', 2000),
      element: {
        type: 'static_select',
        action_id: ACTION.bundle,
        placeholder: plain('Choose a bundle', 150),
        options: bundleOptions,
        ...(selectedBundle ? { initial_option: selectedBundle } : {}),
      },
    });
  }
  if (form.flows.length > 1) {
    const opts = form.flows.slice(0, 100).map((f) => option(f.name, f.id));
    blocks.push({
      type: 'input',
      block_id: BLOCK.flow,
      dispatch_action: true,
      label: plain('Access flow', 2000),
      element: {
        type: 'static_select',
        action_id: ACTION.flow,
        options: opts,
        ...(form.selectedFlowId ? { initial_option: opts.find((o) => o.value === form.selectedFlowId) } : {}),
      },
    });
  }
  if (form.permissions.length > 0 && !form.selectedBundle) {
    const opts = form.permissions.slice(0, 100).map((p) => option(p, truncate(p, 150)));
    const initial =
      opts.find((o) => o.value === form.selectedPermission) ?? (opts.length === 1 ? opts[0] : undefined);
    blocks.push({
      type: 'input',
      block_id: BLOCK.permission,
      label: plain('Permission', 2000),
      element: {
        type: 'static_select',
        action_id: ACTION.permission,
        options: opts,
        ...(initial ? { initial_option: initial } : {}),
      },
    });
  }
  if (form.durations.length > 0) {
    const opts = form.durations.slice(0, 100).map((d) => option(formatDuration(d), durationValue(d)));
    const initial =
      form.selectedDuration !== undefined
        ? opts.find((o) => o.value === durationValue(form.selectedDuration!))
        : opts[0];
    blocks.push({
      type: 'input',
      block_id: BLOCK.duration,
      label: plain('For how long', 2000),
      element: {
        type: 'static_select',
        action_id: ACTION.duration,
        options: opts,
        ...(initial ? { initial_option: initial } : {}),
      },
    });
  }
  if (form.forOthers.length > 0)
    blocks.push({
      type: 'input',
      block_id: BLOCK.onBehalfOf,
      optional: true,
      label: plain('For someone else', 2000),
      ...(form.forOthersHint ? { hint: plain(form.forOthersHint, 2000) } : {}),
      element: {
        type: 'users_select',
        action_id: ACTION.onBehalfOf,
        placeholder: plain(form.forOthers.includes('anyone') ? 'Anyone' : 'One of your reports', 150),
      },
    });
  if (form.breakGlass)
    blocks.push({
      type: 'input',
      block_id: BLOCK.breakGlass,
      optional: true,
      label: plain('Emergency', 2000),
      hint: plain('Say what the emergency is under "Why do you need it?".', 2000),
      element: {
        type: 'checkboxes',
        action_id: ACTION.breakGlass,
        options: [
          {
            text: plain('Break glass: approve it myself now', 75),
            value: 'on',
            description: plain('Emergencies only: every admin is told at once, and one reviews it.', 75),
          },
        ],
      },
    });
  blocks.push({
    type: 'input',
    block_id: BLOCK.justification,
    optional: !form.justificationRequired,
    label: plain(form.justificationRequired ? 'Why do you need it?' : 'Why do you need it? (optional)', 2000),
    element: {
      type: 'plain_text_input',
      action_id: ACTION.justification,
      multiline: true,
      max_length: TEXT_LIMITS.justification,
      placeholder: plain('A ticket, an incident, a sentence for the approver', 150),
    },
  });
  if (form.notes.length > 0) blocks.push(context(...form.notes.map((n) => esc(n))));
  if (form.closed.length > 0) blocks.push(context(...form.closed.slice(0, 5).map((n) => esc(n))));
  return modal({
    callbackId: VIEW.request,
    title: 'Request access',
    submit: 'Request',
    blocks,
    privateMetadata: form.privateMetadata,
  });
}

export function submittedModal(opts: {
  id: string;
  summary: string;
  waitingOn: string;
  auto: boolean;
  /** Why it was approved automatically or went to approvers. */
  routing?: string;
  breakGlass?: boolean;
  /** Asked for someone else: their email. */
  forWhom?: string;
}): ModalView {
  const text = opts.forWhom
    ? `:inbox_tray: *${opts.id}* is submitted for ${esc(opts.forWhom)}: ${esc(opts.summary)}.\n${opts.auto ? 'It is approved; Latch is granting it to them.' : `Waiting for ${esc(opts.waitingOn)}.`} They are told and can decline it; you can cancel it while it waits.`
    : opts.breakGlass
      ? `:rotating_light: *${opts.id}* is approved by you (break glass): ${esc(opts.summary)}. Latch is granting it now and will send you a DM. Every admin has been told, and one will review it.`
      : opts.auto
        ? `:white_check_mark: *${opts.id}* is approved automatically: ${esc(opts.summary)}. Latch is granting it now and will send you a DM.`
        : `:inbox_tray: *${opts.id}* is submitted: ${esc(opts.summary)}.\nWaiting for ${esc(opts.waitingOn)}. You will get a DM when it is decided.`;
  return modal({
    callbackId: VIEW.submitted,
    title: 'Request sent',
    blocks: [
      { type: 'section', text: md(text) },
      ...(opts.routing ? [context(`Policy: ${esc(truncate(opts.routing, 2500))}`)] : []),
    ],
  });
}
