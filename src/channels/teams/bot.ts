/**
 * The Teams bot's turns (docs/ARCHITECTURE.md, "Teams channel"): installs and removals keep the
 * record of who can be reached, and the personal-chat commands `help`, `list` and `revoke` go to
 * the core's queries and use-cases, as Slack's `/access` does. The person is the one Teams says sent
 * the activity (TeamsInfo.getMember): their email is their Latch identity, their Entra object id an
 * alias LATCH_ADMINS may name.
 */
import { DateTime } from 'luxon';
import type { ChannelCore } from '../../app.js';
import { formatRequestId, parseRequestId } from '../../domain/human-id.js';
import type { Identity } from '../../domain/identity.js';
import { STATE_LABELS } from '../../domain/request.js';
import { LatchError } from '../../lifecycle/errors.js';
import type { RequestView } from '../../lifecycle/request-view.js';
import type { Logger } from '../../logger.js';
import {
  approvalCard,
  credentialsCard,
  extensionCard,
  noticeCard,
  VERB,
  type AdaptiveCard,
} from '../../../blocks/teams/cards.js';
import type { TeamsActivity, TeamsMemberInfo, TeamsTurn } from './adapter.js';
import { cardActivity } from './notifier.js';
import type { TeamsRequestForms } from './request-form.js';
import type { SecretBox } from '../../store/secrets.js';
import type { ConversationReference, TeamsModels, TeamsPeople } from './store.js';

export const HELP_TEXT = [
  'Latch gives you access when you need it, for a bounded time.',
  '- **request** (or **request billing**): ask for access',
  '- **list**: your access and your open requests',
  '- **revoke AR-1234**: end access now',
  '- **help**: this message',
].join('\n\n');

const NO_IDENTITY =
  'Teams did not tell Latch who you are (no email on your account), so it cannot act for you. Ask an admin to check your Entra profile.';

const CARD = 'application/vnd.microsoft.card.adaptive';

/**
 * An Action.Execute from a card: answered in the invoke response, with the card as this person
 * should now see it (Universal Actions), or a message when there is nothing to redraw.
 */
async function universalAction(deps: TeamsBotDeps, turn: TeamsTurn): Promise<void> {
  const value = (turn.activity.value ?? {}) as { action?: { verb?: string; data?: Record<string, unknown> } };
  const verb = value.action?.verb ?? '';
  const data = value.action?.data ?? {};
  const who = await identify(deps, turn);
  let body: Record<string, unknown>;
  if (!who)
    body = { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: NO_IDENTITY };
  else if (verb === VERB.requestForm || verb === VERB.requestSubmit) {
    const card = await requestFormAction(deps, who, verb, data);
    body = { statusCode: 200, type: CARD, value: card };
  } else if (verb === VERB.refresh) {
    const waiting = (await deps.core.queries.awaitingMe(who)).find((r) => r.id === data.request);
    const card = waiting
      ? approvalCard({
          request: waiting,
          requesterName: waiting.requester.displayName ?? waiting.requester.email,
          context: await deps.core.queries.requesterContext(waiting),
          approverUserIds: turn.activity.from ? [turn.activity.from.id] : [],
          ...(waiting.askedBy ? { askedByName: waiting.askedBy.displayName ?? waiting.askedBy.email } : {}),
        })
      : noticeCard([
          { text: String(data.request ?? 'This request'), bold: true },
          ' is no longer waiting for you.',
        ]);
    body = { statusCode: 200, type: CARD, value: card };
  } else if (verb === VERB.showCredentials) {
    body = await showCredentials(deps, who, data, turn.activity.from?.id);
  } else if (verb === VERB.hideCredentials) {
    const card = noticeCard([
      { text: String(data.request ?? ''), bold: true },
      ': credentials hidden. They were shown once; revoke the access if they may have leaked.',
    ]);
    body = { statusCode: 200, type: CARD, value: card };
  } else {
    const answer = await cardAction(deps, who, verb, data);
    body = answer.card
      ? { statusCode: 200, type: CARD, value: answer.card }
      : { statusCode: 200, type: 'application/vnd.microsoft.activity.message', value: answer.text };
  }
  await turn.sendActivity({ type: 'invokeResponse', value: { status: 200, body } });
}

