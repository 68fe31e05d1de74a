/**
 * Grants as group membership: a grant adds the requester's member value to each group of its
 * resource (all or nothing), a revoke deletes it. Adding a value that is there and deleting one
 * that is not both count as done, so both are idempotent.
 */
import { Attribute, Change, type Client } from 'ldapts';
import { PartialGrantError, type GrantItem, type GrantResult, type GrantSpec } from '../types.js';
import {
  explain,
  isAlreadyThere,
  isNoSuchObject,
  isNoSuchValue,
  withDirectory,
  type LdapContext,
} from './client.js';
import { byKey, readMembers } from './groups.js';
import { handleOf, memberKey, membershipOf, type Membership } from './names.js';
import { findPerson } from './people.js';
import {
  assertManaged,
  assertNotProtected,
  groupsOfResource,
  OutOfScopeError,
  requirePermission,
} from './scope.js';

const change = (ctx: LdapContext, operation: 'add' | 'delete', values: string[]) =>
  new Change({ operation, modification: new Attribute({ type: ctx.config.memberAttribute, values }) });

const asError = (err: unknown): Error => (err instanceof Error ? err : new Error(String(err)));

export async function grantMembership(ctx: LdapContext, spec: GrantSpec): Promise<GrantResult> {
  requirePermission(spec.permission);
  const groups = groupsOfResource(ctx.config, spec.resource.id);
  return withDirectory(ctx, async (client) => {
    const person = await findPerson(client, ctx, spec.requesterEmail);
    if (!person)
      throw new Error(
        `no entry under ${ctx.config.baseDN} has ${ctx.config.userAttribute}=${spec.requesterEmail}`,
      );
    const { memberValue } = ctx.config;
    assertNotProtected(ctx.config, memberValue, person.member, groups);
    const added: string[] = [];
    for (const group of groups) {
      try {
        await client.modify(group, change(ctx, 'add', [person.member]));
        added.push(group);
      } catch (err) {
        if (isAlreadyThere(err)) continue;
        const failure = explain(err, `adding ${person.member} to ${group}`);
        const left = await undo(client, ctx, added, person.member);
        if (left.length > 0) {
          throw new PartialGrantError(
            `${failure.message}; could not take back the membership in ${left.join('; ')}`,
            handleOf({ resourceId: spec.resource.id, groups: left, member: person.member, memberValue }),
            { cause: err },
          );
        }
        throw failure;
      }
    }
    return {
      handle: handleOf({
        resourceId: spec.resource.id,
        groups,
        member: person.member,
        memberValue,
        email: person.email,
      }),
    };
  });
}

/** Takes back the memberships this grant added (not those that were there before); returns those it could not. */
async function undo(client: Client, ctx: LdapContext, added: string[], member: string): Promise<string[]> {
  const left: string[] = [];
  for (const group of added.reverse()) {
    try {
      await client.modify(group, change(ctx, 'delete', [member]));
    } catch (err) {
      if (!isNoSuchValue(err) && !isNoSuchObject(err)) left.push(group);
    }
  }
  return left;
}

/**
 * The membership an item holds: from its handle, or, for a grant whose handle names none (it was
 * never made, or is being converted), the requester's and the resource's. Null: nothing to find.
 */
async function resolve(client: Client, ctx: LdapContext, item: GrantItem): Promise<Membership | null> {
  const fromHandle = membershipOf(item.handle);
  if (fromHandle) return fromHandle;
  const groups = groupsOfResource(ctx.config, item.spec.resource.id);
  const person = await findPerson(client, ctx, item.spec.requesterEmail);
  if (!person) return null;
  return {
    resourceId: item.spec.resource.id,
    groups,
    member: person.member,
    memberValue: ctx.config.memberValue,
  };
}

/** Runs `f` over `items` with at most `limit` at a time. */
async function pooled<T>(items: T[], limit: number, f: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await f(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * Revokes many in few round trips: per group, one read of its members and one modify deleting
 * every value still there. If that modify fails, each value is deleted on its own, so one bad item
 * keeps only its own outcome.
 */
export async function revokeMemberships(ctx: LdapContext, items: GrantItem[]): Promise<Array<Error | null>> {
  const outcomes: Array<Error | null> = items.map(() => null);
  if (items.length === 0) return outcomes;
  const fail = (i: number, err: unknown) => (outcomes[i] ??= asError(err));
  try {
    await withDirectory(ctx, async (client) => {
      // group DN (as given) -> member value -> items
      const perGroup = new Map<string, Map<string, { value: string; items: number[] }>>();
      await pooled([...items.keys()], 8, async (i) => {
        try {
          const m = await resolve(client, ctx, items[i]!);
          if (!m) return;
          assertManaged(ctx.config, m.groups);
          assertNotProtected(ctx.config, m.memberValue, m.member, m.groups);
          for (const group of m.groups) {
            const members = perGroup.get(group) ?? new Map();
            perGroup.set(group, members);
            const key = memberKey(m.memberValue, m.member);
            const entry = members.get(key) ?? { value: m.member, items: [] };
            entry.items.push(i);
            members.set(key, entry);
          }
        } catch (err) {
          fail(i, err);
        }
      });
      await pooled([...perGroup.entries()], 8, async ([group, wanted]) => {
        const all = [...wanted.values()];
        try {
          const stored = await readMembers(client, ctx, group);
          if (!stored) return; // no group, no membership
          const there = byKey(ctx, stored);
          const present = [...wanted.entries()].flatMap(([key, w]) =>
            there.has(key) ? [{ ...w, value: there.get(key)! }] : [],
          );
          if (present.length === 0) return;
          try {
            await client.modify(
              group,
              change(
                ctx,
                'delete',
                present.map((p) => p.value),
              ),
            );
            return;
          } catch {
            // One by one below: each value gets its own outcome.
          }
          for (const p of present) {
            try {
              await client.modify(group, change(ctx, 'delete', [p.value]));
            } catch (err) {
              if (isNoSuchValue(err) || isNoSuchObject(err)) continue;
              const reason = explain(err, `removing ${p.value} from ${group}`);
              for (const i of p.items) fail(i, reason);
            }
          }
        } catch (err) {
          for (const w of all) for (const i of w.items) fail(i, err);
        }
      });
    });
  } catch (err) {
    // The directory itself failed (bind, connection): every item not yet decided failed with it.
    items.forEach((_, i) => fail(i, err));
  }
  return outcomes;
}

/** For each item: is its member in every group of its resource? One read per group. */
export async function checkMemberships(ctx: LdapContext, items: GrantItem[]): Promise<boolean[]> {
  if (items.length === 0) return [];
  return withDirectory(ctx, async (client) => {
    const resolved: Array<Membership | null> = new Array(items.length).fill(null);
    await pooled([...items.keys()], 8, async (i) => {
      try {
        resolved[i] = await resolve(client, ctx, items[i]!);
      } catch (err) {
        // A resource this integration no longer offers holds nothing Latch can see.
        if (!(err instanceof OutOfScopeError)) throw err;
      }
    });
    const groups = [...new Set(resolved.flatMap((m) => m?.groups ?? []))];
    const members = new Map<string, Map<string, string> | null>();
    await pooled(groups, 8, async (g) => {
      const stored = await readMembers(client, ctx, g);
      members.set(g, stored && byKey(ctx, stored));
    });
    return resolved.map(
      (m) =>
        m !== null && m.groups.every((g) => members.get(g)?.has(memberKey(m.memberValue, m.member)) === true),
    );
  });
}
