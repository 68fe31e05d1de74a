/**
 * Starts Latch. `npm start` runs the web and worker roles in one process with the embedded
 * database; `--role web|worker` (or LATCH_ROLE) runs one role against a shared MONGODB_URI.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { CONTEXT_VALIDATORS, createLatch, type Latch } from './app.js';
import { parseAuditKey } from './audit/chain-key.js';
import { FileCheckpointWitness } from './audit/checkpoints.js';
import { ConfigError, loadConfig, type Config, type ProcessRole } from './config.js';
import { applyDeclaredConfig } from './config/apply.js';
import { FlowsFileError, loadFlowsFile } from './config/flows-file.js';
import { slackAuditChannelWitness } from './channels/slack/audit-witness.js';
import { createSlackCore, startSlackApp, type SlackChannel } from './channels/slack/index.js';
import { createTeamsCore, startTeamsBot } from './channels/teams/index.js';
import { teamsTab } from './channels/teams/tab/index.js';
import { startJobs, WORKER_JOBS, type RunningJobs } from './jobs/agenda.js';
import { LoggingNotifier } from './lifecycle/logging-notifier.js';
import { createLogger, type Logger } from './logger.js';
import { connectDatabase } from './store/db.js';
import { EMBEDDED_URI_FILE, startEmbeddedMongo, type EmbeddedMongo } from './store/embedded-mongo.js';
import { resolveEncryptionKey } from './store/secrets.js';
import { startWebServer, type WebServer } from './web/server.js';

/** A start-up failure whose message says it all (no stack trace needed). */
class StartupError extends Error {}

/** Stopped if start-up fails, so a failed start leaves no database process behind. */
let startedEmbedded: EmbeddedMongo | undefined;

export async function run(roleOverride?: ProcessRole): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      process.exit(1);
    }
    throw err;
  }
  const role = roleOverride ?? roleFromArgs() ?? config.role;
  const log = createLogger(config.logLevel);

  let embedded: EmbeddedMongo | undefined;
  let uri = config.mongodbUri;
  if (!uri) {
    if (role !== 'all') {
      console.error(`Running the ${role} role alone needs a MongoDB the other role shares: set MONGODB_URI.`);
      process.exit(1);
    }
    embedded = await startEmbeddedMongo({
      stateDir: config.dataDir,
      persistent: true,
      log: (m) => log.info(m),
    });
    uri = embedded.uri;
    startedEmbedded = embedded;
    writeFileSync(path.join(config.dataDir, EMBEDDED_URI_FILE), uri + '\n');
    log.info(
      { database: embedded.kind, data: embedded.dataPath },
      `database: embedded ${embedded.kind}, data in ${embedded.dataPath}`,
    );
  } else {
    log.info({ database: redactUri(uri) }, 'database: MONGODB_URI');
  }
  const db = await connectDatabase(uri);
  const encryptionKey = resolveEncryptionKey({
    configuredKey: config.encryptionKey,
    nodeEnv: config.nodeEnv,
    dataDir: config.dataDir,
    log: (m) => log.warn(m),
  });
  const slackCore = config.slack
    ? await createSlackCore({ conn: db.conn, config: config.slack, encryptionKey, log })
    : undefined;
  const teamsCore = config.teams
    ? await createTeamsCore({ config: config.teams, conn: db.conn, encryptionKey, log }).catch(
        (err: Error) => {
          throw new StartupError(err.message);
        },
      )
    : undefined;
  const latch = createLatch({
    db,
    encryptionKey,
    log,
    envAdmins: config.admins,
    notifier: new LoggingNotifier(log),
    processMetrics: true,
    channels: {
      ...(slackCore ? { slack: slackCore.notifier } : {}),
      ...(teamsCore ? { teams: teamsCore.notifier } : {}),
    },
    // Receivers with a private CA: NODE_EXTRA_CA_CERTS (README, "Lifecycle webhooks").
    webhooks: {},
    expiryWarningMinutes: config.expiryWarningMinutes,
    loop: { tickMs: config.sweepIntervalMs },
    auditKey: config.auditKey ? parseAuditKey(config.auditKey) : undefined,
    // The audit log's head, checkpointed outside MongoDB (audit-checkpoints.jsonl).
    auditWitnesses: [FileCheckpointWitness.inDataDir(config.dataDir)],
  });

  // The notifier reads through the core's queries, which exist only now.
  slackCore?.notifier.bind(latch);
  // Every role delivers the outbox (the worker's sweeps too), so Teams deliveries need no bot here.
  teamsCore?.notifier.bind(teamsCore.adapter, latch);
  if (slackCore)
    latch.audit.addWitness(
      slackAuditChannelWitness({
        auditChannel: async () => (await latch.ctx.settings()).auditChannel,
        workspaces: slackCore.workspaces,
      }),
    );

  if (config.configFile) await applyFlowsFile(latch, config.configFile, log);

  let server: WebServer | undefined;
  let jobs: RunningJobs | undefined;
  let slack: SlackChannel | undefined;
  if (role === 'all' || role === 'web') {
    if (slackCore) {
      slack = await startSlackApp(slackCore, latch, { log, envAdmins: config.admins }).catch((err: Error) => {
        throw new StartupError(err.message);
      });
      log.info(slack.routes ? 'Slack: HTTP mode at /slack/events' : 'Slack: Socket Mode connected');
    } else {
      log.warn(
        `Slack is not configured (SLACK_BOT_TOKEN or SLACK_CLIENT_ID)${config.teams ? '' : ': no chat channel is running'}`,
      );
    }
    const teams = teamsCore ? startTeamsBot(teamsCore, latch, log) : undefined;
    if (teams) log.info('Teams: bot at /api/messages');
    const tab = teamsCore
      ? teamsTab({
          config: teamsCore.config,
          core: latch,
          log,
          hosts: config.publicUrl ? [new URL(config.publicUrl).host] : [],
        })
      : undefined;
    if (tab) log.info(`Teams: personal tab at ${tab.path}`);
    server = await startWebServer(latch, {
      port: config.port,
      routes: [
        ...(slack?.routes ? [slack.routes] : []),
        ...(teams ? [teams.routes] : []),
        ...(tab ? [tab.routes] : []),
      ],
      front: config.ackFront && slack?.commandAcks ? { slack: slack.commandAcks } : undefined,
      // Without its front the process cannot be reached: stop, so the supervisor starts a new one.
      onFrontLost: () => void stop('front lost', 1),
    });
    log.info({ port: config.port }, `web listening on :${config.port}`);
  }
  if (role === 'all' || role === 'worker') {
    jobs = await startJobs(db, latch.loop, log, WORKER_JOBS, latch.contextSync, latch.automatic, {
      reconciliation: latch.reconciliation,
      everyMinutes: config.reconcileMinutes,
    });
    log.info('worker started');
  }

  let stopping = false;
  const stop = async (signal: string, exitCode = 0) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    // Whatever below hangs (a peer that never answers), the process is gone within this bound.
    setTimeout(() => {
      log.error('shutdown took too long; exiting anyway');
      process.exit(1);
    }, SHUTDOWN.hardMs).unref();
    if (server) await server.close(SHUTDOWN.connectionsMs);
    await jobs?.stop();
    await slack?.stop();
    // Deliveries under way get a bounded wait; whatever is not delivered stays in the outbox, in
    // MongoDB, and goes out from the next process that runs the sweeps.
    const queued = await latch.outbox.drain(SHUTDOWN.drainMs);
    await slackCore?.notifier.close();
    await latch.outbox.release();
    if (queued > 0) log.warn({ requests: queued }, 'stopped with messages still queued in the outbox');
    await latch.close();
    await db.close();
    if (embedded) {
      rmSync(path.join(config.dataDir, EMBEDDED_URI_FILE), { force: true });
      await embedded.stop();
    }
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/** How long a stop may take: open HTTP connections, delivering what is queued, everything. */
const SHUTDOWN = { connectionsMs: 5_000, drainMs: 10_000, hardMs: 30_000 };