function requestFormAction(
  deps: TeamsBotDeps,
  who: Identity,
  verb: string,
  data: Record<string, unknown>,
): Promise<AdaptiveCard> {
  return verb === VERB.requestSubmit ? deps.forms.submit(who, data) : deps.forms.redraw(who, data);
}

/**
 * The requester's one look at their credentials: only they may open the drop, only once; the
 * answer is a card for them alone (credentialsCard), and the reveal is audited.
 */
async function showCredentials(
  deps: TeamsBotDeps,
  who: Identity,
  data: Record<string, unknown>,
  viewer: string | undefined,
): Promise<Record<string, unknown>> {
  const message = (text: string) => ({
    statusCode: 200,
    type: 'application/vnd.microsoft.activity.message',
    value: text,
  });
  const id = typeof data.drop === 'string' ? data.drop : '';
  const drop = id ? await deps.m.CredentialDrop.findById(id).lean() : null;
  if (!drop)
    return message(
      'These credentials were shown already, or have expired. Revoke and ask again if you need new ones.',
    );
  if (drop.owner !== who.id) {
    await deps.core.requests.refuseCredentials(who, drop.requestId, 'not the requester');
    return message('Only the requester can see these credentials.');
  }
  // Taken once: a second click, or a second device, finds nothing.
  const taken = await deps.m.CredentialDrop.findOneAndDelete({ _id: id, owner: who.id }).lean();
  if (!taken) return message('These credentials were shown already.');
  const sets = JSON.parse(deps.box.open(taken.sealed)) as Array<{
    resourceName: string;
    permission: string;
    values: Record<string, string>;
  }>;
  await deps.core.requests.credentialsShown(who, taken.requestId);
  const view = (await deps.core.queries.myAccess(who)).active.find(
    (a) => a.request.id === taken.requestId,
  )?.request;
  const card = credentialsCard(
    view ?? ({ id: taken.requestId } as RequestView),
    sets.map((s) => ({ resource: `${s.permission} on ${s.resourceName}`, values: s.values })),
    viewer,
  );
  return { statusCode: 200, type: CARD, value: card };
}

/** What a card's button asks, as this person: the text to tell them, and the card to show instead. */
async function cardAction(
  deps: TeamsBotDeps,
  who: Identity,
  verb: string,
  data: Record<string, unknown>,
): Promise<{ text: string; card?: AdaptiveCard }> {
  const id = typeof data.request === 'string' ? data.request : '';
  const reason = typeof data.reason === 'string' ? data.reason.trim() : '';
  try {
    switch (verb) {
      case VERB.approve: {
        const view = await deps.core.requests.approve(who, id, reason || undefined);
        const outcome =
          view.state === 'pending'
            ? 'Your approval is recorded; the request waits for the other approvals.'
            : 'Approved by you.';
        return { text: `You approved ${view.id}.`, card: await decidedApprovalCard(deps, view, outcome) };
      }
      case VERB.deny: {
        const view = await deps.core.requests.reject(who, id, reason);
        return {
          text: `You denied ${view.id}.`,
          card: await decidedApprovalCard(deps, view, `Denied by you: ${reason}`),
        };
      }
      case VERB.revoke: {
        const view = await deps.core.requests.revoke(who, id, 'revoked from Teams');
        return { text: `${view.id} is being revoked; Latch will tell you when it is done.` };
      }
      case VERB.extend: {
        const minutes = Number(data.minutes);
        if (!Number.isInteger(minutes) || minutes <= 0)
          return { text: 'That extension is not one Latch offers.' };
        const view = await deps.core.requests.extend(who, id, minutes);
        // Extended at once, or sent to an approver (the button said which): the outbox says when it is done.
        return { text: `${view.id}: asked. Latch tells you here once the extension is in place.` };
      }
      case VERB.approveExtension: {
        const view = await deps.core.requests.approveExtension(who, id);
        return {
          text: `You approved the extension of ${view.id}.`,
          card: extensionCard({
            request: view,
            requesterName: view.requester.displayName ?? view.requester.email,
            outcome: 'Extension approved by you.',
          }),
        };
      }
      case VERB.cancel: {
        const view = await deps.core.requests.cancel(who, id);
        return { text: `${view.id} is cancelled.` };
      }
      case VERB.decline: {
        const view = await deps.core.requests.decline(who, id);
        return {
          text: `You declined ${view.id}; ${view.state === 'cancelled' ? 'it is cancelled' : 'your access is being revoked'}, and whoever asked for it is told.`,
        };
      }
      default:
        return { text: 'Latch does not know that button; it may be from an older card.' };
    }
  } catch (err) {
    if (err instanceof LatchError) return { text: err.message };
    deps.log.error({ err }, 'Teams card action failed');
    return { text: 'Something went wrong on the Latch side; the admins can find the details in its log.' };
  }
}

