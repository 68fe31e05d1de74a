/** Flows as code: the YAML file is validated in full, then applied by upsert at start. */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Db } from 'mongodb';
import { CONNECTOR_FACTORIES, CONNECTOR_VALIDATORS } from '../../src/app.js';
import { applyDeclaredConfig } from '../../src/config/apply.js';
import { FlowsFileError, loadFlowsFile, parseFlowsFile } from '../../src/config/flows-file.js';
import { postgresConfigSchema } from '../../src/connectors/postgres/index.js';
import { LatchError } from '../../src/lifecycle/errors.js';
import { admin, createFixture, createPgDatabase, person, type Fixture } from '../support/fixture.js';

let fx: Fixture;
let database: string;
let dropDb: () => Promise<void>;

function yaml(db: string, approverLine = '- { type: user, id: admin@example.com }'): string {
  const u = new URL(process.env.PG_URL!);
  return `
integrations:
  - name: main-pg
    type: postgresql
    config: { host: ${u.hostname}, port: ${u.port}, user: ${u.username}, databases: [${db}] }
    secrets:
      password: { env: TEST_PG_PASSWORD }
    tags: { env: test }
bundles:
  - name: billing-kit
    targets:
      - { integration: main-pg, resource: "db:${db}/schema:billing", permission: read }
flows:
  - name: Billing readers
    grantees: { include: [{ type: group, id: finance }] }
    targets:
      - integration: main-pg
        include: [{ tags: { env: test } }]
        permissions: [read]
    bundles: [billing-kit]
    approval:
      steps:
        - approvers:
            ${approverLine}
    duration: { choicesMinutes: [30, 60] }
settings:
  expiryWarningMinutes: 5
`;
}

beforeAll(async () => {
  fx = await createFixture('flowsfile');
  ({ database, drop: dropDb } = await createPgDatabase('ff'));
}, 60_000);
afterAll(async () => {
  await fx.close();
  await dropDb();
});

describe('the flows file', () => {
  it('ships an example whose integrations are valid connector configuration', async () => {
    const text = await readFile(new URL('../../examples/latch.config.yaml', import.meta.url), 'utf8');
    const declared = parseFlowsFile(text, {
      source: 'examples/latch.config.yaml',
      env: { PROD_DB_PASSWORD: 'x', ANALYTICS_DB_PASSWORD: 'y' },
      integrationTypes: CONNECTOR_VALIDATORS,
    });
    expect(declared.integrations.length).toBeGreaterThan(0);
    for (const integ of declared.integrations) {
      expect(Object.keys(CONNECTOR_FACTORIES)).toContain(integ.type);
      expect(postgresConfigSchema.safeParse(integ.config).success).toBe(true);
    }
  });

  it('is applied by upsert: secrets sealed, resources discovered, flows usable, re-applying changes nothing', async () => {
    const env = { TEST_PG_PASSWORD: 'pw-never-stored-in-clear' };
    const declared = parseFlowsFile(yaml(database), { source: 'latch.config.yaml', env });
    const report = await applyDeclaredConfig(fx.latch.ctx, fx.latch.admin, declared);
    expect(report).toMatchObject({ integrations: 1, bundles: 1, flows: 1, discoveryErrors: [] });

    const raw = await fx.db.conn.db!.collection('integrations').findOne({ name: 'main-pg' });
    expect(JSON.stringify(raw)).not.toContain('pw-never-stored-in-clear');
    expect(String(raw!.secrets.password)).toMatch(/^v1:/);

    const resources = await fx.latch.ctx.catalog(['main-pg']);
    expect(resources.map((r) => r.id)).toContain(`db:${database}/schema:billing`);
    expect(resources.every((r) => r.tags.env === 'test')).toBe(true);

    const finn = person('finn', ['finance']);
    const req = await fx.latch.requests.submit(finn, {
      bundle: 'billing-kit',
      durationMinutes: 30,
      source: 'api',
    });
    expect(req.flowName).toBe('Billing readers');
    expect((await fx.latch.ctx.settings()).expiryWarningMinutes).toBe(5);

    const auditBefore = (await fx.latch.audit.latest(1000)).length;
    const again = await applyDeclaredConfig(
      fx.latch.ctx,
      fx.latch.admin,
      parseFlowsFile(yaml(database), { source: 'x', env }),
    );
    expect(again).toMatchObject({ integrations: 0, bundles: 0, flows: 0 });
    const changes = (await fx.latch.audit.latest(1000)).slice(0, -auditBefore || undefined);
    expect(changes.filter((e) => e.action.startsWith('flow.'))).toHaveLength(0);

    const edited = parseFlowsFile(yaml(database, '- { type: group, id: finance-leads }'), {
      source: 'x',
      env,
    });
    expect((await applyDeclaredConfig(fx.latch.ctx, fx.latch.admin, edited)).flows).toBe(1);
    const updates = await fx.latch.audit.latest(5, { action: 'flow.updated' });
    expect(updates[0]!.actor).toEqual({ type: 'system', id: 'config-file' });
    await fx.latch.requests.cancel(finn, req.id);
  });

  it('reports a bad field with its path and line, and nothing is applied', async () => {
    const bad = yaml(database).replace('choicesMinutes: [30, 60]', 'choicesMinutes: [30, "soon"]');
    let error: unknown;
    try {
      parseFlowsFile(bad, { source: 'latch.config.yaml', env: { TEST_PG_PASSWORD: 'x' } });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FlowsFileError);
    const line = bad.split('\n').findIndex((l) => l.includes('"soon"')) + 1;
    expect((error as Error).message).toContain(
      `latch.config.yaml:${line}: flows[0].duration.choicesMinutes[1]`,
    );
    expect(await fx.latch.admin.listFlows(admin)).toHaveLength(1);
  });
});

