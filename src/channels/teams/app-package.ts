/**
 * The Teams app package an admin uploads (docs/ARCHITECTURE.md, "Teams channel"): the manifest
 * (manifests/teams/manifest.template.json with Latch's host and the bot's app id filled in) and
 * the two icons, zipped.
 */
import { strToU8, zipSync } from 'fflate';
import { colorIcon, outlineIcon } from './icons.js';

export interface TeamsPackageSettings {
  /** Where Latch is reached from Teams, without scheme: `latch.example.com` (a port is allowed). */
  host: string;
  /** The bot's Microsoft app id (a GUID): MicrosoftAppId. */
  appId: string;
}

const HOST =
  /^(?=.{1,253}(:\d{1,5})?$)[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:\d{1,5})?$/i;
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** What is wrong with the settings, one line each; empty when they can be used. */
export function packageSettingsProblems(s: TeamsPackageSettings): string[] {
  const problems: string[] = [];
  if (!HOST.test(s.host))
    problems.push(
      `host ${JSON.stringify(s.host)} is not a host name (no scheme or path): e.g. latch.example.com`,
    );
  if (!GUID.test(s.appId))
    problems.push(`app id ${JSON.stringify(s.appId)} is not a GUID (the bot's MicrosoftAppId)`);
  return problems;
}

/** The manifest with the placeholders filled in; refuses a template with one left over. */
export function fillManifest(template: string, s: TeamsPackageSettings): Record<string, unknown> {
  const problems = packageSettingsProblems(s);
  if (problems.length) throw new Error(problems.join('\n'));
  const values: Record<string, string> = {
    LATCH_HOST: s.host.toLowerCase(),
    MICROSOFT_APP_ID: s.appId.toLowerCase(),
  };
  const filled = template.replace(/\$\{\{(\w+)\}\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) throw new Error(`the manifest template uses an unknown placeholder ${whole}`);
    return value;
  });
  return JSON.parse(filled) as Record<string, unknown>;
}

/** The zip: manifest.json, color.png and outline.png at its root, as Teams expects. */
export function teamsAppPackage(template: string, s: TeamsPackageSettings): Uint8Array {
  const manifest = fillManifest(template, s);
  return zipSync({
    'manifest.json': strToU8(JSON.stringify(manifest, null, 2)),
    'color.png': colorIcon(),
    'outline.png': outlineIcon(),
  });
}
