/**
 * Break-glass reviews in Slack (docs/ARCHITECTURE.md, "Break-glass"): the App Home's list of open
 * reviews for admins, and the modal that closes one with a note.
 */
import type { KnownBlock, ModalView } from '@slack/types';
import { TEXT_LIMITS } from '../../src/domain/limits.js';
import type { ReviewView } from '../../src/lifecycle/reviews.js';
import { ACTION, BLOCK, VIEW } from './ids.js';
import { button, context, esc, header, modal, plain, section, truncate, when } from './text.js';

function reviewText(r: ReviewView, timeZone?: string): string {
  const who = r.requester.displayName ?? r.requester.email ?? r.requester.id;
  const what =
    r.targets.slice(0, 5).map(esc).join(', ') +
    (r.targets.length > 5 ? ` and ${r.targets.length - 5} more` : '');
  return truncate(
    `*${r.id}* · ${esc(who)} broke the glass under *${esc(r.flowName)}* · ${when(r.openedAt, timeZone)}\n${what}\n>${esc(truncate(r.reason, 1000))}`,
    3000,
  );
}

/** The admin section: open reviews, oldest first, each with its Close button. */
export function reviewsSection(reviews: ReviewView[], timeZone?: string): KnownBlock[] {
  const out: KnownBlock[] = [header('Break-glass reviews')];
  if (reviews.length === 0) {
    out.push(context('No open reviews: nobody has broken the glass since the last one was closed.'));
    return out;
  }
  out.push(context('Each one stays open until an admin other than the requester closes it with a note.'));
  // Two blocks a review keeps 40 of them far below Slack's 100 blocks in a view.
  for (const r of reviews.slice(0, 40))
    out.push(
      section(reviewText(r, timeZone), { accessory: button('Close review…', ACTION.reviewClose, r.id) }),
    );
  if (reviews.length > 40) out.push(context(`…and ${reviews.length - 40} more, older first.`));
  return out;
}

export function reviewCloseModal(r: ReviewView, timeZone?: string): ModalView {
  return modal({
    callbackId: VIEW.reviewClose,
    title: `Review ${r.id}`,
    submit: 'Close review',
    privateMetadata: JSON.stringify({ id: r.id }),
    blocks: [
      section(reviewText(r, timeZone)),
      {
        type: 'input',
        block_id: BLOCK.note,
        label: plain('Note', 2000),
        hint: plain('What you checked, and what follows from it. Kept in the audit log.', 2000),
        element: {
          type: 'plain_text_input',
          action_id: 'value',
          multiline: true,
          max_length: TEXT_LIMITS.note,
        },
      },
    ],
  });
}
