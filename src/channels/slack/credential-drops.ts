/**
 * One-time credential drops: sealed at rest, opened only by their owner, and used up only once the
 * window showing them has really opened. A click claims the drop for a short while (so a double
 * click cannot show it twice), and a window that fails to open (an expired trigger, a Slack
 * hiccup) releases the claim, so the next click shows the credentials instead of "already shown".
 */
import { randomUUID } from 'node:crypto';
import type { GrantedCredentials } from '../../lifecycle/notifier.js';
import type { SecretBox } from '../../store/secrets.js';
import type { SlackModels } from './store.js';

/** Long enough for views.open with its retries; short enough that a crashed click frees it soon. */
const CLAIM_MS = 30_000;

export type DropClaim =
  | { outcome: 'claimed'; id: string; token: string; requestId: string; sets: GrantedCredentials[] }
  | { outcome: 'not_owner'; requestId: string }
  | { outcome: 'busy' }
  | { outcome: 'gone' };

export class CredentialDrops {
  constructor(
    private readonly m: SlackModels,
    private readonly box: SecretBox,
  ) {}

  async claim(dropId: string, owner: string, now: Date): Promise<DropClaim> {
    if (!/^[a-f0-9]{24}$/.test(dropId)) return { outcome: 'gone' };
    const token = randomUUID();
    const drop = await this.m.CredentialDrop.findOneAndUpdate(
      { _id: dropId, owner, $or: [{ claimUntil: { $exists: false } }, { claimUntil: { $lt: now } }] },
      { $set: { claim: token, claimUntil: new Date(now.getTime() + CLAIM_MS) } },
      { returnDocument: 'after' },
    ).lean();
    if (drop) {
      const sets = JSON.parse(this.box.open(drop.sealed)) as GrantedCredentials[];
      return { outcome: 'claimed', id: dropId, token, requestId: drop.requestId, sets };
    }
    const other = await this.m.CredentialDrop.findById(dropId, { owner: 1, requestId: 1 }).lean();
    if (!other) return { outcome: 'gone' };
    return other.owner === owner ? { outcome: 'busy' } : { outcome: 'not_owner', requestId: other.requestId };
  }

  async release(claim: Extract<DropClaim, { outcome: 'claimed' }>): Promise<void> {
    await this.m.CredentialDrop.updateOne(
      { _id: claim.id, claim: claim.token },
      { $unset: { claim: 1, claimUntil: 1 } },
    );
  }

  async consume(claim: Extract<DropClaim, { outcome: 'claimed' }>): Promise<void> {
    await this.m.CredentialDrop.deleteOne({ _id: claim.id, claim: claim.token });
  }
}
