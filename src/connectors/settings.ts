/**
 * Turns a zod check of an integration's config or secrets into settings issues: each with the path
 * of the field, in words that read well next to a YAML line or a form field. Keys the schema does
 * not know are issues too (in a hand-written config an unknown key is nearly always a typo whose
 * setting would otherwise be ignored). Messages about secrets never contain the value.
 */
import { z } from 'zod';
import type { SettingsIssue } from './types.js';

type Where = 'config' | 'secrets';

export function settingsIssues(schema: z.ZodType, input: unknown, where: Where): SettingsIssue[] {
  const result = schema.safeParse(input);
  if (!result.success) return result.error.issues.flatMap((issue) => fromZod(issue, input, where));
  // Nested objects strip unknown keys silently; find them by comparing input and output.
  const unknown: Array<Array<string | number>> = [];
  findStrippedKeys(input, result.data, [], unknown);
  return unknown.map((p) => unknownIssue(where, p));
}

function unknownIssue(where: Where, p: Array<string | number>): SettingsIssue {
  return {
    path: [where, ...p],
    message: where === 'secrets' ? 'unknown secret' : 'unknown field',
    unknownField: true,
  };
}

function fromZod(issue: z.core.$ZodIssue, input: unknown, where: Where): SettingsIssue[] {
  const rel = issue.path.map((k) => (typeof k === 'number' ? k : String(k)));
  if (issue.code === 'unrecognized_keys') return issue.keys.map((key) => unknownIssue(where, [...rel, key]));
  const value = valueAt(input, rel);
  let message: string;
  if (issue.code === 'invalid_type' && value === undefined) message = `required (expected ${issue.expected})`;
  // zod's other messages do not quote the value today, but a secret is not worth that bet.
  else if (where === 'secrets') message = 'invalid value (not shown)';
  else if (issue.code === 'invalid_union') message = 'matches none of the allowed forms';
  else message = issue.message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, '');
  return [{ path: [where, ...rel], message }];
}

function valueAt(value: unknown, p: Array<string | number>): unknown {
  let v = value;
  for (const part of p) {
    if (Array.isArray(v) && typeof part === 'number') v = v[part];
    else if (isPlainObject(v)) v = v[String(part)];
    else return undefined;
  }
  return v;
}

function findStrippedKeys(
  input: unknown,
  output: unknown,
  at: Array<string | number>,
  out: Array<Array<string | number>>,
): void {
  if (Array.isArray(input) && Array.isArray(output)) {
    input.forEach((v, i) => findStrippedKeys(v, output[i], [...at, i], out));
  } else if (isPlainObject(input) && isPlainObject(output)) {
    for (const [k, v] of Object.entries(input)) {
      if (!(k in output)) out.push([...at, k]);
      else findStrippedKeys(v, output[k], [...at, k], out);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `port`, `roleMap.read`, `databases[0]`: a settings path as people write it. */
export function formatSettingsPath(p: Array<string | number>): string {
  return p.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part),
    '',
  );
}

/**
 * A stored integration's config and secrets as its connector takes them, or an error naming what
 * is wrong: the config's problems in full, the secrets' only by field (never a value).
 */
export function parseIntegration<C extends z.ZodType, S extends z.ZodType>(
  integration: { name: string; config: unknown; secrets: unknown },
  label: string,
  configSchema: C,
  secretsSchema: S,
): { config: z.infer<C>; secrets: z.infer<S> } {
  const config = configSchema.safeParse(integration.config);
  if (!config.success)
    throw new Error(
      `invalid config for ${label} integration ${integration.name}:\n${z.prettifyError(config.error)}`,
    );
  const secrets = secretsSchema.safeParse(integration.secrets);
  if (!secrets.success) {
    const fields = secrets.error.issues.map((i) => i.path.join('.') || '(root)').join(', ');
    throw new Error(`invalid secrets for ${label} integration ${integration.name}: ${fields}`);
  }
  return { config: config.data, secrets: secrets.data };
}