async function decidedApprovalCard(
  deps: TeamsBotDeps,
  view: RequestView,
  outcome: string,
): Promise<AdaptiveCard> {
  return approvalCard({
    request: view,
    requesterName: view.requester.displayName ?? view.requester.email,
    context: await deps.core.queries.requesterContext(view),
    approverUserIds: [],
    outcome,
    ...(view.askedBy ? { askedByName: view.askedBy.displayName ?? view.askedBy.email } : {}),
  });
}

export interface TeamsBotDeps {
  core: ChannelCore;
  people: TeamsPeople;
  m: TeamsModels;
  box: SecretBox;
  forms: TeamsRequestForms;
  log: Logger;
}

export function teamsBot(deps: TeamsBotDeps): (turn: TeamsTurn) => Promise<void> {
  return async (turn) => {
    const a = turn.activity;
    if (a.type === 'installationUpdate') return installation(deps, turn);
    if (a.type === 'conversationUpdate' && isPersonal(a)) {
      const botAdded = (a.membersAdded as Array<{ id: string }> | undefined)?.some(
        (m) => m.id === a.recipient?.id,
      );
      if (botAdded) return installation(deps, turn, 'add');
      return;
    }
    if (a.type === 'invoke' && a.name === 'adaptiveCard/action') return universalAction(deps, turn);
    if (a.type !== 'message') return;
    // The Action.Submit fallback of an older client: the card's data comes as the message's value.
    const submitted = a.value as { verb?: unknown } | undefined;
    if (submitted && typeof submitted.verb === 'string') {
      const who = await identify(deps, turn);
      const data = submitted as Record<string, unknown>;
      if (who && (submitted.verb === VERB.requestForm || submitted.verb === VERB.requestSubmit)) {
        const card = await requestFormAction(deps, who, submitted.verb, data);
        await turn.sendActivity(cardActivity(card, 'Ask for access'));
        return;
      }
      const answer = who ? await cardAction(deps, who, submitted.verb, data) : { text: NO_IDENTITY };
      await turn.sendActivity(answer.text);
      return;
    }
    if (!isPersonal(a)) {
      await turn.sendActivity('Latch works in a personal chat: open it from the Apps bar and write `help`.');
      return;
    }
    const who = await identify(deps, turn);
    if (!who) {
      await turn.sendActivity(NO_IDENTITY);
      return;
    }
    await command(deps, turn, who, (a.text ?? '').replace(/<[^>]+>/g, '').trim());
  };
}

function isPersonal(a: TeamsActivity): boolean {
  return (
    a.conversation?.conversationType === 'personal' ||
    (!a.conversation?.conversationType && !a.conversation?.isGroup)
  );
}

function tenantOf(a: TeamsActivity): string | undefined {
  const data = a.channelData as { tenant?: { id?: string } } | undefined;
  return a.conversation?.tenantId ?? data?.tenant?.id;
}

async function installation(deps: TeamsBotDeps, turn: TeamsTurn, forced?: 'add'): Promise<void> {
  const a = turn.activity;
  const tenantId = tenantOf(a);
  const aadObjectId = a.from?.aadObjectId;
  if (!tenantId || !aadObjectId || !isPersonal(a)) return;
  const action = forced ?? String(a.action ?? '');
  if (action.startsWith('remove')) {
    await deps.people.unreachable(tenantId, aadObjectId, 'they removed Latch from Teams');
    return;
  }
  if (!action.startsWith('add')) return;
  const member = await turn.sender();
  await deps.people.seen(
    person(tenantId, aadObjectId, a.from!.id, member),
    turn.conversationReference() as unknown as ConversationReference,
    true,
  );
  await turn.sendActivity(`Hello${member?.name ? ` ${member.name}` : ''}. ${HELP_TEXT}`);
}

