/**
 * "Flows as code": integrations, bundles, flows and settings declared in a YAML file. This module
 * only parses and validates (connector settings too, with the checks passed in), so that nothing is
 * applied unless the whole file is valid; applying the result to the database is the caller's business.
 *
 * Every problem is reported with the line it is on, because the person reading the error is editing
 * the file, and all problems are reported at once.
 */
import { ON_CALL_TYPES } from '../context/types.js';
import { readFile } from 'node:fs/promises';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, type Document } from 'yaml';
import { z } from 'zod';
import {
  bundleSchema,
  flowSchema,
  settingsSchema,
  type BundleDefinition,
  type FlowDefinition,
  type Settings,
} from '../domain/flow.js';
// Types only: the connectors themselves come in through the options, so this module stays free of them.
import type { ConnectorValidator } from '../connectors/types.js';
import { contextSourceSchema, type ContextSourceInput } from '../context/types.js';

export interface DeclaredIntegration {
  name: string;
  type: string;
  description: string;
  config: Record<string, unknown>;
  /** Resolved from the environment; plain text, to be sealed before it is stored. */
  secrets: Record<string, string>;
  tags: Record<string, string>;
}

export interface DeclaredConfig {
  integrations: DeclaredIntegration[];
  /** Identity providers whose groups are synced (docs/ARCHITECTURE.md, "Context sources"); secrets resolved. */
  contextSources?: ContextSourceInput[];
  bundles: BundleDefinition[];
  flows: FlowDefinition[];
  /** Only the settings the file sets; absent when it sets none. */
  settings?: Partial<Settings>;
}

export interface FlowsFileOptions {
  /** Name used in error messages, usually the path as the user wrote it. */
  source: string;
  env?: NodeJS.ProcessEnv;
  /**
   * Integrations and bundles that exist already (e.g. in the database). References are checked
   * against these plus what the file declares; without it, against the file alone.
   */
  known?: { integrations: string[]; bundles: string[]; contextSources?: string[] };
  /**
   * The integration types Latch knows, each with the check of its config and secrets. With it an
   * unknown type and invalid connector settings are reported like any other problem; without it
   * only their shape is checked.
   */
  integrationTypes?: Record<string, ConnectorValidator>;
  /** The context source types Latch knows, with their settings checks; like integrationTypes. */
  contextTypes?: Record<string, ConnectorValidator>;
}

export interface FlowsFileProblem {
  source: string;
  line: number;
  /** e.g. `flows[1].approval.steps[0].rule.count`; empty for YAML syntax errors. */
  path: string;
  message: string;
}

export class FlowsFileError extends Error {
  readonly problems: FlowsFileProblem[];

  constructor(source: string, problems: FlowsFileProblem[]) {
    const n = problems.length;
    super(
      `${source}: ${n} problem${n === 1 ? '' : 's'} in flows file:\n` +
        problems.map((p) => `  ${formatProblem(p)}`).join('\n'),
    );
    this.name = 'FlowsFileError';
    this.problems = problems;
  }
}

function formatProblem(p: FlowsFileProblem): string {
  // Line 0: a problem with the file as a whole (it cannot be read).
  return `${p.source}:${p.line > 0 ? `${p.line}:` : ''} ${p.path ? `${p.path}: ` : ''}${p.message}`;
}

/** A literal, a string with `${VAR}` references, or `{ env: VAR }`. */
const secretRefSchema = z.union(
  [z.string(), z.object({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/) }).strict()],
  {
    error: 'expected a string or { env: VARIABLE_NAME }',
  },
);

const integrationSchema = z
  .object({
    name: z.string().min(1).max(80),
    type: z.string().min(1),
    description: z.string().max(500).default(''),
    config: z.record(z.string(), z.unknown()).default({}),
    secrets: z.record(z.string(), secretRefSchema).default({}),
    tags: z.record(z.string(), z.string()).default({}),
  })
  .strict();

const TOP_LEVEL_KEYS = ['integrations', 'contextSources', 'bundles', 'flows', 'settings'] as const;

type PathPart = string | number;
type Path = PathPart[];

export async function loadFlowsFile(
  file: string,
  opts: Omit<FlowsFileOptions, 'source'> & { source?: string } = {},
): Promise<DeclaredConfig> {
  const source = opts.source ?? file;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new FlowsFileError(source, [
      { source, line: 0, path: '', message: `cannot read file: ${(err as Error).message}` },
    ]);
  }
  return parseFlowsFile(text, { ...opts, source });
}

