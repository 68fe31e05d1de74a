/** How drift is told to admins in every channel (docs/ARCHITECTURE.md, "Reconciliation"). */
import type { DriftFinding } from './outbox-entry.js';

export function driftText(requestId: string, drift: DriftFinding): string {
  if (drift.kind === 'lingering')
    return `Drift on ${requestId}: ${drift.target} had ended in Latch but was still on the system. Latch revoked it.`;
  return drift.action === 'reapplied'
    ? `Drift on ${requestId}: ${drift.target} was missing on the system although the request is active. Latch is granting it again, as its flow says.`
    : `Drift on ${requestId}: ${drift.target} is missing on the system although the request is active (removed outside Latch?). Its flow does not re-apply it; the request stays active until it ends.`;
}
