/**
 * Tells people in Slack what happened to a request: approvers get a card per request (every copy
 * is rewritten once anyone decides), requesters get a DM at every step. Credentials never go into
 * message history: they are sealed into a one-time drop that a button opens in a modal.
 */
import { createHash, randomUUID } from 'node:crypto';
import {
  approvalCard,
  breakGlassMessage,
  decidedMessage,
  digestMessage,
  expiringMessage,
  extensionCard,
  forYouMessage,
  grantedMessage,
  simpleMessage,
  submittedMessage,
  plainTargets,
  type Message,
  type RequesterContext,
} from '../../../blocks/slack/messages.js';
import { esc, mention, when } from '../../../blocks/slack/text.js';
import { normalizeEmail } from '../../domain/identity.js';
import { DIGEST_MAX_LISTED } from '../../domain/reminders.js';
import { driftText } from '../../domain/drift.js';
import { formatDuration } from '../../domain/duration.js';
import type { ChannelCore } from '../../app.js';
import type {
  AdminNoticeView,
  Audience,
  DeliveryReport,
  LatchEvent,
  Notifier,
  Unreached,
} from '../../lifecycle/notifier.js';
import type { RequestView } from '../../lifecycle/request-view.js';
import type { Logger } from '../../logger.js';
import type { SecretBox } from '../../store/secrets.js';
import type { SlackDirectory, SlackUserRef } from './directory.js';
import { SlackDelivery } from './delivery.js';
import type { SlackModels } from './store.js';
import type { Workspaces } from './workspaces.js';

export interface SlackNotifierDeps {
  m: SlackModels;
  directory: SlackDirectory;
  workspaces: Workspaces;
  box: SecretBox;
  log: Logger;
  now?: () => Date;
  /** Called after a change so an open App Home can be redrawn. */
  onRequestChanged?: (request: RequestView) => Promise<void>;
}

type CardKind = 'approval' | 'extension';

export class SlackNotifier implements Notifier {
  private readonly send: SlackDelivery;

  constructor(private readonly d: SlackNotifierDeps) {
    this.send = new SlackDelivery({ m: d.m, workspaces: d.workspaces, log: d.log, now: () => this.now() });
  }

  /** The core's queries; bound once Latch is built (it needs this notifier first). */
  private core?: ChannelCore;

  bind(core: ChannelCore): void {
    this.core = core;
  }

  private get queries() {
    if (!this.core) throw new Error('SlackNotifier used before bind(): no core to read from');
    return this.core.queries;
  }

  private now(): Date {
    return this.d.now ? this.d.now() : new Date();
  }

  /** At shutdown, after the outbox's drain: what is still being sent is left for the next process. */
  async close(): Promise<void> {
    await this.send.release();
  }

  /**
   * Delivers one event, for the outbox: it resolves once Slack has the messages, and throws
   * DeliveryDeferred when the outbox should try again later. The outbox calls it in order per
   * request, so a card exists before it is rewritten.
   */
  notify(event: LatchEvent): Promise<DeliveryReport | void> {
    return this.deliver(event);
  }

