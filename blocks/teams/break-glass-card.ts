/**
 * To every admin in Teams when a requester breaks the glass (docs/ARCHITECTURE.md, "Break-glass"):
 * who, what, why, and a button to the tab's Reviews, where an admin closes the review with a note.
 */
import { formatDuration } from '../../src/domain/duration.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import { card, line, targetsText, truncate, type AdaptiveCard } from './cards.js';

export function breakGlassCard(r: RequestView, reason: string, reviewsUrl?: string): AdaptiveCard {
  const who = r.requester.displayName
    ? `${r.requester.displayName} (${r.requester.email})`
    : r.requester.email;
  return card(
    [
      line([{ text: `Break glass: ${r.id}`, bold: true }], { size: 'Medium' }),
      line([
        truncate(who, 200),
        ' approved their own request for ',
        targetsText(r),
        ' for ',
        { text: formatDuration(r.durationMinutes), bold: true },
        ' under ',
        truncate(r.flowName, 200),
        '.',
      ]),
      line([{ text: 'Reason: ', bold: true }, truncate(reason, 1500)]),
      line([
        {
          text: 'An admin other than the requester closes the review with a note, in the Latch tab under Reviews.',
          italic: true,
        },
      ]),
    ],
    reviewsUrl ? [{ type: 'Action.OpenUrl', title: 'Open reviews', url: reviewsUrl }] : [],
  );
}
