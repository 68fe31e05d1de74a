/** The Teams personal tab served alone, and its API called as the page calls it (with an SSO token). */
import type { Latch } from '../../src/app.js';
import { teamsTab } from '../../src/channels/teams/tab/index.js';
import { silentLogger } from '../../src/logger.js';
import { startWebServer, type WebServer } from '../../src/web/server.js';
import { TAB_HOST } from './bot-framework-stand-in.js';

export function startTabServer(
  latch: Latch,
  opts: { appId: string; tenantId: string; authority: string },
): Promise<WebServer> {
  const tab = teamsTab({
    config: { appId: opts.appId, appType: 'SingleTenant', tenantId: opts.tenantId },
    core: latch,
    log: silentLogger,
    hosts: [TAB_HOST],
    authority: opts.authority,
  });
  return startWebServer(latch, { port: 0, routes: [tab.routes] });
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = any;

/**
 * One call of the tab's API, its body sent as JSON; `raw` sends a string as it is (to send what
 * JSON cannot say). `seen` gets the answer as it came, for tests that search every answer.
 */
export async function tabRequest(
  server: WebServer,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
  opts: { raw?: boolean; seen?: (text: string) => void } = {},
): Promise<{ status: number; body: Json }> {
  const res = await fetch(`http://127.0.0.1:${server.port}/teams/tab/api${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : opts.raw && typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  opts.seen?.(text);
  return { status: res.status, body: JSON.parse(text) as Json };
}
