/**
 * The Slack app manifests users create the app from must ask for what the code uses: the same bot
 * scopes Latch requests at install, the one slash command, an event subscription for every
 * `app.event(...)` listener, interactivity, and URLs that land on Latch's routes. The Socket Mode
 * variant must carry no URLs at all (Slack refuses them with Socket Mode on).
 */
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { BOT_SCOPES, SLACK_EVENTS_PATH, SLACK_REDIRECT_PATH } from '../../src/channels/slack/receiver.js';

type Manifest = {
  display_information?: { name?: string };
  features?: {
    app_home?: Record<string, boolean>;
    bot_user?: { display_name?: string };
    slash_commands?: Array<{ command: string; url?: string; should_escape?: boolean }>;
    shortcuts?: unknown[];
  };
  oauth_config?: { scopes?: { bot?: string[]; user?: string[] }; redirect_urls?: string[] };
  settings?: {
    event_subscriptions?: { request_url?: string; bot_events?: string[]; user_events?: string[] };
    interactivity?: { is_enabled?: boolean; request_url?: string; message_menu_options_url?: string };
    org_deploy_enabled?: boolean;
    socket_mode_enabled?: boolean;
    token_rotation_enabled?: boolean;
  };
};

const file = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
const LISTENERS = '../../src/channels/slack/listeners/';

function load(name: string): Manifest {
  return parse(readFileSync(file(`../../manifests/slack/${name}`), 'utf8')) as Manifest;
}

/** Every string at a key ending in `url` or `urls`, with its path, anywhere in the manifest. */
function urlsIn(value: unknown, path = ''): Array<{ path: string; url: unknown }> {
  if (Array.isArray(value)) return value.flatMap((v, i) => urlsIn(v, `${path}[${i}]`));
  if (!value || typeof value !== 'object') return [];
  return Object.entries(value as Record<string, unknown>).flatMap(([k, v]) => {
    const here = path ? `${path}.${k}` : k;
    if (/urls?$/i.test(k)) return (Array.isArray(v) ? v : [v]).map((url) => ({ path: here, url }));
    return urlsIn(v, here);
  });
}

/** The first argument of every `app.<kind>('...')` call in one listener file. */
function registered(kind: 'event' | 'command', fileName: string): string[] {
  const source = readFileSync(file(LISTENERS + fileName), 'utf8');
  const call = `\\bapp\\.${kind}\\s*(?:<[^>]*>)?\\(\\s*`;
  const names = [...source.matchAll(new RegExp(`${call}['"\`]([^'"\`]+)['"\`]`, 'g'))].map((m) => m[1]!);
  // A listener named by a variable or a RegExp cannot be checked against the manifest: fail instead.
  const calls = source.match(new RegExp(call, 'g')) ?? [];
  if (calls.length !== names.length)
    throw new Error(`${fileName}: app.${kind}(...) with a non-literal name; name it with a string literal`);
  return names;
}

const sorted = (xs: readonly string[] | undefined) => [...(xs ?? [])].sort();

const manifests = [
  ['manifest.yml', load('manifest.yml')],
  ['manifest.socket-mode.yml', load('manifest.socket-mode.yml')],
] as const;

