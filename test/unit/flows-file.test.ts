import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FlowsFileError,
  loadFlowsFile,
  parseFlowsFile,
  type FlowsFileProblem,
} from '../../src/config/flows-file.js';
import { validatePostgresSettings } from '../../src/connectors/postgres/config.js';
import { settingsIssues } from '../../src/connectors/settings.js';
import { z } from 'zod';

const source = 'latch.config.yaml';
const env = { PG_PASSWORD: 'pg-secret', REDIS_HOST: 'cache.internal', REDIS_PASS: 'r3d1s' };

const VALID = `# two integrations, a bundle, three flows
integrations:
  - name: prod-db
    type: postgres
    config:
      host: db.internal
      port: 5432
      user: latch
      database: app
      mode: temporary_login
      roleMap: { read: app_read, write: app_write }
    secrets:
      password: { env: PG_PASSWORD }
    tags: { env: prod }
  - name: cache
    type: redis
    description: Session cache
    config: { db: 0 }
    secrets:
      url: "redis://:\${REDIS_PASS}@\${REDIS_HOST}:6379"
      literal: plain-$-value
      escaped: "$\${NOT_A_VAR}"

bundles:
  - name: oncall
    targets:
      - { integration: prod-db, resource: "db:app/schema:billing", permission: read }
      - { integration: cache, resource: "sessions:*", permission: read }

flows:
  - name: self-service-read
    grantees:
      include: [{ type: everyone }]
    targets:
      - integration: prod-db
        include: [{ tags: { env: prod } }]
        permissions: [read]
    duration: { maxMinutes: 60 }
    availability:
      timeZone: America/New_York
      days: [mon, tue, wed, thu, fri]
      start: 09:00
      end: "17:30"
  - name: prod-write
    grantees:
      include: [{ type: group, id: engineering }]
      exclude: [{ type: user, id: intern@example.com }]
    targets:
      - integration: prod-db
        permissions: [write]
    approval:
      requireReason: true
      steps:
        - approvers: [{ type: resource_owner }]
        - approvers:
            - { type: group, id: dba }
          rule: { type: quorum, count: 2 }
    duration: { choicesMinutes: [30, 60], maxMinutes: 60 }
    extension: { mode: approval, maxCount: 2 }
  - name: oncall
    grantees:
      include: [{ type: group, id: sre }]
    bundles: [oncall]
    duration: { allowIndefinite: true }
    extension: { mode: direct }

settings:
  admins: [ops@example.com]
  expiryWarningMinutes: 5
`;

function problemsOf(fn: () => unknown): FlowsFileProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FlowsFileError);
    return (err as FlowsFileError).problems;
  }
  throw new Error('expected a FlowsFileError');
}

function errorOf(fn: () => unknown): FlowsFileError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FlowsFileError);
    return err as FlowsFileError;
  }
  throw new Error('expected a FlowsFileError');
}

/** 1-based line of the `occurrence`-th line containing `needle`. */
function lineOf(text: string, needle: string, occurrence = 1): number {
  let seen = 0;
  const i = text.split('\n').findIndex((l) => l.includes(needle) && ++seen === occurrence);
  if (i < 0) throw new Error(`not found: ${needle}`);
  return i + 1;
}

