/**
 * Lifecycle webhooks in the tab console (docs/ARCHITECTURE.md, "Lifecycle webhooks", "Personal
 * tab"), as Slack's App Home has them: the list with each subscription's last deliveries, add and
 * edit (every problem a 400 on its field, nothing saved), rotate the secret, delete. A secret Latch
 * generates is in that one answer and no other. Each route checks the caller is an admin before it
 * reads the body; the use-cases check again.
 */
import { z } from 'zod';
import type { ChannelCore } from '../../../app.js';
import type { Identity } from '../../../domain/identity.js';
import { LatchError } from '../../../lifecycle/errors.js';
import { parse, Refusal, refuseFields, type On } from './http.js';

const idParam = z.string().trim().min(1).max(200);
/** Deliveries listed per subscription in the list; one subscription's page lists the last 50. */
const RECENT_IN_LIST = 5;
const RECENT_IN_DETAIL = 50;

export const webhookFormSchema = z.object({
  name: z.string().max(1000).default(''),
  url: z.string().max(10_000).default(''),
  /** None: every event. */
  events: z.array(z.string().max(100)).max(50).default([]),
  /** Write-only: empty generates one (new) or keeps the stored one (edit). */
  secret: z.string().max(1000).default(''),
  enabled: z.boolean().default(true),
});

export function mountWebhooks(on: On, core: ChannelCore): void {
  const q = core.queries;
  const list = async (who: Identity) => ({
    webhooks: await q.webhooks(who, RECENT_IN_LIST),
    events: q.webhookEvents(),
  });

  on('GET', '/admin/webhooks', async (who) => list(who));

  on('GET', '/admin/webhooks/:id', async (who, _body, p) => {
    const webhook = await q.webhook(who, parse(idParam, p.id), RECENT_IN_DETAIL);
    if (!webhook) throw new Refusal(404, 'That webhook subscription no longer exists.');
    return { webhook, events: q.webhookEvents() };
  });

  const save = async (who: Identity, body: unknown, id?: string) => {
    await core.admin.assertAdmin(who, 'webhook.save');
    const form = parse(webhookFormSchema, body);
    const fields: Record<string, string> = {};
    for (const issue of await core.admin.webhookIssues(who, form, id))
      fields[issue.field] = fields[issue.field] ? `${fields[issue.field]}; ${issue.message}` : issue.message;
    if (Object.keys(fields).length) refuseFields(fields);
    try {
      if (id) {
        const webhook = await core.admin.updateWebhook(who, id, form);
        return { saved: webhook.name, ...(await list(who)) };
      }
      const saved = await core.admin.createWebhook(who, form);
      return {
        saved: saved.webhook.name,
        ...(saved.secret ? { secret: saved.secret } : {}),
        ...(await list(who)),
      };
    } catch (err) {
      if (err instanceof LatchError && err.code === 'invalid')
        throw new Refusal(400, err.message, { [err.field ?? 'name']: err.message });
      throw err;
    }
  };
  on('POST', '/admin/webhooks', async (who, body) => save(who, body));
  on('POST', '/admin/webhooks/:id', async (who, body, p) => save(who, body, parse(idParam, p.id)));

  on('POST', '/admin/webhooks/:id/rotate', async (who, _body, p) => {
    const saved = await core.admin.rotateWebhookSecret(who, parse(idParam, p.id));
    return { saved: saved.webhook.name, secret: saved.secret, ...(await list(who)) };
  });

  on('POST', '/admin/webhooks/:id/delete', async (who, _body, p) => {
    await core.admin.deleteWebhook(who, parse(idParam, p.id));
    return list(who);
  });
}
