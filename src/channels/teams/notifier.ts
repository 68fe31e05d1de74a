/**
 * Teams for the outbox (docs/ARCHITECTURE.md, "Teams channel"): approvers get the approval card in
 * their personal chat with Latch, every copy is rewritten once the request is decided, and the
 * requester is told what happened. Each message goes out once per event and recipient however
 * often the event is retried. Someone Latch cannot reach in Teams (never installed, removed the
 * app) is skipped and logged; a failure worth retrying is thrown for the outbox's backoff.
 */
import { createHash, randomUUID } from 'node:crypto';
import { DateTime } from 'luxon';
import { formatDuration } from '../../domain/duration.js';
import { DIGEST_MAX_LISTED } from '../../domain/reminders.js';
import { driftText } from '../../domain/drift.js';
import type { SecretBox } from '../../store/secrets.js';
import type { ChannelCore } from '../../app.js';
import type { AdminNoticeView, LatchEvent, Notifier } from '../../lifecycle/notifier.js';
import { DeliveryDeferred, type DeliveryReport, type Unreached } from '../../lifecycle/notifier.js';
import type { RequestView } from '../../lifecycle/request-view.js';
import type { Logger } from '../../logger.js';
import {
  approvalCard,
  digestCard,
  expiringCard,
  extensionCard,
  forYouCard,
  grantedCard,
  noticeCard,
  submittedCard,
  targetsText,
  type AdaptiveCard,
} from '../../../blocks/teams/cards.js';
import { breakGlassCard } from '../../../blocks/teams/break-glass-card.js';
import {
  conversationLost,
  type OutgoingActivity,
  type TeamsAdapter,
  type TeamsConversationReference,
} from './adapter.js';
import type { TeamsModels, TeamsPeople } from './store.js';

/** A sender that has not finished after this long died mid-send: its message is sent again. */
const STALE_CLAIM_MS = 35_000;
const CARD = 'application/vnd.microsoft.card.adaptive';

export function cardActivity(card: AdaptiveCard, summary: string): OutgoingActivity {
  return { summary, attachments: [{ contentType: CARD, content: card }] };
}

/** "alice@example.com, bob@example.com and group dba", for the requester. */
function describeAudience(a: { users: string[]; groups: string[] }): string {
  const names = [...a.users.slice(0, 10), ...a.groups.slice(0, 10).map((g) => `group ${g}`)];
  return names.length ? names.join(', ') : 'the admins';
}

/** The people among `names` Teams can be asked to reach: those named by email, once each. */
function emailsOf(names: string[]): string[] {
  return [...new Set(names.filter((a) => a.includes('@')).map((a) => a.toLowerCase()))];
}

export class TeamsNotifier implements Notifier {
  private adapter?: TeamsAdapter;
  private core?: ChannelCore;

  constructor(
    private readonly d: {
      m: TeamsModels;
      people: TeamsPeople;
      box: SecretBox;
      log: Logger;
      now?: () => Date;
      /** A deep link to the tab (its Reviews): the break-glass card's button. */
      tabUrl?: string;
      /** The bot's app id (the manifest's id): links to the Access tab. */
      appId?: string;
    },
  ) {}

  /** Once the channel runs: until then, deliveries wait in the outbox. */
  bind(adapter: TeamsAdapter, core: ChannelCore): void {
    this.adapter = adapter;
    this.core = core;
  }

  private now(): Date {
    return this.d.now ? this.d.now() : new Date();
  }