/** Documents per collection: "nothing was written" means this does not change. */
async function snapshot(db: Db): Promise<Record<string, number>> {
  const names = (await db.listCollections({}, { nameOnly: true }).toArray()).map((c) => c.name).sort();
  return Object.fromEntries(
    await Promise.all(names.map(async (n) => [n, await db.collection(n).countDocuments()] as const)),
  );
}

/** A valid integration, then one of an unknown type, then one with invalid connector settings. */
function badFile(db: string): string {
  const u = new URL(process.env.PG_URL!);
  return `integrations:
  - name: fine-pg
    type: postgresql
    config: { host: ${u.hostname}, port: ${u.port}, user: ${u.username}, databases: [${db}] }
    tags: { env: test }
  - name: odd
    type: foo
  - name: broken-pg
    type: postgresql
    config:
      user: latch
      port: "abc"
    secrets:
      password: { env: BROKEN_PG_PASSWORD }
bundles:
  - name: fine-kit
    targets:
      - { integration: fine-pg, resource: "db:${db}/schema:billing", permission: read }
flows:
  - name: Fine readers
    grantees: { include: [{ type: everyone }] }
    targets:
      - { integration: fine-pg, permissions: [read] }
    duration: { maxMinutes: 30 }
`;
}

/** `file:line: path: message` for each problem in badFile. */
function expectedProblems(text: string, source: string): string[] {
  const line = (needle: string) => text.split('\n').findIndex((l) => l.trimEnd().endsWith(needle)) + 1;
  return [
    `${source}:${line('type: foo')}: integrations[1].type: unknown integration type "foo"; known: ${Object.keys(CONNECTOR_VALIDATORS).join(', ')}`,
    // A missing key is reported where its mapping starts.
    `${source}:${line('    config:')}: integrations[2].config.host: required (expected string)`,
    `${source}:${line('port: "abc"')}: integrations[2].config.port: expected number, received string`,
  ];
}

