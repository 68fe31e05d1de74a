/**
 * What Latch keeps of a webhook grant (its handle) and how listed access maps to AccessEntry. The
 * endpoint's own handle is kept whole, as JSON, and sent back with every revoke, check and extend;
 * the keys around it are Latch's. The access key is the endpoint's `key` when it gives one (so two
 * grants it reports as one thing share it), else one per grant.
 */
import type { AccessEntry, GrantHandle, GrantSpec } from '../types.js';
import {
  accessKeyOf,
  grantKey,
  MAX_ENDPOINT_HANDLE,
  type GrantAnswer,
  type ListedEntry,
} from './protocol.js';
import { WebhookBadAnswer } from './transport.js';

export function handleFromAnswer(spec: GrantSpec, answer: GrantAnswer): GrantHandle {
  const key = answer.shareKey ?? answer.key ?? grantKey(spec.grantId);
  if (answer.shared && !answer.shareKey && !answer.key)
    throw new WebhookBadAnswer('the webhook endpoint said the access is shared but gave no key for it');
  const handle: GrantHandle = { grantId: spec.grantId, key };
  // Shared: another grant of the same person can hold the same thing, and the lifecycle keeps it while one does.
  if (answer.shared || answer.shareKey) handle.shareKey = key;
  if (answer.account) handle.account = answer.account;
  if (answer.handle) handle.endpoint = endpointJson(answer.handle);
  return handle;
}

export function endpointJson(value: Record<string, unknown>): string {
  const json = JSON.stringify(value);
  if (json.length > MAX_ENDPOINT_HANDLE)
    throw new WebhookBadAnswer(
      `the webhook endpoint's handle is ${json.length} characters; at most ${MAX_ENDPOINT_HANDLE} are kept`,
    );
  return json;
}

export function accessKey(handle: GrantHandle): string {
  if (typeof handle.key === 'string') return handle.key;
  if (typeof handle.grantId === 'string') return grantKey(handle.grantId);
  throw new Error('a webhook handle carries neither key nor grantId');
}

export function entryFromListed(e: ListedEntry): AccessEntry {
  const key = e.key ?? (e.grantId ? grantKey(e.grantId) : accessKeyOf(e));
  const handle: GrantHandle = {
    key,
    account: e.account,
    // Without a handle of its own, the endpoint is told what the access is.
    endpoint: endpointJson(
      e.handle ?? { account: e.account, resourceId: e.resourceId, permission: e.permission },
    ),
  };
  if (e.grantId) handle.grantId = e.grantId;
  return {
    key,
    resourceId: e.resourceId,
    permission: e.permission,
    account: e.account,
    ...(e.email ? { email: e.email } : {}),
    madeByLatch: e.managedByLatch ?? e.grantId !== undefined,
    handle,
  };
}
