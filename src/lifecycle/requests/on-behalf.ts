/**
 * Asking for someone else (docs/ARCHITECTURE.md, "Asking for someone else"): whether a flow lets
 * the asker ask for this person, and the person as policy sees them. Latch cannot see the other
 * person's chat groups, so they are judged by their email and the groups context sources synced.
 */
import type { Flow } from '../../domain/flow.js';
import { normalizeEmail, type Identity } from '../../domain/identity.js';
import { isGrantee } from '../../domain/policy.js';
import type { LifecycleContext } from '../context.js';
import { LatchError } from '../errors.js';

/** The field of the request forms a refusal about the other person belongs on. */
export const ON_BEHALF_FIELD = 'onBehalfOf';

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** Is this a request for someone other than the asker? */
export function asksForOther(asker: Identity, onBehalfOf: string | undefined): boolean {
  if (!onBehalfOf?.trim()) return false;
  const email = normalizeEmail(onBehalfOf);
  return email !== normalizeEmail(asker.email || asker.id) && email !== normalizeEmail(asker.id);
}

function refused(message: string): LatchError {
  return new LatchError('forbidden', message, ON_BEHALF_FIELD);
}

/**
 * The person `email` as the requester of a request `asker` makes under `flow`, or a refusal that
 * says why not: the flow must allow asking for others (`requestFor`), for `reports` they must be
 * the asker's direct report, and in every case a grantee of the flow themselves.
 */
export async function granteeFor(
  ctx: LifecycleContext,
  flow: Flow,
  asker: Identity,
  onBehalfOf: string,
): Promise<Identity> {
  const email = normalizeEmail(onBehalfOf);
  if (email.length > 320 || !EMAIL.test(email))
    throw new LatchError('invalid', `${onBehalfOf} is not an email address.`, ON_BEHALF_FIELD);
  const mode = flow.requestFor ?? 'self';
  if (mode === 'self') throw refused(`${flow.name} only lets you ask for yourself, not for ${email}.`);
  if (mode === 'reports') {
    const reports = (await ctx.directory?.reportsOf(asker.email || asker.id)) ?? [];
    if (!reports.includes(email))
      throw refused(`${flow.name} only lets you ask for your direct reports; ${email} is not one.`);
  }
  const grantee = await ctx.identify({ id: email, email, groups: [] });
  if (!isGrantee(flow, grantee))
    throw refused(
      `${email} may not have access under ${flow.name}: they are not one of its grantees (judged by their email and synced groups).`,
    );
  return grantee;
}
