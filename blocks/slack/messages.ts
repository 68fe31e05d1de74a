/**
 * Direct messages: the approver's card (updated in place once anyone decides) and everything the
 * requester is told along the way. Each builder returns `{ text, blocks }`; `text` is what a
 * notification or a screen reader shows.
 */
import type { KnownBlock } from '@slack/types';
import type { RequesterContext } from '../../src/lifecycle/queries/index.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import { formatDuration } from '../../src/domain/duration.js';
import { ACTION } from './ids.js';
import { button, context, esc, md, section, truncate } from './text.js';

export interface Message {
  text: string;
  blocks: KnownBlock[];
}

export type { RequesterContext };

const MAX_TARGETS_LISTED = 10;

export function describeTargets(r: RequestView, max = MAX_TARGETS_LISTED): string {
  if (r.bundle && r.targets.length > 3) return `bundle *${esc(r.bundle)}* (${r.targets.length} resources)`;
  const parts = r.targets
    .slice(0, max)
    .map((t) => `*${esc(t.permission)}* on *${esc(t.resourceName)}* (${esc(t.integration)})`);
  const more = r.targets.length > max ? ` and ${r.targets.length - max} more` : '';
  return parts.join(', ') + more;
}

export function plainTargets(r: RequestView): string {
  if (r.bundle) return `bundle ${r.bundle}`;
  const first = r.targets[0];
  const one = first ? `${first.permission} on ${first.resourceName}` : 'access';
  return r.targets.length > 1 ? `${one} and ${r.targets.length - 1} more` : one;
}

export function approvalCard(opts: {
  request: RequestView;
  requester: string;
  context: RequesterContext;
  reminder?: boolean;
  /** Sent to the approvers the step was escalated to. */
  escalated?: boolean;
  /** Set once decided: replaces the buttons, so nobody acts on a stale card. */
  outcome?: string;
  /** Recorded approvals short of a decision ("approved by Bob, 1 of 2"), as mrkdwn. */
  progress?: string;
  /** Who asked, as mrkdwn, when the request is for someone else (the requester). */
  askedBy?: string;
}): Message {
  const r = opts.request;
  const c = opts.context;
  const who = opts.askedBy
    ? `${opts.askedBy} asks for ${opts.requester}: ${describeTargets(r)}`
    : `${opts.requester} asks for ${describeTargets(r)}`;
  const lead = `${opts.escalated ? ':arrow_double_up: Escalated to you, nobody decided in time: ' : opts.reminder ? ':bell: Reminder: ' : ''}${who} for *${formatDuration(r.durationMinutes)}*.`;
  const fields = [
    md(`*Request*\n${r.id}${r.stepCount > 1 ? ` · step ${r.step + 1} of ${r.stepCount}` : ''}`, 2000),
    md(`*Flow*\n${esc(r.flowName)}${r.viaFallback ? ' (fallback)' : ''}`, 2000),
    md(`*Why*\n${r.justification ? esc(truncate(r.justification, 1500)) : '_no reason given_'}`, 2000),
    md(
      `*Requester's time*\n${c.localTime ? `${c.localTime} ${esc(c.timeZone ?? '')}` : 'unknown zone'}${
        c.withinWorkingHours === undefined
          ? ''
          : c.withinWorkingHours
            ? ' · working hours'
            : ' · *outside working hours*'
      }`,
      2000,
    ),
    md(`*Groups*\n${c.groups.length ? esc(truncate(c.groups.join(', '), 1500)) : '_none_'}`, 2000),
    md(
      `*Asked before*\n${c.previousRequests === 0 ? 'first request' : `${c.previousRequests} request${c.previousRequests === 1 ? '' : 's'}, ${c.previousForSame} for this`}`,
      2000,
    ),
    ...(c.onCall === undefined
      ? []
      : [
          md(
            `*On call*\n${c.onCall.length ? `yes: ${esc(truncate(c.onCall.join(', '), 1500))}` : 'no'}`,
            2000,
          ),
        ]),
  ];
  const blocks: KnownBlock[] = [section(lead), { type: 'section', fields }];
  if (c.routing) blocks.push(context(`Policy: ${esc(truncate(c.routing, 2500))}`));
  // Built by the notifier from mentions and escaped text.
  if (opts.progress) blocks.push(context(opts.progress));
  if (opts.outcome) {
    blocks.push(section(opts.outcome));
  } else {
    blocks.push({
      type: 'actions',
      block_id: `approval:${r.id}`,
      elements: [
        button('Approve', ACTION.approve, r.id, { style: 'primary' }),
        button('Deny', ACTION.deny, r.id, { style: 'danger' }),
      ],
    });
  }
  const plainWho = opts.askedBy
    ? `${plainRequester(opts.askedBy)} asks for ${plainRequester(opts.requester)}:`
    : `${plainRequester(opts.requester)} asks for`;
  return { text: `${r.id}: ${plainWho} ${plainTargets(r)}`, blocks };
}

