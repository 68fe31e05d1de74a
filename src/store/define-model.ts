import type { Connection, Model, Schema } from 'mongoose';

/** The model `name` on `conn`, registered once, so several components can share a connection. */
export function model<T>(conn: Connection, name: string, schema: Schema<T>, collection: string): Model<T> {
  return (conn.models[name] as Model<T> | undefined) ?? conn.model<T>(name, schema, collection);
}
