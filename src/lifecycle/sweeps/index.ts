/**
 * Time-driven state changes (docs/ARCHITECTURE.md, "Time-driven work"): the sweep loop ticks these.
 * Revokes and grants are urgent; warnings, reminders and time-outs can wait a second. Each sweep
 * claims its batch through RequestClaims (../transitions/), where every request write lives.
 */
import { randomUUID } from 'node:crypto';
import type { LifecycleContext } from '../context.js';
import { RequestClaims } from '../transitions/index.js';
import { GrantSweep } from './grant-sweep.js';
import { NoticeSweeps } from './notice-sweeps.js';
import { RevokeSweep } from './revoke-sweep.js';
import { DEFAULT_SWEEP_OPTIONS, type SweepOptions, type TickStats } from './shared.js';

export { DEFAULT_SWEEP_OPTIONS, backoff, mapLimit, type SweepOptions, type TickStats } from './shared.js';

export class Sweeps {
  readonly opts: SweepOptions;
  private readonly claims: RequestClaims;
  private readonly revokes: RevokeSweep;
  private readonly grants: GrantSweep;
  private readonly notices: NoticeSweeps;

  constructor(
    private readonly ctx: LifecycleContext,
    opts: Partial<SweepOptions> = {},
  ) {
    this.opts = { ...DEFAULT_SWEEP_OPTIONS, owner: `worker-${randomUUID().slice(0, 8)}`, ...opts };
    this.claims = new RequestClaims(ctx, this.opts);
    this.revokes = new RevokeSweep(ctx, this.opts, this.claims);
    this.grants = new GrantSweep(ctx, this.opts, this.claims);
    this.notices = new NoticeSweeps(ctx, this.opts, this.claims);
  }

  /**
   * The urgent sweeps: revocations and grants. Cheap when nothing is due. Events due to channels are
   * delivered in the background (outbox.kick), so a slow or hung Slack never holds up a revoke.
   */
  async tickUrgent(): Promise<
    Pick<TickStats, 'expired' | 'revoked' | 'revokeFailures' | 'granted' | 'grantFailures'>
  > {
    this.ctx.outbox.kick();
    this.ctx.webhooks?.kick();
    const [rev, gr] = await Promise.all([this.revokes.processRevokes(), this.grants.processGrants()]);
    return { ...rev, ...gr };
  }

  /** Sweeps where a second of delay does not matter: warnings, escalations, reminders, time-outs. */
  async tickRelaxed(): Promise<Pick<TickStats, 'warned' | 'reminded' | 'escalated' | 'timedOut'>> {
    const [warned, [escalated, reminded], timedOut] = await Promise.all([
      // Admin notices ride along; their own claims keep two workers from sending one twice.
      this.notices.warnDue(),
      // Escalation first: it ends the step's reminders, so none is sent after it.
      this.notices.escalateDue().then(async (e) => [e, await this.notices.remindDue()] as const),
      this.notices.timeOutDue(),
      this.ctx.notices?.deliverDue(),
    ]);
    return { warned, reminded, escalated, timedOut };
  }

  /** How long until the next expiry this worker knows of (within the look-ahead), if any. */
  msUntilNextExpiry(): number | undefined {
    return this.claims.msUntilNextExpiry();
  }
}
