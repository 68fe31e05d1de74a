/**
 * The tab console's editors (docs/ARCHITECTURE.md, "Personal tab"): settings, flows and
 * integrations, as Slack's App Home edits them. Each route checks that the caller is an admin
 * (core.admin.assertAdmin, audited when refused) before it reads the body, so a non-admin learns
 * nothing about what was wrong with it; the use-cases check again when they write. A problem is a
 * 400 with each message on the field it concerns (`fields`), and changes nothing.
 */
import { z } from 'zod';
import type { ChannelCore } from '../../../app.js';
import type { Approver, Flow, Settings } from '../../../domain/flow.js';
import type { Identity } from '../../../domain/identity.js';
import { LatchError } from '../../../lifecycle/errors.js';
import {
  blankFlowForm,
  DURATIONS,
  fieldOf,
  flowFormSchema,
  flowSummary,
  flowToForm,
  formToFlowInput,
  keptFromFlow,
  words,
} from './flow-form.js';
import { parse, Refusal, refuseFields, type On } from './http.js';
import {
  formToConfig,
  INTEGRATION_NAME,
  integrationFieldOf,
  integrationFormSchema,
  integrationToForm,
} from './integration-form.js';

const idParam = z.string().trim().min(1).max(200);

/** The settings form as the page sends it: Slack's settings modal, field for field. */
const settingsFormSchema = z.object({
  /** Emails, Entra object ids or @groups; empty: only the admins of LATCH_ADMINS. */
  admins: z.string().max(20_000).default(''),
  fallbackEnabled: z.boolean(),
  /** Emails or @groups; empty: the admins approve. */
  fallbackApprovers: z.string().max(20_000).default(''),
  /** Longest fallback grant in minutes; absent keeps the current one. */
  fallbackMaxMinutes: z.number().int().optional(),
  selfExtension: z.enum(['flow', 'approval', 'never']),
  /** Required, as in Slack: 0 turns the warning off. */
  expiryWarningMinutes: z.union([z.number(), z.string().max(20)]),
  /** A Slack channel id; empty: no audit channel. */
  auditChannel: z.string().max(300).default(''),
});

/** The fallback flow's longest grant: what the settings schema allows (at most 4 hours). */
const FALLBACK_DURATIONS = [15, 30, 60, 120, 240];
const EMAIL = /^[^\s@,;]+@[^\s@,;]+$/;
const ENTRA_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const GROUP = /^@[\w.-]{1,100}$/;
const SLACK_CHANNEL = /^[A-Z][A-Z0-9]{2,40}$/;