export function parseFlowsFile(text: string, opts: FlowsFileOptions): DeclaredConfig {
  const { source } = opts;
  const env = opts.env ?? process.env;
  const lineCounter = new LineCounter();
  // merge: `<<: *anchor` lets a file share approval steps or grantees between flows.
  const doc = parseDocument(text, { lineCounter, keepSourceTokens: true, prettyErrors: false, merge: true });
  const problems: FlowsFileProblem[] = [];
  const lineOf = (offset: number) => lineCounter.linePos(offset).line;

  if (doc.errors.length > 0) {
    for (const e of doc.errors)
      problems.push({ source, line: lineOf(e.pos[0]), path: '', message: e.message });
    throw new FlowsFileError(source, sortProblems(problems));
  }

  const report = (p: Path, message: string) =>
    problems.push({ source, line: lineForPath(doc, p, lineOf), path: formatPath(p), message });

  const root: unknown = doc.toJS() ?? {};
  if (!isPlainObject(root)) {
    report([], `the file must be a mapping with keys ${TOP_LEVEL_KEYS.join(', ')}`);
    throw new FlowsFileError(source, problems);
  }
  for (const key of Object.keys(root)) {
    if (!(TOP_LEVEL_KEYS as readonly string[]).includes(key)) {
      report([key], `unknown top-level key (expected ${TOP_LEVEL_KEYS.join(', ')})`);
    }
  }

  const integrationItems = listAt(root, 'integrations', report);
  const bundleItems = listAt(root, 'bundles', report);
  const flowItems = listAt(root, 'flows', report);

  const integrations: DeclaredIntegration[] = [];
  const types = opts.integrationTypes;
  integrationItems.forEach((item, i) => {
    const at: Path = ['integrations', i];
    const parsed = validate(integrationSchema, item, at, report);
    const type = field(item, 'type');
    const check = types && typeof type === 'string' && Object.hasOwn(types, type) ? types[type] : undefined;
    if (types && typeof type === 'string' && type !== '' && !check) {
      const known = Object.keys(types).join(', ') || '(none)';
      report([...at, 'type'], `unknown integration type ${JSON.stringify(type)}; known: ${known}`);
    }
    if (!parsed) return;
    const secrets: Record<string, string> = {};
    const unresolved = new Set<string>();
    for (const [key, ref] of Object.entries(parsed.secrets)) {
      const value = resolveSecret(ref, env, (msg) => report([...at, 'secrets', key], msg));
      if (value === undefined) unresolved.add(key);
      else secrets[key] = value;
    }
    // The connector's own check, on the resolved secrets; a secret already reported is not again.
    const issues = (check?.(parsed.config, secrets) ?? []).filter(
      (issue) => !(issue.path[0] === 'secrets' && unresolved.has(String(issue.path[1]))),
    );
    for (const issue of issues) report([...at, ...issue.path], issue.message);
    if (unresolved.size === 0 && issues.length === 0) integrations.push({ ...parsed, secrets });
  });

  const contextItems = listAt(root, 'contextSources', report);
  const contextSources: ContextSourceInput[] = [];
  contextItems.forEach((item, i) => {
    const at: Path = ['contextSources', i];
    // Secrets are references here ({ env: NAME }); the rest is checked as the console checks it.
    const refs = validate(
      z.record(z.string(), secretRefSchema),
      field(item, 'secrets') ?? {},
      [...at, 'secrets'],
      report,
    );
    const parsed = validate(
      contextSourceSchema,
      isPlainObject(item) ? { ...item, secrets: {} } : item,
      at,
      report,
    );
    const type = field(item, 'type');
    const ctxTypes = opts.contextTypes;
    const check =
      ctxTypes && typeof type === 'string' && Object.hasOwn(ctxTypes, type) ? ctxTypes[type] : undefined;
    if (ctxTypes && typeof type === 'string' && type !== '' && !check) {
      report(
        [...at, 'type'],
        `unknown context source type ${JSON.stringify(type)}; known: ${Object.keys(ctxTypes).join(', ')}`,
      );
    }
    if (!parsed || !refs) return;
    const secrets: Record<string, string> = {};
    const unresolved = new Set<string>();
    for (const [key, ref] of Object.entries(refs)) {
      const value = resolveSecret(ref, env, (msg) => report([...at, 'secrets', key], msg));
      if (value === undefined) unresolved.add(key);
      else secrets[key] = value;
    }
    const issues = (check?.(parsed.config, secrets) ?? []).filter(
      (issue) => !(issue.path[0] === 'secrets' && unresolved.has(String(issue.path[1]))),
    );
    for (const issue of issues) report([...at, ...issue.path], issue.message);
    if (unresolved.size === 0 && issues.length === 0) contextSources.push({ ...parsed, secrets });
  });

  const bundles: BundleDefinition[] = [];
  bundleItems.forEach((item, i) => {
    const parsed = validate(bundleSchema, item, ['bundles', i], report);
    if (parsed) bundles.push(parsed);
  });

  const flows: FlowDefinition[] = [];
  flowItems.forEach((item, i) => {
    const parsed = validate(flowSchema, item, ['flows', i], report);
    if (parsed) flows.push(parsed);
  });

  let settings: Partial<Settings> | undefined;
  if (root.settings !== undefined && root.settings !== null) {
    settings = validateSettings(root.settings, report);
  }

  checkUnique('integration', integrationItems, ['integrations'], report);
  checkUnique('context source', contextItems, ['contextSources'], report);
  checkUnique('bundle', bundleItems, ['bundles'], report);
  checkUnique('flow', flowItems, ['flows'], report);

  // Names are taken from the raw items so that one broken integration does not also make every
  // flow that uses it report an unknown reference.
  const integrationNames = new Set([...namesOf(integrationItems), ...(opts.known?.integrations ?? [])]);
  const bundleNames = new Set([...namesOf(bundleItems), ...(opts.known?.bundles ?? [])]);
  const where = opts.known ? 'not declared in this file and not known to Latch' : 'not declared in this file';
  const checkIntegration = (name: unknown, p: Path) => {
    if (typeof name === 'string' && !integrationNames.has(name)) {
      report(p, `unknown integration "${name}" (${where})`);
    }
  };
  bundleItems.forEach((b, i) =>
    arrayAt(b, 'targets').forEach((t, j) =>
      checkIntegration(field(t, 'integration'), ['bundles', i, 'targets', j, 'integration']),
    ),
  );
  // `<source>:<group>` names a synced group; a colon is never in a chat group's name, so a prefix
  // that names no source is a typo that would otherwise match nobody, silently.
  const sourceNames = new Set([...namesOf(contextItems), ...(opts.known?.contextSources ?? [])]);
  const checkGroup = (p: unknown, at: Path) => {
    const id = field(p, 'id');
    if (field(p, 'type') !== 'group' || typeof id !== 'string' || !id.includes(':')) return;
    const source = id.slice(0, id.indexOf(':'));
    if (!sourceNames.has(source))
      report(
        [...at, 'id'],
        `unknown context source "${source}" (groups of a source are named <source>:<group>)`,
      );
  };
  const declaredTypes = new Map(
    contextItems
      .map((c) => [field(c, 'name'), field(c, 'type')] as const)
      .filter(([n]) => typeof n === 'string'),
  );
  const checkSchedule = (name: unknown, at: Path) => {
    if (typeof name !== 'string' || !name.includes(':')) return;
    const source = name.slice(0, name.indexOf(':'));
    if (!sourceNames.has(source))
      report(at, `unknown context source "${source}" (schedules are named <source>:<schedule>)`);
    else if (declaredTypes.has(source) && !ON_CALL_TYPES.has(String(declaredTypes.get(source))))
      report(at, `source "${source}" (type ${String(declaredTypes.get(source))}) has no on-call schedules`);
  };
  flowItems.forEach((f, i) => {
    arrayAt(field(f, 'approval'), 'steps').forEach((step, j) =>
      arrayAt(step, 'approvers').forEach((a, k) => {
        if (field(a, 'type') === 'on_call')
          checkSchedule(field(a, 'schedule'), [
            'flows',
            i,
            'approval',
            'steps',
            j,
            'approvers',
            k,
            'schedule',
          ]);
      }),
    );
    arrayAt(field(f, 'approval'), 'autoApproveWhenOnCall').forEach((name, j) =>
      checkSchedule(name, ['flows', i, 'approval', 'autoApproveWhenOnCall', j]),
    );
    arrayAt(field(f, 'automatic'), 'whileOnCall').forEach((name, j) =>
      checkSchedule(name, ['flows', i, 'automatic', 'whileOnCall', j]),
    );
    arrayAt(field(f, 'automatic'), 'targets').forEach((t, j) =>
      checkIntegration(field(t, 'integration'), ['flows', i, 'automatic', 'targets', j, 'integration']),
    );
    for (const side of ['include', 'exclude'])
      arrayAt(field(f, 'grantees'), side).forEach((p, j) => checkGroup(p, ['flows', i, 'grantees', side, j]));
    arrayAt(field(f, 'approval'), 'steps').forEach((step, j) =>
      arrayAt(step, 'approvers').forEach((a, k) =>
        checkGroup(a, ['flows', i, 'approval', 'steps', j, 'approvers', k]),
      ),
    );
    arrayAt(f, 'targets').forEach((t, j) =>
      checkIntegration(field(t, 'integration'), ['flows', i, 'targets', j, 'integration']),
    );
    arrayAt(f, 'bundles').forEach((name, j) => {
      if (typeof name === 'string' && !bundleNames.has(name)) {
        report(['flows', i, 'bundles', j], `unknown bundle "${name}" (${where})`);
      }
    });
  });

  if (problems.length > 0) throw new FlowsFileError(source, sortProblems(problems));
  const declared: DeclaredConfig = { integrations, bundles, flows };
  if (contextItems.length > 0) declared.contextSources = contextSources;
  if (settings !== undefined) declared.settings = settings;
  return declared;
}