async function applyFlowsFile(latch: Latch, file: string, log: Logger): Promise<void> {
  const source = path.relative(process.cwd(), file) || file;
  try {
    const { Integration, Bundle, ContextSource } = latch.db.models;
    const [integrations, bundles, contextSources] = await Promise.all([
      Integration.distinct('name'),
      Bundle.distinct('name'),
      ContextSource.distinct('name'),
    ]);
    // Everything is validated, connector settings included, before the first write.
    const declared = await loadFlowsFile(file, {
      source,
      env: process.env,
      known: {
        integrations: integrations as string[],
        bundles: bundles as string[],
        contextSources: contextSources as string[],
      },
      integrationTypes: latch.registry.settingsValidators(),
      contextTypes: CONTEXT_VALIDATORS,
    });
    const report = await applyDeclaredConfig(latch.ctx, latch.admin, declared);
    log.info({ file, ...report }, 'flows file applied');
    for (const e of report.discoveryErrors) log.warn(`discovery failed for ${e}`);
  } catch (err) {
    if (err instanceof FlowsFileError) throw new StartupError(err.message);
    // Anything else (the database went away part-way, a refused change): one line, no stack trace.
    const message = err instanceof Error ? err.message : String(err);
    throw new StartupError(`${source}: applying the flows file failed: ${message.replace(/\s*\n\s*/g, ' ')}`);
  }
}

function roleFromArgs(): ProcessRole | undefined {
  const i = process.argv.indexOf('--role');
  const v = i >= 0 ? process.argv[i + 1] : undefined;
  return v === 'web' || v === 'worker' || v === 'all' ? v : undefined;
}

function redactUri(uri: string): string {
  return uri.replace(/\/\/([^@/]+)@/, '//***@');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().catch(async (err) => {
    console.error(err instanceof StartupError ? err.message : err);
    await startedEmbedded?.stop().catch(() => undefined);
    process.exit(1);
  });
}