export function mountAdminEditing(on: On, core: ChannelCore): void {
  const q = core.queries;

  // ---- settings ----

  on('GET', '/admin/settings', async (who) => settingsView(core, who));

  on('POST', '/admin/settings', async (who, body) => {
    await core.admin.assertAdmin(who, 'settings.update');
    const form = parse(settingsFormSchema, body);
    const [current, envAdmins] = await Promise.all([q.settings(who), q.environmentAdmins(who)]);
    const errors: Record<string, string> = {};

    const admins: string[] = [];
    for (const w of words(form.admins)) {
      if (EMAIL.test(w) || ENTRA_ID.test(w) || GROUP.test(w)) admins.push(w.toLowerCase());
      else errors.admins ??= `${w} is not an email address, an Entra object id or an @group.`;
    }
    if (!errors.admins && admins.length === 0 && envAdmins.length === 0)
      errors.admins = 'Keep at least one admin.';

    const approvers: Approver[] = [];
    for (const w of words(form.fallbackApprovers)) {
      if (EMAIL.test(w)) approvers.push({ type: 'user', id: w.toLowerCase() });
      else if (GROUP.test(w)) approvers.push({ type: 'group', id: w.slice(1) });
      else errors.fallbackApprovers ??= `${w} is not an email address or an @group.`;
    }
    // Resource owners as fallback approvers come only from the flows file: kept, since the form has no field.
    approvers.push(...current.fallback.approvers.filter((a) => a.type === 'resource_owner'));

    const maxMinutes = form.fallbackMaxMinutes ?? current.fallback.maxMinutes;
    if (!FALLBACK_DURATIONS.includes(maxMinutes) && maxMinutes !== current.fallback.maxMinutes)
      errors.fallbackMaxMinutes = 'Choose one of the durations offered.';

    const warningText = String(form.expiryWarningMinutes).trim();
    const warning = Number(warningText);
    if (!/^\d+$/.test(warningText) || warning > 7 * 24 * 60)
      errors.expiryWarningMinutes = 'Give a whole number of minutes between 0 (off) and 10080 (a week).';

    const channel = form.auditChannel.trim().toUpperCase();
    if (channel && !SLACK_CHANNEL.test(channel))
      errors.auditChannel =
        'Give a Slack channel id, like C0123ABCDE (in Slack: the channel’s details, at the bottom).';

    if (Object.keys(errors).length) refuseFields(errors);
    const patch: Partial<Settings> = {
      admins: [...new Set(admins)],
      fallback: { ...current.fallback, enabled: form.fallbackEnabled, approvers, maxMinutes },
      selfExtension: form.selfExtension,
      expiryWarningMinutes: warning,
      // Empty clears it: updateSettings stores a cleared optional setting as absent.
      auditChannel: channel || undefined,
    };
    try {
      await core.admin.updateSettings(who, patch);
    } catch (err) {
      throw onField(err, (field, code) =>
        code === 'conflict'
          ? undefined
          : field === 'fallback'
            ? 'fallbackApprovers'
            : field && field in settingsFormSchema.shape
              ? field
              : 'admins',
      );
    }
    return settingsView(core, who);
  });

  // ---- flows ----

  on('GET', '/admin/flows/new', async (who) => {
    await core.admin.assertAdmin(who, 'flow.create');
    return { ...(await flowChoices(core, who, undefined)), form: blankFlowForm(), kept: [] };
  });

  on('GET', '/admin/flows/:id/edit', async (who, _body, p) => {
    const flow = await findFlow(core, who, parse(idParam, p.id));
    return { ...(await flowChoices(core, who, flow)), form: flowToForm(flow), kept: keptFromFlow(flow) };
  });

  const saveFlow = async (who: Identity, body: unknown, id?: string) => {
    await core.admin.assertAdmin(who, 'flow.save');
    const form = parse(flowFormSchema, body);
    const existing = id ? await findFlow(core, who, id) : undefined;
    const { input, errors } = formToFlowInput(form, existing);
    if (Object.keys(errors).length) refuseFields(errors);
    try {
      const saved = await core.admin.saveFlow(who, input, existing?.id);
      return { flow: flowSummary(saved), flows: (await q.flows(who)).map(flowSummary) };
    } catch (err) {
      throw onField(err, (field, code) => (code === 'conflict' ? 'name' : fieldOf(field ? [field] : [])));
    }
  };
  on('POST', '/admin/flows', async (who, body) => saveFlow(who, body));
  on('POST', '/admin/flows/:id', async (who, body, p) => saveFlow(who, body, parse(idParam, p.id)));

  on('POST', '/admin/flows/:id/delete', async (who, _body, p) => {
    await core.admin.deleteFlow(who, parse(idParam, p.id));
    return { flows: (await q.flows(who)).map(flowSummary) };
  });

  // ---- integrations ----

  on('GET', '/admin/integrations/new', async (who) => {
    await core.admin.assertAdmin(who, 'integration.create');
    return { types: q.integrationTypes(), forms: q.integrationForms() };
  });

  on('GET', '/admin/integrations/:name/edit', async (who, _body, p) => {
    const name = parse(idParam, p.name);
    const doc = await q.integrationForEdit(who, name);
    if (!doc) throw new Refusal(404, `No integration called ${name}.`);
    const forms = q.integrationForms();
    return { types: q.integrationTypes(), forms, integration: integrationToForm(doc, forms[doc.type]) };
  });

  const saveIntegration = async (who: Identity, body: unknown, name?: string) => {
    await core.admin.assertAdmin(who, 'integration.save');
    const form = parse(integrationFormSchema, body);
    const forms = q.integrationForms();
    const errors: Record<string, string> = {};
    const finalName = name ?? form.name.trim();
    if (!name) {
      if (!INTEGRATION_NAME.test(finalName))
        errors.name = 'Letters, digits, - and _ only, up to 60 characters.';
      else if (await q.integrationForEdit(who, finalName))
        errors.name = `An integration called ${finalName} already exists; edit it instead.`;
    } else if (!(await q.integrationForEdit(who, name))) {
      throw new Refusal(404, `No integration called ${name}.`);
    }
    if (!q.integrationTypes().includes(form.type))
      errors.type = `Choose a type: ${q.integrationTypes().join(', ')}.`;
    const typeForm = forms[form.type];
    const { config, errors: configErrors } = formToConfig(form, typeForm);
    Object.assign(errors, configErrors);
    if (Object.keys(errors).length) refuseFields(errors);
    const input = {
      name: finalName,
      type: form.type,
      description: form.description.trim(),
      config,
      secrets: form.secrets,
    };
    // Every problem of the settings on its field, before anything is written.
    const issues = await core.admin.integrationIssues(who, input);
    for (const i of issues) {
      const field = integrationFieldOf(i.field, typeForm);
      // On the YAML box or the secrets, several settings share one field: say which.
      const which =
        field === 'config' || field === 'secrets' ? `${i.field.split('.').slice(1).join('.')}: ` : '';
      errors[field] ??= `${which}${i.message}.`;
    }
    if (Object.keys(errors).length) refuseFields(errors);
    try {
      await core.admin.saveIntegration(who, input);
    } catch (err) {
      throw onField(err, (field) => integrationFieldOf(field ?? 'config', typeForm));
    }
    // As Slack's App Home does after a save: find its resources, which also shows it connects.
    const discovery = await discover(core, who, finalName);
    return { saved: finalName, ...discovery, integrations: await q.integrations(who) };
  };
  on('POST', '/admin/integrations', async (who, body) => saveIntegration(who, body));
  on('POST', '/admin/integrations/:name', async (who, body, p) =>
    saveIntegration(who, body, parse(idParam, p.name)),
  );

  // The page waits for the sync (no trigger to expire here) and shows its outcome.
  on('POST', '/admin/context-sources/:name/sync', async (who, _body, p) => {
    const report = await core.admin.syncContextSource(who, parse(idParam, p.name));
    const outcome = report.ok
      ? { ok: true, groups: report.groups, memberships: report.memberships }
      : 'busy' in report
        ? { ok: false, error: 'a sync of this source is running already' }
        : { ok: false, error: report.error };
    return { outcome, sources: await contextSourceRows(core, who) };
  });

  on('POST', '/admin/integrations/:name/discover', async (who, _body, p) => {
    const name = parse(idParam, p.name);
    await core.admin.assertAdmin(who, 'integration.discover');
    const discovery = await discover(core, who, name);
    if ('discoveryError' in discovery) throw new Refusal(502, discovery.discoveryError);
    return { ...discovery, integrations: await q.integrations(who) };
  });
}

