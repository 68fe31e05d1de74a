/**
 * Latch as a real process on a test fixture's database: the same MongoDB database and encryption
 * key, so the fixture can set up integrations and flows and submit requests while the process
 * grants, revokes and delivers as production does. Optionally wired to a Slack Web API stand-in.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../src/store/embedded-mongo.js';
import type { Fixture } from './fixture.js';
import { startLatchProcess, type LatchProcess } from './latch-process.js';

export interface LatchOnFixture {
  process: LatchProcess;
  /** The Slack request URL of this process (HTTP mode). */
  slackUrl: string;
}

export async function startLatchOn(
  fx: Fixture,
  opts: {
    /** Slack: the stand-in's URL and the credentials the process uses with it. */
    slack?: { apiUrl: string; botToken: string; signingSecret: string };
    /** `worker` runs the worker role alone. Default: web and worker in one process. */
    role?: 'worker';
    /** Kept across restarts when given; a fresh temporary one otherwise. */
    dataDir?: string;
  } = {},
): Promise<LatchOnFixture> {
  const uri = new URL(process.env.MONGODB_URI!);
  uri.pathname = `/${fx.dbName}`;
  const port = await freePort();
  const p = await startLatchProcess({
    env: {
      NODE_ENV: 'test',
      PORT: String(port),
      MONGODB_URI: uri.toString(),
      LATCH_ENCRYPTION_KEY: fx.encryptionKey.toString('base64'),
      LATCH_DATA_DIR: opts.dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'latch-process-')),
      LOG_LEVEL: 'info',
      ...(opts.slack
        ? {
            SLACK_SIGNING_SECRET: opts.slack.signingSecret,
            SLACK_BOT_TOKEN: opts.slack.botToken,
            SLACK_API_URL: opts.slack.apiUrl,
          }
        : {}),
    },
    args: opts.role ? ['--role', opts.role] : [],
    ready: 'worker started',
  });
  return { process: p, slackUrl: `http://127.0.0.1:${port}/slack/events` };
}

/** Polls `check` until it gives something truthy, or fails the test naming `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