describe('parseFlowsFile', () => {
  it('parses a full file, applies defaults and resolves secrets', () => {
    const config = parseFlowsFile(VALID, { source, env });
    expect(config.integrations).toEqual([
      {
        name: 'prod-db',
        type: 'postgres',
        description: '',
        config: {
          host: 'db.internal',
          port: 5432,
          user: 'latch',
          database: 'app',
          mode: 'temporary_login',
          roleMap: { read: 'app_read', write: 'app_write' },
        },
        secrets: { password: 'pg-secret' },
        tags: { env: 'prod' },
      },
      {
        name: 'cache',
        type: 'redis',
        description: 'Session cache',
        config: { db: 0 },
        secrets: {
          url: 'redis://:r3d1s@cache.internal:6379',
          literal: 'plain-$-value',
          escaped: '${NOT_A_VAR}',
        },
        tags: {},
      },
    ]);
    expect(config.bundles).toEqual([
      {
        name: 'oncall',
        description: '',
        targets: [
          { integration: 'prod-db', resource: 'db:app/schema:billing', permission: 'read' },
          { integration: 'cache', resource: 'sessions:*', permission: 'read' },
        ],
      },
    ]);
    expect(config.flows.map((f) => f.name)).toEqual(['self-service-read', 'prod-write', 'oncall']);
    const [read, write, oncall] = config.flows;
    expect(read).toMatchObject({
      enabled: true,
      description: '',
      grantees: { include: [{ type: 'everyone' }], exclude: [] },
      targets: [
        { integration: 'prod-db', include: [{ tags: { env: 'prod' } }], exclude: [], permissions: ['read'] },
      ],
      approval: { steps: [], requireReason: false, timeoutMinutes: 1440 },
      duration: { maxMinutes: 60, choicesMinutes: [], allowIndefinite: false },
      // Unquoted 09:00 stays a string (YAML 1.2 has no base-60 numbers).
      availability: {
        timeZone: 'America/New_York',
        days: ['mon', 'tue', 'wed', 'thu', 'fri'],
        start: '09:00',
        end: '17:30',
      },
      extension: { mode: 'none', maxCount: 1 },
    });
    expect(write?.approval).toEqual({
      autoApproveWhenOnCall: [],
      requireReason: true,
      allowSelfApproval: false,
      timeoutMinutes: 1440,
      reminderMinutes: 60,
      steps: [
        { approvers: [{ type: 'resource_owner' }], rule: { type: 'any' } },
        { approvers: [{ type: 'group', id: 'dba' }], rule: { type: 'quorum', count: 2 } },
      ],
    });
    expect(write?.extension).toEqual({ mode: 'approval', maxCount: 2 });
    expect(oncall).toMatchObject({ bundles: ['oncall'], targets: [], duration: { allowIndefinite: true } });
    // Only the settings the file names, so applying them leaves the others alone.
    expect(config.settings).toEqual({ admins: ['ops@example.com'], expiryWarningMinutes: 5 });
  });

  it('accepts an empty file', () => {
    expect(parseFlowsFile('', { source, env })).toEqual({ integrations: [], bundles: [], flows: [] });
    expect(parseFlowsFile('# nothing yet\nflows: []\n', { source, env })).toEqual({
      integrations: [],
      bundles: [],
      flows: [],
    });
  });

  it('reports a bad field deep in a flow with its path and line', () => {
    const text = VALID.replace('rule: { type: quorum, count: 2 }', 'rule: { type: quorum, count: "2" }');
    const err = errorOf(() => parseFlowsFile(text, { source, env }));
    const line = lineOf(text, 'count: "2"');
    expect(line).toBe(57);
    expect(err.problems).toEqual([
      {
        source,
        line,
        path: 'flows[1].approval.steps[1].rule.count',
        message: 'expected number, received string',
      },
    ]);
    expect(err.message).toContain(
      `latch.config.yaml:57: flows[1].approval.steps[1].rule.count: expected number, received string`,
    );
  });

  it('lists every problem, in line order', () => {
    const text = VALID.replace('start: 09:00', 'start: "9am"')
      .replace('{ type: group, id: dba }', '{ type: team, id: dba }')
      .replace('duration: { allowIndefinite: true }', 'duration: {}')
      .replace('include: [{ tags: { env: prod } }]', 'include: [{ tags: {} }, { id: a, name: b }]');
    const problems = problemsOf(() => parseFlowsFile(text, { source, env }));
    expect(problems.map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      `${lineOf(text, 'tags: {}')}: flows[0].targets[0].include[0].tags: at least one tag`,
      `${lineOf(text, 'tags: {}')}: flows[0].targets[0].include[1]: expected exactly one of the keys id, name, tags`,
      `${lineOf(text, '9am')}: flows[0].availability.start: HH:MM (24-hour)`,
      `${lineOf(text, 'type: team')}: flows[1].approval.steps[1].approvers[0].type: expected one of user, group, resource_owner, on_call, manager`,
      `${lineOf(text, 'duration: {}')}: flows[2].duration: set maxMinutes, choicesMinutes or allowIndefinite`,
    ]);
  });

  it('names missing required fields at their parent', () => {
    const text = 'flows:\n  - name: x\n    targets:\n      - integration: db\n        permissions: [read]\n';
    const problems = problemsOf(() =>
      parseFlowsFile(text, { source, env, known: { integrations: ['db'], bundles: [] } }),
    );
    expect(problems).toEqual([
      { source, line: 2, path: 'flows[0].grantees', message: 'required (expected object)' },
      { source, line: 2, path: 'flows[0].duration', message: 'required (expected object)' },
    ]);
  });

  it('reports unknown keys, which would otherwise be dropped silently', () => {
    const text = VALID.replace(
      '    approval:\n      requireReason: true',
      '    aproval:\n      requireReason: true',
    ).replace('settings:\n', 'settings:\n  admin: [x]\n');
    const problems = problemsOf(() => parseFlowsFile(text + 'flow: []\n', { source, env }));
    expect(problems.map((p) => [p.line, p.path, p.message])).toEqual([
      [lineOf(text, 'aproval:'), 'flows[1].aproval', 'unknown field'],
      [lineOf(text, 'admin: [x]'), 'settings.admin', 'unknown field'],
      [
        lineOf(text + 'flow: []\n', 'flow: []'),
        'flow',
        'unknown top-level key (expected integrations, contextSources, bundles, flows, settings)',
      ],
    ]);
  });

  it('reports references to unknown integrations and bundles', () => {
    const text = VALID.replace(
      '      - integration: prod-db\n        permissions: [write]',
      '      - integration: prod-dbb\n        permissions: [write]',
    )
      .replace('bundles: [oncall]', 'bundles: [oncall, nightly]')
      .replace('{ integration: cache, resource', '{ integration: redis, resource');
    const err = errorOf(() => parseFlowsFile(text, { source, env }));
    expect(err.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      `${lineOf(text, 'integration: redis')}: bundles[0].targets[1].integration: unknown integration "redis" (not declared in this file)`,
      `${lineOf(text, 'prod-dbb')}: flows[1].targets[0].integration: unknown integration "prod-dbb" (not declared in this file)`,
      `${lineOf(text, 'nightly')}: flows[2].bundles[1]: unknown bundle "nightly" (not declared in this file)`,
    ]);

    // Names that exist already (in the database) are accepted.
    const config = parseFlowsFile(text, {
      source,
      env,
      known: { integrations: ['prod-dbb', 'redis'], bundles: ['nightly'] },
    });
    expect(config.flows[2]?.bundles).toEqual(['oncall', 'nightly']);
    expect(() =>
      parseFlowsFile(text, { source, env, known: { integrations: ['redis'], bundles: ['nightly'] } }),
    ).toThrow(/unknown integration "prod-dbb" \(not declared in this file and not known to Latch\)/);
  });

  it('reports duplicate names', () => {
    const text = VALID.replace(
      '  - name: oncall\n    grantees',
      '  - name: prod-write\n    grantees',
    ).replace('  - name: cache\n', '  - name: prod-db\n');
    const problems = problemsOf(() =>
      parseFlowsFile(text, { source, env, known: { integrations: ['cache'], bundles: [] } }),
    );
    expect(problems.map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      `${lineOf(text, 'name: prod-db', 2)}: integrations[1].name: duplicate integration name "prod-db" (also integrations[0])`,
      `${lineOf(text, 'name: prod-write', 2)}: flows[2].name: duplicate flow name "prod-write" (also flows[1])`,
    ]);
  });

  it('reports an unset environment variable for a secret, without leaking other secrets', () => {
    const problems = problemsOf(() => parseFlowsFile(VALID, { source, env: { REDIS_HOST: 'h' } }));
    expect(problems.map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      `${lineOf(VALID, 'PG_PASSWORD')}: integrations[0].secrets.password: environment variable PG_PASSWORD is not set`,
      `${lineOf(VALID, 'REDIS_PASS}')}: integrations[1].secrets.url: environment variable REDIS_PASS is not set`,
    ]);
    const err = errorOf(() => parseFlowsFile(VALID, { source, env: { ...env, PG_PASSWORD: '' } }));
    expect(err.message).toContain('environment variable PG_PASSWORD is not set');
    expect(err.message).not.toContain('r3d1s');
  });

  it('expands ${VAR} references and rejects malformed ones', () => {
    const yaml = (secret: string) =>
      `integrations:\n  - name: x\n    type: webhook\n    secrets:\n      token: ${JSON.stringify(secret)}\n`;
    const parse = (secret: string, e: NodeJS.ProcessEnv = { A: 'alpha', B_2: 'beta' }) =>
      parseFlowsFile(yaml(secret), { source, env: e }).integrations[0]?.secrets.token;
    expect(parse('${A}')).toBe('alpha');
    expect(parse('Bearer ${A}-${B_2}!')).toBe('Bearer alpha-beta!');
    expect(parse('no refs, $A stays')).toBe('no refs, $A stays');
    expect(parse('$${A} is literal')).toBe('${A} is literal');
    expect(() => parse('${A')).toThrow(
      /latch\.config\.yaml:5: integrations\[0\]\.secrets\.token: unterminated \$\{/,
    );
    expect(() => parse('${1BAD}')).toThrow(/invalid variable reference \$\{1BAD\}/);
    expect(() => parse('${MISSING}')).toThrow(/environment variable MISSING is not set/);
    expect(() =>
      parseFlowsFile('integrations:\n  - name: x\n    type: webhook\n    secrets:\n      token: 42\n', {
        source,
        env,
      }),
    ).toThrow(/:5: integrations\[0\]\.secrets\.token: expected a string or \{ env: VARIABLE_NAME \}/);
  });

  it('reports YAML syntax errors with their line', () => {
    const problems = problemsOf(() =>
      parseFlowsFile('flows:\n  - name: a\n    name: b\n  - [unclosed\n', { source, env }),
    );
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatchObject({ source, line: 3, path: '' });
    expect(problems[0]?.message).toMatch(/unique/);
    const err = errorOf(() => parseFlowsFile('flows: [\n', { source, env }));
    expect(err.message).toMatch(/latch\.config\.yaml:\d+: /);
  });

  it('rejects a document that is not a mapping, and lists of the wrong shape', () => {
    expect(() => parseFlowsFile('- a\n- b\n', { source, env })).toThrow(
      /latch\.config\.yaml:1: the file must be a mapping/,
    );
    expect(() => parseFlowsFile('flows:\n  name: x\n', { source, env })).toThrow(
      /latch\.config\.yaml:1: flows: expected a list, received a mapping/,
    );
  });

  it('follows YAML anchors and merge keys', () => {
    const text = `integrations:
  - { name: db, type: postgres, config: {} }
flows:
  - &base
    name: a
    grantees: { include: [{ type: everyone }] }
    targets: [{ integration: db, permissions: [read] }]
    duration: { maxMinutes: 30 }
  - <<: *base
    name: b
`;
    const config = parseFlowsFile(text, { source, env });
    expect(config.flows.map((f) => [f.name, f.duration.maxMinutes])).toEqual([
      ['a', 30],
      ['b', 30],
    ]);
  });
});

