/** Granting approved requests: all or nothing, retried, taken back when it keeps failing. */
import { formatRequestId } from '../../domain/human-id.js';
import type { RequestDoc } from '../../store/models.js';
import type { LifecycleContext } from '../context.js';
import type { GrantedCredentials } from '../notifier.js';
import { addMinutes, grantSpec, warnTime } from '../requests/index.js';
import { toView } from '../request-view.js';
import { PartialGrantError, type Connector } from '../../connectors/types.js';
import { EPOCH, errorText, mapLimit, type SweepOptions } from './shared.js';
import type { RequestClaims } from '../transitions/index.js';

export class GrantSweep {
  constructor(
    private readonly ctx: LifecycleContext,
    private readonly opts: SweepOptions,
    private readonly claims: RequestClaims,
  ) {}

  async processGrants(): Promise<{ granted: number; grantFailures: number }> {
    const claimed = await this.claims.claim(['approved', 'granting'], 'granting');
    if (claimed.length === 0) return { granted: 0, grantFailures: 0 };
    return this.claims.whileLeased(claimed, async () => {
      const settings = await this.ctx.settings();
      let granted = 0;
      let failures = 0;
      await mapLimit(claimed, this.opts.concurrency, async (doc) => {
        const ok = await this.grantOne(doc, settings.expiryWarningMinutes);
        if (ok) granted++;
        else failures++;
      });
      return { granted, grantFailures: failures };
    });
  }

  private async grantOne(doc: RequestDoc, warningMinutes: number): Promise<boolean> {
    const ctx = this.ctx;
    const id = formatRequestId(doc.number);
    const now = ctx.now();
    // A re-applied grant (docs/ARCHITECTURE.md, "Reconciliation") ends when it was going to.
    const expiresAt =
      doc.regrant && doc.expiresAt
        ? doc.expiresAt
        : doc.durationMinutes == null
          ? null
          : addMinutes(now, doc.durationMinutes);
    const withExpiry = { ...doc, expiresAt } as RequestDoc;
    const targets = doc.targets.map((t) => ({ ...t }));
    const credentials: GrantedCredentials[] = [];
    let error: string | null = null;
    for (let i = 0; i < targets.length; i++) {
      const t = targets[i]!;
      if (doc.revokeRequested) break;
      let connector: Connector | undefined;
      try {
        connector = await ctx.connectors.get(t.integration);
        // Granting an already-granted target again is harmless (connector contract) and renews credentials.
        const result = await connector.grant(grantSpec(withExpiry, i));
        t.grantState = 'active';
        t.handle = result.handle;
        t.accessKey = connector.accessKey(result.handle);
        t.driftAt = undefined;
        t.grantedAt = now;
        t.error = undefined;
        if (result.credentials)
          credentials.push({
            resourceName: t.resourceName,
            permission: t.permission,
            values: result.credentials,
          });
      } catch (err) {
        error = `${t.resourceName}: ${errorText(err)}`;
        t.error = errorText(err);
        // Left behind by a grant that could not undo itself: the revoke path removes it.
        if (err instanceof PartialGrantError) {
          t.grantState = 'partial';
          t.handle = err.handle;
          // So reconciliation knows it for Latch's if the revoke path never removes it.
          t.accessKey = connector?.accessKey(err.handle);
        }
        break;
      }
    }
    const lease = { _id: doc._id, state: 'granting', 'lease.owner': doc.lease!.owner };
    if (error === null && !doc.revokeRequested) {
      const warnAt = expiresAt ? warnTime(expiresAt, warningMinutes, now) : null;
      // The granted event, credentials sealed inside it, is written with the state change: a crash
      // right after this update loses neither the message nor the only copy of the credentials.
      const granted = ctx.outbox.entry('access.granted', {
        credentials: ctx.outbox.sealCredentials(credentials),
      });
      const active = await ctx.moves.move(
        { ...lease, revokeRequested: { $ne: true } },
        {
          $set: {
            state: 'active',
            targets,
            grantedAt: now,
            expiresAt,
            'lease.until': EPOCH,
            lastError: null,
            attempts: 0,
            ...(warnAt ? { warnAt } : {}),
          },
          $unset: { nextAttemptAt: 1, regrant: 1 },
        },
        granted,
      );
      if (active) {
        const approvedAt = doc.decidedAt ?? doc.createdAt;
        if (approvedAt)
          ctx.metrics.grantTime.observe(Math.max(0, now.getTime() - approvedAt.getTime()) / 1000);
        try {
          await ctx.record(
            {
              actor: { type: 'system', id: 'latch' },
              action: 'access.granted',
              subject: { type: 'request', id },
              details: {
                targets: targets.map((t) => `${t.integration}:${t.resourceName}:${t.permission}`),
                expiresAt: expiresAt?.toISOString() ?? null,
              },
              at: now,
            },
            { type: 'access.granted', request: toView(active), credentials },
          );
        } catch (err) {
          // The grant stands, and its message is safe in the outbox; only the entry is missing.
          ctx.log.error({ err, request: id }, 'access granted but the audit entry could not be written');
        }
        return true;
      }
    }
    if (error === null || doc.revokeRequested) {
      // Revoked while being granted: take back whatever was granted.
      await ctx.moves.move(lease, {
        $set: {
          state: 'revoking',
          targets,
          nextAttemptAt: now,
          'lease.until': EPOCH,
          attempts: 0,
          endReason: 'revoked',
        },
      });
      this.ctx.kick();
      return true;
    }
    const attempts = (doc.attempts ?? 0) + 1;
    if (attempts < this.opts.maxGrantAttempts) {
      await ctx.moves.move(lease, this.claims.retryLater(targets, attempts, error, now));
      await ctx.audit.append({
        actor: { type: 'system', id: 'latch' },
        action: 'grant.attempt_failed',
        subject: { type: 'request', id },
        details: { attempt: attempts, error },
        at: now,
      });
      return false;
    }
    // Out of attempts: undo partial grants through the revoke path, which ends in `failed`.
    await ctx.moves.move(lease, {
      $set: {
        state: 'revoking',
        targets,
        endReason: 'failed',
        lastError: error,
        nextAttemptAt: now,
        'lease.until': EPOCH,
        attempts: 0,
      },
    });
    this.ctx.kick();
    return false;
  }
}
