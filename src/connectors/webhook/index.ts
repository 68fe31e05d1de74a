/**
 * The webhook connector: for systems Latch has no connector for. Latch POSTs signed JSON to the
 * customer's endpoint (the protocol: protocol.ts; the contract: README, "The webhook integration")
 * and takes its answer as the outcome.
 */
import { parseIntegration } from '../settings.js';
import { randomUUID } from 'node:crypto';
import pLimit from 'p-limit';
import { z } from 'zod';
import { registerSecret } from '../../secret-scrubber.js';
import {
  PartialGrantError,
  type AccessEntry,
  type Connector,
  type ConnectorFactory,
  type DiscoveredResource,
  type GrantHandle,
  type GrantItem,
  type GrantResult,
  type GrantSpec,
  type HealthResult,
  type IntegrationRuntime,
} from '../types.js';
import { webhookConfigSchema, webhookSecretsSchema, type WebhookConfig } from './config.js';
import { accessKey, entryFromListed, handleFromAnswer } from './handles.js';
import {
  answerProblem,
  checkAnswer,
  checkBatchAnswer,
  discoverAnswer,
  grantAnswer,
  grantKey,
  healthAnswer,
  listAnswer,
  okAnswer,
  PROTOCOL_VERSION,
  revokeBatchAnswer,
  wireGrant,
  type Action,
  type WireRequest,
} from './protocol.js';
import { mayHaveApplied, WebhookBadAnswer, WebhookRefusal, WebhookTransport } from './transport.js';

export {
  validateWebhookSettings,
  webhookConfigSchema,
  webhookSecretsSchema,
  endpointProblem,
} from './config.js';
export type { WebhookConfig } from './config.js';
export { WebhookRefusal, WebhookUnavailable, WebhookBadAnswer } from './transport.js';

/** Pages of `list` followed before giving up (an endpoint whose `next` never ends). */
const MAX_LIST_PAGES = 1000;
/** Batches of one revokeMany/checkMany in flight at once. */
const BATCH_CONCURRENCY = 4;