  async notify(event: LatchEvent): Promise<DeliveryReport | void> {
    if (!this.adapter || !this.core) throw new DeliveryDeferred('the Teams channel is not running yet');
    const r = event.request;
    const key = (purpose: string) => (event.eventId ? `${event.eventId}:${purpose}` : undefined);
    switch (event.type) {
      case 'approval.needed':
        if (r.state === 'pending')
          return {
            unreached: await this.sendCards(
              r,
              event.approvers.users,
              event.reminder,
              key('card'),
              event.escalated,
            ),
          };
        break;
      case 'request.escalated':
        if (r.state === 'pending')
          await this.tell(
            r,
            `Nobody decided ${r.id} in time, so it is escalated to ${describeAudience(event.approvers)}; they can decide it now.`,
            key('escalated'),
          );
        break;
      case 'approvals.digest':
        await this.sendDigest(event.approver, event.waiting, key('digest'));
        break;
      case 'approvers.unreached':
        await this.tell(
          r,
          `Latch could not reach ${event.unreached
            .slice(0, 10)
            .map((u) => `${u.person} (${u.why})`)
            .join(', ')} about ${r.id}. Ask them to add Latch, or ask an admin.`,
          key('unreached'),
        );
        break;
      case 'approval.recorded':
        if (event.remaining && r.state === 'pending')
          await this.rewriteCards(r, undefined, `Approved by ${event.by}; still needs ${event.remaining}.`);
        else if (!event.remaining)
          await this.rewriteCards(
            r,
            `Step ${r.step} of ${r.stepCount} approved by ${event.by}; the next step decides now.`,
          );
        break;
      case 'request.approved':
        await this.rewriteCards(r, `Approved by ${event.by}.`);
        await this.tell(
          r,
          `${r.id} is approved by ${event.by}. Latch is granting ${targetsText(r)} now.`,
          key('approved'),
        );
        break;
      case 'request.rejected':
        await this.rewriteCards(r, `Denied by ${event.by}: ${event.reason}`);
        await this.tell(r, `${r.id} is denied by ${event.by}: ${event.reason}`, key('denied'));
        break;
      case 'request.cancelled':
        await this.rewriteCards(r, 'Cancelled by the requester.');
        break;
      case 'request.for_you':
        if (r.askedBy && ['pending', 'approved', 'granting', 'active'].includes(r.state))
          await this.tellCard(
            r,
            forYouCard(r, r.askedBy.displayName ?? r.askedBy.email),
            `${r.id}: access was asked for you`,
            key('for-you'),
          );
        break;
      case 'request.declined':
        if (r.state === 'cancelled')
          await this.rewriteCards(r, `Declined by ${event.by}, the person it was for.`);
        if (r.askedBy)
          await this.send(
            r.askedBy.email,
            {
              text: `${event.by} declined ${r.id} (${targetsText(r)}), which you asked for them; ${r.state === 'cancelled' ? 'it is cancelled' : 'their access is revoked'}.`,
            },
            key('declined') && `${key('declined')}:${r.askedBy.email}`,
          );
        break;
      case 'request.timed_out':
        await this.rewriteCards(r, 'Timed out: nobody decided in time.');
        await this.tell(r, `${r.id} timed out: nobody decided in time. You can ask again.`, key('timed-out'));
        break;
      case 'access.granted': {
        const values = event.credentials.filter((c) => Object.keys(c.values).length > 0);
        let drop: string | undefined;
        if (values.length > 0) {
          // One sealed drop per event, however often it is delivered: its id comes from the event's.
          drop = createHash('sha256')
            .update(event.eventId ?? `${r.id}:${randomUUID()}`)
            .digest('hex')
            .slice(0, 32);
          await this.d.m.CredentialDrop.updateOne(
            { _id: drop },
            {
              $setOnInsert: {
                requestId: r.id,
                owner: r.requester.id,
                sealed: this.d.box.seal(JSON.stringify(values)),
                at: this.now(),
              },
            },
            { upsert: true },
          );
        }
        await this.tellCard(
          r,
          grantedCard(r, this.until(r), drop),
          `${r.id}: access granted`,
          key('granted'),
        );
        break;
      }
      case 'access.expiring':
        await this.tellCard(
          r,
          expiringCard(r, this.until(r), event.extension),
          `${r.id}: access ends soon`,
          key('expiring'),
        );
        break;
      case 'request.submitted': {
        // Asked for someone else: the asker follows it; the requester hears through request.for_you.
        const to = r.askedBy?.email ?? r.requester.email;
        if (r.state === 'pending')
          await this.send(
            to,
            cardActivity(
              submittedCard(r, event.approvers.users.join(', ') || 'the approvers'),
              `${r.id} submitted`,
            ),
            key('submitted') && `${key('submitted')}:${to}`,
          );
        break;
      }
      case 'extension.requested': {
        const unreached = await this.sendExtensionCards(
          r,
          event.approvers.users,
          event.minutes,
          key('extension-card'),
        );
        await this.tell(
          r,
          `You asked to extend ${r.id} by ${formatDuration(event.minutes)}; an approver has been asked.`,
          key('extension-asked'),
        );
        return { unreached };
      }
      case 'access.extended':
        await this.rewriteExtensionCards(r, `Extended by ${event.by}.`);
        await this.tell(r, `${r.id} is extended: your access now ends at ${this.until(r)}.`, key('extended'));
        break;
      case 'access.revoked':
        await this.tell(
          r,
          `${r.id}: your access to ${targetsText(r)} has ${r.state === 'expired' ? 'expired' : 'been revoked'}.`,
          key('ended'),
        );
        break;
      case 'request.failed':
        await this.tell(r, `${r.id} could not be granted: ${event.error}`, key('failed'));
        break;
      case 'revoke.failing':
        for (const admin of emailsOf(event.admins))
          await this.send(
            admin,
            {
              text: `Revoking ${r.id} (${targetsText(r)}) has failed ${event.attempts} times: ${event.error}. Latch keeps retrying.`,
            },
            key('revoke-failing') && `${key('revoke-failing')}:${admin}`,
          );
        break;
      case 'access.drift':
        for (const admin of emailsOf(event.admins))
          await this.send(
            admin,
            { text: driftText(r.id, event.drift) },
            key('drift') && `${key('drift')}:${admin}`,
          );
        break;
      case 'break_glass.used': {
        const activity = cardActivity(breakGlassCard(r, event.reason, this.d.tabUrl), `Break glass: ${r.id}`);
        for (const admin of emailsOf(event.admins))
          await this.send(admin, activity, key('break-glass') && `${key('break-glass')}:${admin}`);
        break;
      }
    }
  }