type Report = (p: Path, message: string) => void;

function listAt(root: Record<string, unknown>, key: string, report: Report): unknown[] {
  const value = root[key];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    report([key], `expected a list, received ${describe(value)}`);
    return [];
  }
  return value;
}

/**
 * Parses with the zod schema and reports each issue at its full path. Keys the schema does not
 * know are reported as well: flowSchema strips them silently, and in a hand-written file an unknown
 * key is nearly always a typo (`aproval:`) whose policy would otherwise be quietly ignored.
 */
function validate<T>(schema: z.ZodType<T>, input: unknown, at: Path, report: Report): T | undefined {
  const result = schema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) reportIssue(issue, input, at, report);
    return undefined;
  }
  const unknown: Path[] = [];
  findStrippedKeys(input, result.data, [], unknown);
  for (const p of unknown) report([...at, ...p], 'unknown field');
  return unknown.length > 0 ? undefined : result.data;
}

function validateSettings(input: unknown, report: Report): Partial<Settings> | undefined {
  const parsed = validate(settingsSchema.partial(), input, ['settings'], report);
  if (!parsed || !isPlainObject(input)) return undefined;
  // partial() still fills top-level defaults; keep only what the file sets so applying it does not
  // reset the settings it leaves out.
  return Object.fromEntries(Object.entries(parsed).filter(([k]) => k in input)) as Partial<Settings>;
}

