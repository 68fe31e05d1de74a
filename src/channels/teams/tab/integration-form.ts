/**
 * The Teams tab's integration editor (docs/ARCHITECTURE.md, "Personal tab"): each type's settings
 * as form fields (ConnectorType.form, e.g. src/connectors/postgres/form.ts), turned into the config
 * the core stores and back. Settings the form has no field for, and types without a form, are
 * edited as YAML ("Other settings"), as in Slack's modal. Secrets are write-only: the page gets
 * the names of the stored ones only, and a blank secret keeps the stored value (admin.saveIntegration).
 */
import YAML from 'yaml';
import { z } from 'zod';
import type { ConnectorForm, ConnectorFormField } from '../../../connectors/types.js';
import type { IntegrationForEdit } from '../../../lifecycle/queries/index.js';

/** How flows name an integration (Slack's rule, src/channels/slack/admin-forms.ts). */
export const INTEGRATION_NAME = /^[a-z0-9][a-z0-9_-]{0,59}$/i;

export const integrationFormSchema = z.object({
  name: z.string().max(200).default(''),
  type: z.string().max(100).default(''),
  description: z.string().max(500).default(''),
  /** By field key: text as typed, a checkbox's boolean. */
  values: z.record(z.string().max(200), z.union([z.string().max(10_000), z.boolean()])).default({}),
  other: z.string().max(20_000).default(''),
  /** Write-only; blank keeps the stored value. */
  secrets: z.record(z.string().max(200), z.string().max(10_000)).default({}),
});
export type IntegrationFormBody = z.infer<typeof integrationFormSchema>;

const NO_FORM: ConnectorForm = { fields: [], secrets: [] };

/** The stored integration as the page's form: field values as text, the rest as YAML, secret names only. */
export function integrationToForm(doc: IntegrationForEdit, form: ConnectorForm = NO_FORM) {
  const rest: Record<string, unknown> = structuredClone(doc.config);
  const values: Record<string, string | boolean> = {};
  for (const f of form.fields) {
    const v = take(rest, f.key);
    if (v === undefined) continue;
    values[f.key] = display(f, v);
  }
  return {
    name: doc.name,
    type: doc.type,
    description: doc.description,
    values,
    other: Object.keys(rest).length ? YAML.stringify(rest) : '',
    storedSecretNames: doc.storedSecretNames,
  };
}

function display(f: ConnectorFormField, v: unknown): string | boolean {
  switch (f.kind) {
    case 'boolean':
      return v === true;
    case 'list':
      return Array.isArray(v) ? v.map(String).join(', ') : String(v);
    case 'yaml':
      return typeof v === 'string' ? v : YAML.stringify(v).trim();
    default:
      return typeof v === 'object' ? JSON.stringify(v) : String(v);
  }
}

/** Removes and returns the value at a dotted key; empty objects left behind are removed too. */
function take(obj: Record<string, unknown>, key: string): unknown {
  const parts = key.split('.');
  const last = parts.pop()!;
  const chain: Array<Record<string, unknown>> = [obj];
  let at: unknown = obj;
  for (const p of parts) {
    at = (at as Record<string, unknown>)?.[p];
    if (!at || typeof at !== 'object' || Array.isArray(at)) return undefined;
    chain.push(at as Record<string, unknown>);
  }
  const holder = chain[chain.length - 1]!;
  if (!Object.hasOwn(holder, last)) return undefined;
  const v = holder[last];
  delete holder[last];
  for (let i = parts.length - 1; i >= 0; i--) {
    if (Object.keys(chain[i + 1]!).length === 0) delete chain[i]![parts[i]!];
  }
  return v;
}

function put(obj: Record<string, unknown>, key: string, value: unknown): void {
  const parts = key.split('.');
  const last = parts.pop()!;
  let at = obj;
  for (const p of parts) {
    if (!at[p] || typeof at[p] !== 'object' || Array.isArray(at[p])) at[p] = {};
    at = at[p] as Record<string, unknown>;
  }
  at[last] = value;
}

/**
 * The form's values as the config the core stores, or the problems by field key (`config.port`,
 * `config` for the YAML box). Empty fields are left out, so the type's defaults apply.
 */
export function formToConfig(
  body: IntegrationFormBody,
  form: ConnectorForm = NO_FORM,
): { config: Record<string, unknown>; errors: Record<string, string> } {
  const errors: Record<string, string> = {};
  let config: Record<string, unknown> = {};
  if (body.other.trim()) {
    try {
      const parsed: unknown = YAML.parse(body.other);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        config = parsed as Record<string, unknown>;
      else if (parsed !== null && parsed !== undefined)
        errors.config = 'Give the settings as key: value lines.';
    } catch (err) {
      errors.config = `Not valid YAML: ${(err as Error).message}`.slice(0, 500);
    }
  }
  for (const f of form.fields) {
    const raw = body.values[f.key];
    const field = `config.${f.key}`;
    if (f.kind === 'boolean') {
      const on = raw === true;
      if (on !== (f.default ?? false)) put(config, f.key, on);
      continue;
    }
    const text = typeof raw === 'string' ? raw.trim() : '';
    if (!text) {
      if (f.required) errors[field] = `${f.label} is required.`;
      continue;
    }
    switch (f.kind) {
      case 'number': {
        const n = Number(text);
        if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(n)) errors[field] = 'Give a whole number.';
        else put(config, f.key, n);
        break;
      }
      case 'list':
        put(
          config,
          f.key,
          text
            .split(/[\n,]+/)
            .map((s) => s.trim())
            .filter(Boolean),
        );
        break;
      case 'yaml':
        try {
          put(config, f.key, YAML.parse(text));
        } catch (err) {
          errors[field] = `Not valid YAML: ${(err as Error).message}`.slice(0, 500);
        }
        break;
      case 'select':
        if (f.options && !f.options.includes(text)) errors[field] = `Choose one of ${f.options.join(', ')}.`;
        else put(config, f.key, text);
        break;
      default:
        put(config, f.key, text);
    }
  }
  return { config, errors };
}

/**
 * The page's field for a settings problem's path (`config.roleMap.read`, `secrets.password`): the
 * form's own field when there is one, else the YAML box (`config`) or the secrets (`secrets`).
 */
export function integrationFieldOf(path: string, form: ConnectorForm = NO_FORM): string {
  const [where, ...rest] = path.split('.');
  if (where === 'type') return 'type';
  if (where === 'secrets') {
    const key = rest[0] ?? '';
    return form.secrets.some((s) => s.key === key) ? `secrets.${key}` : 'secrets';
  }
  // The longest field key the path starts with: `roleMap.read` before `roleMap`.
  const keys = form.fields
    .map((f) => f.key)
    .filter((k) => rest.join('.') === k || rest.join('.').startsWith(`${k}.`))
    .sort((a, b) => b.length - a.length);
  return keys[0] ? `config.${keys[0]}` : 'config';
}