describe('loadFlowsFile', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'latch-flows-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads a file and names it in errors', async () => {
    const file = path.join(dir, 'flows.yaml');
    writeFileSync(
      file,
      'flows:\n  - name: x\n    grantees: { include: [{ type: everyone }] }\n    bundles: [nope]\n    duration: { maxMinutes: 5 }\n',
    );
    await expect(loadFlowsFile(file, { env })).rejects.toThrow(
      `${file}:4: flows[0].bundles[0]: unknown bundle "nope"`,
    );
    await expect(loadFlowsFile(file, { env, source: 'flows.yaml' })).rejects.toThrow('flows.yaml:4: ');
    await expect(loadFlowsFile(path.join(dir, 'missing.yaml'), { env })).rejects.toThrow(
      /missing\.yaml: cannot read file/,
    );
  });

  it('parses examples/latch.config.yaml', async () => {
    const example = fileURLToPath(new URL('../../examples/latch.config.yaml', import.meta.url));
    const config = await loadFlowsFile(example, {
      env: { PROD_DB_PASSWORD: 'prod-pw', ANALYTICS_DB_PASSWORD: 'analytics-pw' },
    });
    expect(config.integrations.map((i) => [i.name, i.type, i.config.mode, i.secrets])).toEqual([
      ['prod-db', 'postgresql', 'temporary_login', { password: 'prod-pw' }],
      ['analytics-db', 'postgresql', 'existing_login', { password: 'analytics-pw' }],
    ]);
    expect(config.integrations[1]?.config.loginMapping).toMatchObject({
      map: { 'alice@example.com': 'alice' },
    });
    expect(config.bundles.map((b) => b.name)).toEqual(['incident-response']);
    expect(config.flows.map((f) => f.name)).toEqual(['analytics-read', 'prod-write', 'incident']);
    expect(config.flows[2]?.approval.steps[0]?.rule).toEqual({ type: 'quorum', count: 2 });
    expect(config.settings?.fallback).toEqual({ enabled: true, approvers: [], maxMinutes: 120 });
  });
});

