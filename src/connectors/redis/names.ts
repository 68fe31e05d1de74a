import { createHash } from 'node:crypto';

/** Long enough for a readable grantId, short enough for an ACL LIST line people read. */
const MAX_USER_NAME = 64;

/**
 * Deterministic ACL user name for a grant, so a retried grant or a revoke without a handle finds
 * the same user. Only [a-z0-9_-] reach the name: Redis would take quotes and unicode, but the name
 * is also written to the ACL file and typed by people. Anything lossy adds a hash of the raw
 * grantId, so two grantIds never share a user.
 */
export function grantUserName(prefix: string, grantId: string): string {
  const cleaned = grantId.toLowerCase().replace(/[^a-z0-9_-]/g, '_');
  const plain = prefix + cleaned;
  if (cleaned === grantId && plain.length <= MAX_USER_NAME) return plain;
  const hash = createHash('sha256').update(grantId).digest('hex').slice(0, 10);
  return `${plain.slice(0, MAX_USER_NAME - hash.length - 1)}_${hash}`;
}

export const RESOURCE_ID_PREFIX = 'keys:';
export const resourceIdOf = (name: string): string => `${RESOURCE_ID_PREFIX}${name}`;

export function resourceNameOf(id: string): string {
  if (!id.startsWith(RESOURCE_ID_PREFIX) || id.length === RESOURCE_ID_PREFIX.length)
    throw new Error(`not a Redis resource id: ${JSON.stringify(id)} (expected keys:<resource name>)`);
  return id.slice(RESOURCE_ID_PREFIX.length);
}