  private until(r: RequestView): string {
    if (!r.expiresAt) return 'you revoke it';
    return DateTime.fromJSDate(r.expiresAt, { zone: r.requester.timeZone ?? 'utc' }).toFormat(
      'ccc d LLL HH:mm ZZZZ',
    );
  }

  private async tell(r: RequestView, text: string, key: string | undefined): Promise<void> {
    await this.send(r.requester.email, { text }, key && `${key}:${r.requester.email}`);
  }

  private async tellCard(r: RequestView, card: AdaptiveCard, summary: string, key: string | undefined) {
    await this.send(r.requester.email, cardActivity(card, summary), key && `${key}:${r.requester.email}`);
  }

  private async sendCards(
    r: RequestView,
    approvers: string[],
    reminder: boolean,
    key: string | undefined,
    escalated?: boolean,
  ): Promise<Unreached[]> {
    const emails = emailsOf(approvers);
    const reached = await Promise.all(
      emails.map(async (email) => ({ email, reach: await this.d.people.reach(email) })),
    );
    const userIds = reached.flatMap((x) => ('userId' in x.reach ? [x.reach.userId] : []));
    const card = approvalCard({
      request: r,
      requesterName: r.requester.displayName ?? r.requester.email,
      context: await this.core!.queries.requesterContext(r),
      approverUserIds: userIds,
      reminder,
      escalated,
      ...(r.askedBy ? { askedByName: r.askedBy.displayName ?? r.askedBy.email } : {}),
    });
    return this.sendCardsTo(
      r,
      reached.map((x) => x.email),
      cardActivity(card, `${r.id}: approval needed`),
      { kind: 'approval', step: r.step },
      key,
    );
  }

