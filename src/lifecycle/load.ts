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
  // Numbers start at 1001 so ids look like AR-1042 from day one.
  const doc = await ctx.db.models.Counter.findOneAndUpdate(
    { _id: 'request' },
    [{ $set: { seq: { $add: [{ $ifNull: ['$seq', 1000] }, 1] } } }],
    { upsert: true, returnDocument: 'after', updatePipeline: true },
  ).lean();
  return doc!.seq;
}
