/**
 * The tab console's context source editor (docs/ARCHITECTURE.md, "Context sources", "Personal
 * tab"), as Slack's App Home edits sources: add, edit with write-only secrets, delete. Each route
 * checks that the caller is an admin before it reads the body; a problem is a 400 with each reason
 * on its field (`config`, `secrets.apiToken`, `maxAgeMinutes`) and changes nothing.
 */
import YAML from 'yaml';
import { z } from 'zod';
import type { ChannelCore } from '../../../app.js';
import type { Identity } from '../../../domain/identity.js';
import { LatchError } from '../../../lifecycle/errors.js';
import { contextSourceRows } from './admin-api.js';
import { parse, Refusal, refuseFields, type On } from './http.js';

const nameParam = z.string().trim().min(1).max(200);
const minutesField = z.union([z.number(), z.string().max(20)]).optional();

export const contextSourceFormSchema = z.object({
  name: z.string().max(200).default(''),
  type: z.string().max(100).default(''),
  description: z.string().max(1000).default(''),
  /** The type's settings as YAML, as in Slack's modal. */
  config: z.string().max(20_000).default(''),
  /** Write-only; blank keeps the stored value. */
  secrets: z.record(z.string().max(200), z.string().max(10_000)).default({}),
  /** Empty or absent: the default. */
  syncEveryMinutes: minutesField,
  maxAgeMinutes: minutesField,
});

/** The form field of a problem's path: the type's own secret fields, else the YAML box or the secrets. */
export function sourceFieldOf(path: string, secretNames: readonly string[]): string {
  const [top = '', ...rest] = path.split('.');
  if (top === 'secrets') return rest[0] && secretNames.includes(rest[0]) ? `secrets.${rest[0]}` : 'secrets';
  if (['name', 'type', 'description', 'syncEveryMinutes', 'maxAgeMinutes'].includes(top)) return top;
  return 'config';
}

function minutesOf(v: number | string | undefined): number | undefined | 'bad' {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return Number.isInteger(v) ? v : 'bad';
  const t = v.trim();
  if (!t) return undefined;
  return /^\d{1,6}$/.test(t) ? Number(t) : 'bad';
}

export function mountContextSourceEditing(on: On, core: ChannelCore): void {
  const q = core.queries;

  on('GET', '/admin/context-sources/new', async (who) => {
    await core.admin.assertAdmin(who, 'context_source.create');
    return { types: q.contextSourceTypes() };
  });

  on('GET', '/admin/context-sources/:name/edit', async (who, _body, p) => {
    const name = parse(nameParam, p.name);
    const doc = await q.contextSourceForEdit(who, name);
    if (!doc) throw new Refusal(404, `There is no context source called ${name}.`);
    const { config, ...rest } = doc;
    return {
      types: q.contextSourceTypes(),
      source: { ...rest, config: Object.keys(config).length ? YAML.stringify(config) : '' },
    };
  });

  const save = async (who: Identity, body: unknown, name?: string) => {
    await core.admin.assertAdmin(who, 'context_source.save');
    const form = parse(contextSourceFormSchema, body);
    const finalName = name ?? form.name.trim();
    const secretNames = q.contextSourceTypes().find((t) => t.type === form.type)?.secrets ?? [];
    const errors: Record<string, string> = {};
    const add = (field: string, message: string) => {
      errors[field] = errors[field] ? `${errors[field]}; ${message}` : message;
    };
    if (name) {
      if (!(await q.contextSourceForEdit(who, name)))
        throw new Refusal(404, `There is no context source called ${name}.`);
    } else if (finalName && (await q.contextSourceForEdit(who, finalName))) {
      add('name', `A source called ${finalName} already exists; edit it instead.`);
    }
    let config: Record<string, unknown> = {};
    try {
      const parsed: unknown = YAML.parse(form.config);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        config = parsed as Record<string, unknown>;
      else if (parsed !== null && parsed !== undefined)
        add('config', 'Give the settings as key: value lines.');
    } catch (err) {
      add('config', `Not valid YAML: ${(err as Error).message}`.slice(0, 500));
    }
    const syncEvery = minutesOf(form.syncEveryMinutes);
    if (syncEvery === 'bad') add('syncEveryMinutes', 'Give a whole number of minutes, or leave it empty.');
    const maxAge = minutesOf(form.maxAgeMinutes);
    if (maxAge === 'bad') add('maxAgeMinutes', 'Give a whole number of minutes, or leave it empty.');
    if (Object.keys(errors).length) refuseFields(errors);
    const input = {
      name: finalName,
      type: form.type,
      description: form.description.trim(),
      config,
      secrets: form.secrets,
      ...(typeof syncEvery === 'number' ? { syncEveryMinutes: syncEvery } : {}),
      ...(typeof maxAge === 'number' ? { maxAgeMinutes: maxAge } : {}),
    };
    // Every problem on its field, before anything is written.
    for (const issue of await core.admin.contextSourceIssues(who, input)) {
      const field = sourceFieldOf(issue.field, secretNames);
      const which =
        field === 'config' || field === 'secrets' ? `${issue.field.split('.').slice(1).join('.')}: ` : '';
      add(field, `${which}${issue.message}`);
    }
    if (Object.keys(errors).length) refuseFields(errors);
    try {
      await core.admin.saveContextSource(who, input);
    } catch (err) {
      if (err instanceof LatchError && err.code === 'invalid')
        throw new Refusal(400, err.message, {
          [sourceFieldOf(err.field ?? 'config', secretNames)]: err.message,
        });
      throw err;
    }
    // A first sync now, so the list soon shows whether the settings work; its outcome (or error)
    // is kept on the source, which the list shows, so nothing is lost by not waiting for it here.
    void core.admin.syncContextSource(who, finalName).catch(() => undefined);
    return { saved: finalName, sources: await contextSourceRows(core, who) };
  };
  on('POST', '/admin/context-sources', async (who, body) => save(who, body));
  on('POST', '/admin/context-sources/:name', async (who, body, p) =>
    save(who, body, parse(nameParam, p.name)),
  );

  on('POST', '/admin/context-sources/:name/delete', async (who, _body, p) => {
    const name = parse(nameParam, p.name);
    await core.admin.deleteContextSource(who, name);
    return { deleted: name, sources: await contextSourceRows(core, who) };
  });
}