  /**
   * One card for one approver; someone Teams cannot reach is skipped, not reported: the digest
   * stands for reminders, and a reminder never reports anyone unreached.
   */
  private async sendDigest(approver: string, waiting: RequestView[], key: string | undefined) {
    const email = emailsOf([approver])[0];
    if (!email || waiting.length === 0) return;
    const now = this.now().getTime();
    const items = waiting.map((request) => ({
      request,
      waitingMinutes: Math.round((now - (request.createdAt?.getTime() ?? now)) / 60_000),
    }));
    const tabUrl = this.d.appId
      ? `https://teams.microsoft.com/l/entity/${encodeURIComponent(this.d.appId)}/latch-home`
      : undefined;
    await this.send(
      email,
      cardActivity(digestCard(items, DIGEST_MAX_LISTED, tabUrl), `${waiting.length} requests wait for you`),
      key && `${key}:${email}`,
    );
  }

  private async sendExtensionCards(
    r: RequestView,
    approvers: string[],
    minutes: number,
    key: string | undefined,
  ): Promise<Unreached[]> {
    const card = extensionCard({
      request: r,
      requesterName: r.requester.displayName ?? r.requester.email,
      minutes,
    });
    return this.sendCardsTo(
      r,
      emailsOf(approvers),
      cardActivity(card, `${r.id}: extension asked`),
      { kind: 'extension', step: r.extensionCount },
      key,
    );
  }

  /**
   * Sends an approver's card to each (once per key and person), keeps where each copy went so it
   * can be rewritten, and returns who could not be reached.
   */
  private async sendCardsTo(
    r: RequestView,
    emails: string[],
    activity: OutgoingActivity,
    copy: { kind: 'approval' | 'extension'; step: number },
    key: string | undefined,
  ): Promise<Unreached[]> {
    const unreached: Unreached[] = [];
    for (const email of emails) {
      const sent = await this.send(email, activity, key && `${key}:${email}`);
      if (sent && 'unreached' in sent) unreached.push({ person: email, why: sent.unreached });
      else if (sent)
        await this.d.m.MessageRef.updateOne(
          { _id: `${r.id}:${copy.kind}:${copy.step}:${email}` },
          {
            $set: {
              requestId: r.id,
              kind: copy.kind,
              step: copy.step,
              email,
              userId: sent.userId,
              reference: sent.reference,
              activityId: sent.activityId,
              version: r.version,
              at: this.now(),
            },
          },
          { upsert: true },
        );
    }
    return unreached;
  }

  private async rewriteExtensionCards(r: RequestView, outcome: string): Promise<void> {
    const refs = await this.d.m.MessageRef.find({
      requestId: r.id,
      kind: 'extension',
      version: { $lte: r.version },
    }).lean();
    const card = extensionCard({
      request: r,
      requesterName: r.requester.displayName ?? r.requester.email,
      outcome,
    });
    for (const ref of refs) {
      try {
        await this.adapter!.continue(ref.reference as TeamsConversationReference, (turn) =>
          turn.updateActivity({ id: ref.activityId, ...cardActivity(card, `${r.id}: ${outcome}`) }),
        );
        await this.d.m.MessageRef.updateOne({ _id: ref._id }, { $set: { version: r.version } });
      } catch (err) {
        this.d.log.warn({ err, request: r.id, approver: ref.email }, 'could not update a Teams card');
      }
    }
  }

