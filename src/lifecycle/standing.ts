/**
 * Standing access (docs/ARCHITECTURE.md, "Reconciliation"): access reconciliation found on a system
 * that no Latch grant holds. An admin turns it into requestable access in one confirmed step: a flow
 * that covers it is created or extended first, then the access is removed (and confirmed gone). The
 * flow comes first so a failure part-way never leaves the person with neither access nor a way to
 * ask for it.
 */
import { z } from 'zod';
import type { GrantHandle, GrantSpec } from '../connectors/types.js';
import type { Flow, FlowInput } from '../domain/flow.js';
import type { Identity } from '../domain/identity.js';
import type { LifecycleContext } from './context.js';
import { invalid, notFound, LatchError } from './errors.js';

export interface StandingView {
  integration: string;
  key: string;
  account: string;
  email?: string;
  resourceId: string;
  resourceName: string;
  permission: string;
  madeByLatch: boolean;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

export interface ReconcileStatusView {
  integration: string;
  at: Date;
  ok: boolean;
  error?: string;
  ms?: number;
  counts: Record<string, number>;
}

export const convertStandingSchema = z.object({
  integration: z.string().min(1),
  key: z.string().min(1),
  /** Who may ask for it from now on: the person whose account it is. Default: the email the system gave. */
  person: z.string().trim().toLowerCase().pipe(z.email('not an email address')).optional(),
  flow: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('new'), name: z.string().trim().min(1, 'give the new flow a name').max(80) }),
    z.object({ mode: z.literal('extend'), flowId: z.string().min(1, 'choose a flow') }),
  ]),
});
export type ConvertStandingInput = z.input<typeof convertStandingSchema>;

/** How long access under a flow made from standing access lasts at most, until an admin edits it. */
const NEW_FLOW_MAX_MINUTES = 8 * 60;

export function standingView(doc: Record<string, unknown>): StandingView {
  const d = doc as unknown as StandingView & { email?: string | null; resourceName?: string };
  return {
    integration: d.integration,
    key: d.key,
    account: d.account,
    ...(d.email ? { email: d.email } : {}),
    resourceId: d.resourceId,
    resourceName: d.resourceName || d.resourceId,
    permission: d.permission,
    madeByLatch: d.madeByLatch,
    firstSeenAt: d.firstSeenAt,
    lastSeenAt: d.lastSeenAt,
  };
}

interface FlowSaver {
  saveFlow(actor: Identity, input: FlowInput, id?: string): Promise<Flow>;
}

export async function convertStanding(
  ctx: LifecycleContext,
  flows: FlowSaver,
  who: Identity,
  raw: unknown,
): Promise<{ flow: Flow; removed: StandingView }> {
  const parsed = convertStandingSchema.safeParse(raw);
  if (!parsed.success) {
    const first = parsed.error.issues[0]!;
    throw invalid(first.message, String(first.path.at(-1) ?? 'flow'));
  }
  const input = parsed.data;
  const { StandingAccess, Flow: FlowModel } = ctx.db.models;
  const doc = await StandingAccess.findOne({ integration: input.integration, key: input.key }).lean();
  if (!doc) throw notFound('That standing access is no longer listed (reconciliation found it gone).');
  const entry = standingView(doc as unknown as Record<string, unknown>);
  if (!entry.resourceId || !entry.permission)
    throw invalid(
      `${entry.account} holds nothing Latch can offer as a flow (no resource it manages); remove it on the system instead.`,
      'flow',
    );
  const person = input.person ?? entry.email?.toLowerCase();
  if (!person)
    throw invalid(
      `Latch does not know whose account ${entry.account} is: give the person's email.`,
      'person',
    );

  const target = {
    integration: entry.integration,
    include: [{ id: entry.resourceId }],
    exclude: [],
    permissions: [entry.permission],
  };
  let flow: Flow;
  if (input.flow.mode === 'new') {
    flow = await flows.saveFlow(who, {
      name: input.flow.name,
      description: `Made from the standing access of ${entry.account} to ${entry.resourceName} (${entry.permission}).`,
      grantees: { include: [{ type: 'user', id: person }] },
      targets: [target],
      approval: { steps: [{ approvers: [{ type: 'user', id: who.email }] }] },
      duration: { maxMinutes: NEW_FLOW_MAX_MINUTES },
    } as FlowInput);
  } else {
    const existing = await FlowModel.findById(input.flow.flowId)
      .lean()
      .catch(() => null);
    if (!existing) throw invalid('That flow no longer exists.', 'flowId');
    const def = structuredClone(existing.definition) as FlowInput & {
      targets: Array<typeof target>;
      grantees: { include: Array<{ type: string; id?: string }> };
    };
    const covered = def.targets.some(
      (t) =>
        t.integration === entry.integration &&
        t.permissions.includes(entry.permission) &&
        (!t.include?.length || t.include.some((s) => 'id' in s && s.id === entry.resourceId)),
    );
    if (!covered) def.targets = [...def.targets, target];
    const listed = def.grantees.include.some(
      (p) => p.type === 'everyone' || (p.type === 'user' && p.id?.toLowerCase() === person),
    );
    if (!listed) def.grantees.include = [...def.grantees.include, { type: 'user', id: person }];
    flow = await flows.saveFlow(who, def, String(existing._id));
  }

  const connector = await ctx.connectors.get(entry.integration);
  const spec: GrantSpec = {
    grantId: `standing:${entry.key}`,
    requestId: 'standing-access',
    requesterEmail: person,
    resource: { id: entry.resourceId, name: entry.resourceName, kind: 'resource' },
    permission: entry.permission,
    expiresAt: null,
  };
  const handle = (doc.handle ?? {}) as GrantHandle;
  try {
    await connector.revoke(spec, handle);
    if (await connector.check(spec, handle)) throw new Error('it is still there after the revoke');
  } catch (err) {
    await ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'standing.convert_failed',
      subject: { type: 'integration', id: entry.integration },
      details: {
        account: entry.account,
        resource: entry.resourceName,
        permission: entry.permission,
        flow: flow.name,
        error: (err as Error).message,
      },
      at: ctx.now(),
    });
    throw new LatchError(
      'conflict',
      `Flow ${flow.name} now covers ${entry.resourceName} (${entry.permission}) for ${person}, but ${entry.account}'s standing access could not be removed: ${(err as Error).message}. Try again.`,
    );
  }
  await StandingAccess.deleteOne({ integration: entry.integration, key: entry.key });
  ctx.policyChanged();
  await ctx.audit.append({
    actor: { type: 'user', id: who.id },
    action: 'standing.converted',
    subject: { type: 'integration', id: entry.integration },
    details: {
      account: entry.account,
      person,
      resource: entry.resourceName,
      permission: entry.permission,
      flow: flow.name,
    },
    at: ctx.now(),
  });
  return { flow, removed: entry };
}