describe('a flows file with a bad integration after a good one', () => {
  const secret = 'broken-pw-s3cr3t';
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'latch-flows-bad-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is refused whole with file:line: path: message for each problem, and nothing is written', async () => {
    const file = path.join(dir, 'latch.config.yaml');
    const text = badFile(database);
    writeFileSync(file, text);
    const before = await snapshot(fx.db.conn.db!);

    const err = await loadFlowsFile(file, {
      source: 'latch.config.yaml',
      env: { BROKEN_PG_PASSWORD: secret },
      integrationTypes: fx.latch.registry.settingsValidators(),
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FlowsFileError);
    const lines = (err as Error).message.split('\n').map((l) => l.trim());
    expect(lines.slice(1)).toEqual(expectedProblems(text, 'latch.config.yaml'));
    expect((err as Error).message).not.toContain(secret);

    // Applying a config parsed without the connector checks is refused before the first write too.
    const unchecked = parseFlowsFile(text, { source: 'x', env: { BROKEN_PG_PASSWORD: secret } });
    const applied = await applyDeclaredConfig(fx.latch.ctx, fx.latch.admin, unchecked).catch(
      (e: unknown) => e,
    );
    expect(applied).toBeInstanceOf(LatchError);
    expect((applied as Error).message).toMatch(/^Integration odd: Unknown integration type foo/);

    expect(await snapshot(fx.db.conn.db!)).toEqual(before);
    expect(await fx.db.models.Integration.exists({ name: 'fine-pg' })).toBeNull();
  });

  it('stops start-up with the problems on stderr, no stack trace, exit code 1, and an empty database', async () => {
    const file = path.join(dir, 'start.yaml');
    writeFileSync(file, badFile(database));
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const dbName = `${fx.dbName}_main`;
    const uri = new URL(process.env.MONGODB_URI!);
    uri.pathname = `/${dbName}`;
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', 'src/main.ts'],
        {
          cwd,
          timeout: 50_000,
          // No Slack variables: the chat channel is not needed to apply the flows file.
          env: {
            PATH: process.env.PATH,
            HOME: process.env.HOME,
            NODE_ENV: 'test',
            LOG_LEVEL: 'warn',
            MONGODB_URI: uri.toString(),
            LATCH_CONFIG: file,
            LATCH_DATA_DIR: path.join(dir, 'data'),
            BROKEN_PG_PASSWORD: secret,
          },
        },
        (error, _stdout, stderr) =>
          resolve({ code: error ? ((error as { code?: number }).code ?? null) : 0, stderr: String(stderr) }),
      );
    });
    const source = path.relative(cwd, file);
    for (const problem of expectedProblems(badFile(database), source))
      expect(result.stderr).toContain(problem);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(result.stderr).not.toContain(secret);
    expect(result.code).toBe(1);

    const startDb = fx.db.conn.getClient().db(dbName);
    try {
      const counts = await snapshot(startDb);
      expect(Object.values(counts).every((n) => n === 0)).toBe(true);
    } finally {
      await startDb.dropDatabase();
    }
  }, 60_000);
});

describe('saving an integration from the admin console', () => {
  const secret = 'console-pw-s3cr3t';

  it('refuses invalid settings before writing anything, naming the field', async () => {
    const before = await snapshot(fx.db.conn.db!);
    const stored = await fx.db.models.Integration.findOne({ name: 'main-pg' }).lean();
    const save = (input: Parameters<typeof fx.latch.admin.saveIntegration>[1]) =>
      fx.latch.admin.saveIntegration(admin, input).then(
        () => undefined,
        (e: unknown) => e as LatchError,
      );

    const badPort = await save({
      name: 'console-pg',
      type: 'postgresql',
      config: { host: 'db.internal', user: 'latch', port: 'abc' },
      secrets: { password: secret },
    });
    expect(badPort).toBeInstanceOf(LatchError);
    expect(badPort).toMatchObject({ code: 'invalid', field: 'config' });
    expect(badPort!.message).toContain('config.port: expected number, received string');
    expect(badPort!.message).not.toContain(secret);

    const unknownType = await save({ name: 'console-x', type: 'foo', config: {} });
    expect(unknownType).toMatchObject({ code: 'invalid', field: 'type' });
    expect(unknownType!.message).toContain('Unknown integration type foo; known: postgresql');

    // An edit of an existing integration: a blank secret keeps the stored one, a misspelt one is refused.
    const typo = await save({
      name: 'main-pg',
      type: 'postgresql',
      config: { ...(stored!.config as Record<string, unknown>), host: '' },
      secrets: { password: '', pasword: secret },
    });
    expect(typo).toMatchObject({ code: 'invalid', field: 'config' });
    expect(typo!.message).toContain('config.host: expected string to have >=1 characters');
    expect(typo!.message).toContain('secrets.pasword: unknown secret');
    expect(typo!.message).not.toContain(secret);

    expect(await snapshot(fx.db.conn.db!)).toEqual(before);
    expect(await fx.db.models.Integration.findOne({ name: 'main-pg' }).lean()).toEqual(stored);
  });

  it('saves valid settings, keeping a stored secret left blank', async () => {
    const stored = await fx.db.models.Integration.findOne({ name: 'main-pg' }).lean();
    await fx.latch.admin.saveIntegration(admin, {
      name: 'main-pg',
      type: 'postgresql',
      config: stored!.config as Record<string, unknown>,
      description: 'edited',
      secrets: { password: '' },
    });
    const after = await fx.db.models.Integration.findOne({ name: 'main-pg' }).lean();
    expect(after!.description).toBe('edited');
    expect(after!.secrets).toEqual(stored!.secrets);
    expect(await fx.latch.admin.discover(admin, 'main-pg')).toBeGreaterThan(0);
  });
});