describe.each(manifests)('%s', (_name, manifest) => {
  it('asks for exactly the bot scopes Latch requests at install, and no user scopes', () => {
    const bot = manifest.oauth_config?.scopes?.bot ?? [];
    expect(new Set(bot).size).toBe(bot.length);
    expect(sorted(bot)).toEqual(sorted(BOT_SCOPES));
    expect(manifest.oauth_config?.scopes?.user ?? []).toEqual([]);
  });

  it('declares the slash commands the listeners register, and only /access', () => {
    const commands = (manifest.features?.slash_commands ?? []).map((c) => c.command);
    expect(commands).toEqual(['/access']);
    expect(sorted(commands)).toEqual(sorted(registered('command', 'commands.ts')));
    // Latch reads user ids from the payload, not escaped mentions in the text.
    expect(manifest.features?.slash_commands?.[0]?.should_escape).toBe(false);
  });

  it('subscribes to exactly the events the listeners handle', () => {
    const handled = registered('event', 'events.ts');
    expect(handled.length).toBeGreaterThan(0);
    const events = manifest.settings?.event_subscriptions?.bot_events ?? [];
    expect(new Set(events).size).toBe(events.length);
    expect(sorted(events)).toEqual(sorted(handled));
    expect(manifest.settings?.event_subscriptions?.user_events ?? []).toEqual([]);
  });

  it('registers no event listeners outside events.ts, nor message or shortcut listeners', () => {
    // Otherwise the regex above would miss them and the manifest could lag behind.
    for (const f of readdirSync(file(LISTENERS)).filter((x) => x.endsWith('.ts'))) {
      const source = readFileSync(file(LISTENERS + f), 'utf8');
      if (f !== 'events.ts') expect({ f, events: registered('event', f) }).toEqual({ f, events: [] });
      expect({ f, other: source.match(/\bapp\.(message|shortcut|function)\b/g) }).toEqual({ f, other: null });
    }
    expect(manifest.features?.shortcuts).toBeUndefined();
  });

  it('enables interactivity, App Home and a read-only Messages tab', () => {
    expect(manifest.settings?.interactivity?.is_enabled).toBe(true);
    expect(manifest.features?.app_home).toEqual({
      home_tab_enabled: true,
      messages_tab_enabled: true,
      messages_tab_read_only_enabled: true,
    });
    expect(manifest.display_information?.name).toBe('Latch');
    expect(manifest.features?.bot_user?.display_name).toBe('latch');
    expect(manifest.settings?.org_deploy_enabled).toBe(false);
    expect(manifest.settings?.token_rotation_enabled).toBe(false);
  });
});

describe('manifest.yml (HTTP mode)', () => {
  const m = load('manifest.yml');

  it('is not Socket Mode', () => {
    expect(m.settings?.socket_mode_enabled).toBe(false);
  });

  it('sends everything to /slack/events and OAuth to /slack/oauth_redirect, on one https host', () => {
    const urls = urlsIn(m);
    expect(urls.map((u) => u.path).sort()).toEqual([
      'features.slash_commands[0].url',
      'oauth_config.redirect_urls',
      'settings.event_subscriptions.request_url',
      'settings.interactivity.message_menu_options_url',
      'settings.interactivity.request_url',
    ]);
    const hosts = new Set<string>();
    for (const { path, url } of urls) {
      expect({ path, url: typeof url }).toEqual({ path, url: 'string' });
      const u = new URL(url as string);
      hosts.add(u.host);
      expect({ path, protocol: u.protocol }).toEqual({ path, protocol: 'https:' });
      const want = path.startsWith('oauth_config') ? SLACK_REDIRECT_PATH : SLACK_EVENTS_PATH;
      expect({ path, pathname: u.pathname }).toEqual({ path, pathname: want });
    }
    expect([...hosts]).toEqual(['latch.example.com']);
  });
});

describe('manifest.socket-mode.yml', () => {
  const m = load('manifest.socket-mode.yml');

  it('is Socket Mode', () => {
    expect(m.settings?.socket_mode_enabled).toBe(true);
  });

  it('has no URLs anywhere', () => {
    expect(urlsIn(m)).toEqual([]);
  });

  it('is manifest.yml without its URLs and with Socket Mode on', () => {
    const strip = (v: unknown): unknown => {
      if (Array.isArray(v)) return v.map(strip);
      if (!v || typeof v !== 'object') return v;
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>)
          .filter(([k]) => !/urls?$/i.test(k))
          .map(([k, x]) => [k, strip(x)]),
      );
    };
    const http = strip(load('manifest.yml')) as Manifest;
    http.settings!.socket_mode_enabled = true;
    expect(m).toEqual(http);
  });
});
