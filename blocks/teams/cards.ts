/**
 * Adaptive Cards (schema 1.5) for the Teams channel: the approver's card with Universal Actions and
 * everything the requester is told. Pure builders over the core's request views, as blocks/slack is
 * for Slack. Text a person typed (names, reasons, groups) goes into TextRuns, which Teams shows as
 * written, never as markdown. Every card stays under Teams' card size limit (about 28 KB), whatever
 * it is given (test/unit/teams-cards.test.ts).
 */
import type { RequesterContext } from '../../src/lifecycle/queries/index.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import { formatDuration } from '../../src/domain/duration.js';

export const CARD_SCHEMA = 'http://adaptivecards.io/schemas/adaptive-card.json';
/** Teams refuses a message whose card is larger than about 28 KB; this leaves room for the envelope. */
export const MAX_CARD_BYTES = 26 * 1024;
/** Teams sends a `refresh` to at most 60 users; with more, nobody gets one automatically. */
export const MAX_REFRESH_USERS = 60;

/** The verbs of Action.Execute (and the `verb` field of the Action.Submit fallbacks). */
export const VERB = {
  refresh: 'latch.refresh',
  approve: 'latch.approve',
  deny: 'latch.deny',
  approveExtension: 'latch.approveExtension',
  cancel: 'latch.cancel',
  /** The person a request is for declines it (docs/ARCHITECTURE.md, "Asking for someone else"). */
  decline: 'latch.decline',
  revoke: 'latch.revoke',
  extend: 'latch.extend',
  showCredentials: 'latch.showCredentials',
  hideCredentials: 'latch.hideCredentials',
  /** Redraws the request form for what is chosen so far. */
  requestForm: 'latch.requestForm',
  requestSubmit: 'latch.requestSubmit',
} as const;

export interface AdaptiveCard {
  type: 'AdaptiveCard';
  $schema: string;
  version: '1.5';
  body: CardElement[];
  actions?: CardAction[];
  refresh?: { action: CardAction; userIds: string[] };
}
export type CardElement = Record<string, unknown> & { type: string };
export type CardAction = Record<string, unknown> & {
  type: 'Action.Execute' | 'Action.Submit' | 'Action.OpenUrl';
};

const MAX_TARGETS_LISTED = 10;
const MAX_TEXT = 1500;

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** A line mixing Latch's words (bold where asked) and people's words, shown as written. */
export function line(
  parts: Array<string | { text: string; bold?: boolean; italic?: boolean }>,
  opts: { size?: 'Medium'; wrap?: boolean } = {},
): CardElement {
  return {
    type: 'RichTextBlock',
    inlines: parts.map((p) =>
      typeof p === 'string'
        ? { type: 'TextRun', text: p }
        : {
            type: 'TextRun',
            text: p.text,
            ...(p.bold ? { weight: 'Bolder' } : {}),
            ...(p.italic ? { italic: true } : {}),
          },
    ),
    ...(opts.size ? { size: opts.size } : {}),
  };
}

/** Labelled values, one per line; FactSet would render its values as markdown. */
function facts(rows: Array<[string, string]>): CardElement[] {
  return rows.map(([title, value]) => line([{ text: `${title}: `, bold: true }, truncate(value, MAX_TEXT)]));
}

/** "read on billing (pg), write on ledger (pg) and 3 more", as plain text. */
export function targetsText(r: RequestView, max = MAX_TARGETS_LISTED): string {
  if (r.bundle && r.targets.length > 3) return `bundle ${r.bundle} (${r.targets.length} resources)`;
  const listed = r.targets
    .slice(0, max)
    .map((t) => `${t.permission} on ${truncate(t.resourceName, 120)} (${truncate(t.integration, 60)})`);
  const more = r.targets.length > max ? ` and ${r.targets.length - max} more` : '';
  return listed.join(', ') + more;
}

/**
 * Action.Execute, with an Action.Submit fallback for clients without Universal Actions: both carry
 * the verb and the data, so the bot handles them alike.
 */
export function execute(
  title: string,
  verb: string,
  data: Record<string, unknown>,
  opts: { style?: 'positive' | 'destructive'; associatedInputs?: 'auto' | 'none' } = {},
): CardAction {
  return {
    type: 'Action.Execute',
    title,
    verb,
    data,
    ...(opts.style ? { style: opts.style } : {}),
    ...(opts.associatedInputs ? { associatedInputs: opts.associatedInputs } : {}),
    fallback: {
      type: 'Action.Submit',
      title,
      data: { ...data, verb },
      ...(opts.style ? { style: opts.style } : {}),
    },
  };
}

