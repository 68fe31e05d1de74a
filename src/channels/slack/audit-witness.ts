/**
 * The admins' audit channel as a second witness of the audit log's head (docs/ARCHITECTURE.md,
 * "Audit log"): a checkpoint line posted to Slack is out of the database's reach, and an admin can
 * check the log against it with `npm run audit -- verify --checkpoint SEQ:HASH`.
 */
import { formatCheckpoint, type CheckpointWitness } from '../../audit/checkpoints.js';
import type { Workspaces } from './workspaces.js';

export function slackAuditChannelWitness(d: {
  /** The audit channel from Settings, when one is set. */
  auditChannel: () => Promise<string | undefined>;
  workspaces: Workspaces;
}): CheckpointWitness {
  return {
    name: 'Slack audit channel',
    async record(cp) {
      const channel = await d.auditChannel();
      if (!channel) return;
      const client = await d.workspaces.client();
      // A failure is thrown on purpose: the audit log logs it and offers this witness the next checkpoint.
      await client.chat.postMessage({ channel, text: formatCheckpoint(cp), unfurl_links: false });
    },
  };
}
