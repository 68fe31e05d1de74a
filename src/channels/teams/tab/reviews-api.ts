/**
 * Break-glass reviews in the tab console (docs/ARCHITECTURE.md, "Break-glass"): the open ones, and
 * closing one with a note. The admin check comes before the body is read, as for every editor; the
 * use-case checks again, refuses the requester their own review, and answers 409 for a review that
 * is already closed.
 */
import { z } from 'zod';
import type { ChannelCore } from '../../../app.js';
import { TEXT_LIMITS } from '../../../domain/limits.js';
import { parse, refuseFields, type On } from './http.js';

const idParam = z.string().trim().min(1).max(200);
const closeSchema = z.object({
  note: z
    .string()
    .max(TEXT_LIMITS.note * 2)
    .default(''),
});

export function mountReviews(on: On, core: ChannelCore): void {
  on('GET', '/admin/reviews', async (who) => ({ reviews: await core.queries.openReviews(who) }));

  on('POST', '/admin/reviews/:id/close', async (who, body, p) => {
    await core.admin.assertAdmin(who, 'review.close');
    const id = parse(idParam, p.id);
    const { note } = parse(closeSchema, body);
    if (!note.trim()) refuseFields({ note: 'Write a note: what you checked, and what follows from it.' });
    const review = await core.admin.closeReview(who, id, note);
    return { review, reviews: await core.queries.openReviews(who) };
  });
}
