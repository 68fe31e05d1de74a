/**
 * Request use-cases started by people (docs/ARCHITECTURE.md, "Requests and their states"): submit,
 * decide (approve, deny, cancel), revoke, extend, and the credentials' audit. Each checks on the
 * server who may act, then moves state with one guarded update that carries its outbox events.
 */
import type { Identity } from '../../domain/identity.js';
import type { LifecycleContext } from '../context.js';
import type { RequestView } from '../request-view.js';
import { CredentialUseCases } from './credentials.js';
import { DecideUseCases } from './decide.js';
import { DeclineUseCase } from './decline.js';
import { ExtendUseCases } from './extend.js';
import { RevokeUseCases } from './revoke.js';
import { SubmitUseCase, type SubmitInput } from './submit.js';

export { type SubmitInput } from './submit.js';
export { addMinutes, approvalContext, grantSpec, warnTime } from './shared.js';

/** Each use-case sees the person with their synced groups (LifecycleContext.identify). */
export class RequestUseCases {
  private readonly submitting: SubmitUseCase;
  private readonly deciding: DecideUseCases;
  private readonly revoking: RevokeUseCases;
  private readonly extending: ExtendUseCases;
  private readonly credentials: CredentialUseCases;
  private readonly declining: DeclineUseCase;

  constructor(private readonly ctx: LifecycleContext) {
    this.submitting = new SubmitUseCase(ctx);
    this.deciding = new DecideUseCases(ctx);
    this.revoking = new RevokeUseCases(ctx);
    this.extending = new ExtendUseCases(ctx);
    this.credentials = new CredentialUseCases(ctx);
    this.declining = new DeclineUseCase(ctx);
  }

  async submit(who: Identity, input: SubmitInput): Promise<RequestView> {
    return this.submitting.submit(await this.ctx.identify(who), input);
  }

  async prepareDecision(who: Identity, ref: string, action: 'approve' | 'reject') {
    return this.deciding.prepareDecision(await this.ctx.identify(who), ref, action);
  }

  async approve(who: Identity, ref: string, reason?: string): Promise<RequestView> {
    return this.deciding.approve(await this.ctx.identify(who), ref, reason);
  }

  async reject(who: Identity, ref: string, reason: string): Promise<RequestView> {
    return this.deciding.reject(await this.ctx.identify(who), ref, reason);
  }

  async cancel(who: Identity, ref: string): Promise<RequestView> {
    return this.deciding.cancel(await this.ctx.identify(who), ref);
  }

  /** The person a request is for declines it, whatever its stage (docs/ARCHITECTURE.md, "Asking for someone else"). */
  async decline(who: Identity, ref: string): Promise<RequestView> {
    return this.declining.decline(await this.ctx.identify(who), ref);
  }

  async revoke(who: Identity, ref: string, reason?: string): Promise<RequestView> {
    return this.revoking.revoke(await this.ctx.identify(who), ref, reason);
  }

  revokeAll(who: Identity, reason: string): Promise<{ revoking: number }> {
    return this.revoking.revokeAll(who, reason);
  }

  async extend(who: Identity, ref: string, minutes: number): Promise<RequestView> {
    return this.extending.extend(await this.ctx.identify(who), ref, minutes);
  }

  async approveExtension(who: Identity, ref: string): Promise<RequestView> {
    return this.extending.approveExtension(await this.ctx.identify(who), ref);
  }

  credentialsShown(who: Identity, requestId: string): Promise<void> {
    return this.credentials.credentialsShown(who, requestId);
  }

  refuseCredentials(who: Identity, requestId: string, reason: string): Promise<void> {
    return this.credentials.refuseCredentials(who, requestId, reason);
  }
}
