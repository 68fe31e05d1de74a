/**
 * Resource ids, handles and access keys of the Slack connector. A handle is data read back from the
 * store, so every part of it is checked against the shape Slack gives ids before it reaches a call.
 */
import type { GrantHandle, GrantSpec } from '../types.js';

export type TargetKind = 'channel' | 'usergroup';

export interface Target {
  kind: TargetKind;
  /** Slack's id of the channel (C…/G…) or user group (S…). */
  id: string;
}

export interface Membership extends Target {
  /** Slack's id of the member (U…/W…). */
  user: string;
}

export const PERMISSION = 'member';

const TARGET_ID = /^[A-Z0-9]{2,32}$/;
const USER_ID = /^[UW][A-Z0-9]{1,31}$/;

export const resourceId = (t: Target): string => `${t.kind}:${t.id}`;

export function parseResourceId(id: string): Target {
  const m = /^(channel|usergroup):(.*)$/.exec(id);
  if (!m || !TARGET_ID.test(m[2]!)) {
    throw new Error(
      `not a Slack resource id: ${JSON.stringify(id)} (expected channel:<channel id> or usergroup:<user group id>)`,
    );
  }
  return { kind: m[1] as TargetKind, id: m[2]! };
}

export const isUserId = (id: unknown): id is string => typeof id === 'string' && USER_ID.test(id);

/** The key reconciliation matches a grant and a listed member by; two grants of one membership share it. */
export const membershipKey = (m: Membership): string => `${resourceId(m)}:${m.user}`;

export function membershipHandle(m: Membership): GrantHandle {
  return { kind: m.kind, target: m.id, user: m.user, shareKey: membershipKey(m) };
}

/**
 * The membership a stored handle names, or null for a handle that names none (a grant never made).
 * Refuses a handle that does not belong to the spec's resource or whose ids are not Slack's shape.
 */
export function membershipOf(spec: GrantSpec, handle: GrantHandle): Membership | null {
  if (handle.user === undefined && handle.target === undefined) return null;
  const target = parseResourceId(spec.resource.id);
  if (handle.kind !== target.kind || handle.target !== target.id) {
    throw new Error(
      `this grant's handle names ${String(handle.kind)}:${String(handle.target)}, not the grant's resource ${spec.resource.id}`,
    );
  }
  if (!isUserId(handle.user)) throw new Error(`this grant's handle has no valid Slack user id`);
  return { ...target, user: handle.user };
}
