/**
 * Tells people in Slack what happened to a request: approvers get a card per request (every copy
 * is rewritten once anyone decides), requesters get a DM at every step. Credentials never go into
 * message history: they are sealed into a one-time drop that a button opens in a modal.
 */
import { DateTime } from 'luxon';
import pLimit from 'p-limit';
import {
  approvalCard,
  decidedMessage,
  expiringMessage,
  extensionCard,
  grantedMessage,
  simpleMessage,
  submittedMessage,
  plainTargets,
  type Message,
  type RequesterContext,
} from '../../../blocks/slack/messages.js';
import { esc, mention, when } from '../../../blocks/slack/text.js';
import { withinWorkingHours } from '../../domain/availability.js';
import { normalizeEmail } from '../../domain/identity.js';
import { formatDuration } from '../../domain/duration.js';
import type { ChannelCore } from '../../app.js';
import type { Audience, LatchEvent, Notifier } from '../../lifecycle/notifier.js';
import type { RequestView } from '../../lifecycle/views.js';
import type { Logger } from '../../logger.js';
import type { SecretBox } from '../../store/secrets.js';
import type { SlackDirectory, SlackUserRef } from './directory.js';
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
  constructor(private readonly d: SlackNotifierDeps) {}

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

  private readonly inFlight = pLimit(8);
  private readonly chains = new Map<string, Promise<void>>();

  /**
   * Returns at once: lifecycle has already moved state, and a sweep revoking hundreds of grants
   * must not wait for hundreds of round trips to Slack before its next tick. Events of one request
   * are delivered in order (a card must exist before it is rewritten); requests go in parallel.
   */
  async notify(event: LatchEvent): Promise<void> {
    const key = event.request.id;
    const next = (this.chains.get(key) ?? Promise.resolve())
      .then(() => this.inFlight(() => this.deliver(event)))
      .catch((err) => this.d.log.warn({ err, event: event.type, request: key }, 'Slack notification failed'));
    this.chains.set(key, next);
    void next.then(() => {
      if (this.chains.get(key) === next) this.chains.delete(key);
    });
  }

  /**
   * Waits until every event handed over so far is delivered (for shutdown and tests), or until
   * `timeoutMs` has passed; returns how many requests still had messages waiting then, so a
   * shutdown behind a slow or huge backlog is bounded. (Those messages are lost with the process
   * until the core's outbox keeps them; see the open issue.)
   */
  async drain(timeoutMs = Infinity): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.chains.size > 0) {
      const left = deadline - Date.now();
      if (left <= 0) break;
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        if (Number.isFinite(left)) timer = setTimeout(resolve, left);
      });
      await Promise.race([Promise.all([...this.chains.values()]), timeout]);
      clearTimeout(timer);
    }
    return this.chains.size;
  }

  private async deliver(event: LatchEvent): Promise<void> {
    const r = event.request;
    switch (event.type) {
      case 'request.submitted': {
        if (r.state === 'pending')
          await this.toRequester(r, submittedMessage(r, await this.describeAudience(event.approvers)));
        break;
      }
      case 'approval.needed':
        await this.sendCards(r, event.approvers, event.reminder);
        break;
      case 'approval.recorded': {
        const by = await this.nameOf(event.by);
        // Within a step the others may still approve, so their buttons stay; a finished step's
        // cards lose theirs, and the next step's approvers get cards of their own.
        if (event.remaining)
          await this.rewriteCards(
            r,
            'approval',
            undefined,
            `Approved by ${by}; still needs ${esc(event.remaining)}.`,
          );
        else
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
        await this.toRequester(r, decidedMessage(r, 'approved', by));
        break;
      }
      case 'request.rejected': {
        const by = await this.nameOf(event.by);
        await this.rewriteCards(r, 'approval', `:no_entry: *Denied* by ${by}: ${esc(event.reason)}`);
        await this.toRequester(r, decidedMessage(r, 'denied', by, event.reason));
        break;
      }
      case 'request.cancelled':
        await this.rewriteCards(r, 'approval', ':heavy_multiplication_x: *Cancelled* by the requester.');
        await this.toRequester(r, simpleMessage(`*${r.id}* is cancelled.`, ':heavy_multiplication_x:'));
        break;
      case 'request.timed_out':
        await this.rewriteCards(r, 'approval', ':hourglass: *Timed out*: nobody decided in time.');
        await this.toRequester(
          r,
          simpleMessage(`*${r.id}* timed out: nobody decided in time. You can ask again.`, ':hourglass:'),
        );
        break;
      case 'access.granted': {
        const values = event.credentials.filter((c) => Object.keys(c.values).length > 0);
        let dropId: string | undefined;
        if (values.length > 0) {
          const drop = await this.d.m.CredentialDrop.create({
            requestId: r.id,
            owner: r.requester.id,
            sealed: this.d.box.seal(JSON.stringify(values)),
            at: this.now(),
          });
          dropId = String(drop._id);
        }
        await this.toRequester(r, grantedMessage(r, this.until(r), dropId));
        break;
      }
      case 'access.expiring':
        await this.toRequester(r, expiringMessage(r, this.until(r), event.extension));
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
        );
        break;
      }
      case 'extension.requested':
        await this.sendExtensionCards(r, event.approvers, event.minutes);
        await this.toRequester(
          r,
          simpleMessage(
            `You asked to extend *${r.id}* by ${formatDuration(event.minutes)}; an approver has been asked.`,
            ':mailbox_with_mail:',
          ),
        );
        break;
      case 'access.revoked': {
        const how =
          r.endReason === 'expired'
            ? 'expired'
            : `was revoked${r.endedBy && r.endedBy !== r.requester.id ? ` by ${await this.nameOf(r.endedBy)}` : ''}`;
        const why = r.endReasonText ? `\n>${esc(r.endReasonText)}` : '';
        await this.toRequester(
          r,
          simpleMessage(`*${r.id}*: your access to ${esc(plainTargets(r))} ${how}.${why}`, ':lock:'),
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
        );
        break;
      case 'revoke.failing':
        for (const admin of event.admins) {
          const ref = await this.find(admin);
          if (ref)
            await this.dm(
              ref,
              simpleMessage(
                `Revoking *${r.id}* (${esc(plainTargets(r))}) has failed ${event.attempts} times: ${esc(event.error)}. Latch keeps retrying.`,
                ':rotating_light:',
              ),
            );
        }
        break;
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
    try {
      const client = await this.d.workspaces.client();
      await client.chat.postMessage({ channel, text: line, unfurl_links: false });
    } catch (err) {
      this.d.log.warn({ err, channel }, 'audit channel post failed');
    }
  }

  private until(r: RequestView): string {
    return r.expiresAt ? when(r.expiresAt, r.requester.timeZone) : 'you revoke it';
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

  private async audienceRefs(a: Audience, exclude: string): Promise<SlackUserRef[]> {
    const refs: SlackUserRef[] = [];
    const users = a.users.filter((u) => u !== exclude);
    const byId = users.filter(isSlackUserId);
    const byEmail = users.filter((u) => !isSlackUserId(u));
    let found = new Map<string, SlackUserRef | null>();
    try {
      found = await this.d.directory.findManyByEmail(byEmail);
    } catch (err) {
      this.d.log.warn({ err }, 'Slack user lookup failed');
    }
    refs.push(...byId.map((u) => ({ userId: u.toUpperCase() })));
    for (const u of byEmail) {
      const ref = found.get(normalizeEmail(u));
      if (ref) refs.push(ref);
      else this.d.log.warn({ approver: u }, 'approver not found in Slack');
    }
    for (const g of a.groups) refs.push(...(await this.d.directory.groupMembers(g)));
    const requester = await this.find(exclude);
    const seen = new Set<string>();
    return refs.filter((r) => {
      const key = `${r.teamId}:${r.userId}`;
      if (seen.has(key) || (requester && r.userId === requester.userId)) return false;
      seen.add(key);
      return true;
    });
  }

  private async sendCards(r: RequestView, audience: Audience, reminder: boolean): Promise<void> {
    const [refs, context, requester] = await Promise.all([
      this.audienceRefs(audience, r.requester.id),
      this.requesterContext(r),
      this.nameOf(r.requester.id),
    ]);
    const card = approvalCard({ request: r, requester, context, reminder });
    await Promise.all(refs.map((ref) => this.postCard(r, 'approval', ref, card)));
  }

  private async sendExtensionCards(r: RequestView, audience: Audience, minutes: number): Promise<void> {
    const refs = await this.audienceRefs(audience, r.requester.id);
    const card = extensionCard({ request: r, requester: await this.nameOf(r.requester.id), minutes });
    await Promise.all(refs.map((ref) => this.postCard(r, 'extension', ref, card)));
  }

  private async postCard(r: RequestView, kind: CardKind, ref: SlackUserRef, message: Message): Promise<void> {
    const posted = await this.dm(ref, message);
    if (posted) {
      await this.d.m.MessageRef.create({
        requestId: r.id,
        kind,
        step: r.step,
        teamId: ref.teamId,
        userId: ref.userId,
        ...posted,
        at: this.now(),
      });
    }
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
    const message =
      kind === 'approval'
        ? approvalCard({ request: r, requester, context: await this.requesterContext(r), outcome, progress })
        : extensionCard({ request: r, requester, outcome: outcome ?? progress });
    await Promise.all(
      refs.map(async (ref) => {
        try {
          const client = await this.d.workspaces.client(ref.teamId ?? undefined);
          await client.chat.update({
            channel: ref.channel,
            ts: ref.ts,
            text: message.text,
            blocks: message.blocks as never,
          });
        } catch (err) {
          this.d.log.warn({ err, request: r.id }, 'could not update an approver card');
        }
      }),
    );
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

  async requesterContext(r: RequestView): Promise<RequesterContext> {
    const { previousRequests, previousForSame } = await this.queries.requesterHistory(r);
    const tz = r.requester.timeZone;
    const zoned = tz ? DateTime.fromJSDate(this.now()).setZone(tz) : undefined;
    return {
      groups: r.requester.groups,
      timeZone: tz,
      localTime: zoned?.isValid ? zoned.toFormat('ccc HH:mm') : undefined,
      withinWorkingHours: withinWorkingHours(tz, this.now()),
      previousRequests,
      previousForSame,
    };
  }

  private async toRequester(r: RequestView, message: Message): Promise<void> {
    const ref = await this.find(r.requester.id);
    if (!ref) {
      this.d.log.warn({ request: r.id }, 'requester not found in Slack');
      return;
    }
    await this.dm(ref, message);
  }

  private async dm(
    ref: SlackUserRef,
    message: Message,
  ): Promise<{ channel: string; ts: string } | undefined> {
    try {
      const client = await this.d.workspaces.client(ref.teamId);
      const open = await client.conversations.open({ users: ref.userId });
      const channel = open.channel?.id;
      if (!channel) return undefined;
      const res = await client.chat.postMessage({
        channel,
        text: message.text,
        blocks: message.blocks as never,
      });
      return res.ts ? { channel, ts: res.ts } : undefined;
    } catch (err) {
      this.d.log.warn({ err, user: ref.userId }, 'Slack DM failed');
      return undefined;
    }
  }
}

function isSlackUserId(value: string): boolean {
  return /^[uw][a-z0-9]{2,}$/i.test(value);
}
