/**
 * Channels see the core only through use-cases and queries: the lint configuration refuses a
 * channel (or a view builder) that imports the core's models or reaches into its collections.
 */
import { describe, expect, it } from '@jest/globals';
import { ESLint } from 'eslint';

const eslint = new ESLint({ cwd: process.cwd() });

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return (result?.messages ?? []).map((m) => `${m.ruleId}: ${m.message}`);
}

describe('the channel boundary', () => {
  it('refuses a channel that imports the core models or the lifecycle context', async () => {
    for (const spec of ['../../store/models.js', '../../store/db.js', '../../lifecycle/context.js']) {
      const found = await problems(
        'src/channels/slack/forbidden.ts',
        `import type { X } from '${spec}';\nexport type Y = X;\n`,
      );
      expect(found).toEqual([expect.stringMatching(/^no-restricted-imports: .*not its store/)]);
    }
  });

  it('refuses a channel that reaches into the collections through an object it was handed', async () => {
    const found = await problems(
      'src/channels/slack/forbidden.ts',
      'export const count = (latch: { db: { models: { Request: { countDocuments(): number } } } }) =>\n  latch.db.models.Request.countDocuments();\n',
    );
    expect(found).toEqual([expect.stringMatching(/^no-restricted-syntax: .*not its collections/)]);
  });

  it('lets the core itself use its store', async () => {
    const found = await problems(
      'src/lifecycle/allowed.ts',
      "import type { RequestDoc } from '../store/models.js';\nexport type Y = RequestDoc;\n",
    );
    expect(found).toEqual([]);
  });
});

describe('request writes', () => {
  const write = (where: string) =>
    problems(
      where,
      'export const end = (db: { models: { Request: { updateOne(f: object, u: object): unknown } } }) =>\n  db.models.Request.updateOne({}, { $set: { state: "revoked" } });\n',
    );

  it('refuses a use-case or sweep that changes a request without the transitions module', async () => {
    for (const where of ['src/lifecycle/requests/forbidden.ts', 'src/lifecycle/sweeps/forbidden.ts'])
      expect(await write(where)).toEqual([
        expect.stringMatching(/^no-restricted-syntax: .*change only through/),
      ]);
  });

  it('lets the transitions module write them', async () => {
    expect(await write('src/lifecycle/transitions/allowed.ts')).toEqual([]);
  });
});