export function card(
  body: CardElement[],
  actions: CardAction[] = [],
  refresh?: AdaptiveCard['refresh'],
): AdaptiveCard {
  return {
    type: 'AdaptiveCard',
    $schema: CARD_SCHEMA,
    version: '1.5',
    body,
    ...(actions.length ? { actions } : {}),
    ...(refresh ? { refresh } : {}),
  };
}

/**
 * The approver's card. Its `refresh` lets each approver (Teams user ids, at most 60) see the live
 * state when they open the chat; once decided, the buttons give way to the outcome. The reason box
 * goes with Approve and Deny alike (a flow may require one to approve; Deny always does).
 */
export function approvalCard(opts: {
  request: RequestView;
  requesterName: string;
  context: RequesterContext;
  approverUserIds: string[];
  reminder?: boolean;
  /** Sent to the approvers the step was escalated to. */
  escalated?: boolean;
  /** Set once decided: replaces the buttons, so nobody acts on a stale card. */
  outcome?: string;
  /** Approvals recorded short of a decision ("approved by Bob, 1 of 2"). */
  progress?: string;
  /** Who asked, when the request is for someone else (the requester). */
  askedByName?: string;
}): AdaptiveCard {
  const r = opts.request;
  const c = opts.context;
  const data = { request: r.id, version: r.version };
  const asks = opts.askedByName
    ? [
        { text: truncate(opts.askedByName, 200), bold: true },
        ' asks for ',
        { text: truncate(opts.requesterName, 200), bold: true },
        ': ',
      ]
    : [{ text: truncate(opts.requesterName, 200), bold: true }, ' asks for '];
  const body: CardElement[] = [
    line(
      [
        ...(opts.escalated
          ? [{ text: 'Escalated to you, nobody decided in time: ', bold: true }]
          : opts.reminder
            ? [{ text: 'Reminder: ', bold: true }]
            : []),
        ...asks,
        targetsText(r),
        ' for ',
        { text: formatDuration(r.durationMinutes), bold: true },
        '.',
      ],
      { size: 'Medium' },
    ),
    ...facts([
      ['Request', `${r.id}${r.stepCount > 1 ? ` · step ${r.step + 1} of ${r.stepCount}` : ''}`],
      ['Flow', `${r.flowName}${r.viaFallback ? ' (fallback)' : ''}`],
      ['Why', r.justification || 'no reason given'],
      [
        "Requester's time",
        `${c.localTime ? `${c.localTime} ${c.timeZone ?? ''}` : 'unknown zone'}${
          c.withinWorkingHours === undefined
            ? ''
            : c.withinWorkingHours
              ? ' · working hours'
              : ' · outside working hours'
        }`,
      ],
      ['Groups', c.groups.length ? c.groups.join(', ') : 'none'],
      ...(c.onCall === undefined
        ? []
        : [['On call', c.onCall.length ? `yes: ${c.onCall.join(', ')}` : 'no'] as [string, string]]),
      ...(c.routing ? [['Policy', c.routing] as [string, string]] : []),
      [
        'Asked before',
        c.previousRequests === 0
          ? 'first request'
          : `${c.previousRequests} request${c.previousRequests === 1 ? '' : 's'}, ${c.previousForSame} for this`,
      ],
    ]),
  ];
  if (opts.progress) body.push(line([{ text: truncate(opts.progress, MAX_TEXT), italic: true }]));
  const refresh = {
    action: { type: 'Action.Execute' as const, verb: VERB.refresh, data },
    userIds: opts.approverUserIds.slice(0, MAX_REFRESH_USERS),
  };
  if (opts.outcome)
    return card([...body, line([{ text: truncate(opts.outcome, MAX_TEXT), bold: true }])], [], refresh);
  body.push({
    type: 'Input.Text',
    id: 'reason',
    label: 'Reason',
    placeholder: 'Why (required to deny)',
    isMultiline: true,
    maxLength: 2000,
  });
  return card(
    body,
    [
      execute('Approve', VERB.approve, data, { style: 'positive', associatedInputs: 'auto' }),
      execute('Deny', VERB.deny, data, { style: 'destructive', associatedInputs: 'auto' }),
    ],
    refresh,
  );
}

/** One request in an approver's digest, and how long it has waited. */
export interface DigestItem {
  request: RequestView;
  waitingMinutes: number;
}