function reportIssue(issue: z.core.$ZodIssue, input: unknown, at: Path, report: Report): void {
  const rel: Path = issue.path.map((k) => (typeof k === 'number' ? k : String(k)));
  if (issue.code === 'unrecognized_keys') {
    for (const key of issue.keys) report([...at, ...rel, key], 'unknown field');
    return;
  }
  const value = valueAt(input, rel);
  if (issue.code === 'invalid_union' && isPlainObject(value)) {
    // When one branch has exactly the keys given, its own complaints are the real ones
    // (`tags: {}` should say "at least one tag", not that the selector matches nothing).
    const fitting = issue.errors.find(
      (branch) =>
        branch.length > 0 &&
        branch.every(
          (b) =>
            b.code !== 'unrecognized_keys' &&
            !(b.path.length === 1 && valueAt(value, [String(b.path[0])]) === undefined) &&
            b.path.length > 0,
        ),
    );
    if (fitting) {
      for (const sub of fitting) reportIssue(sub, value, [...at, ...rel], report);
      return;
    }
  }
  report([...at, ...rel], issueMessage(issue, value));
}

/** zod's wording, rephrased where it reads poorly to someone editing YAML. */
function issueMessage(issue: z.core.$ZodIssue, value: unknown): string {
  const plain = issue.message.replace(/^(Invalid input|Invalid option|Too small|Too big): /, '');
  if (issue.code === 'invalid_type') {
    return value === undefined ? `required (expected ${issue.expected})` : plain;
  }
  if (issue.code === 'invalid_union') {
    if (issue.discriminator && 'options' in issue && issue.options) {
      const options = issue.options.map(String).join(', ');
      return value === undefined ? `required (one of ${options})` : `expected one of ${options}`;
    }
    // A union of strict objects each identified by one key (a resource selector): name the keys.
    const objectBranches = issue.errors.every((branch) =>
      branch.every((b) => !(b.code === 'invalid_type' && b.path.length === 0)),
    );
    if (isPlainObject(value) && issue.errors.length > 0 && objectBranches) {
      const keys = issue.errors.map((branch) => {
        const missing = branch.find((b) => b.code === 'invalid_type' && b.path.length === 1);
        if (missing && value[String(missing.path[0])] === undefined) return String(missing.path[0]);
        const unknown = branch.flatMap((b) =>
          b.code === 'unrecognized_keys' && b.path.length === 0 ? b.keys : [],
        );
        return Object.keys(value).find((k) => !unknown.includes(k));
      });
      if (keys.every((k) => k !== undefined)) return `expected exactly one of the keys ${keys.join(', ')}`;
    }
    return plain === 'Invalid input' ? 'matches none of the allowed forms' : plain;
  }
  return plain;
}

