/** Small pure helpers for Block Kit: text objects that respect Slack's limits, and dates in a reader's zone. */
import { createHash } from 'node:crypto';
import type {
  Button,
  ConfirmationDialog,
  ContextBlock,
  DividerBlock,
  HeaderBlock,
  KnownBlock,
  ModalView,
  MrkdwnElement,
  PlainTextElement,
  PlainTextOption,
  SectionBlock,
} from '@slack/types';
import { DateTime } from 'luxon';

export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  return text.slice(0, Math.max(0, max - 1)) + '…';
}

/** Slack mrkdwn treats &, < and > as control characters. */
export function esc(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function plain(text: string, max = 3000): PlainTextElement {
  return { type: 'plain_text', text: truncate(text || ' ', max), emoji: true };
}

export function md(text: string, max = 3000): MrkdwnElement {
  return { type: 'mrkdwn', text: truncate(text || ' ', max) };
}

export function section(text: string, extra: Pick<SectionBlock, 'accessory'> = {}): SectionBlock {
  return { type: 'section', text: md(text), ...extra };
}

export function context(...texts: string[]): ContextBlock {
  return { type: 'context', elements: texts.slice(0, 10).map((t) => md(t)) };
}

export function header(text: string): HeaderBlock {
  return { type: 'header', text: plain(text, 150) };
}

export const divider: DividerBlock = { type: 'divider' };

export function button(
  text: string,
  actionId: string,
  value: string,
  opts: { style?: 'primary' | 'danger'; confirm?: Confirm } = {},
): Button {
  return {
    type: 'button',
    text: plain(text, 75),
    action_id: actionId,
    value: truncate(value, 2000),
    ...(opts.style ? { style: opts.style } : {}),
    ...(opts.confirm ? { confirm: confirmDialog(opts.confirm) } : {}),
  };
}

export interface Confirm {
  title: string;
  text: string;
  confirm: string;
  deny?: string;
}

function confirmDialog(c: Confirm): ConfirmationDialog {
  return {
    title: plain(c.title, 100),
    text: plain(c.text, 300),
    confirm: plain(c.confirm, 30),
    deny: plain(c.deny ?? 'Cancel', 30),
  };
}

/** An option whose value is always set (Slack's type leaves `value` optional), so callers can match on it. */
export type ValuedOption = PlainTextOption & { value: string };

export function option(text: string, value: string, description?: string): ValuedOption {
  return {
    text: plain(text, 75),
    value,
    ...(description ? { description: plain(description, 75) } : {}),
  };
}

/** "Mon 23 Nov, 14:05 (Europe/Paris)" in the reader's zone, falling back to UTC. */
export function when(date: Date | null | undefined, timeZone?: string): string {
  if (!date) return 'never';
  const zone = timeZone && DateTime.local().setZone(timeZone).isValid ? timeZone : 'UTC';
  return DateTime.fromJSDate(date).setZone(zone).toFormat("ccc d LLL, HH:mm '('ZZZZ')'");
}

export function mention(slackUserId: string | undefined, fallback: string): string {
  return slackUserId ? `<@${slackUserId}>` : esc(fallback);
}

/** A modal: title and button labels are cut to Slack's 24 characters. */
export function modal(opts: {
  callbackId: string;
  title: string;
  blocks: KnownBlock[];
  submit?: string;
  close?: string;
  privateMetadata?: string;
  externalId?: string;
}): ModalView {
  return {
    type: 'modal',
    callback_id: opts.callbackId,
    title: plain(opts.title, 24),
    ...(opts.submit ? { submit: plain(opts.submit, 24) } : {}),
    close: plain(opts.close ?? (opts.submit ? 'Cancel' : 'Close'), 24),
    blocks: opts.blocks.slice(0, 100),
    ...(opts.privateMetadata ? { private_metadata: opts.privateMetadata } : {}),
    ...(opts.externalId ? { external_id: opts.externalId } : {}),
  };
}

/** Option values hold at most 150 characters; longer ones travel as a hash that `decodeValue` maps back. */
export function encodeValue(value: string): string {
  return value.length <= 150 ? value : 'h:' + createHash('sha256').update(value).digest('hex').slice(0, 40);
}

export function decodeValue(value: string, candidates: readonly string[]): string | undefined {
  if (!value.startsWith('h:')) return value;
  return candidates.find((c) => encodeValue(c) === value);
}

/** Splits text into pieces of at most `max` characters, at line ends where it can. */
export function chunks(text: string, max = 3000): string[] {
  const out: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const pieces = line.length > max ? line.match(new RegExp(`.{1,${max}}`, 'gs'))! : [line];
    for (const piece of pieces) {
      if (current && current.length + 1 + piece.length > max) {
        out.push(current);
        current = piece;
      } else current = current ? `${current}\n${piece}` : piece;
    }
  }
  if (current) out.push(current);
  return out;
}
