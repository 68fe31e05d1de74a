/**
 * Every integration type is added from App Home's integration modal (docs/ARCHITECTURE.md, "Slack
 * channel"): its settings as YAML, its secrets as key=value lines, as an admin types them; the
 * integration is saved and its resources are discovered on the real system.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import YAML from 'yaml';
import { ACTION } from '../../blocks/slack/ids.js';
import type { ConformanceFixture } from '../support/connector-conformance.js';
import { CONFORMANCE_FIXTURES } from '../support/conformance/index.js';
import { plainInput, selectedValue } from '../support/slack-driver.js';
import {
  clickToOpen,
  openHome,
  startSlackHarness,
  textOf,
  type SlackHarness,
} from '../support/slack-harness.js';

const admin = { id: 'U0ADMIN', name: 'admin' };
// One fixture per type (labels start with the type): the first listed.
const types = new Map<string, () => Promise<ConformanceFixture>>();
for (const [label, make] of CONFORMANCE_FIXTURES) {
  const type = label.split(' ')[0]!;
  if (!types.has(type)) types.set(type, make);
}

let h: SlackHarness;
const fixtures: ConformanceFixture[] = [];

beforeAll(async () => {
  h = await startSlackHarness('slack_types');
  h.standIn.addUser({ id: admin.id, email: 'admin@example.com', realName: 'Ada Admin' });
});

afterAll(async () => {
  await h?.close();
  await Promise.all(fixtures.map((f) => f.close()));
});

describe('adding each integration type from App Home', () => {
  it('covers every type Latch has', () => {
    expect([...types.keys()].sort()).toEqual([...h.latch.queries.integrationTypes()].sort());
  });

  for (const [label, make] of types) {
    it(`${label}: saved from the modal, secrets write-only, resources discovered`, async () => {
      const f = await make();
      fixtures.push(f);
      const name = `via-home-${label}`;
      const home = await openHome(h, admin, 'integrations');
      const modal = await clickToOpen(h, admin, home, ACTION.integrationNew, 'new');
      const secrets = Object.entries(f.integration.secrets)
        .map(([k, v]) => `${k}=${v}`)
        .join('\n');
      const res = await h.driver.viewSubmission(admin, modal, {
        name: { value: plainInput(name) },
        type: { value: selectedValue(f.integration.type) },
        description: { value: plainInput('') },
        config: { value: plainInput(YAML.stringify(f.integration.config)) },
        secrets: { value: plainInput(secrets) },
      });
      expect(res.json).toBeUndefined();
      expect(res.status).toBe(200);
      const found = await h.db.models.Resource.find({ integration: name }).lean();
      expect(found.map((r) => r.resourceId)).toContain(f.target.resourceId);
      const edit = await clickToOpen(
        h,
        admin,
        await openHome(h, admin, 'integrations'),
        ACTION.integrationEdit,
        name,
      );
      for (const value of Object.values(f.integration.secrets))
        expect(JSON.stringify(edit)).not.toContain(value);
      if (Object.keys(f.integration.secrets).length)
        expect(textOf(edit.blocks as unknown[])).toContain(
          `Stored: ${Object.keys(f.integration.secrets).join(', ')}`,
        );
    });
  }
});
