import type { Logger } from '../logger.js';
import type { LatchEvent, Notifier } from './notifier.js';

/** The default notifier: one log line per event. Credentials are counted, never printed. */
export class LoggingNotifier implements Notifier {
  constructor(private readonly log: Logger) {}
  async notify(event: LatchEvent): Promise<void> {
    const { request } = event;
    const base = {
      event: event.type,
      request: request.id,
      requester: request.requester.email,
      state: request.state,
    };
    switch (event.type) {
      case 'access.granted':
        this.log.info(
          {
            ...base,
            credentials: undefined,
            credentialSets: event.credentials.length,
            expiresAt: request.expiresAt,
          },
          'access granted',
        );
        break;
      case 'revoke.failing':
        this.log.error(
          { ...base, error: event.error, attempts: event.attempts, admins: event.admins },
          'revoke keeps failing',
        );
        break;
      case 'break_glass.used':
        this.log.warn({ ...base, reason: event.reason, admins: event.admins }, 'break-glass used');
        break;
      case 'access.drift':
        this.log.warn({ ...base, drift: event.drift }, 'access drift');
        break;
      case 'request.failed':
        this.log.error({ ...base, error: event.error }, 'request failed');
        break;
      default:
        this.log.info(base, event.type);
    }
  }
}
