/**
 * Agenda on the same MongoDB connection as mongoose. The sweep job is recurring and long-running:
 * the worker that holds its lock runs the sweep loop and touches the lock; the others stand by.
 */
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { Database } from '../store/db.js';
import type { Logger } from '../logger.js';
import type { SweepLoop } from './sweep-loop.js';
import type { ContextSync } from '../context/sync.js';
import type { AutomaticGrants } from '../lifecycle/automatic.js';
import type { Reconciliation } from '../lifecycle/reconcile.js';

export const SWEEP_JOB = 'latch:sweep';
/** One recurring job per context source (`data.source`), every `syncEveryMinutes`. */
export const CONTEXT_SYNC_JOB = 'latch:context-sync';
/** Keeps the per-source jobs in step with the sources, and reports sources that turned stale. */
export const CONTEXT_SCHEDULE_JOB = 'latch:context-schedule';
/** Reads every integration's real access and compares it with Latch's (docs/ARCHITECTURE.md, "Reconciliation"). */
export const RECONCILE_JOB = 'latch:reconcile';

export interface JobsOptions {
  /** Agenda's polling interval: how soon a standby worker notices the sweep job is free. */
  processEveryMs: number;
  /** A dead worker's hold on the sweep job runs out after this long. */
  lockLifetimeMs: number;
}

/**
 * A standby worker polls every second and takes the sweep job over 5 s after its holder last
 * touched it (the loop touches it every second); with 6 s leases renewed while work runs
 * (src/lifecycle/transitions/claims.ts), a dead worker's revokes are finished by another within seconds.
 */
export const WORKER_JOBS: JobsOptions = { processEveryMs: 1_000, lockLifetimeMs: 5_000 };

export interface RunningJobs {
  agenda: Agenda;
  stop(): Promise<void>;
}

export async function startJobs(
  db: Database,
  loop: SweepLoop,
  log: Logger,
  opts: JobsOptions,
  context?: ContextSync,
  /** Automatic grants follow the rotas: checked every minute and after each sync. */
  automatic?: AutomaticGrants,
  reconcile?: { reconciliation: Reconciliation; everyMinutes: number },
): Promise<RunningJobs> {
  const mongo = db.conn.db;
  if (!mongo) throw new Error('database connection is not open');
  const agenda = new Agenda({
    backend: new MongoBackend({ mongo, collection: 'agendaJobs' }),
    processEvery: opts.processEveryMs,
    defaultLockLifetime: opts.lockLifetimeMs,
  });
  const stopping = new AbortController();
  agenda.define(
    SWEEP_JOB,
    async (job) => {
      log.info('this worker now runs the sweeps');
      await loop.run(stopping.signal, () => job.touch());
      log.info('sweep loop stopped');
    },
    { concurrency: 1, lockLifetime: opts.lockLifetimeMs },
  );
  if (context) defineContextJobs(agenda, db, context, log, stopping.signal, opts.lockLifetimeMs, automatic);
  if (reconcile)
    agenda.define(
      RECONCILE_JOB,
      async () => {
        for (const report of await reconcile.reconciliation.runAll())
          if (!report.ok) log.warn(report, 'reconciliation of an integration failed');
          else if (report.missing || report.revoked || report.revokeFailed)
            log.warn(report, 'reconciliation found drift');
          else log.info(report, 'integration reconciled');
      },
      // One listing of every system can take a while; a long lock keeps a second worker out.
      { concurrency: 1, lockLifetime: 10 * 60_000 },
    );
  agenda.on('error', (err: unknown) => log.error({ err }, 'agenda error'));
  await agenda.start();
  await agenda.every('5 seconds', SWEEP_JOB);
  if (context) await agenda.every('1 minute', CONTEXT_SCHEDULE_JOB);
  if (reconcile && reconcile.everyMinutes > 0)
    await agenda.every(`${reconcile.everyMinutes} minutes`, RECONCILE_JOB);
  return {
    agenda,
    stop: async () => {
      stopping.abort();
      // Let the running sweep finish its tick so its claims are released, not left to expire.
      const deadline = Date.now() + 10_000;
      while (loop.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      await agenda.stop(false);
    },
  };
}

/**
 * Context syncs (docs/ARCHITECTURE.md, "Context sources"): a recurring Agenda job per source, so a
 * slow source never delays another and Agenda's lock keeps one worker on each. Sources are saved
 * by any process (console, flows file); the schedule job, every minute on one worker, creates the
 * job of a new source, re-creates one whose interval changed, cancels those of deleted sources,
 * and has admins told of sources that turned stale (even when their syncs no longer run at all).
 */
function defineContextJobs(
  agenda: Agenda,
  db: Database,
  context: ContextSync,
  log: Logger,
  stopping: AbortSignal,
  lockLifetimeMs: number,
  automatic?: AutomaticGrants,
): void {
  const followRotas = async () => {
    if (!automatic || stopping.aborted) return;
    try {
      const report = await automatic.check();
      if (report.started + report.ended + report.extended > 0 || report.problems.length > 0)
        log.info(report, 'automatic grants checked');
    } catch (err) {
      log.warn({ err }, 'automatic grants could not be checked; the next minute tries again');
    }
  };
  agenda.define<{ source: string }>(
    CONTEXT_SYNC_JOB,
    async (job) => {
      // Touched while it runs, so its lock can be short: Agenda checks a running job every half
      // lock lifetime, and that wait outlives the job (a long lock kept stopping processes alive).
      const touching = setInterval(
        () =>
          void job.touch().catch((err: unknown) => log.warn({ err }, 'could not touch a context sync job')),
        Math.max(250, Math.floor(lockLifetimeMs / 3)),
      );
      try {
        const report = await context.run(job.attrs.data.source, stopping);
        if (!report.ok && 'busy' in report)
          log.debug({ source: report.source }, 'context source is being synced elsewhere');
        if (report.ok) await followRotas();
      } finally {
        clearInterval(touching);
      }
    },
    { concurrency: 2, lockLifetime: lockLifetimeMs },
  );
  agenda.define(
    CONTEXT_SCHEDULE_JOB,
    async () => {
      await scheduleContextJobs(agenda, db);
      await context.checkStale();
      await followRotas();
    },
    { concurrency: 1 },
  );
}

export async function scheduleContextJobs(agenda: Agenda, db: Database): Promise<void> {
  const mongo = db.conn.db;
  if (!mongo) return;
  const [sources, jobs] = await Promise.all([
    db.models.ContextSource.find({}, { name: 1, syncEveryMinutes: 1 }).lean(),
    mongo
      .collection<{ data?: { source?: string }; repeatInterval?: string }>('agendaJobs')
      .find(
        { name: CONTEXT_SYNC_JOB, repeatInterval: { $exists: true } },
        { projection: { data: 1, repeatInterval: 1 } },
      )
      .toArray(),
  ]);
  const wanted = new Map(sources.map((s) => [s.name, `${s.syncEveryMinutes} minutes`]));
  for (const j of jobs) {
    const source = j.data?.source;
    if (source !== undefined && wanted.get(source) === j.repeatInterval) {
      wanted.delete(source);
      continue;
    }
    await agenda.cancel({ id: String((j as { _id?: unknown })._id) });
  }
  for (const [source, interval] of wanted) {
    // The first sync of a new source runs now; insertOnly keeps two workers from making two jobs.
    await agenda
      .create(CONTEXT_SYNC_JOB, { source })
      .unique({ name: CONTEXT_SYNC_JOB, 'data.source': source }, { insertOnly: true })
      .repeatEvery(interval)
      .save();
  }
}
