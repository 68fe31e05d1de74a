/**
 * The App Home's context source editor (docs/ARCHITECTURE.md, "Context sources"): opens the modal
 * filled in from the core's query, and turns a submission into saveContextSource. Checking is the
 * use-case's (the flows file's schema and the type's own `validate`); this module only puts each
 * problem on the field the admin has to fix. Secret values never reach the modal.
 */
import type { WebClient } from '@slack/web-api';
import YAML from 'yaml';
import { contextSourceModal } from '../../../blocks/slack/admin-modals.js';
import type { ContextSourceInput } from '../../context/types.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import type { FormAck } from './admin-forms.js';
import { errorText, parseMetadata, type SlackDeps } from './context.js';
import type { StateValue, ViewPayload } from './request-flow.js';

type Values = Record<string, Record<string, StateValue>>;
const text = (v: Values, block: string) => (Object.values(v[block] ?? {})[0]?.value ?? '').trim();
const selected = (v: Values, block: string) =>
  Object.values(v[block] ?? {})[0]?.selected_option?.value ?? undefined;

export async function openContextSourceModal(
  deps: SlackDeps,
  who: Identity,
  client: WebClient,
  triggerId: string,
  name?: string,
): Promise<void> {
  const q = deps.latch.queries;
  const doc = name ? await q.contextSourceForEdit(who, name) : null;
  if (name && !doc) throw new LatchError('not_found', `There is no context source called ${name}.`);
  const types = q.contextSourceTypes();
  const example = types[0]?.example ?? {};
  await client.views.open({
    trigger_id: triggerId,
    view: contextSourceModal({
      name: doc?.name,
      type: doc?.type,
      types,
      description: doc?.description || undefined,
      configYaml: YAML.stringify(doc ? doc.config : example),
      storedSecretNames: doc?.storedSecretNames ?? [],
      syncEveryMinutes: doc?.syncEveryMinutes,
      maxAgeMinutes: doc?.maxAgeMinutes,
      fromFlowsFile: doc?.origin === 'config',
      privateMetadata: JSON.stringify({ name: doc?.name }),
    }),
  });
}

/** The modal's block for a problem's field (`config.orgUrl` → config); the name only while it is an input. */
function blockOf(field: string, isNew: boolean): string {
  const [top = ''] = field.split('.');
  if (top === 'name') return isNew ? 'name' : 'config';
  if (top === 'syncEveryMinutes') return 'sync_every';
  if (top === 'maxAgeMinutes') return 'max_age';
  return ['type', 'description', 'config', 'secrets'].includes(top) ? top : 'config';
}

/** `name: value` (or `name=value`) a line, the value exactly as typed: YAML would turn 0123 into 123. */
function parseSecrets(raw: string): Record<string, string> | string {
  const out: Record<string, string> = {};
  for (const line of raw.split('\n')) {
    if (!line.trim()) continue;
    const m = /^\s*([A-Za-z][\w.-]*)\s*[:=](.*)$/.exec(line);
    if (!m) return 'One name: value a line, e.g. apiToken: 00abc…';
    out[m[1]!] = m[2]!.trim();
  }
  return out;
}

function minutes(raw: string): number | undefined | 'bad' {
  if (!raw) return undefined;
  return /^\d{1,6}$/.test(raw) ? Number(raw) : 'bad';
}

export async function saveContextSourceFromView(
  deps: SlackDeps,
  view: ViewPayload,
  who: Identity,
  afterFirstSync: () => Promise<void>,
): Promise<FormAck> {
  // Who before what: a forged submission from a non-admin is refused (and audited) unread.
  await deps.latch.admin.assertAdmin(who, 'context_source.save');
  const v = view.state?.values ?? {};
  const meta = parseMetadata<{ name: string }>(view.private_metadata);
  const isNew = !meta.name;
  const name = meta.name ?? text(v, 'name');
  const errors: Record<string, string> = {};
  const add = (block: string, message: string) => {
    errors[block] = (errors[block] ? `${errors[block]}; ${message}` : message).slice(0, 2000);
  };

  let config: Record<string, unknown> = {};
  try {
    const parsed: unknown = YAML.parse(text(v, 'config'));
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
      config = parsed as Record<string, unknown>;
    else if (parsed !== null && parsed !== undefined) add('config', 'Give the settings as key: value lines.');
  } catch (err) {
    add('config', `Not valid YAML: ${(err as Error).message}`);
  }
  const secrets = parseSecrets(text(v, 'secrets'));
  if (typeof secrets === 'string') add('secrets', secrets);
  const syncEvery = minutes(text(v, 'sync_every'));
  if (syncEvery === 'bad') add('sync_every', 'Give a whole number of minutes, or leave it empty.');
  const maxAge = minutes(text(v, 'max_age'));
  if (maxAge === 'bad') add('max_age', 'Give a whole number of minutes, or leave it empty.');
  if (isNew && name && (await deps.latch.queries.contextSourceForEdit(who, name)))
    add('name', `A source called ${name} already exists; edit it instead.`);
  if (Object.keys(errors).length) return { response_action: 'errors', errors };

  const input: ContextSourceInput = {
    name,
    type: selected(v, 'type') ?? '',
    description: text(v, 'description'),
    config,
    secrets: secrets as Record<string, string>,
    ...(typeof syncEvery === 'number' ? { syncEveryMinutes: syncEvery } : {}),
    ...(typeof maxAge === 'number' ? { maxAgeMinutes: maxAge } : {}),
  };
  // Every problem on its field at once, before anything is written.
  for (const issue of await deps.latch.admin.contextSourceIssues(who, input)) {
    const [top, ...rest] = issue.field.split('.');
    const which = (top === 'config' || top === 'secrets') && rest.length ? `${rest.join('.')}: ` : '';
    add(blockOf(issue.field, isNew), `${which}${issue.message}`);
  }
  if (Object.keys(errors).length) return { response_action: 'errors', errors };
  try {
    await deps.latch.admin.saveContextSource(who, input);
  } catch (err) {
    const block = err instanceof LatchError && err.field ? blockOf(err.field, isNew) : 'config';
    return { response_action: 'errors', errors: { [block]: errorText(deps, err).slice(0, 2000) } };
  }
  // The schedule job syncs it within a minute or so; a first sync now shows the admin soon
  // whether the settings work. It runs on after the modal closes.
  void deps.latch.admin
    .syncContextSource(who, name)
    .catch((err: unknown) => deps.log.warn({ err, source: name }, 'first sync after a save failed'))
    .finally(() => afterFirstSync().catch((err) => deps.log.warn({ err }, 'home refresh failed')));
  return undefined;
}