/**
 * One card listing the requests waiting on an approver instead of a reminder each (docs/
 * ARCHITECTURE.md, "Reminders, escalation and digests"). Deciding is in the approval cards already
 * in the chat, or in the Access tab, which `tabUrl` opens (a deep link; absent when the app id is
 * not known). At most `max` requests are listed.
 */
export function digestCard(items: DigestItem[], max: number, tabUrl?: string): AdaptiveCard {
  // Fewer listed when long names would pass the size limit; the rest are counted, and in the tab.
  for (let shown = Math.min(max, items.length); ; shown--) {
    const built = digestCardOf(items, shown, tabUrl);
    if (shown <= 1 || cardBytes(built) <= MAX_CARD_BYTES) return built;
  }
}

function digestCardOf(items: DigestItem[], count: number, tabUrl?: string): AdaptiveCard {
  const shown = items.slice(0, count);
  const body: CardElement[] = [
    line([{ text: `${items.length} requests are waiting for your decision.`, bold: true }], {
      size: 'Medium',
    }),
  ];
  for (const { request: r, waitingMinutes } of shown) {
    body.push({
      type: 'Container',
      separator: true,
      items: [
        line([
          { text: r.id, bold: true },
          ' · ',
          { text: truncate(r.requester.displayName ?? r.requester.email, 100), bold: true },
          ' asks for ',
          truncate(targetsText(r, 2), 300),
          ' for ',
          formatDuration(r.durationMinutes),
          ` · waiting ${formatDuration(Math.max(1, waitingMinutes))}`,
        ]),
        ...(r.justification ? [line([{ text: truncate(r.justification, 200), italic: true }])] : []),
      ],
    });
  }
  const more = items.length - shown.length;
  body.push(
    line([
      `${more > 0 ? `${more} more wait too. ` : ''}Approve or deny each from its card above, or in the Access tab under Approvals.`,
    ]),
  );
  if (tabUrl)
    body.push({
      type: 'ActionSet',
      actions: [{ type: 'Action.OpenUrl', title: 'Open Approvals', url: tabUrl }],
    });
  return card(body);
}

/** An approver's card for an extension the flow makes them approve; the outcome replaces the button. */
export function extensionCard(opts: {
  request: RequestView;
  requesterName: string;
  /** Unknown once decided (the request no longer carries it). */
  minutes?: number;
  outcome?: string;
}): AdaptiveCard {
  const r = opts.request;
  const body = [
    line([
      { text: truncate(opts.requesterName, 200), bold: true },
      ` asks to extend ${r.id} (`,
      targetsText(r),
      ')',
      ...(opts.minutes ? [' by ', { text: formatDuration(opts.minutes), bold: true }] : []),
      '.',
    ]),
  ];
  if (opts.outcome) return card([...body, line([{ text: truncate(opts.outcome, MAX_TEXT), bold: true }])]);
  return card(body, [
    execute(
      'Approve extension',
      VERB.approveExtension,
      { request: r.id, version: r.version },
      { style: 'positive' },
    ),
  ]);
}

/** What the requester sees when the request is submitted, with Cancel. */
export function submittedCard(r: RequestView, waitingOn: string): AdaptiveCard {
  return card(
    [
      line([
        { text: r.id, bold: true },
        ' is submitted: ',
        targetsText(r),
        ' for ',
        { text: formatDuration(r.durationMinutes), bold: true },
        '.',
      ]),
      line(['Waiting for ', truncate(waitingOn, 500), '.']),
      ...(r.routing ? [line([{ text: `Policy: ${truncate(r.routing, 1000)}`, italic: true }])] : []),
    ],
    [execute('Cancel request', VERB.cancel, { request: r.id })],
  );
}

/** To the person someone asked access for: who asked, what and why, with Decline. */
export function forYouCard(r: RequestView, askerName: string): AdaptiveCard {
  return card(
    [
      line([
        { text: truncate(askerName, 200), bold: true },
        ' asked for access for you: ',
        targetsText(r),
        ' for ',
        { text: formatDuration(r.durationMinutes), bold: true },
        ` (${r.id}). ${r.state === 'pending' ? 'It waits for approval.' : 'It is approved.'}`,
      ]),
      ...(r.justification ? [line([{ text: truncate(r.justification, 2000), italic: true }])] : []),
      line([
        'The access would be yours. If you do not want it, decline it: it ends at once, and they are told.',
      ]),
    ],
    [execute('Decline', VERB.decline, { request: r.id }, { style: 'destructive' })],
  );
}