export function extensionCard(opts: {
  request: RequestView;
  requester: string;
  /** Unknown once decided (the request no longer carries it): the sentence then leaves it out. */
  minutes?: number;
  outcome?: string;
}): Message {
  const r = opts.request;
  const by = opts.minutes ? ` by *${formatDuration(opts.minutes)}*` : '';
  const blocks: KnownBlock[] = [
    section(`${opts.requester} asks to extend ${r.id} (${describeTargets(r)})${by}.`),
  ];
  if (opts.outcome) blocks.push(section(opts.outcome));
  else
    blocks.push({
      type: 'actions',
      block_id: `extension:${r.id}`,
      elements: [button('Approve extension', ACTION.approveExtension, r.id, { style: 'primary' })],
    });
  return {
    text: `${r.id}: extension${opts.minutes ? ` by ${formatDuration(opts.minutes)}` : ''} requested`,
    blocks,
  };
}

/** One request in an approver's digest: who asks (mrkdwn the caller built) and for how long it waits. */
export interface DigestItem {
  request: RequestView;
  requester: string;
  waitingMinutes: number;
}

/**
 * One DM listing the requests waiting on an approver, instead of a reminder each (docs/
 * ARCHITECTURE.md, "Reminders, escalation and digests"). Each has the card's own Approve and Deny
 * buttons; at most DIGEST_MAX_LISTED are listed, the rest are in App Home.
 */
export function digestMessage(items: DigestItem[], max: number): Message {
  const shown = items.slice(0, max);
  const blocks: KnownBlock[] = [section(`:bell: *${items.length} requests are waiting for your decision.*`)];
  for (const { request: r, requester, waitingMinutes } of shown) {
    blocks.push(
      section(
        `*${r.id}* · ${requester} asks for ${describeTargets(r, 3)} for *${formatDuration(r.durationMinutes)}* · waiting ${formatDuration(Math.max(1, waitingMinutes))}${r.justification ? `\n>${esc(truncate(r.justification, 300))}` : ''}`,
      ),
      {
        type: 'actions',
        block_id: `digest:${r.id}`,
        elements: [
          button('Approve', ACTION.approve, r.id, { style: 'primary' }),
          button('Deny', ACTION.deny, r.id, { style: 'danger' }),
        ],
      },
    );
  }
  const more = items.length - shown.length;
  blocks.push(
    context(
      `${more > 0 ? `${more} more wait too. ` : ''}Latch's *Home* tab, under Approvals, always has the current list.`,
    ),
  );
  return {
    text: `${items.length} requests are waiting for your decision: ${shown.map((i) => i.request.id).join(', ')}`,
    blocks,
  };
}

function plainRequester(text: string): string {
  return text.replace(/<@[A-Z0-9]+>/g, 'someone');
}

// ---- the requester's side ----

/** `waitingOn` is mrkdwn the caller built (mentions, escaped names); it is not escaped again. */
export function submittedMessage(r: RequestView, waitingOn: string): Message {
  const text = `${r.id} submitted: ${plainTargets(r)} for ${formatDuration(r.durationMinutes)}`;
  return {
    text,
    blocks: [
      section(
        `:inbox_tray: *${r.id}* is submitted: ${describeTargets(r)} for *${formatDuration(r.durationMinutes)}*.\nWaiting for ${waitingOn}.`,
      ),
      ...(r.routing ? [context(`Policy: ${esc(truncate(r.routing, 2500))}`)] : []),
      {
        type: 'actions',
        block_id: `requester:${r.id}`,
        elements: [button('Cancel request', ACTION.cancel, r.id)],
      },
    ],
  };
}

/**
 * To the person someone asked access for (docs/ARCHITECTURE.md, "Asking for someone else"): who
 * asked, what and why, with Decline. `asker` is mrkdwn the caller built.
 */