  /** Rewrites every approver's copy: the outcome instead of buttons, or the progress beside them. */
  private async rewriteCards(r: RequestView, outcome?: string, progress?: string): Promise<void> {
    const refs = await this.d.m.MessageRef.find({
      requestId: r.id,
      kind: 'approval',
      version: { $lte: r.version },
    }).lean();
    if (refs.length === 0) return;
    const context = await this.core!.queries.requesterContext(r);
    for (const ref of refs) {
      const card = approvalCard({
        request: r,
        requesterName: r.requester.displayName ?? r.requester.email,
        context,
        approverUserIds: ref.userId ? [ref.userId] : [],
        outcome: outcome ?? (ref.step < r.step ? `Step ${ref.step + 1} is complete.` : undefined),
        progress,
        ...(r.askedBy ? { askedByName: r.askedBy.displayName ?? r.askedBy.email } : {}),
      });
      try {
        await this.adapter!.continue(ref.reference as TeamsConversationReference, (turn) =>
          turn.updateActivity({
            id: ref.activityId,
            ...cardActivity(card, `${r.id}: ${outcome ?? 'in progress'}`),
          }),
        );
        await this.d.m.MessageRef.updateOne(
          { _id: ref._id, version: { $lte: r.version } },
          { $set: { version: r.version } },
        );
      } catch (err) {
        // An old card that cannot be rewritten (deleted chat) must not hold up the request's other messages.
        this.d.log.warn({ err, request: r.id, approver: ref.email }, 'could not update a Teams card');
      }
    }
  }

  /**
   * Sends once per `key`: a retried event sends nothing twice. Returns where it went; why the
   * person cannot be reached in Teams (never installed, removed or blocked Latch); or undefined
   * when it was sent already.
   */
  /** Each admin named by email who installed the app gets a card. */
  async notifyAdmins(notice: AdminNoticeView): Promise<void> {
    const activity = cardActivity(
      noticeCard([{ text: 'Latch: ', bold: true }, notice.text]),
      notice.text.slice(0, 120),
    );
    for (const admin of emailsOf(notice.admins))
      await this.send(admin, activity, `notice:${notice.id}:${admin}`);
  }

  private async send(
    email: string,
    activity: OutgoingActivity,
    key: string | undefined,
  ): Promise<
    | { reference: TeamsConversationReference; activityId: string; userId: string }
    | { unreached: string }
    | undefined
  > {
    const reach = await this.d.people.reach(email);
    if (!('reference' in reach)) {
      this.d.log.info({ to: email, why: reach.unreachable }, 'not reachable in Teams');
      return { unreached: reach.unreachable };
    }
    if (key && !(await this.claim(key))) return undefined;
    try {
      let activityId = '';
      const reference = reach.reference as unknown as TeamsConversationReference;
      await this.adapter!.continue(reference, async (turn) => {
        activityId = (await turn.sendActivity(activity)).id ?? '';
      });
      if (key) await this.d.m.Sent.updateOne({ _id: key }, { $set: { done: true } });
      return { reference, activityId, userId: reach.userId };
    } catch (err) {
      const lost = conversationLost(err);
      if (lost) {
        // Retrying cannot help: Teams says the person blocked Latch or the chat is gone.
        if (key) await this.d.m.Sent.updateOne({ _id: key }, { $set: { done: true } });
        await this.d.people.lost(email, lost);
        this.d.log.info({ to: email, why: lost }, 'not reachable in Teams any more');
        return { unreached: lost };
      }
      if (key) await this.d.m.Sent.deleteOne({ _id: key, done: false });
      throw new DeliveryDeferred(`Teams did not take the message: ${(err as Error).message}`, undefined, {
        cause: err,
      });
    }
  }

  /** True when this process may send the message now. */
  private async claim(key: string): Promise<boolean> {
    const now = this.now();
    try {
      await this.d.m.Sent.create({ _id: key, at: now, done: false });
      return true;
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
    const taken = await this.d.m.Sent.findOneAndUpdate(
      { _id: key, done: false, at: { $lt: new Date(now.getTime() - STALE_CLAIM_MS) } },
      { $set: { at: now } },
    ).lean();
    if (taken) return true;
    const existing = await this.d.m.Sent.findById(key).lean();
    if (existing?.done) return false;
    throw new DeliveryDeferred('another sender is sending this message');
  }
}
