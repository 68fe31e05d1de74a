/**
 * The webhook connector under the conformance suite, against the local receiver
 * (test/support/webhook-receiver.ts) in either of its kinds of system: `accounts` (a temporary
 * account per grant, with credentials) or `membership` (people's own accounts join a group, shared
 * by overlapping grants). The oracle is the receiver's own state.
 */
import { randomBytes } from 'node:crypto';
import { createWebhookConnector } from '../../../src/connectors/webhook/index.js';
import type { GrantSpec } from '../../../src/connectors/types.js';
import type { ConformanceFixture } from '../connector-conformance.js';
import { startWebhookReceiver, type ReceiverMode, type WebhookReceiver } from '../webhook-receiver.js';

export interface WebhookFixture extends ConformanceFixture {
  receiver: WebhookReceiver;
}

export async function createWebhookFixture(opts: { mode?: ReceiverMode } = {}): Promise<WebhookFixture> {
  const receiver = await startWebhookReceiver({ mode: opts.mode ?? 'accounts' });
  const s = randomBytes(3).toString('hex');
  const resource = receiver.resources[0]!;
  const integration = {
    type: 'webhook',
    // Short waits: a test's retries should not take seconds.
    config: { url: receiver.url, timeoutMs: 2_000, retries: 2, backoffMs: 10 },
    secrets: { signingSecret: receiver.secret },
  };
  let n = 0;
  const person = (stem: string) => {
    n += 1;
    const email = `${stem}${n}-${s}@example.com`;
    receiver.addPerson(email);
    return email;
  };
  const of = (spec: GrantSpec) => ({
    grantId: spec.grantId,
    requesterEmail: spec.requesterEmail,
    resourceId: spec.resource.id,
    permission: spec.permission,
  });

  return {
    receiver,
    integration,
    target: { resourceId: resource.id, permission: 'read' },
    person: async () => person('p'),
    connector: () => createWebhookConnector({ name: 'conformance', ...integration }),
    async spec(o = {}): Promise<GrantSpec> {
      const email = person(o.hostile ?? 'p');
      const id = `${o.hostile ?? 'g'}-${s}-${n}`;
      return {
        grantId: id,
        requestId: `r-${id}`,
        requesterEmail: email,
        resource: { id: resource.id, name: resource.name, kind: resource.kind },
        permission: 'read',
        expiresAt: new Date(Date.now() + 3_600_000),
      };
    },
    present: async (spec) => receiver.holds(of(spec)),
    snapshot: async () => receiver.lines(),
    failPartWay: async (spec) => {
      const clear = receiver.fail({ how: 'apply-then-error', action: 'grant', grantId: spec.grantId });
      return async () => clear();
    },
    removeBehindBack: async (spec) => receiver.remove(of(spec)),
    createStanding: async () => ({
      account: receiver.giveStanding(resource.id, 'write'),
      resourceId: resource.id,
      permission: 'write',
    }),
    close: () => receiver.close(),
  };
}
