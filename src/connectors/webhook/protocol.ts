/**
 * The webhook protocol as Latch speaks it (README, "The webhook integration", is the contract a
 * customer implements): what each request carries and the answers Latch accepts, checked with zod.
 */
import { z } from 'zod';
import type { GrantHandle, GrantSpec } from '../types.js';

export const PROTOCOL_VERSION = 1;

export type Action = 'grant' | 'revoke' | 'check' | 'extend' | 'list' | 'discover' | 'health';

/** A grant as the endpoint sees it. `handle` is what the endpoint returned for it, sent back. */
export interface WireGrant {
  grantId: string;
  requestId: string;
  requesterEmail: string;
  resource: { id: string; name: string; kind: string };
  permission: string;
  expiresAt: string | null;
  handle?: Record<string, unknown>;
}

export interface WireRequest {
  version: typeof PROTOCOL_VERSION;
  action: Action;
  /** The same for every retry of one call, new for each call. */
  id: string;
  integration: string;
  grant?: WireGrant;
  grants?: WireGrant[];
  /** revoke only: the grant's outcome was unknown; remove only what this grantId made. */
  undo?: boolean;
  /** list only: the `next` of the previous page. */
  cursor?: string;
}

/** The keys of a GrantHandle the connector owns; the endpoint's own handle is kept whole in `endpoint`. */
export interface WebhookHandle {
  grantId: string;
  /** The access key (AccessEntry.key) of what this grant holds. */
  key: string;
  shareKey?: string;
  account?: string;
  /** The endpoint's handle, as JSON. */
  endpoint?: string;
}

/** Endpoint handles are stored with the request: a few kilobytes is plenty for ids. */
export const MAX_ENDPOINT_HANDLE = 4096;

const endpointHandle = z.record(z.string(), z.unknown());

export const grantAnswer = z.object({
  ok: z.literal(true),
  handle: endpointHandle.optional(),
  key: z.string().min(1).max(1000).optional(),
  account: z.string().max(1000).optional(),
  shared: z.boolean().optional(),
  shareKey: z.string().min(1).max(1000).optional(),
  credentials: z.record(z.string(), z.string()).optional(),
});
export type GrantAnswer = z.infer<typeof grantAnswer>;

export const okAnswer = z.object({ ok: z.literal(true) });
export const checkAnswer = z.object({ present: z.boolean() });

const itemError = z.object({ ok: z.literal(false).optional(), error: z.string() });
export const revokeBatchAnswer = z.object({
  results: z.array(z.union([z.object({ ok: z.literal(true) }), itemError])),
});
export const checkBatchAnswer = z.object({
  results: z.array(z.union([z.object({ present: z.boolean() }), itemError])),
});

export const discoverAnswer = z.object({
  resources: z.array(
    z.object({
      id: z.string().min(1),
      name: z.string().min(1),
      kind: z.string().min(1).default('resource'),
      permissions: z.array(z.string().min(1)),
      tags: z.record(z.string(), z.string()).optional(),
    }),
  ),
});

export const listAnswer = z.object({
  entries: z.array(
    z.object({
      key: z.string().min(1).optional(),
      grantId: z.string().min(1).optional(),
      account: z.string().min(1),
      email: z.string().optional(),
      resourceId: z.string().min(1),
      permission: z.string().min(1),
      managedByLatch: z.boolean().optional(),
      handle: endpointHandle.optional(),
    }),
  ),
  next: z.string().min(1).optional(),
});
export type ListedEntry = z.infer<typeof listAnswer>['entries'][number];

export const healthAnswer = z.object({ ok: z.boolean().optional(), message: z.string().optional() });

/** The grant as sent: the spec's fields plus the endpoint's own handle, when there is one. */
export function wireGrant(spec: GrantSpec, handle: GrantHandle = {}): WireGrant {
  const endpoint = endpointHandleOf(handle);
  return {
    // A handle listed by listAccess names the grant that made it; the spec may be built from the entry.
    grantId: typeof handle.grantId === 'string' ? handle.grantId : spec.grantId,
    requestId: spec.requestId,
    requesterEmail: spec.requesterEmail,
    resource: { id: spec.resource.id, name: spec.resource.name, kind: spec.resource.kind },
    permission: spec.permission,
    expiresAt: spec.expiresAt ? spec.expiresAt.toISOString() : null,
    ...(endpoint ? { handle: endpoint } : {}),
  };
}

function endpointHandleOf(handle: GrantHandle): Record<string, unknown> | undefined {
  if (typeof handle.endpoint !== 'string') return undefined;
  try {
    const parsed: unknown = JSON.parse(handle.endpoint);
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** The key of a grant that the endpoint gave none: one thing per grant. */
export const grantKey = (grantId: string) => `grant:${grantId}`;

/** The key of a listed entry the endpoint gave no key and no grant: one thing per account and access. */
export const accessKeyOf = (e: Pick<ListedEntry, 'account' | 'resourceId' | 'permission'>) =>
  `access:${JSON.stringify([e.account, e.resourceId, e.permission])}`;

/** A zod failure as a message that names fields, never values (an answer may carry credentials). */
export function answerProblem(error: z.ZodError): string {
  const first = error.issues[0];
  if (!first) return 'not valid';
  return `${first.path.join('.') || '(answer)'}: ${first.message}`;
}