function valueAt(value: unknown, p: Path): unknown {
  let v = value;
  for (const part of p) {
    if (Array.isArray(v) && typeof part === 'number') v = v[part];
    else if (isPlainObject(v)) v = v[String(part)];
    else return undefined;
  }
  return v;
}

function findStrippedKeys(input: unknown, output: unknown, at: Path, out: Path[]): void {
  if (Array.isArray(input) && Array.isArray(output)) {
    input.forEach((v, i) => findStrippedKeys(v, output[i], [...at, i], out));
  } else if (isPlainObject(input) && isPlainObject(output)) {
    for (const [k, v] of Object.entries(input)) {
      if (!(k in output)) out.push([...at, k]);
      else findStrippedKeys(v, output[k], [...at, k], out);
    }
  }
}

function resolveSecret(
  ref: string | { env: string },
  env: NodeJS.ProcessEnv,
  problem: (msg: string) => void,
): string | undefined {
  if (typeof ref !== 'string') {
    const value = env[ref.env];
    // Blank counts as unset, as in loadConfig: an empty password is a deploy mistake, not a choice.
    if (!value) {
      problem(`environment variable ${ref.env} is not set`);
      return undefined;
    }
    return value;
  }
  let failed = false;
  // `$${` is an escape for a literal `${`; any other `$` is literal.
  const value = ref.replace(/\$\$\{|\$\{([^}]*)\}|\$\{/g, (match, name: string | undefined) => {
    if (match === '$${') return '${';
    if (name === undefined) {
      failed = true;
      problem('unterminated ${ (write $${ for a literal ${)');
      return match;
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      failed = true;
      problem(`invalid variable reference \${${name}}`);
      return match;
    }
    const v = env[name];
    if (!v) {
      failed = true;
      problem(`environment variable ${name} is not set`);
      return match;
    }
    return v;
  });
  return failed ? undefined : value;
}

function checkUnique(kind: string, items: unknown[], at: Path, report: Report): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const name = field(item, 'name');
    if (typeof name !== 'string') return;
    const first = seen.get(name);
    if (first === undefined) seen.set(name, i);
    else report([...at, i, 'name'], `duplicate ${kind} name "${name}" (also ${formatPath([...at, first])})`);
  });
}

function namesOf(items: unknown[]): string[] {
  return items.map((item) => field(item, 'name')).filter((n): n is string => typeof n === 'string');
}

function field(value: unknown, key: string): unknown {
  return isPlainObject(value) ? value[key] : undefined;
}

function arrayAt(value: unknown, key: string): unknown[] {
  const v = field(value, key);
  return Array.isArray(v) ? v : [];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'a list';
  if (isPlainObject(value)) return 'a mapping';
  return typeof value;
}

/**
 * The line of the node at `p`: of its key when it is a mapping entry (a nested block starts on the
 * line after its key, and the key is what the reader looks for), or of its nearest ancestor that
 * exists in the document (a missing key is reported where its parent mapping starts; a value
 * reached through an alias or merge key, at the alias or the including mapping).
 */
function lineForPath(doc: Document, p: Path, lineOf: (offset: number) => number): number {
  for (let n = p.length; n > 0; n--) {
    const parent: unknown = n === 1 ? doc.contents : doc.getIn(p.slice(0, n - 1), true);
    const last = p[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((item) => isScalar(item.key) && String(item.key.value) === String(last));
      const range = pair && isScalar(pair.key) ? pair.key.range : undefined;
      if (range) return lineOf(range[0]);
    } else if (isSeq(parent) && typeof last === 'number') {
      const range = (parent.items[last] as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) return lineOf(range[0]);
    }
  }
  const range = (doc.contents as { range?: [number, number, number] } | null)?.range;
  return range ? lineOf(range[0]) : 1;
}

function formatPath(p: Path): string {
  let out = '';
  for (const part of p) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_-]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(part)}]`;
  }
  return out;
}

function sortProblems(problems: FlowsFileProblem[]): FlowsFileProblem[] {
  return problems
    .map((p, i) => [p, i] as const)
    .sort(([a, i], [b, j]) => a.line - b.line || i - j)
    .map(([p]) => p);
}