async function identify(deps: TeamsBotDeps, turn: TeamsTurn): Promise<Identity | undefined> {
  const a = turn.activity;
  const tenantId = tenantOf(a);
  const aadObjectId = a.from?.aadObjectId;
  const member = await turn.sender();
  // Where to reach them is refreshed beside the turn, not before it: the answer does not depend
  // on it, and under a burst of clicks it is one write fewer to wait for.
  if (tenantId && aadObjectId)
    void deps.people
      .seen(
        person(tenantId, aadObjectId, a.from!.id, member),
        turn.conversationReference() as unknown as ConversationReference,
      )
      .catch((err: unknown) => deps.log.warn({ err }, 'could not record where to reach a Teams user'));
  const email =
    member?.email ?? (member?.userPrincipalName?.includes('@') ? member.userPrincipalName : undefined);
  if (!email) return undefined;
  const timeZone = typeof a.localTimezone === 'string' ? a.localTimezone : undefined;
  return {
    id: email.toLowerCase(),
    email: email.toLowerCase(),
    displayName: member?.name,
    groups: [],
    ...(timeZone && DateTime.local().setZone(timeZone).isValid ? { timeZone } : {}),
    aliases: aadObjectId ? [aadObjectId] : [],
  };
}

function person(tenantId: string, aadObjectId: string, userId: string, member: TeamsMemberInfo | undefined) {
  return {
    tenantId,
    aadObjectId,
    userId,
    email: member?.email,
    userPrincipalName: member?.userPrincipalName,
    displayName: member?.name,
  };
}

async function command(deps: TeamsBotDeps, turn: TeamsTurn, who: Identity, text: string): Promise<void> {
  const [verb = '', ...rest] = text.split(/\s+/);
  try {
    switch (verb.toLowerCase()) {
      case 'request': {
        const card = await deps.forms.open(who, rest.join(' ').trim() || undefined);
        await turn.sendActivity(cardActivity(card, 'Ask for access'));
        return;
      }
      case 'list': {
        const mine = await deps.core.queries.myAccess(who);
        const open = [...mine.pending, ...mine.active.map((x) => x.request)].sort(
          (x, y) => y.number - x.number,
        );
        await turn.sendActivity(
          open.length
            ? listText(open.slice(0, 40), who.timeZone)
            : 'You have no access and no open requests.',
        );
        return;
      }
      case 'revoke': {
        const n = rest[0] ? parseRequestId(rest[0]) : null;
        if (n === null || n === undefined) {
          await turn.sendActivity('Usage: `revoke AR-1234` (see `list`).');
          return;
        }
        const view = await deps.core.requests.revoke(who, formatRequestId(n), 'revoked from Teams');
        await turn.sendActivity(`${view.id} is being revoked; Latch will tell you when it is done.`);
        return;
      }
      default:
        await turn.sendActivity(HELP_TEXT);
    }
  } catch (err) {
    if (err instanceof LatchError) await turn.sendActivity(err.message);
    else {
      deps.log.error({ err }, 'Teams command failed');
      await turn.sendActivity(
        'Something went wrong on the Latch side; the admins can find the details in its log.',
      );
    }
  }
}

function listText(requests: RequestView[], timeZone?: string): string {
  const at = (d: Date) => DateTime.fromJSDate(d, { zone: timeZone ?? 'utc' }).toFormat('ccc d LLL HH:mm');
  return requests
    .map((r) => {
      const what = r.targets
        .map((t) => `${t.permission} on ${t.resourceName}`)
        .slice(0, 3)
        .join(', ');
      const until = r.state === 'active' && r.expiresAt ? ` until ${at(r.expiresAt)}` : '';
      return `- **${r.id}** · ${what}${r.targets.length > 3 ? ` and ${r.targets.length - 3} more` : ''} · ${STATE_LABELS[r.state]}${until}`;
    })
    .join('\n\n');
}
