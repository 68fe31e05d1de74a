/**
 * Resource ids, handles and access keys of the LDAP connector. A resource is one group
 * (`group:<dn>`) or a set of groups from the config (`set:<name>`, config groupSets); its one permission is
 * `member`. A grant's handle names the member value and the groups it holds, so a revoke does what
 * the grant did even after the config changed (and is still checked against what Latch manages).
 */
import type { GrantHandle } from '../types.js';
import { normalizeDN } from './dn.js';

export const PERMISSION = 'member';

export const groupResourceId = (dn: string): string => `group:${dn}`;
export const groupSetResourceId = (name: string): string => `set:${name}`;

export type LdapTarget = { kind: 'group'; dn: string } | { kind: 'set'; name: string };

export function parseResourceId(id: string): LdapTarget {
  if (id.startsWith('group:') && id.length > 6) return { kind: 'group', dn: id.slice(6) };
  if (id.startsWith('set:') && id.length > 4) return { kind: 'set', name: id.slice(4) };
  throw new Error(`not an LDAP resource id: ${JSON.stringify(id)} (expected group:<dn> or set:<name>)`);
}

export type MemberValueKind = 'dn' | 'uid';

/** A member value as the server compares it: DNs case- and spelling-insensitively, uids exactly. */
export function memberKey(kind: MemberValueKind, value: string): string {
  return kind === 'dn' ? normalizeDN(value) : value;
}

/** What a grant holds: `member` in each of `groups`, for the resource `resourceId`. */
export interface Membership {
  resourceId: string;
  groups: string[];
  member: string;
  memberValue: MemberValueKind;
  email?: string;
}

export function handleOf(m: Membership): GrantHandle {
  const handle: GrantHandle = {
    resourceId: m.resourceId,
    groups: JSON.stringify(m.groups),
    member: m.member,
    memberValue: m.memberValue,
    email: m.email ?? null,
  };
  // A membership is one thing on the directory: two grants of it share it (docs/ARCHITECTURE.md, "Connectors").
  handle.shareKey = accessKeyOf(handle);
  return handle;
}

/** The membership a handle names, or null when it names none (a grant never made). */
export function membershipOf(handle: GrantHandle): Membership | null {
  const { resourceId, groups, member, memberValue } = handle;
  if (typeof resourceId !== 'string' || typeof groups !== 'string' || typeof member !== 'string') return null;
  const list: unknown = JSON.parse(groups);
  if (!Array.isArray(list) || !list.every((g) => typeof g === 'string'))
    throw new Error('LDAP grant handle: groups is not a list of DNs');
  return {
    resourceId,
    groups: list,
    member,
    memberValue: memberValue === 'uid' ? 'uid' : 'dn',
    email: typeof handle.email === 'string' ? handle.email : undefined,
  };
}

/**
 * The key listAccess() and accessKey() agree on: the resource (a group set by name, a group by its
 * normalized DN) and the normalized member value.
 */
export function accessKeyOf(handle: GrantHandle): string {
  const m = membershipOf(handle);
  if (!m) return '';
  const target = parseResourceId(m.resourceId);
  const groups = m.groups.map(normalizeDN).sort();
  const resource = target.kind === 'set' ? ['set', target.name] : ['group', ...groups];
  return JSON.stringify([...resource, m.memberValue, memberKey(m.memberValue, m.member)]);
}
