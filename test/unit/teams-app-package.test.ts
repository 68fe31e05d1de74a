/**
 * The Teams app package: its manifest is valid against Microsoft's published JSON schema (bundled
 * in @microsoft/app-manifest) with the host and app id filled in, and the zip holds the two icons
 * Teams asks for. `npm run package:teams` writes it, and refuses bad settings with the reason.
 */
import { describe, expect, it } from '@jest/globals';
import ajvDraft04 from 'ajv-draft-04';
import ajvFormats from 'ajv-formats';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { unzipSync, strFromU8 } from 'fflate';
import { PNG } from 'pngjs';
import { fillManifest, teamsAppPackage } from '../../src/channels/teams/app-package.js';

// Both are CommonJS modules whose export is on `default` when imported from ESM.
const Ajv = ajvDraft04.default;
const addFormats = ajvFormats.default;

const TEMPLATE = readFileSync('manifests/teams/manifest.template.json', 'utf8');
const SETTINGS = { host: 'latch.example.com', appId: '8a3c1f2e-5b6d-4e7f-9a0b-1c2d3e4f5a6b' };

function schemaFor(version: string): object {
  const file = path.resolve(
    `node_modules/@microsoft/app-manifest/build/json-schemas/teams/v${version}/MicrosoftTeams.schema.json`,
  );
  return JSON.parse(readFileSync(file, 'utf8').replace(/^\uFEFF/, '')) as object;
}

describe('the Teams manifest', () => {
  const manifest = fillManifest(TEMPLATE, SETTINGS) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  it('is valid against the official schema of the version it declares (1.19 or newer)', () => {
    const version = String(manifest.manifestVersion);
    expect(Number(version.split('.')[1])).toBeGreaterThanOrEqual(19);
    expect(manifest.$schema).toBe(
      `https://developer.microsoft.com/json-schemas/teams/v${version}/MicrosoftTeams.schema.json`,
    );
    const ajv = new Ajv({ allErrors: true, strict: false });
    addFormats(ajv);
    const validate = ajv.compile(schemaFor(version));
    const ok = validate(manifest);
    expect(validate.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    // And the check can fail: a manifest without its accent colour, or with a bad bot id, is refused.
    const { accentColor: _dropped, ...noAccent } = manifest;
    expect(validate(noAccent)).toBe(false);
    expect(validate({ ...manifest, bots: [{ ...manifest.bots[0], botId: 'not-a-guid' }] })).toBe(false);
  });

  it('names the bot, the personal tab, SSO and the domain from the settings', () => {
    expect(manifest.id).toBe(SETTINGS.appId);
    expect(manifest.bots).toEqual([expect.objectContaining({ botId: SETTINGS.appId, scopes: ['personal'] })]);
    expect(manifest.bots[0].commandLists[0].commands.map((c: { title: string }) => c.title)).toEqual([
      'request',
      'list',
      'revoke',
      'help',
    ]);
    expect(manifest.staticTabs[0]).toMatchObject({
      contentUrl: 'https://latch.example.com/teams/tab',
      scopes: ['personal'],
    });
    expect(manifest.validDomains).toEqual(['latch.example.com']);
    expect(manifest.webApplicationInfo).toEqual({
      id: SETTINGS.appId,
      resource: `api://latch.example.com/${SETTINGS.appId}`,
    });
  });

  it('refuses a host with a scheme or an app id that is not a GUID', () => {
    expect(() => fillManifest(TEMPLATE, { ...SETTINGS, host: 'https://latch.example.com' })).toThrow(
      /not a host name/,
    );
    expect(() => fillManifest(TEMPLATE, { ...SETTINGS, appId: 'latch-bot' })).toThrow(/not a GUID/);
  });
});

describe('the Teams app package', () => {
  const files = unzipSync(teamsAppPackage(TEMPLATE, SETTINGS));

  it('holds the manifest and the two icons at its root', () => {
    expect(Object.keys(files).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    expect(JSON.parse(strFromU8(files['manifest.json']!))).toEqual(fillManifest(TEMPLATE, SETTINGS));
  });

  it('has a 192×192 opaque colour icon and a 32×32 outline icon of white on transparent', () => {
    const color = PNG.sync.read(Buffer.from(files['color.png']!));
    expect([color.width, color.height]).toEqual([192, 192]);
    const colorAlpha = new Set<number>();
    for (let i = 3; i < color.data.length; i += 4) colorAlpha.add(color.data[i]!);
    expect([...colorAlpha]).toEqual([255]);

    const outline = PNG.sync.read(Buffer.from(files['outline.png']!));
    expect([outline.width, outline.height]).toEqual([32, 32]);
    const kinds = new Set<string>();
    for (let i = 0; i < outline.data.length; i += 4) {
      const [r, g, b, a] = outline.data.subarray(i, i + 4);
      kinds.add(
        a === 0 ? 'transparent' : r === 255 && g === 255 && b === 255 && a === 255 ? 'white' : 'other',
      );
    }
    expect([...kinds].sort()).toEqual(['transparent', 'white']);
  });
});

describe('npm run package:teams', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/package-teams.ts', ...args], {
      env: { ...process.env, LATCH_PUBLIC_URL: '', MicrosoftAppId: '', ...env },
    });

  it('writes the zip from LATCH_PUBLIC_URL and MicrosoftAppId', async () => {
    const out = path.join(mkdtempSync(path.join(os.tmpdir(), 'latch-teams-')), 'app.zip');
    const { stdout } = await run(['--out', out], {
      LATCH_PUBLIC_URL: 'https://latch.example.com',
      MicrosoftAppId: SETTINGS.appId,
    });
    expect(stdout).toContain(out);
    const manifest = JSON.parse(strFromU8(unzipSync(readFileSync(out))['manifest.json']!));
    expect(manifest.validDomains).toEqual(['latch.example.com']);
  });

  it('says what is missing and exits 2', async () => {
    const failed = await run([]).then(
      () => undefined,
      (err: { code: number; stderr: string }) => err,
    );
    expect(failed?.code).toBe(2);
    expect(failed?.stderr).toMatch(/not a host name[\s\S]*not a GUID[\s\S]*usage: npm run package:teams/);
  });
});
