/**
 * The personal tab's API (docs/ARCHITECTURE.md, "Teams channel", "Personal tab"), under
 * /teams/tab/api. Every call carries the Entra token Teams gave the tab (sso.ts); the person it
 * names acts through the core's queries and use-cases, which decide on the server who may do what
 * (requester, approver, admin), so a hidden button protects nothing and is not relied on. Input is
 * checked with zod (400 with the reason), a refusal of the core is its status and message.
 */
import type http from 'node:http';
import { DateTime } from 'luxon';
import { z } from 'zod';
import type { ChannelCore } from '../../../app.js';
import { describeApprovers } from '../../../domain/approval.js';
import type { Identity } from '../../../domain/identity.js';
import { TEXT_LIMITS } from '../../../domain/limits.js';
import { STATE_LABELS } from '../../../domain/request.js';
import { LatchError } from '../../../lifecycle/errors.js';
import {
  prepareRequest,
  refusalField,
  requestOptions,
  searchOffers,
  type Offers,
  type RequestChoice,
  type RequestField,
  type RequestOptions,
} from '../../../lifecycle/queries/request-options.js';
import type { RequestView } from '../../../lifecycle/request-view.js';
import type { Logger } from '../../../logger.js';
import type { Router } from '../../../web/server.js';
import type { TabSso } from '../sso.js';
import { contextSourceRows, mountAdminEditing } from './admin-api.js';
import { mountContextSourceEditing } from './context-source-api.js';
import { flowSummary } from './flow-form.js';
import { BadBody, parse, readJson, Refusal, sendJson, type Handler, type On } from './http.js';
import { mountReviews } from './reviews-api.js';
import { mountStanding } from './standing-api.js';
import { mountWebhooks } from './webhooks-api.js';

export const TAB_API = '/teams/tab/api';

/** The browser's IANA time zone, sent by the tab; used only when luxon knows it. */
const TIME_ZONE_HEADER = 'x-latch-time-zone';
/** More than any form lists; the page filters them as the person types. */
const MAX_OFFERS = 2000;

const idParam = z.string().trim().min(1).max(200);
const optionalText = (max: number) => z.string().max(max).optional();

const choiceSchema = z.object({
  selected: z.array(z.string().min(1).max(2000)).max(200).default([]),
  bundle: z.string().min(1).max(200).optional(),
  flowId: z.string().min(1).max(200).optional(),
  permission: z.string().min(1).max(200).optional(),
  /** Minutes; null asks for indefinite access; absent: none chosen yet. */
  duration: z.number().int().positive().nullable().optional(),
});

const submitSchema = choiceSchema.extend({
  justification: z
    .string()
    .max(TEXT_LIMITS.justification * 2)
    .default(''),
});

const reasonSchema = z.object({ reason: optionalText(TEXT_LIMITS.reason * 2) });
const extendSchema = z.object({ minutes: z.number().int().positive() });
const revokeAllSchema = z.object({
  reason: z.string().max(TEXT_LIMITS.reason * 2),
  confirm: z.string().max(100),
});
const enabledSchema = z.object({ enabled: z.boolean() });

export interface TabApiDeps {
  core: ChannelCore;
  sso: TabSso;
  log: Logger;
}

export function mountApi(router: Router, deps: TabApiDeps): void {
  const { core } = deps;
  const q = core.queries;
  // The query string's parameters come with the route's (which win): list pages read `offset`.
  const on: On = (method, route, handler) =>
    router.on(method, `${TAB_API}${route}`, (req, res, params, _store, query) =>
      serve(deps, req, res, { ...query, ...params }, handler),
    );

  on('GET', '/me', async (who) => {
    const [isAdmin, mine, waitingOnMe] = await Promise.all([
      q.isAdmin(who),
      q.myAccess(who),
      q.awaitingMe(who),
    ]);
    return {
      me: { id: who.id, displayName: who.displayName ?? who.email },
      isAdmin,
      mine: {
        active: mine.active.map((a) => ({ ...a, request: labelled(a.request) })),
        pending: mine.pending.map(labelled),
      },
      waitingOnMe: waitingOnMe.map(labelled),
    };
  });

  on('GET', '/offers', async (who) => {
    const all = await q.offers(who);
    return {
      offers: searchOffers(all.offers, '', MAX_OFFERS).map((o) => ({ key: o.key, label: o.label })),
      bundles: all.bundles,
    };
  });

  on('POST', '/options', async (who, body) => {
    const choice = parse(choiceSchema, body);
    return formFor(await q.offers(who), choice);
  });

  on('POST', '/requests', async (who, body) => submit(core, who, parse(submitSchema, body)));

  on('POST', '/requests/:id/cancel', async (who, _body, p) => ({
    request: await core.requests.cancel(who, parse(idParam, p.id)),
  }));
  on('POST', '/requests/:id/revoke', async (who, body, p) => ({
    request: await core.requests.revoke(
      who,
      parse(idParam, p.id),
      parse(reasonSchema, body).reason || undefined,
    ),
  }));
  on('POST', '/requests/:id/extend', async (who, body, p) => ({
    request: await core.requests.extend(who, parse(idParam, p.id), parse(extendSchema, body).minutes),
  }));
  on('POST', '/requests/:id/approve', async (who, body, p) => ({
    request: await core.requests.approve(
      who,
      parse(idParam, p.id),
      parse(reasonSchema, body).reason || undefined,
    ),
  }));
  on('POST', '/requests/:id/deny', async (who, body, p) => ({
    request: await core.requests.reject(who, parse(idParam, p.id), parse(reasonSchema, body).reason ?? ''),
  }));

  // ---- the admin console: each query and use-case checks (and audits a refusal) on the server ----
  on('GET', '/admin/flows', async (who) => ({ flows: (await q.flows(who)).map(flowSummary) }));
  on('POST', '/admin/flows/:id/enabled', async (who, body, p) => {
    await core.admin.setFlowEnabled(who, parse(idParam, p.id), parse(enabledSchema, body).enabled);
    return { flows: (await q.flows(who)).map(flowSummary) };
  });
  on('GET', '/admin/integrations', async (who) => {
    const [integrations, sources] = await Promise.all([q.integrations(who), contextSourceRows(core, who)]);
    return { integrations, sources };
  });
  on('GET', '/admin/active', async (who) => ({
    active: (await q.activeAccess(who)).map(labelled),
    revocable: await q.revocableCount(who),
  }));
  on('GET', '/admin/audit', async (who) => ({ entries: await q.auditPage(who, 50) }));
  on('POST', '/admin/revoke-all', async (who, body) => {
    await core.admin.assertAdmin(who, 'request.revoke_all');
    const input = parse(revokeAllSchema, body);
    const fields: Record<string, string> = {};
    if (!input.reason.trim()) fields.reason = 'Give a reason; everyone affected will see it.';
    if (input.confirm.trim() !== 'REVOKE ALL') fields.confirm = 'Type REVOKE ALL, in capitals, to confirm.';
    if (Object.keys(fields).length) throw new Refusal(400, 'Revoke everything was not confirmed.', fields);
    return core.requests.revokeAll(who, input.reason.trim());
  });
  // Settings, flows and integrations: viewed and edited (admin-api.ts).
  mountAdminEditing(on, core);
  mountContextSourceEditing(on, core);
  // Break-glass reviews (reviews-api.ts).
  mountReviews(on, core);
  // Standing access and reconciliation (standing-api.ts).
  mountStanding(on, core);
  // Lifecycle webhooks (webhooks-api.ts).
  mountWebhooks(on, core);
}

