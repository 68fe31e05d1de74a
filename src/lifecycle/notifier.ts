/**
 * The port through which lifecycle tells people what happened. Slack and Teams implement it with
 * their own views; the logging notifier is the default. Implementations must not throw for a
 * delivery problem that the request itself does not depend on: lifecycle has already moved state.
 */
import type { ExtensionOffer } from '../domain/duration.js';
import type { RequestView } from './views.js';

export type { ExtensionOffer };

export type LatchEvent =
  | { type: 'request.submitted'; request: RequestView; approvers: Audience }
  | { type: 'approval.needed'; request: RequestView; approvers: Audience; reminder: boolean }
  | { type: 'approval.recorded'; request: RequestView; by: string; remaining?: string }
  | { type: 'request.approved'; request: RequestView; by: string }
  | { type: 'request.rejected'; request: RequestView; by: string; reason: string }
  | { type: 'request.cancelled'; request: RequestView }
  | { type: 'request.timed_out'; request: RequestView }
  | { type: 'access.granted'; request: RequestView; credentials: GrantedCredentials[] }
  | { type: 'access.expiring'; request: RequestView; extension: ExtensionOffer }
  | { type: 'access.extended'; request: RequestView; by: string }
  | { type: 'extension.requested'; request: RequestView; minutes: number; approvers: Audience }
  | { type: 'access.revoked'; request: RequestView }
  | { type: 'request.failed'; request: RequestView; error: string }
  | { type: 'revoke.failing'; request: RequestView; error: string; attempts: number; admins: string[] };

export interface Audience {
  users: string[];
  groups: string[];
}

export interface GrantedCredentials {
  resourceName: string;
  permission: string;
  values: Record<string, string>;
}

export interface Notifier {
  notify(event: LatchEvent): Promise<void>;
}

/** Tells every channel in turn; one failing does not keep the others from hearing. */
export function fanOut(notifiers: Notifier[], onError: (err: unknown, event: LatchEvent) => void): Notifier {
  return {
    async notify(event) {
      for (const n of notifiers) {
        try {
          await n.notify(event);
        } catch (err) {
          onError(err, event);
        }
      }
    },
  };
}
