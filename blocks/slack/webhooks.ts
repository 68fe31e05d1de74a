/**
 * Lifecycle webhooks in Slack (docs/ARCHITECTURE.md, "Lifecycle webhooks"): the App Home's Webhooks
 * section for admins (each subscription with its last deliveries), the add/edit modal, the modal
 * that shows a generated secret once, and the list of a subscription's last deliveries.
 */
import type { KnownBlock, ModalView } from '@slack/types';
import type { WebhookDeliveryView, WebhookView } from '../../src/lifecycle/webhook-subscriptions.js';
import { checkboxes, multiStatic, textInput } from './admin-modals.js';
import { ACTION, VIEW } from './ids.js';
import { button, context, esc, header, modal, section, truncate, when } from './text.js';

/** Subscriptions the section lists (three blocks each keep the view under Slack's 100). */
const LISTED = 15;
/** Deliveries shown per subscription in the section; the Deliveries modal shows the rest. */
const RECENT_IN_HOME = 3;

export const WEBHOOK_BLOCK = {
  name: 'name',
  url: 'url',
  events: 'events',
  secret: 'secret',
  enabled: 'enabled',
} as const;

function eventsText(w: WebhookView): string {
  return w.events.length === 0 ? 'every event' : w.events.join(', ');
}

/** One line per delivery: when, what, for which request, and how it went. */
export function deliveryLine(d: WebhookDeliveryView, timeZone?: string): string {
  const outcome =
    d.state === 'delivered'
      ? `:white_check_mark: ${d.lastStatus ?? ''}`
      : d.state === 'failed'
        ? `:x: ${esc(truncate(d.lastError ?? 'failed', 200))}`
        : d.attempts === 0
          ? ':hourglass_flowing_sand: queued'
          : `:hourglass_flowing_sand: ${esc(truncate(d.lastError ?? '', 200))}, next try ${when(d.nextAttemptAt, timeZone)}`;
  const tries = d.attempts === 1 ? '1 attempt' : `${d.attempts} attempts`;
  return `\`${when(d.createdAt, timeZone)}\` *${esc(d.event)}* ${esc(d.requestId)} · ${outcome} · ${tries}`;
}

export function webhooksSection(webhooks: WebhookView[], timeZone?: string): KnownBlock[] {
  const out: KnownBlock[] = [
    header('Webhooks'),
    {
      type: 'actions',
      block_id: 'webhooks_top',
      elements: [button('Add webhook', ACTION.webhookNew, 'new', { style: 'primary' })],
    },
    context(
      'Latch POSTs each request and access event, signed (`Latch-Signature`), to the URLs here, and retries what fails.',
    ),
  ];
  if (webhooks.length === 0) out.push(context('No webhooks yet.'));
  for (const w of webhooks.slice(0, LISTED)) {
    const lines = [
      `*${esc(truncate(w.name, 100))}*${w.enabled ? '' : ' _(disabled)_'} · ${esc(truncate(w.url, 300))}`,
      `${esc(eventsText(w))}${w.pending ? ` · ${w.pending} waiting to be sent` : ''} · secret set ${when(w.secretSetAt, timeZone)}`,
    ];
    out.push(section(truncate(lines.join('\n'), 3000)));
    const recent = w.recent.slice(0, RECENT_IN_HOME);
    out.push(
      context(
        recent.length
          ? truncate(recent.map((d) => deliveryLine(d, timeZone)).join('\n'), 3000)
          : 'Nothing sent yet.',
      ),
    );
    out.push({
      type: 'actions',
      block_id: `webhook:${w.id}`,
      elements: [
        button('Edit', ACTION.webhookEdit, w.id),
        button('Deliveries', ACTION.webhookDeliveries, w.id),
        button('Rotate secret', ACTION.webhookRotate, w.id, {
          confirm: {
            title: 'Rotate the secret?',
            text: `Latch signs with a new secret at once (retries too); ${truncate(w.name, 100)} must be given it, or it refuses what Latch sends.`,
            confirm: 'Rotate',
          },
        }),
        button('Delete', ACTION.webhookDelete, w.id, {
          style: 'danger',
          confirm: {
            title: 'Delete webhook?',
            text: `Delete ${truncate(w.name, 100)}? What is still waiting to be sent to it is dropped.`,
            confirm: 'Delete',
          },
        }),
      ],
    });
  }
  if (webhooks.length > LISTED) out.push(context(`…and ${webhooks.length - LISTED} more.`));
  return out;
}

export function webhookModal(m: {
  webhook?: WebhookView;
  events: readonly string[];
  privateMetadata: string;
}): ModalView {
  const w = m.webhook;
  return modal({
    callbackId: VIEW.webhook,
    title: w ? 'Edit webhook' : 'Add webhook',
    submit: 'Save',
    privateMetadata: m.privateMetadata,
    blocks: [
      textInput(WEBHOOK_BLOCK.name, 'Name', { initial: w?.name, max: 80 }),
      textInput(WEBHOOK_BLOCK.url, 'URL', {
        initial: w?.url,
        max: 2000,
        placeholder: 'https://hooks.example.com/latch',
        hint: 'Latch POSTs JSON here. https, or plain http to this machine only (localhost).',
      }),
      multiStatic(
        WEBHOOK_BLOCK.events,
        'Events',
        m.events.map((e) => ({ text: e, value: e })),
        w?.events ?? [],
        'Leave empty for every event.',
      ),
      textInput(WEBHOOK_BLOCK.secret, 'Signing secret', {
        optional: true,
        max: 200,
        hint: w
          ? 'Stored, and never shown. Leave empty to keep it; type one to replace it (or use Rotate secret).'
          : 'Leave empty and Latch generates one, shown to you once. At least 16 characters if you give your own.',
      }),
      checkboxes(
        WEBHOOK_BLOCK.enabled,
        'Sending',
        [{ text: 'Enabled', value: 'on' }],
        w?.enabled === false ? [] : ['on'],
      ),
    ],
  });
}

/** The secret Latch generated, shown this once: nothing shows it again. */
export function webhookSecretModal(name: string, secret: string, rotated = false): ModalView {
  return modal({
    callbackId: VIEW.webhookSecret,
    title: 'Signing secret',
    close: 'Done',
    blocks: [
      section(
        `${rotated ? `*${esc(name)}* has a new signing secret` : `*${esc(name)}* is saved`}. Give the receiver this secret now: Latch never shows it again.`,
      ),
      section(`\`\`\`${secret}\`\`\``),
      context(
        'Each POST carries `Latch-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">`; the README shows how to check it.',
      ),
    ],
  });
}

export function webhookDeliveriesModal(w: WebhookView, timeZone?: string): ModalView {
  const lines = w.recent.map((d) => deliveryLine(d, timeZone));
  const blocks: KnownBlock[] = [
    section(`*${esc(truncate(w.name, 100))}* · ${esc(truncate(w.url, 300))}`),
    context(`The last ${w.recent.length} deliveries, newest first.`),
  ];
  if (lines.length === 0) blocks.push(context('Nothing sent yet.'));
  // Ten to a block keeps each under 3,000 characters.
  for (let i = 0; i < lines.length; i += 10)
    blocks.push(section(truncate(lines.slice(i, i + 10).join('\n'), 3000)));
  return modal({ callbackId: VIEW.webhookDeliveries, title: 'Deliveries', blocks });
}