export function decidedCard(
  r: RequestView,
  outcome: 'approved' | 'denied',
  by: string,
  reason?: string,
): AdaptiveCard {
  if (outcome === 'approved')
    return card([
      line([
        { text: r.id, bold: true },
        ' is approved by ',
        truncate(by, 200),
        '. Latch is granting ',
        targetsText(r),
        ' now.',
      ]),
    ]);
  return card([
    line([{ text: r.id, bold: true }, ' is denied by ', truncate(by, 200), '.']),
    ...(reason ? [line([{ text: truncate(reason, 2000), italic: true }])] : []),
  ]);
}

/**
 * Access granted. Credentials are never in this card: "Show credentials" asks the bot, which
 * answers the requester alone (a user-specific view), and the chat keeps only this.
 */
export function grantedCard(r: RequestView, until: string, credentialsDrop?: string): AdaptiveCard {
  const hasCredentials = credentialsDrop !== undefined;
  return card(
    [
      line([
        { text: r.id, bold: true },
        ': you have ',
        targetsText(r),
        ' until ',
        { text: until, bold: true },
        '.',
      ]),
      // An automatic grant was never asked for: say why it came.
      ...(r.automatic && r.routing
        ? [line([{ text: `Policy: ${truncate(r.routing, 1000)}`, italic: true }])]
        : []),
      ...(hasCredentials
        ? [
            line([
              {
                text: 'Credentials are not posted here. The button shows them once, only to you.',
                italic: true,
              },
            ]),
          ]
        : []),
    ],
    [
      ...(hasCredentials
        ? [
            execute(
              'Show credentials',
              VERB.showCredentials,
              { request: r.id, drop: credentialsDrop },
              { style: 'positive' },
            ),
          ]
        : []),
      execute('Revoke now', VERB.revoke, { request: r.id }, { style: 'destructive' }),
    ],
  );
}

/** Access about to end, with one Extend button per duration the flow allows (at most five). */
export function expiringCard(
  r: RequestView,
  until: string,
  offer: { allowed: boolean; needsApproval: boolean; choicesMinutes: number[] },
): AdaptiveCard {
  const body = [
    line([
      { text: r.id, bold: true },
      ': your access to ',
      targetsText(r),
      ' ends at ',
      { text: until, bold: true },
      '.',
    ]),
  ];
  if (!offer.allowed || offer.choicesMinutes.length === 0)
    return card([
      ...body,
      line([
        { text: 'This access cannot be extended; request it again if you still need it.', italic: true },
      ]),
    ]);
  return card(
    offer.needsApproval
      ? [...body, line([{ text: 'An approver has to agree to an extension under this flow.', italic: true }])]
      : body,
    [...new Set(offer.choicesMinutes)].slice(0, 5).map((m) =>
      execute(`${offer.needsApproval ? 'Ask for' : 'Extend by'} ${formatDuration(m)}`, VERB.extend, {
        request: r.id,
        minutes: m,
      }),
    ),
  );
}

/** One line for the other events (extended, revoked, expired, failed...). */
export function noticeCard(parts: Parameters<typeof line>[0]): AdaptiveCard {
  return card([line(parts)]);
}

/** The credentials, for the requester's eyes only (a refresh view for them, never a chat message). */
/**
 * The credentials, as the invoke response to the requester's click: a view for them alone. Its
 * refresh (for them only) and its Hide button both turn it back into a card without them, so they
 * do not stay in the chat.
 */
export function credentialsCard(
  r: RequestView,
  sets: Array<{ resource: string; values: Record<string, string> }>,
  viewerUserId?: string,
): AdaptiveCard {
  const hide = execute('Hide', VERB.hideCredentials, { request: r.id });
  return card(
    [
      line([{ text: r.id, bold: true }, ': your credentials. They are shown once; copy them now.']),
      ...sets.flatMap((s) => [
        line([{ text: truncate(s.resource, 200), bold: true }]),
        ...facts(Object.entries(s.values).map(([k, v]) => [k, v])),
      ]),
    ],
    [hide],
    viewerUserId
      ? {
          action: { type: 'Action.Execute', verb: VERB.hideCredentials, data: { request: r.id } },
          userIds: [viewerUserId],
        }
      : undefined,
  );
}

/** The card's size as Teams counts it: the JSON's bytes. */
export function cardBytes(c: AdaptiveCard): number {
  return Buffer.byteLength(JSON.stringify(c));
}
