import mongoose, { type Connection } from 'mongoose';
import { models, type Models } from './models.js';

export interface Database {
  conn: Connection;
  models: Models;
  close(): Promise<void>;
}

/** One connection shared by the models and Agenda (same driver, so one pool and one BSON). */
export async function connectDatabase(uri: string, opts: { dbName?: string } = {}): Promise<Database> {
  const conn = await mongoose
    .createConnection(uri, { dbName: opts.dbName, autoIndex: false, serverSelectionTimeoutMS: 10_000 })
    .asPromise();
  const m = models(conn);
  // createIndexes, not syncIndexes: several processes start at once and none should drop another's index.
  await Promise.all(Object.values(m).map((model) => model.createIndexes()));
  return { conn, models: m, close: () => conn.close() };
}
