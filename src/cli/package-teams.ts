/**
 * Builds the Teams app package an admin uploads (Teams admin center, or Apps > Manage your apps >
 * Upload an app):
 *   npm run package:teams -- [--host latch.example.com] [--app-id GUID] [--out latch-teams.zip]
 * --host defaults to the host of LATCH_PUBLIC_URL, --app-id to MicrosoftAppId. Exits 2 when either
 * is missing or malformed, saying which.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { packageSettingsProblems, teamsAppPackage } from '../channels/teams/app-package.js';

const TEMPLATE = 'manifests/teams/manifest.template.json';

function main(): number {
  let values;
  try {
    ({ values } = parseArgs({
      options: { host: { type: 'string' }, 'app-id': { type: 'string' }, out: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 2;
  }
  const publicUrl = process.env.LATCH_PUBLIC_URL;
  const host = values.host ?? hostOf(publicUrl);
  const appId = values['app-id'] ?? process.env.MicrosoftAppId ?? '';
  const problems = packageSettingsProblems({ host, appId });
  if (problems.length) {
    process.stderr.write(
      `${problems.join('\n')}\nusage: npm run package:teams -- --host latch.example.com --app-id <MicrosoftAppId>\n`,
    );
    return 2;
  }
  const out = path.resolve(values.out ?? 'latch-teams.zip');
  writeFileSync(out, teamsAppPackage(readFileSync(TEMPLATE, 'utf8'), { host, appId }));
  process.stdout.write(`wrote ${out} (manifest for ${host}, bot ${appId})\n`);
  return 0;
}

function hostOf(url: string | undefined): string {
  try {
    return url ? new URL(url).host : '';
  } catch {
    return '';
  }
}

process.exitCode = main();