async function serve(
  deps: TabApiDeps,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  params: Record<string, string | undefined>,
  handler: Handler,
): Promise<void> {
  const auth = await deps.sso.verify(req.headers.authorization);
  if (!auth.ok) {
    deps.log.debug({ reason: auth.reason, url: req.url }, 'Teams tab: token refused');
    // Drain the body so the connection can be reused; nothing of it is read.
    req.resume();
    return sendJson(res, auth.status, { error: auth.reason });
  }
  const zone = req.headers[TIME_ZONE_HEADER];
  const who: Identity =
    typeof zone === 'string' && zone.length < 100 && DateTime.local().setZone(zone).isValid
      ? { ...auth.identity, timeZone: zone }
      : auth.identity;
  try {
    const body = req.method === 'POST' ? await readJson(req) : {};
    sendJson(res, 200, await handler(who, body, params));
  } catch (err) {
    if (err instanceof Refusal)
      return sendJson(res, err.status, { error: err.message, ...(err.fields ? { fields: err.fields } : {}) });
    if (err instanceof BadBody) return sendJson(res, 400, { error: err.message });
    if (err instanceof LatchError)
      return sendJson(res, err.httpStatus, {
        error: err.message,
        ...(err.field ? { field: err.field } : {}),
      });
    deps.log.error({ err, url: req.url }, 'Teams tab: request failed');
    sendJson(res, 500, { error: 'Something went wrong; try again.' });
  }
}

/** The request form for a choice, and which of its fields the page draws. */
function formFor(all: Offers, choice: RequestChoice): RequestOptions & { shown: RequestField[] } {
  const options = requestOptions(all, choice);
  return { ...options, shown: FIELDS.filter((f) => shownIn(options, f)) };
}

const FIELDS: RequestField[] = ['targets', 'bundle', 'flow', 'permission', 'duration', 'justification'];

/** The fields the tab draws for these options (public/tab.js draws exactly these). */
function shownIn(o: RequestOptions, field: RequestField): boolean {
  switch (field) {
    case 'bundle':
      return o.bundles.length > 0;
    case 'flow':
      return o.flows.length > 1;
    case 'permission':
      return o.permissions.length > 0 && !o.selectedBundle;
    case 'duration':
      return o.durations.length > 0;
    default:
      return true;
  }
}

/** Submits as Slack's modal does (prepareRequest), with refusals on the field they concern. */
async function submit(core: ChannelCore, who: Identity, input: z.infer<typeof submitSchema>) {
  const all = await core.queries.offers(who);
  const options = requestOptions(all, input);
  const shown = new Set(FIELDS.filter((f) => shownIn(options, f)));
  const prepared = prepareRequest(all, input, shown);
  if ('errors' in prepared) {
    const [first] = Object.values(prepared.errors);
    throw new Refusal(400, first ?? 'Some answers need another look.', prepared.errors);
  }
  try {
    const request = await core.requests.submit(who, { ...prepared.input, source: 'teams' });
    const flow = all.flows.find((f) => f.id === request.flowId);
    const waitingOn = flow?.approval.steps[0] ? describeApprovers(flow.approval.steps[0]) : 'the admins';
    return { request, waitingOn, auto: request.state !== 'pending' };
  } catch (err) {
    // As in Slack's modal: every refusal of the core is shown next to the field it concerns.
    if (!(err instanceof LatchError)) throw err;
    throw new Refusal(err.httpStatus, err.message, { [refusalField(err.field, shown)]: err.message });
  }
}

/** A request view with its state in words, as every channel says it. */
function labelled(view: RequestView): RequestView & { stateLabel: string } {
  return { ...view, stateLabel: STATE_LABELS[view.state] };
}
