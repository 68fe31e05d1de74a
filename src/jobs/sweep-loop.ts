/**
 * Runs the sweeps on a short tick. Agenda's own polling (seconds) is too coarse for on-time
 * revokes, so one Agenda job holds the loop and Agenda supplies the durability: if this worker
 * dies its lock runs out and another worker's Agenda starts the loop again.
 */
import type { Logger } from '../logger.js';
import type { Sweeps } from '../lifecycle/sweeps/index.js';

export interface SweepLoopOptions {
  tickMs: number;
  /** Warnings, reminders and time-outs run this often. */
  relaxedEveryMs: number;
  /** How often the holder proves it is alive (Agenda touch). */
  heartbeatEveryMs: number;
}

export class SweepLoop {
  private wake: (() => void) | null = null;
  private kicked = false;
  running = false;

  constructor(
    private readonly sweeps: Sweeps,
    private readonly log: Logger,
    private readonly opts: SweepLoopOptions,
  ) {}

  /** Something became due in this process (e.g. an approval): run a tick now instead of at the next. */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  async run(outer: AbortSignal, heartbeat: () => Promise<void> = async () => {}): Promise<void> {
    this.running = true;
    let lastRelaxed = 0;
    // The heartbeat runs on its own timer, so a long tick (a big batch on a slow store) never lets
    // the lock run out under a live worker; a failed heartbeat means another worker owns the loop.
    const lost = new AbortController();
    const signal = AbortSignal.any([outer, lost.signal]);
    let beating: Promise<void> | null = null;
    const beat = setInterval(() => {
      if (beating) return;
      beating = heartbeat()
        .catch((err: unknown) => {
          this.log.warn({ err }, 'lost the sweep lock; another worker runs the sweeps now');
          lost.abort();
        })
        .finally(() => (beating = null));
    }, this.opts.heartbeatEveryMs);
    try {
      while (!signal.aborted) {
        this.kicked = false;
        let busy = false;
        try {
          const s = await this.sweeps.tickUrgent();
          busy = s.expired + s.revoked + s.revokeFailures + s.granted + s.grantFailures > 0;
          if (Date.now() - lastRelaxed >= this.opts.relaxedEveryMs) {
            lastRelaxed = Date.now();
            await this.sweeps.tickRelaxed();
          }
        } catch (err) {
          this.log.error({ err }, 'sweep failed; retrying on the next tick');
        }
        // After a busy tick go again at once: more may be due than one batch held.
        if (!busy && !this.kicked) {
          const nextExpiry = this.sweeps.msUntilNextExpiry();
          await this.sleep(Math.min(this.opts.tickMs, nextExpiry ?? Infinity), signal);
        }
      }
    } finally {
      clearInterval(beat);
      await beating;
      this.running = false;
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
  }
}