  private async deliver(event: LatchEvent): Promise<DeliveryReport | void> {
    const r = event.request;
    // Each message of an event, keyed so that a retried event sends it once.
    const key = (purpose: string) => (event.eventId ? `${event.eventId}:${purpose}` : undefined);
    switch (event.type) {
      case 'request.submitted': {
        // Asked for someone else: the asker follows it (and may cancel it); the requester hears of it
        // through request.for_you.
        if (r.state === 'pending')
          await this.toPerson(
            r.askedBy?.id ?? r.requester.id,
            submittedMessage(r, await this.describeAudience(event.approvers)),
            key('submitted'),
          );
        break;
      }
      case 'request.for_you':
        if (r.askedBy && ['pending', 'approved', 'granting', 'active'].includes(r.state))
          await this.toRequester(r, forYouMessage(r, await this.nameOf(r.askedBy.id)), key('for-you'));
        break;
      case 'request.declined': {
        const by = await this.nameOf(event.by);
        if (r.state === 'cancelled')
          await this.rewriteCards(
            r,
            'approval',
            `:heavy_multiplication_x: *Declined* by ${by}, the person it was for.`,
          );
        if (r.askedBy)
          await this.toPerson(
            r.askedBy.id,
            simpleMessage(
              `${by} declined *${r.id}* (${esc(plainTargets(r))}), which you asked for them; ${r.state === 'cancelled' ? 'it is cancelled' : 'their access is revoked'}.`,
              ':heavy_multiplication_x:',
            ),
            key('declined'),
          );
        break;
      }
      case 'approval.needed':
        // Decided meanwhile (a late delivery): nobody needs a card for it any more.
        if (r.state === 'pending')
          return {
            unreached: await this.sendCards(r, event.approvers, event.reminder, key('card'), event.escalated),
          };
        break;
      case 'request.escalated':
        if (r.state === 'pending')
          await this.toRequester(
            r,
            simpleMessage(
              `Nobody decided *${r.id}* in time, so it is escalated to ${await this.describeAudience(event.approvers)}; they can decide it now.`,
              ':arrow_double_up:',
            ),
            key('escalated'),
          );
        break;
      case 'approvals.digest':
        // One person's message: not for the audit channel, and nobody else's App Home changes.
        await this.sendDigest(event.approver, event.waiting, key('digest'));
        return;
      case 'approvers.unreached':
        await this.toRequester(
          r,
          simpleMessage(
            `Latch could not reach ${event.unreached
              .slice(0, 10)
              .map((u) => `${esc(u.person)} (${esc(u.why)})`)
              .join(', ')} about *${r.id}*. Ask them to add Latch, or ask an admin.`,
            ':warning:',
          ),
          key('unreached'),
        );
        break;
      case 'approval.recorded': {
        const by = await this.nameOf(event.by);
        // Within a step the others may still approve, so their buttons stay; a finished step's
        // cards lose theirs, and the next step's approvers get cards of their own.
        if (event.remaining) {
          // Progress only while the step is still open; a later event draws the outcome.
          if (r.state === 'pending')
            await this.rewriteCards(
              r,
              'approval',
              undefined,
              `Approved by ${by}; still needs ${esc(event.remaining)}.`,
            );
        } else
          await this.rewriteCards(
            r,
            'approval',
            `:white_check_mark: Step ${r.step} of ${r.stepCount} *approved* by ${by}; the next step's approvers decide now.`,
          );
        break;
      }
      case 'request.approved': {
        const by = await this.nameOf(event.by);
        await this.rewriteCards(r, 'approval', `:white_check_mark: *Approved* by ${by}.`);
        await this.toRequester(r, decidedMessage(r, 'approved', by), key('approved'));
        break;
      }
      case 'request.rejected': {
        const by = await this.nameOf(event.by);
        await this.rewriteCards(r, 'approval', `:no_entry: *Denied* by ${by}: ${esc(event.reason)}`);
        await this.toRequester(r, decidedMessage(r, 'denied', by, event.reason), key('denied'));
        break;
      }
      case 'request.cancelled':
        await this.rewriteCards(r, 'approval', ':heavy_multiplication_x: *Cancelled* by the requester.');
        await this.toRequester(
          r,
          simpleMessage(`*${r.id}* is cancelled.`, ':heavy_multiplication_x:'),
          key('cancelled'),
        );
        break;
      case 'request.timed_out':
        await this.rewriteCards(r, 'approval', ':hourglass: *Timed out*: nobody decided in time.');
        await this.toRequester(
          r,
          simpleMessage(`*${r.id}* timed out: nobody decided in time. You can ask again.`, ':hourglass:'),
          key('timed-out'),
        );
        break;
      case 'access.granted': {
        const values = event.credentials.filter((c) => Object.keys(c.values).length > 0);
        let dropId: string | undefined;
        if (values.length > 0) {
          // One drop per event, however often it is delivered: its id comes from the event's.
          dropId = dropIdOf(event.eventId ?? `${r.id}:${randomUUID()}`);
          await this.d.m.CredentialDrop.updateOne(
            { _id: dropId },
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
        await this.toRequester(r, grantedMessage(r, this.until(r), dropId), key('granted'));
        break;
      }
      case 'access.expiring':
        await this.toRequester(r, expiringMessage(r, this.until(r), event.extension), key('expiring'));
        break;
      case 'access.extended': {
        const by = await this.nameOf(event.by);
        await this.rewriteCards(r, 'extension', `:white_check_mark: *Extended* by ${by}.`);
        await this.toRequester(
          r,
          simpleMessage(
            `*${r.id}* is extended: your access now ends at *${this.until(r)}*.`,
            ':hourglass_flowing_sand:',
          ),
          key('extended'),
        );
        break;
      }
      case 'extension.requested': {
        const unreached = await this.sendExtensionCards(
          r,
          event.approvers,
          event.minutes,
          key('extension-card'),
        );
        await this.toRequester(
          r,
          simpleMessage(
            `You asked to extend *${r.id}* by ${formatDuration(event.minutes)}; an approver has been asked.`,
            ':mailbox_with_mail:',
          ),
          key('extension-asked'),
        );
        return { unreached };
      }
      case 'access.revoked': {
        const how =
          r.endReason === 'expired'
            ? 'expired'
            : `was revoked${r.endedBy && r.endedBy !== r.requester.id ? ` by ${await this.nameOf(r.endedBy)}` : ''}`;
        const why = r.endReasonText ? `\n>${esc(r.endReasonText)}` : '';
        await this.toRequester(
          r,
          simpleMessage(`*${r.id}*: your access to ${esc(plainTargets(r))} ${how}.${why}`, ':lock:'),
          key('ended'),
        );
        break;
      }
      case 'request.failed':
        await this.toRequester(
          r,
          simpleMessage(
            `*${r.id}* failed: ${esc(event.error)}. Nothing is left granted; an admin has the details.`,
            ':warning:',
          ),
          key('failed'),
        );
        break;
      case 'revoke.failing':
        for (const admin of event.admins) {
          const ref = await this.find(admin);
          if (ref)
            await this.send.dm(
              ref,
              simpleMessage(
                `Revoking *${r.id}* (${esc(plainTargets(r))}) has failed ${event.attempts} times: ${esc(event.error)}. Latch keeps retrying.`,
                ':rotating_light:',
              ),
              key('revoke-failing'),
            );
        }
        break;
      case 'access.drift':
        for (const admin of event.admins) {
          const ref = await this.find(admin);
          if (ref)
            await this.send.dm(ref, simpleMessage(esc(driftText(r.id, event.drift)), ':mag:'), key('drift'));
        }
        break;
      case 'break_glass.used': {
        const requester = await this.nameOf(r.requester.id);
        for (const admin of event.admins) {
          const ref = await this.find(admin);
          if (ref) await this.send.dm(ref, breakGlassMessage(r, requester, event.reason), key('break-glass'));
        }
        break;
      }
    }
    await this.toAuditChannel(event);
    await this.d.onRequestChanged?.(r).catch((err) => this.d.log.warn({ err }, 'home refresh failed'));
  }

  /** One line per event in the admins' audit channel, when they set one. Never credentials. */
  private async toAuditChannel(event: LatchEvent): Promise<void> {
    const channel = await this.queries.auditChannel();
    if (!channel) return;
    const r = event.request;
    const who = 'by' in event && event.by ? ` by ${await this.nameOf(event.by)}` : '';
    const line = `\`${event.type}\` *${r.id}* · ${esc(r.requester.email)} · ${esc(plainTargets(r))}${who}`;
    await this.send.post(channel, line, event.eventId && `${event.eventId}:audit`);
  }

  private until(r: RequestView): string {
    return r.expiresAt ? when(r.expiresAt, r.requester.timeZone) : 'you revoke it';
  }

  /** Each admin Slack can reach gets a DM; those it cannot find are skipped (the log says so). */
  async notifyAdmins(notice: AdminNoticeView): Promise<void> {
    for (const admin of notice.admins) {
      const ref = await this.find(admin);
      if (!ref) {
        this.d.log.info({ notice: notice.id }, 'an admin is not in Slack; not told of the notice');
        continue;
      }
      await this.send.dm(ref, simpleMessage(esc(notice.text), ':warning:'), `notice:${notice.id}`);
    }
  }

  private async find(emailOrId: string): Promise<SlackUserRef | null> {
    // LATCH_ADMINS may name Slack user ids (lower-cased on the way in); those need no lookup.
    if (isSlackUserId(emailOrId)) return { userId: emailOrId.toUpperCase() };
    try {
      return await this.d.directory.findByEmail(emailOrId);
    } catch (err) {
      this.d.log.warn({ err }, 'Slack user lookup failed');
      return null;
    }
  }

  private async nameOf(who: string): Promise<string> {
    if (who === 'auto' || who === 'system' || who === 'latch') return 'Latch';
    if (!who.includes('@')) return esc(who);
    const ref = await this.find(who);
    return mention(ref?.userId, who);
  }

  private async describeAudience(a: Audience): Promise<string> {
    const names = await Promise.all(a.users.slice(0, 10).map((u) => this.nameOf(u)));
    const parts = [...names, ...a.groups.slice(0, 10).map((g) => `@${esc(g)}`)];
    return parts.length ? parts.join(', ') : 'the admins';
  }

  /** Where to reach the audience in Slack, and who could not be found there. */
  private async audienceRefs(
    a: Audience,
    exclude: string,
    /** Who asked for someone else: no card either, they may not decide it (docs/ARCHITECTURE.md, "Asking for someone else"). */
    asker?: string,
  ): Promise<{ refs: SlackUserRef[]; unreached: Unreached[] }> {
    const refs: SlackUserRef[] = [];
    const unreached: Unreached[] = [];
    const users = a.users.filter((u) => u !== exclude && u !== asker);
    const byId = users.filter(isSlackUserId);
    const byEmail = users.filter((u) => !isSlackUserId(u));
    let found = new Map<string, SlackUserRef | null>();
    let looked = false;
    try {
      found = await this.d.directory.findManyByEmail(byEmail);
      looked = true;
    } catch (err) {
      this.d.log.warn({ err }, 'Slack user lookup failed');
    }
    refs.push(...byId.map((u) => ({ userId: u.toUpperCase() })));
    for (const u of byEmail) {
      const ref = found.get(normalizeEmail(u));
      if (ref) refs.push(ref);
      else {
        this.d.log.warn({ approver: u }, 'approver not found in Slack');
        // A failed lookup says nothing about the person.
        if (looked) unreached.push({ person: u, why: 'not found in Slack' });
      }
    }
    for (const g of a.groups) refs.push(...(await this.d.directory.groupMembers(g)));
    const requester = await this.find(exclude);
    const askerRef = asker ? await this.find(asker) : null;
    const seen = new Set<string>();
    return {
      refs: refs.filter((r) => {
        const key = `${r.teamId}:${r.userId}`;
        if (
          seen.has(key) ||
          (requester && r.userId === requester.userId) ||
          (askerRef && r.userId === askerRef.userId)
        )
          return false;
        seen.add(key);
        return true;
      }),
      unreached,
    };
  }

  private async sendCards(
    r: RequestView,
    audience: Audience,
    reminder: boolean,
    key?: string,
    escalated?: boolean,
  ): Promise<Unreached[]> {
    const [{ refs, unreached }, context, requester, askedBy] = await Promise.all([
      this.audienceRefs(audience, r.requester.id, r.askedBy?.id),
      this.requesterContext(r),
      this.nameOf(r.requester.id),
      r.askedBy ? this.nameOf(r.askedBy.id) : undefined,
    ]);
    const card = approvalCard({ request: r, requester, context, reminder, escalated, askedBy });
    await Promise.all(refs.map((ref) => this.postCard(r, 'approval', ref, card, key)));
    return unreached;
  }

  /** The digest goes to its one approver; someone Slack does not know is simply not sent one. */
  private async sendDigest(approver: string, waiting: RequestView[], key?: string): Promise<void> {
    if (waiting.length === 0) return;
    const ref = await this.find(approver);
    if (!ref) return;
    const now = this.now().getTime();
    const items = await Promise.all(
      waiting.map(async (request) => ({
        request,
        requester: await this.nameOf(request.requester.id),
        waitingMinutes: Math.round((now - (request.createdAt?.getTime() ?? now)) / 60_000),
      })),
    );
    await this.send.dm(ref, digestMessage(items, DIGEST_MAX_LISTED), key);
  }

  private async sendExtensionCards(
    r: RequestView,
    audience: Audience,
    minutes: number,
    key?: string,
  ): Promise<Unreached[]> {
    const { refs, unreached } = await this.audienceRefs(audience, r.requester.id);
    const card = extensionCard({ request: r, requester: await this.nameOf(r.requester.id), minutes });
    await Promise.all(refs.map((ref) => this.postCard(r, 'extension', ref, card, key)));
    return unreached;
  }

  private async postCard(
    r: RequestView,
    kind: CardKind,
    ref: SlackUserRef,
    message: Message,
    key?: string,
  ): Promise<void> {
    // The card's reference is kept with the send, so every card sent can be rewritten later.
    await this.send.dm(ref, message, key, async (posted) => {
      await this.d.m.MessageRef.create({
        requestId: r.id,
        kind,
        step: r.step,
        teamId: ref.teamId,
        userId: ref.userId,
        ...posted,
        at: this.now(),
      });
    });
  }

  /** Rewrites every copy of a request's cards: with an outcome they lose their buttons. */
  private async rewriteCards(
    r: RequestView,
    kind: CardKind,
    outcome?: string,
    progress?: string,
  ): Promise<void> {
    // Concurrent approvals report in any order: never draw an older state over a newer one.
    if (!this.isNewest(`${r.id}:${kind}`, r.version)) return;
    // Progress within a step touches only that step's cards: earlier steps' cards keep their outcome.
    const refs = await this.d.m.MessageRef.find({
      requestId: r.id,
      kind,
      ...(outcome ? {} : { step: r.step }),
    }).lean();
    if (refs.length === 0) return;
    const requester = await this.nameOf(r.requester.id);
    const askedBy = r.askedBy ? await this.nameOf(r.askedBy.id) : undefined;
    const message =
      kind === 'approval'
        ? approvalCard({
            request: r,
            requester,
            context: await this.requesterContext(r),
            outcome,
            progress,
            askedBy,
          })
        : extensionCard({ request: r, requester, outcome: outcome ?? progress });
    await Promise.all(refs.map((ref) => this.send.update(ref, message)));
  }

  /** Newest version drawn per request card kind; bounded, oldest forgotten first. */
  private readonly drawn = new Map<string, number>();

  private isNewest(key: string, version: number): boolean {
    const last = this.drawn.get(key);
    if (last !== undefined && version < last) return false;
    this.drawn.delete(key);
    this.drawn.set(key, version);
    if (this.drawn.size > 10_000) this.drawn.delete(this.drawn.keys().next().value!);
    return true;
  }

  requesterContext(r: RequestView): Promise<RequesterContext> {
    return this.queries.requesterContext(r);
  }

  private async toRequester(r: RequestView, message: Message, key?: string): Promise<void> {
    await this.toPerson(r.requester.id, message, key, r.id);
  }

  private async toPerson(person: string, message: Message, key?: string, request?: string): Promise<void> {
    const ref = await this.find(person);
    if (!ref) {
      this.d.log.warn({ request }, 'requester not found in Slack');
      return;
    }
    await this.send.dm(ref, message, key);
  }
}

/** A credential drop's id (an ObjectId's 24 hex digits) made from the event that issued it. */
function dropIdOf(eventId: string): string {
  return createHash('sha256').update(eventId).digest('hex').slice(0, 24);
}

function isSlackUserId(value: string): boolean {
  return /^[uw][a-z0-9]{2,}$/i.test(value);
}
