import mongoose from 'mongoose';
import { parseRequestId } from '../domain/human-id.js';
import type { RequestDoc } from '../store/models.js';
import type { LifecycleContext } from './context.js';
import { notFound } from './errors.js';

/** Finds a request by its human id (AR-1042), its number, or its database id. */
export async function loadRequest(ctx: LifecycleContext, ref: string): Promise<RequestDoc> {
  const { Request } = ctx.db.models;
  const number = parseRequestId(ref);
  let doc: RequestDoc | null = null;
  if (number !== undefined) doc = await Request.findOne({ number }).lean<RequestDoc>();
  else if (mongoose.isValidObjectId(ref)) doc = await Request.findById(ref).lean<RequestDoc>();
  if (!doc) throw notFound(`No request ${ref} exists.`);
  return doc;
}

export async function nextRequestNumber(ctx: LifecycleContext): Promise<number> {
  const { Counter } = ctx.db.models;
  // A plain $inc on an existing counter is atomic everywhere; creating it is a separate step that
  // tolerates a concurrent creator (racing upserts are where servers differ).
  for (let attempt = 0; attempt < 5; attempt++) {
    const doc = await Counter.findOneAndUpdate(
      { _id: 'request' },
      { $inc: { seq: 1 } },
      { returnDocument: 'after' },
    ).lean();
    if (doc) return doc.seq;
    try {
      // Numbers start at 1001 so ids look like AR-1042 from day one.
      await Counter.create({ _id: 'request', seq: 1000 });
    } catch (err) {
      if ((err as { code?: number }).code !== 11000) throw err;
    }
  }
  throw new Error('could not allocate a request number');
}
