/**
 * Agenda on the same MongoDB connection as mongoose. The sweep job is recurring and long-running:
 * the worker that holds its lock runs the sweep loop and touches the lock; the others stand by.
 */
import { Agenda } from 'agenda';
import { MongoBackend } from '@agendajs/mongo-backend';
import type { Database } from '../store/db.js';
import type { Logger } from '../logger.js';
import type { SweepLoop } from './sweep-loop.js';

export const SWEEP_JOB = 'latch:sweep';

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
  agenda.on('error', (err: unknown) => log.error({ err }, 'agenda error'));
  await agenda.start();
  await agenda.every('5 seconds', SWEEP_JOB);
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
