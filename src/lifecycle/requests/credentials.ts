/** One-time credentials: who saw them, and who tried to see someone else's. */
import type { Identity } from '../../domain/identity.js';
import type { LifecycleContext } from '../context.js';
import { auditRefusal } from './shared.js';

export class CredentialUseCases {
  constructor(private readonly ctx: LifecycleContext) {}

  /** The requester saw the one-time credentials of `requestId` (a channel showed them). */
  async credentialsShown(who: Identity, requestId: string): Promise<void> {
    await this.ctx.audit.append({
      actor: { type: 'user', id: who.id },
      action: 'credentials.revealed',
      subject: { type: 'request', id: requestId },
      at: this.ctx.now(),
    });
  }

  /** Someone tried to open credentials that are not theirs. */
  async refuseCredentials(who: Identity, requestId: string, reason: string): Promise<void> {
    await auditRefusal(this.ctx, who, requestId, 'credentials.reveal', reason);
  }
}
