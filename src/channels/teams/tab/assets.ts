/**
 * The personal tab's page and its files (docs/ARCHITECTURE.md, "Teams channel", "Personal tab"):
 * a static page, its script and style from `public/` beside this module, and the Teams JavaScript
 * SDK's browser bundle from node_modules, all served by Latch under /teams/tab with a
 * Content-Security-Policy that lets only Teams (and Latch itself) frame the page and only Latch
 * serve its scripts and answer its requests.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Router } from '../../../web/server.js';

export const TAB_PATH = '/teams/tab';

/** Where Teams frames the tab: the Teams web and desktop clients, Microsoft 365 and Outlook. */
export const FRAME_ANCESTORS = [
  "'self'",
  'https://teams.microsoft.com',
  'https://*.teams.microsoft.com',
  'https://*.office.com',
  'https://*.cloud.microsoft',
];

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  `frame-ancestors ${FRAME_ANCESTORS.join(' ')}`,
].join('; ');

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(file: string, type: string): Asset {
  const body = readFileSync(file);
  return { body, type, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
}

const here = path.dirname(fileURLToPath(import.meta.url));

/** `public/` beside this module's source (after `npm run build` it runs from dist/src/, the files stay in src/). */
function publicDir(): string {
  const beside = path.join(here, 'public');
  if (existsSync(beside)) return beside;
  const sep = path.sep;
  return path.join(here.replace(`${sep}dist${sep}src${sep}`, `${sep}src${sep}`), 'public');
}

/** The tab's files by path; read once, when the routes are mounted. */
export function tabAssets(): Map<string, Asset> {
  const dir = publicDir();
  const sdk = createRequire(import.meta.url).resolve('@microsoft/teams-js'); // dist/umd/MicrosoftTeams.min.js
  return new Map([
    [TAB_PATH, asset(path.join(dir, 'index.html'), 'text/html; charset=utf-8')],
    [`${TAB_PATH}/tab.js`, asset(path.join(dir, 'tab.js'), 'text/javascript; charset=utf-8')],
    [`${TAB_PATH}/tab.css`, asset(path.join(dir, 'tab.css'), 'text/css; charset=utf-8')],
    [`${TAB_PATH}/teams-js.min.js`, asset(sdk, 'text/javascript; charset=utf-8')],
  ]);
}

export function mountAssets(router: Router): void {
  for (const [route, file] of tabAssets()) {
    router.on('GET', route, (req, res) => {
      const headers = {
        'content-type': file.type,
        'content-security-policy': CONTENT_SECURITY_POLICY,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
        // Revalidated on every load, so a new Latch is never answered with an old script.
        'cache-control': 'no-cache',
        etag: file.etag,
      };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers).end();
        return;
      }
      res.writeHead(200, { ...headers, 'content-length': file.body.length }).end(file.body);
    });
  }
}
