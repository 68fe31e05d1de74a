/**
 * No secret in any log at any level (issue 10, item 5). Latch runs as a real process at
 * LOG_LEVEL=trace, its Slack app talking to a Web API stand-in, and the whole credential path is
 * driven over signed HTTP: /access, the request modal, an automatic approval, the grant of a
 * temporary PostgreSQL login, "Show credentials" and the credentials modal. Then every byte the
 * process wrote to stdout and stderr is searched for the generated password, the integration's
 * password, the bot token, the signing secret and the encryption key.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ACTION, BLOCK, VIEW } from '../../blocks/slack/ids.js';
import { connectDatabase } from '../../src/store/db.js';
import { freePort } from '../../src/store/embedded-mongo.js';
import { createPgDatabase, schemaId } from '../support/fixture.js';
import { startLatchProcess, type LatchProcess } from '../support/latch-process.js';
import { multiExternalSelected, plainInput, selectedValue, SlackDriver } from '../support/slack-driver.js';
import { blockKitValidator, buttonsOf, TEAM, textOf } from '../support/slack-harness.js';
import { startSlackStandIn, type SlackStandIn } from '../support/slack-stand-in.js';

const alice = { id: 'U0ALICE', name: 'alice' };

const signingSecret = randomBytes(24).toString('hex');
const botToken = `xoxb-${randomBytes(5).readUInt32BE()}-${randomBytes(12).toString('hex')}`;
const encryptionKey = randomBytes(32).toString('base64');
const pgUrl = new URL(process.env.PG_URL!);
// The test cluster may trust every local connection; the password is given all the same, so Latch
// opens it as it would a real one, and it must not appear either.
const integrationPassword = decodeURIComponent(pgUrl.password) || `pg-${randomBytes(16).toString('hex')}`;

let standIn: SlackStandIn;
let latch: LatchProcess | undefined;
let driver: SlackDriver;
let dropPg: (() => Promise<void>) | undefined;
let dir: string;
let dbName: string;
let mongoUri: string;

beforeAll(async () => {
  standIn = await startSlackStandIn({ validate: blockKitValidator });
  standIn.addToken(botToken, { teamId: TEAM });
  standIn.addUser({ id: alice.id, email: 'alice@example.com', realName: 'Alice Liddell' });
  const pg = await createPgDatabase('nosecret');
  dropPg = pg.drop;

  dir = mkdtempSync(path.join(os.tmpdir(), 'latch-no-secrets-'));
  const flowsFile = path.join(dir, 'latch.config.yaml');
  writeFileSync(
    flowsFile,
    [
      'integrations:',
      '  - name: pg',
      '    type: postgresql',
      '    config:',
      `      host: ${JSON.stringify(pgUrl.hostname)}`,
      `      port: ${Number(pgUrl.port)}`,
      `      user: ${JSON.stringify(decodeURIComponent(pgUrl.username))}`,
      '      database: postgres',
      `      databases: [${JSON.stringify(pg.database)}]`,
      '      mode: temporary_login',
      '    secrets:',
      '      password: { env: LATCH_TEST_PG_PASSWORD }',
      'flows:',
      '  - name: billing-read',
      '    grantees:',
      '      include:',
      '        - { type: everyone }',
      '    targets:',
      '      - integration: pg',
      '        include:',
      `          - { id: ${JSON.stringify(schemaId(pg.database))} }`,
      '        permissions: [read]',
      '    duration:',
      '      choicesMinutes: [60]',
      '      maxMinutes: 60',
      '',
    ].join('\n'),
  );

  dbName = `t_nosecret_${randomBytes(4).toString('hex')}`;
  const uri = new URL(process.env.MONGODB_URI!);
  uri.pathname = `/${dbName}`;
  mongoUri = uri.toString();
  const port = await freePort();
  latch = await startLatchProcess({
    env: {
      NODE_ENV: 'test',
      LOG_LEVEL: 'trace',
      PORT: String(port),
      MONGODB_URI: mongoUri,
      LATCH_DATA_DIR: path.join(dir, 'data'),
      LATCH_ENCRYPTION_KEY: encryptionKey,
      LATCH_ADMINS: 'admin@example.com',
      LATCH_CONFIG: flowsFile,
      SLACK_SIGNING_SECRET: signingSecret,
      SLACK_BOT_TOKEN: botToken,
      SLACK_API_URL: standIn.url,
      LATCH_TEST_PG_PASSWORD: integrationPassword,
    },
    ready: 'web listening',
  });
  driver = new SlackDriver({
    url: `http://127.0.0.1:${port}/slack/events`,
    signingSecret,
    teamId: TEAM,
    responseUrlBase: standIn.hooksUrl,
  });
}, 120_000);

afterAll(async () => {
  await latch?.stop('SIGKILL');
  await standIn?.close();
  await dropPg?.();
  if (dbName) {
    const db = await connectDatabase(mongoUri);
    await db.conn.dropDatabase();
    await db.close();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('logs at LOG_LEVEL=trace', () => {
  it('hold no credential, integration secret, token, signing secret or key along the whole credential path', async () => {
    // /access billing: the modal opens and is filled in with the billing schema chosen.
    let mark = standIn.mark();
    expect((await driver.command(alice, '/access', 'billing')).status).toBe(200);
    const opened = await standIn.waitForCall('views.open', undefined, { after: mark, timeoutMs: 20_000 });
    const viewId = (opened.response.view as { id: string }).id;
    await standIn.waitForCall('views.update', (a) => a.view_id === viewId, {
      after: mark,
      timeoutMs: 20_000,
    });
    const view = standIn.view(viewId)!;
    expect(view.callback_id).toBe(VIEW.request);
    const resources = (
      view.blocks as Array<{ block_id?: string; element?: { initial_options?: unknown } }>
    ).find((b) => b.block_id === BLOCK.resources)!;
    const [chosen] = resources.element!.initial_options as Array<{ value: string; text: { text: string } }>;
    expect(chosen).toBeDefined();

    // Submitted: the flow has no approval steps, so the worker grants it at once.
    const submit = await driver.viewSubmission(alice, view, {
      [BLOCK.resources]: {
        [ACTION.resources]: multiExternalSelected([{ value: chosen!.value, text: chosen!.text.text }]),
      },
      [BLOCK.permission]: { [ACTION.permission]: selectedValue('read') },
      [BLOCK.duration]: { [ACTION.duration]: selectedValue('60', '1 hour') },
      [BLOCK.justification]: { [ACTION.justification]: plainInput('checking invoices') },
    });
    expect(submit.status).toBe(200);
    const granted = await standIn.waitForCall(
      'chat.postMessage',
      (a) => buttonsOf(a.blocks as unknown[]).some((b) => b.action_id === ACTION.showCredentials),
      30_000,
    );

    // Show credentials: the modal carries the generated password.
    const show = buttonsOf(granted.args.blocks as unknown[]).find(
      (b) => b.action_id === ACTION.showCredentials,
    )!;
    const grantedMsg = standIn.messagesTo(alice.id).at(-1)!;
    mark = standIn.mark();
    await driver.blockActions(alice, [{ action_id: ACTION.showCredentials, value: show.value }], {
      message: { ts: grantedMsg.ts, channel: grantedMsg.channel, blocks: grantedMsg.blocks },
    });
    const reveal = await standIn.waitForCall('views.open', undefined, { after: mark, timeoutMs: 20_000 });
    const password = /\*password\*: `([^`]+)`/.exec(textOf([reveal.args.view]))?.[1];
    expect(password).toMatch(/^[A-Za-z0-9_-]{20,}$/);

    // Stopped first, so that every line it had to write is written.
    await latch!.stop();
    const output = latch!.output();

    // Logging really was at trace: the Web API calls of this path were logged, at debug.
    expect(output.length).toBeGreaterThan(0);
    const lines = latch!.logLines();
    expect(lines.some((l) => typeof l.level === 'number' && l.level <= 20)).toBe(true);
    expect(output).toContain('views.open');

    const secrets: Record<string, string> = {
      'generated PostgreSQL password': password!,
      'integration password': integrationPassword,
      'bot token': botToken,
      'signing secret': signingSecret,
      'encryption key': encryptionKey,
      'encryption key (hex)': Buffer.from(encryptionKey, 'base64').toString('hex'),
    };
    // Only names and the masked line are reported, so a failure does not print the secret.
    const leaks = Object.entries(secrets).flatMap(([name, value]) =>
      output
        .split('\n')
        .filter((line) => line.includes(value))
        .slice(0, 2)
        .map((line) => `${name}: ${line.split(value).join('<SECRET>').slice(0, 400)}`),
    );
    expect(leaks).toEqual([]);
  }, 120_000);
});
