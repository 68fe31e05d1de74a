/**
 * What Latch may touch: groups under groupsDN, listed in groups or in a group set; and members other
 * than its own account, the group itself and ignoreMembers. A handle is data from the store, so
 * every revoke is checked against this, not only every grant.
 */
import type { LdapConfig } from './config.js';
import { isAtOrUnder, isDN, normalizeDN } from './dn.js';
import { memberKey, parseResourceId, PERMISSION, type LdapTarget, type MemberValueKind } from './names.js';

/** A resource or group outside what the integration manages (or a group set no longer configured). */
export class OutOfScopeError extends Error {
  override name = 'OutOfScopeError';
}

export function requirePermission(permission: string): void {
  if (permission !== PERMISSION)
    throw new Error(
      `LDAP resources offer only the permission "${PERMISSION}", not ${JSON.stringify(permission)}`,
    );
}

export function isManagedGroup(config: LdapConfig, dn: string): boolean {
  if (!isDN(dn)) return false;
  if (config.groupsDN && isAtOrUnder(dn, config.groupsDN) && normalizeDN(dn) !== normalizeDN(config.groupsDN))
    return true;
  const key = normalizeDN(dn);
  return [...config.groups, ...Object.values(config.groupSets).flat()].some((g) => normalizeDN(g) === key);
}

/** The groups a resource stands for, refusing any Latch does not manage. */
export function groupsOfTarget(config: LdapConfig, target: LdapTarget): string[] {
  if (target.kind === 'set') {
    const groups = Object.hasOwn(config.groupSets, target.name) ? config.groupSets[target.name] : undefined;
    if (!groups)
      throw new OutOfScopeError(`no LDAP group set named ${JSON.stringify(target.name)} (config groupSets)`);
    return groups;
  }
  assertManaged(config, [target.dn]);
  return [target.dn];
}

export function groupsOfResource(config: LdapConfig, resourceId: string): string[] {
  let target: LdapTarget;
  try {
    target = parseResourceId(resourceId);
  } catch (err) {
    throw new OutOfScopeError((err as Error).message);
  }
  return groupsOfTarget(config, target);
}

export function assertManaged(config: LdapConfig, groups: string[]): void {
  for (const g of groups)
    if (!isManagedGroup(config, g))
      throw new OutOfScopeError(
        `refusing to change ${JSON.stringify(g)}: not a group this integration manages (groupsDN, groups, groupSets)`,
      );
}

/** Members that are not access: Latch's own account, the group itself, and config ignoreMembers. */
export function isProtectedMember(
  config: LdapConfig,
  kind: MemberValueKind,
  value: string,
  group: string,
): boolean {
  if (value.trim() === '') return true;
  const key = safeKey(kind, value);
  const keys = [config.bindDN, group, ...config.ignoreMembers].map((v) => safeKey(kind, v));
  return keys.includes(key);
}

function safeKey(kind: MemberValueKind, value: string): string {
  if (kind === 'dn' && !isDN(value)) return `\0${value}`;
  return memberKey(kind, value);
}

export function assertNotProtected(
  config: LdapConfig,
  kind: MemberValueKind,
  value: string,
  groups: string[],
): void {
  for (const g of groups)
    if (isProtectedMember(config, kind, value, g))
      throw new Error(
        `refusing to change the membership of ${JSON.stringify(value)} in ${g}: it is Latch's own account, ` +
          'the group itself or listed in ignoreMembers',
      );
}
