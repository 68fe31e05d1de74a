/**
 * Standing access and reconciliation in the tab console (docs/ARCHITECTURE.md, "Reconciliation",
 * "Personal tab"), as Slack's App Home shows them: the standing access listed page by page, one
 * entry converted into requestable access (a new flow, or added to an existing one, then removed on
 * the system), each integration's last reconciliation, and a reconciliation now. Each route checks
 * that the caller is an admin before it reads the body; a problem is a 400 with its reason on its
 * field (`person`, `flow.name`, `flow.flowId`, `flow`) and changes nothing.
 */
import { z } from 'zod';
import type { ChannelCore } from '../../../app.js';
import type { Identity } from '../../../domain/identity.js';
import { LatchError } from '../../../lifecycle/errors.js';
import { flowSummary } from './flow-form.js';
import { parse, Refusal, refuseFields, type On } from './http.js';

const pageSchema = z.object({
  offset: z.coerce.number().int().min(0).max(1_000_000).default(0),
  limit: z.coerce.number().int().min(1).max(100).default(20),
  integration: z.string().trim().min(1).max(200).optional(),
});

/** The page's convert form. Checked in full by the use-case; here only what it needs to be routed. */
const convertSchema = z.object({
  integration: z.string().min(1).max(200),
  key: z.string().min(1).max(2000),
  /** Empty or absent: the email the system gave. */
  person: z.string().max(320).optional(),
  flow: z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('new'), name: z.string().max(200).default('') }),
    z.object({ mode: z.literal('extend'), flowId: z.string().max(200).default('') }),
  ]),
});

const reconcileSchema = z.object({ integration: z.string().trim().min(1).max(200).optional() });

/** The form field a core error's field belongs to. */
const FIELD: Record<string, string> = { person: 'person', name: 'flow.name', flowId: 'flow.flowId' };

/** Every integration, with its last reconciliation when there was one. */
async function reconcileRows(core: ChannelCore, who: Identity) {
  const [statuses, choices] = await Promise.all([
    core.queries.reconcileStatus(who),
    core.queries.flowFormChoices(who),
  ]);
  return choices.integrations.map((name) => ({
    name,
    status: statuses.find((s) => s.integration === name) ?? null,
  }));
}

export function mountStanding(on: On, core: ChannelCore): void {
  const q = core.queries;

  on('GET', '/admin/standing', async (who, _body, p) => {
    const page = parse(pageSchema, p);
    return { ...(await q.standingAccess(who, page)), offset: page.offset, limit: page.limit };
  });

  on('POST', '/admin/standing/convert', async (who, body) => {
    await core.admin.assertAdmin(who, 'standing.convert');
    const form = parse(convertSchema, body);
    const person = form.person?.trim() || undefined;
    const flow =
      form.flow.mode === 'new'
        ? { mode: 'new' as const, name: form.flow.name.trim() }
        : { mode: 'extend' as const, flowId: form.flow.flowId.trim() };
    if (flow.mode === 'new') {
      if (!flow.name) refuseFields({ 'flow.name': 'Give the new flow a name.' });
      // Checked before anything is made, so the message is about the name.
      const taken = (await q.flows(who)).some((f) => f.name.toLowerCase() === flow.name.toLowerCase());
      if (taken)
        refuseFields({
          'flow.name': `A flow called ${flow.name} already exists: choose another name, or add it to that flow.`,
        });
    } else if (!flow.flowId) refuseFields({ 'flow.flowId': 'Choose the flow to add it to.' });
    try {
      const done = await core.admin.convertStanding(who, {
        integration: form.integration,
        key: form.key,
        ...(person ? { person } : {}),
        flow,
      });
      return { flow: flowSummary(done.flow), removed: done.removed };
    } catch (err) {
      if (err instanceof LatchError && err.field)
        throw new Refusal(400, err.message, { [FIELD[err.field] ?? 'flow']: err.message });
      throw err;
    }
  });

  on('GET', '/admin/reconcile', async (who) => ({ integrations: await reconcileRows(core, who) }));

  on('POST', '/admin/reconcile', async (who, body) => {
    await core.admin.assertAdmin(who, 'integration.reconcile');
    const { integration } = parse(reconcileSchema, body);
    const reports = await core.admin.reconcileNow(who, integration);
    return { reports, integrations: await reconcileRows(core, who) };
  });
}
