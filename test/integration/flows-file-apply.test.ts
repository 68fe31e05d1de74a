/** Flows as code: the YAML file is validated in full, then applied by upsert at start. */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CONNECTOR_FACTORIES } from '../../src/app.js';
import { applyDeclaredConfig } from '../../src/config/apply.js';
import { FlowsFileError, parseFlowsFile } from '../../src/config/flows-file.js';
import { postgresConfigSchema } from '../../src/connectors/postgres/index.js';
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