describe('parseFlowsFile with the connector checks', () => {
  const integrationTypes = { postgresql: validatePostgresSettings };
  const file = `integrations:
  - name: good
    type: postgresql
    config: { host: db.internal, user: latch }
    secrets:
      password: { env: PG_PASSWORD }
  - name: odd
    type: foo
    config: { anything: 1 }
  - name: broken
    type: postgresql
    config:
      port: abc
      user: latch
      hots: db.internal
    secrets:
      password: { env: PG_PASSWORD }
      pasword: { env: PG_PASSWORD }
flows:
  - name: uses-them
    grantees: { include: [{ type: everyone }] }
    targets:
      - { integration: odd, permissions: [read] }
      - { integration: broken, permissions: [read] }
    duration: { maxMinutes: 30 }
`;

  it('reports an unknown type and invalid connector settings, each with its line, all at once', () => {
    const err = errorOf(() => parseFlowsFile(file, { source, env, integrationTypes }));
    expect(err.problems.map((p) => `${p.line}: ${p.path}: ${p.message}`)).toEqual([
      `${lineOf(file, 'type: foo')}: integrations[1].type: unknown integration type "foo"; known: postgresql`,
      `${lineOf(file, 'config:', 3)}: integrations[2].config.host: required (expected string)`,
      `${lineOf(file, 'port: abc')}: integrations[2].config.port: expected number, received string`,
      `${lineOf(file, 'hots:')}: integrations[2].config.hots: unknown field`,
      `${lineOf(file, 'pasword:')}: integrations[2].secrets.pasword: unknown secret`,
    ]);
    expect(err.message).toContain(
      `latch.config.yaml:${lineOf(file, 'port: abc')}: integrations[2].config.port: expected number, received string`,
    );
    // The flows that use them are not also reported as using unknown integrations.
    expect(err.message).not.toContain('unknown integration "');
    expect(err.message).not.toContain(env.PG_PASSWORD);
  });

  it('accepts valid settings, and reports an unset secret once', () => {
    const good = file.slice(0, file.indexOf('  - name: odd'));
    expect(parseFlowsFile(good, { source, env, integrationTypes }).integrations).toEqual([
      {
        name: 'good',
        type: 'postgresql',
        description: '',
        config: { host: 'db.internal', user: 'latch' },
        secrets: { password: env.PG_PASSWORD },
        tags: {},
      },
    ]);
    const problems = problemsOf(() => parseFlowsFile(good, { source, env: {}, integrationTypes }));
    expect(problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      'integrations[0].secrets.password: environment variable PG_PASSWORD is not set',
    ]);
  });

  it('never shows a secret value in a settings problem', () => {
    const strict = {
      token: (_config: Record<string, unknown>, secrets: Record<string, string>) =>
        settingsIssues(z.object({ token: z.string().regex(/^tok_/) }), secrets, 'secrets'),
    };
    const text = 'integrations:\n  - name: t\n    type: token\n    secrets:\n      token: "${TOKEN}"\n';
    const err = errorOf(() =>
      parseFlowsFile(text, { source, env: { TOKEN: 'not-a-token-s3cr3t' }, integrationTypes: strict }),
    );
    expect(err.problems).toEqual([
      { source, line: 5, path: 'integrations[0].secrets.token', message: 'invalid value (not shown)' },
    ]);
    expect(err.message).not.toContain('s3cr3t');
  });
});