/** The settings with what the form needs beside them (LATCH_ADMINS, the fallback's durations). */
async function settingsView(core: ChannelCore, who: Identity) {
  const [settings, envAdmins] = await Promise.all([
    core.queries.settings(who),
    core.queries.environmentAdmins(who),
  ]);
  return { settings, envAdmins, fallbackDurations: FALLBACK_DURATIONS };
}

async function findFlow(core: ChannelCore, who: Identity, id: string): Promise<Flow> {
  const flow = (await core.queries.flows(who)).find((f) => f.id === id);
  if (!flow) throw new Refusal(404, 'That flow no longer exists.');
  return flow;
}

/** What the flow editor lists: the core's choices, and Slack's durations with the flow's own. */
async function flowChoices(core: ChannelCore, who: Identity, flow: Flow | undefined) {
  const choices = await core.queries.flowFormChoices(who);
  const own = [...(flow?.duration.choicesMinutes ?? []), flow?.duration.maxMinutes ?? 0].filter((m) => m > 0);
  return {
    choices: {
      ...choices,
      permissions: choices.permissions.length ? choices.permissions : ['read', 'write', 'admin'],
      durations: [...new Set([...DURATIONS, ...own])].sort((a, b) => a - b),
    },
  };
}

/** Discovery after a save or on demand: how many resources, or why it failed (the integration stays). */
async function discover(
  core: ChannelCore,
  who: Identity,
  name: string,
): Promise<{ resources: number } | { discoveryError: string }> {
  try {
    return { resources: await core.admin.discover(who, name) };
  } catch (err) {
    if (err instanceof LatchError && err.code !== 'invalid') throw err;
    return { discoveryError: `Saved, but its resources could not be found: ${(err as Error).message}` };
  }
}

/** A refusal of the core as a 4xx on the form field `fieldFor` names. */
function onField(
  err: unknown,
  fieldFor: (field: string | undefined, code: LatchError['code']) => string | undefined,
): unknown {
  if (!(err instanceof LatchError)) return err;
  if (err.code === 'forbidden' || err.code === 'not_found') return err;
  const field = fieldFor(err.field, err.code);
  return new Refusal(err.httpStatus, err.message, field ? { [field]: err.message } : undefined);
}

/**
 * The identity-provider sources as the console lists them: how their syncs went, picked field by
 * field (their config and secret names stay out of the page).
 */
export async function contextSourceRows(core: ChannelCore, who: Identity) {
  return (await core.queries.contextSources(who)).map((s) => ({
    name: s.name,
    type: s.type,
    stale: s.stale,
    lastSuccessAt: s.lastSuccessAt,
    lastError: s.lastError,
    lastErrorAt: s.lastErrorAt,
    groups: s.groups,
    memberships: s.memberships,
    requests: s.requests,
    rateLimited: s.rateLimited,
    warnings: s.warnings,
    origin: s.origin,
  }));
}
