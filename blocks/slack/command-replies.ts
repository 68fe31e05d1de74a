/** Ephemeral replies to `/access list` and `/access help`. */
import type { KnownBlock } from '@slack/types';
import { formatDuration } from '../../src/domain/duration.js';
import { STATE_LABELS } from '../../src/domain/request.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import type { Message } from './messages.js';
import { describeTargets } from './messages.js';
import { context, section, when } from './text.js';

const MAX_LISTED = 20;

export const commandReply = {
  list(requests: RequestView[], timeZone?: string): Message {
    if (requests.length === 0) {
      return {
        text: 'You have no access or open requests.',
        blocks: [section('You have no access or open requests. `/access` asks for some.')],
      };
    }
    const lines = requests.slice(0, MAX_LISTED).map((r) => {
      const until =
        r.state === 'active'
          ? ` until ${r.expiresAt ? when(r.expiresAt, timeZone) : 'revoked'}`
          : ` for ${formatDuration(r.durationMinutes)}`;
      return `*${r.id}* · ${describeTargets(r, 2)} · ${STATE_LABELS[r.state]}${until}`;
    });
    const blocks: KnownBlock[] = [];
    // Ten lines a section keeps each under Slack's 3000 characters.
    for (let i = 0; i < lines.length; i += 10) blocks.push(section(lines.slice(i, i + 10).join('\n')));
    if (requests.length > MAX_LISTED)
      blocks.push(context(`…and ${requests.length - MAX_LISTED} more; the App Home tab lists them all.`));
    blocks.push(context('`/access revoke AR-1234` ends one early.'));
    return { text: `You have ${requests.length} open or active request(s).`, blocks };
  },
};

export function helpReply(): Message {
  return {
    text: 'How to use /access',
    blocks: [
      section(
        [
          '*`/access`* opens the request form: pick resources (or a bundle), a permission and a duration.',
          '*`/access <words>`* opens it with matching resources already chosen, e.g. `/access billing read`.',
          '*`/access list`* shows your access and your open requests.',
          '*`/access revoke AR-1234`* ends access early.',
          '*`/access help`* shows this.',
        ].join('\n'),
      ),
      context(
        'Approvers get a DM with Approve and Deny. The Latch App Home tab shows everything in one place.',
      ),
    ],
  };
}