export function forYouMessage(r: RequestView, asker: string): Message {
  const status = r.state === 'pending' ? 'It waits for approval.' : 'It is approved.';
  return {
    text: `${r.id}: access was asked for you: ${plainTargets(r)}`,
    blocks: [
      section(
        `:inbox_tray: ${asker} asked for access for you: ${describeTargets(r)} for *${formatDuration(r.durationMinutes)}* (*${r.id}*). ${status}${r.justification ? `\n>${esc(truncate(r.justification, 1500))}` : ''}`,
      ),
      context(
        'The access would be yours. If you do not want it, decline it: it ends at once, and they are told.',
      ),
      {
        type: 'actions',
        block_id: `for-you:${r.id}`,
        elements: [button('Decline', ACTION.decline, r.id, { style: 'danger' })],
      },
    ],
  };
}

export function decidedMessage(
  r: RequestView,
  outcome: 'approved' | 'denied',
  by: string,
  reason?: string,
): Message {
  if (outcome === 'approved') {
    return {
      text: `${r.id} approved`,
      blocks: [
        section(
          `:white_check_mark: *${r.id}* is approved by ${by}. Latch is granting ${describeTargets(r)} now.`,
        ),
      ],
    };
  }
  return {
    text: `${r.id} denied`,
    blocks: [
      section(`:no_entry: *${r.id}* is denied by ${by}.${reason ? `\n>${esc(truncate(reason, 2000))}` : ''}`),
    ],
  };
}

export function simpleMessage(text: string, emoji: string): Message {
  return { text: text.replace(/[*_]/g, ''), blocks: [section(`${emoji} ${text}`)] };
}

export function grantedMessage(r: RequestView, until: string, dropId?: string): Message {
  const elements = [
    ...(dropId ? [button('Show credentials', ACTION.showCredentials, dropId, { style: 'primary' })] : []),
    button('Revoke now', ACTION.revoke, r.id, {
      confirm: { title: 'Revoke access?', text: `End ${r.id} now?`, confirm: 'Revoke' },
    }),
  ];
  return {
    text: `${r.id}: access granted`,
    blocks: [
      section(`:unlock: *${r.id}*: you have ${describeTargets(r)} until *${until}*.`),
      // An automatic grant was never asked for: say why it came.
      ...(r.automatic && r.routing ? [context(`Policy: ${esc(truncate(r.routing, 2500))}`)] : []),
      ...(dropId
        ? [context('Credentials are not posted here. The button shows them once, in a window only you see.')]
        : []),
      { type: 'actions', block_id: `granted:${r.id}`, elements },
    ],
  };
}

export function expiringMessage(
  r: RequestView,
  until: string,
  offer: { allowed: boolean; needsApproval: boolean; choicesMinutes: number[] },
): Message {
  const blocks: KnownBlock[] = [
    section(`:hourglass: *${r.id}*: your access to ${describeTargets(r)} ends at *${until}*.`),
  ];
  if (offer.allowed && offer.choicesMinutes.length > 0) {
    blocks.push({
      type: 'actions',
      block_id: `expiring:${r.id}`,
      elements: [...new Set(offer.choicesMinutes)]
        .slice(0, 5)
        .map((m) =>
          button(
            `${offer.needsApproval ? 'Ask for' : 'Extend by'} ${formatDuration(m)}`,
            `${ACTION.extend}:${m}`,
            `${r.id}:${m}`,
          ),
        ),
    });
    if (offer.needsApproval)
      blocks.push(context('An approver has to agree to an extension under this flow.'));
  } else {
    blocks.push(context('This access cannot be extended; request it again if you still need it.'));
  }
  return { text: `${r.id}: access ends at ${until}`, blocks };
}

export function credentialsValues(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `*${esc(k)}*: \`${v.replace(/`/g, "'")}\``)
    .join('\n');
}

/**
 * To every admin when a requester breaks the glass (docs/ARCHITECTURE.md, "Break-glass"): who,
 * what, why, and the review to close. `requester` is mrkdwn the caller built (a mention).
 */
export function breakGlassMessage(r: RequestView, requester: string, reason: string): Message {
  return {
    text: `Break glass: ${r.requester.email} approved ${r.id} themselves`,
    blocks: [
      section(
        `:rotating_light: *Break glass*: ${requester} approved *${r.id}* themselves: ${describeTargets(r)} for *${formatDuration(r.durationMinutes)}* under *${esc(r.flowName)}*.\n>${esc(truncate(reason, 2000))}`,
      ),
      {
        type: 'actions',
        block_id: `break_glass:${r.id}`,
        elements: [button('Close review…', ACTION.reviewClose, r.id, { style: 'primary' })],
      },
      context(
        'An admin other than the requester closes the review with a note. Open reviews are in App Home.',
      ),
    ],
  };
}
