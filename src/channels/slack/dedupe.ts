/**
 * Slack retries an event it thinks was not received (no 200 in 3 s), and a proxy or a user's
 * double click can send an interaction twice. Every delivery that can change something is claimed
 * once by its id in MongoDB, so a second copy, on this process or another, is acknowledged and
 * dropped. Slash commands only open a modal (their trigger id works once anyway), so they are
 * checked in memory, keeping the database off the path of the 3-second acknowledgement.
 */
import type { AnyMiddlewareArgs, Middleware } from '@slack/bolt';
import type { Logger } from '../../logger.js';
import type { SlackModels } from './store.js';

const MEMORY_LIMIT = 5_000;

export function deliveryKey(body: Record<string, unknown>): { key: string; durable: boolean } | undefined {
  if (typeof body.event_id === 'string') return { key: `event:${body.event_id}`, durable: true };
  if (typeof body.command === 'string' && typeof body.trigger_id === 'string')
    return { key: `command:${body.trigger_id}`, durable: false };
  if (typeof body.type === 'string' && typeof body.trigger_id === 'string') {
    // Several actions in one payload share the trigger; the action timestamp tells clicks apart.
    const actions = body.actions as Array<{ action_ts?: string }> | undefined;
    return { key: `${body.type}:${body.trigger_id}:${actions?.[0]?.action_ts ?? ''}`, durable: true };
  }
  return undefined;
}

export function dedupeDeliveries(m: SlackModels, log: Logger): Middleware<AnyMiddlewareArgs> {
  const seen = new Set<string>();
  const remember = (key: string) => {
    seen.add(key);
    if (seen.size > MEMORY_LIMIT) seen.delete(seen.values().next().value!);
  };
  return async (args) => {
    const body = args.body as unknown as Record<string, unknown>;
    const id = deliveryKey(body);
    if (!id) return args.next();
    let duplicate = seen.has(id.key);
    remember(id.key);
    if (!duplicate && id.durable) {
      try {
        await m.Delivery.create({ _id: id.key, at: new Date() });
      } catch (err) {
        if ((err as { code?: number }).code !== 11000) throw err;
        duplicate = true;
      }
    }
    if (duplicate) {
      log.info({ delivery: id.key }, 'duplicate Slack delivery dropped');
      const ack = (args as { ack?: () => Promise<void> }).ack;
      if (ack) await ack();
      return;
    }
    await args.next();
  };
}