export interface WebhookConnectorOptions {
  /** For tests: how retries wait, and the jitter's source. */
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class WebhookConnector implements Connector {
  readonly type = 'webhook';
  private readonly transport: WebhookTransport;

  constructor(
    private readonly name: string,
    private readonly config: WebhookConfig,
    signingSecret: string,
    opts: WebhookConnectorOptions = {},
  ) {
    registerSecret(signingSecret);
    this.transport = new WebhookTransport({
      url: config.url,
      secret: signingSecret,
      timeoutMs: config.timeoutMs,
      retries: config.retries,
      backoffMs: config.backoffMs,
      ...opts,
    });
  }

  async discover(): Promise<DiscoveredResource[]> {
    let body: unknown;
    try {
      body = await this.post('discover', {});
    } catch (err) {
      // An endpoint that does not do discovery says so with a refusal; an outage, or a signature
      // it refuses, is not that.
      if (err instanceof WebhookRefusal && err.status !== 401 && err.status !== 403 && this.config.resources)
        return this.config.resources.map((r) => ({ ...r }));
      throw err;
    }
    const answer = this.parse(discoverAnswer, body, 'discover');
    return answer.resources;
  }

  /**
   * All or nothing: if the endpoint may have applied the grant but gave no good answer (a timeout, a
   * 5xx after the last retry, an answer Latch cannot read), the grant is revoked again, as an `undo`,
   * before it fails; if even that fails, PartialGrantError carries the handle to revoke it later.
   */
  async grant(spec: GrantSpec): Promise<GrantResult> {
    try {
      const body = await this.post('grant', { grant: wireGrant(spec) });
      const answer = this.parse(grantAnswer, body, 'grant');
      // Registered before anything could log them; they go to the requester only.
      for (const value of Object.values(answer.credentials ?? {})) registerSecret(value);
      const handle = handleFromAnswer(spec, answer);
      return { handle, ...(answer.credentials ? { credentials: answer.credentials } : {}) };
    } catch (err) {
      if (!mayHaveApplied(err)) throw err;
      const handle: GrantHandle = { grantId: spec.grantId, key: grantKey(spec.grantId) };
      try {
        await this.post('revoke', { grant: wireGrant(spec), undo: true });
      } catch (undo) {
        throw new PartialGrantError(
          `${(err as Error).message}; undoing whatever it may have made failed too (${(undo as Error).message})`,
          handle,
          { cause: err },
        );
      }
      throw new Error(`${(err as Error).message}; whatever it may have made was revoked again`, {
        cause: err,
      });
    }
  }

  async revoke(spec: GrantSpec, handle: GrantHandle): Promise<void> {
    this.parse(okAnswer, await this.post('revoke', { grant: wireGrant(spec, handle) }), 'revoke');
  }

  /** Batches of `batchSize` grants per POST; a batch that fails as a whole fails each of its items. */
  async revokeMany(items: GrantItem[]): Promise<Array<Error | null>> {
    const outcomes = await this.inBatches(items, async (batch) => {
      try {
        const body = await this.post('revoke', { grants: batch.map((it) => wireGrant(it.spec, it.handle)) });
        const { results } = this.parseBatch(revokeBatchAnswer, body, 'revoke', batch.length);
        return results.map((r) =>
          'error' in r ? new Error(`the webhook endpoint could not revoke: ${r.error}`) : null,
        );
      } catch (err) {
        return batch.map(() => err as Error);
      }
    });
    return outcomes;
  }

  async check(spec: GrantSpec, handle: GrantHandle): Promise<boolean> {
    const answer = this.parse(
      checkAnswer,
      await this.post('check', { grant: wireGrant(spec, handle) }),
      'check',
    );
    return answer.present;
  }

  /** Throws if the endpoint could not check any one of them: "unknown" must not read as "gone". */
  async checkMany(items: GrantItem[]): Promise<boolean[]> {
    return this.inBatches(items, async (batch) => {
      const body = await this.post('check', { grants: batch.map((it) => wireGrant(it.spec, it.handle)) });
      const { results } = this.parseBatch(checkBatchAnswer, body, 'check', batch.length);
      return results.map((r, i) => {
        if ('present' in r) return r.present;
        throw new Error(`the webhook endpoint could not check grant ${batch[i]!.spec.grantId}: ${r.error}`);
      });
    });
  }

  accessKey(handle: GrantHandle): string {
    return accessKey(handle);
  }

  async listAccess(): Promise<AccessEntry[]> {
    const entries: AccessEntry[] = [];
    let cursor: string | undefined;
    for (let page = 0; page < MAX_LIST_PAGES; page++) {
      const body = await this.post('list', cursor === undefined ? {} : { cursor });
      const answer = this.parse(listAnswer, body, 'list');
      for (const e of answer.entries) entries.push(entryFromListed(e));
      if (!answer.next) return entries;
      cursor = answer.next;
    }
    throw new Error(`the webhook endpoint's list did not end after ${MAX_LIST_PAGES} pages`);
  }

  /** An endpoint that does not implement `extend` answers 501: Latch's own expiry still ends the grant. */
  async extend(spec: GrantSpec, handle: GrantHandle, expiresAt: Date | null): Promise<void> {
    try {
      const body = await this.post('extend', { grant: wireGrant({ ...spec, expiresAt }, handle) });
      this.parse(okAnswer, body, 'extend');
    } catch (err) {
      if (err instanceof WebhookRefusal && err.status === 501) return;
      throw err;
    }
  }

  /** One attempt, never retried and never thrown: a health check should say what is wrong now. */
  async health(): Promise<HealthResult> {
    const host = new URL(this.config.url).host;
    try {
      const body = await this.post('health', {}, 0);
      const answer = healthAnswer.safeParse(body ?? {});
      const said = answer.success ? answer.data.message : undefined;
      if (answer.success && answer.data.ok === false)
        return { ok: false, message: `${host} reports a problem${said ? `: ${said}` : ''}` };
      return { ok: true, message: `${host} answered${said ? `: ${said}` : ''}` };
    } catch (err) {
      // A 501 comes from an endpoint that checked the signature and does not do health checks.
      if (err instanceof WebhookRefusal && err.status === 501)
        return { ok: true, message: `${host} answered (it does not implement health)` };
      return { ok: false, message: (err as Error).message };
    }
  }

  async close(): Promise<void> {
    // fetch's connections are pooled process-wide and close when idle.
  }

  private post(action: Action, fields: Partial<WireRequest>, retries?: number): Promise<unknown> {
    const request: WireRequest = {
      version: PROTOCOL_VERSION,
      action,
      id: randomUUID(),
      integration: this.name,
      ...fields,
    };
    return this.transport.post(request, retries);
  }

  private parse<T>(schema: z.ZodType<T>, body: unknown, action: Action): T {
    const parsed = schema.safeParse(body);
    if (parsed.success) return parsed.data;
    // An explicit { ok: false, error } under a 2xx is a refusal in the receiver's words.
    if (body && typeof body === 'object' && (body as { ok?: unknown }).ok === false) {
      const said = (body as { error?: unknown }).error;
      throw new WebhookRefusal(
        200,
        typeof said === 'string' ? said : 'ok: false',
        `the webhook endpoint refused ${action}: ${typeof said === 'string' ? said.slice(0, 300) : 'ok: false'}`,
        false,
      );
    }
    throw new WebhookBadAnswer(
      `the webhook endpoint's answer to ${action} is not valid: ${answerProblem(parsed.error)}`,
    );
  }

  private parseBatch<T extends { results: unknown[] }>(
    schema: z.ZodType<T>,
    body: unknown,
    action: Action,
    expected: number,
  ): T {
    const answer = this.parse(schema, body, action);
    if (answer.results.length !== expected)
      throw new WebhookBadAnswer(
        `the webhook endpoint answered ${answer.results.length} results to a ${action} of ${expected}`,
      );
    return answer;
  }

  private async inBatches<R>(items: GrantItem[], run: (batch: GrantItem[]) => Promise<R[]>): Promise<R[]> {
    const size = this.config.batchSize;
    const batches: GrantItem[][] = [];
    for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
    const limit = pLimit(BATCH_CONCURRENCY);
    const results = await Promise.all(batches.map((b) => limit(() => run(b))));
    return results.flat();
  }
}

export const createWebhookConnector: ConnectorFactory = (integration: IntegrationRuntime) => {
  const { config, secrets } = parseIntegration(
    integration,
    'webhook',
    webhookConfigSchema,
    webhookSecretsSchema,
  );
  return new WebhookConnector(integration.name, config, secrets.signingSecret);
};
