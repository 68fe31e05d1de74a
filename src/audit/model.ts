/**
 * The `audit_log` collection. Entries are only ever inserted by AuditLog.append; every mongoose path
 * that could change or remove one throws, so a mistake elsewhere in the code fails loudly instead of
 * silently breaking the hash chain (verify() would catch it, but only later).
 */
import mongoose from 'mongoose';

export const AUDIT_COLLECTION = 'audit_log';
export const AUDIT_MODEL_NAME = 'AuditEntry';

export interface StoredAuditEntry {
  seq: number;
  at: Date;
  actor: { type: 'user' | 'system'; id: string };
  action: string;
  subject?: { type: string; id: string };
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export type AuditEntryModel = mongoose.Model<StoredAuditEntry>;

export class AuditLogAppendOnlyError extends Error {
  constructor(operation: string) {
    super(`audit_log is append-only: ${operation} is not allowed (use AuditLog.append)`);
    this.name = 'AuditLogAppendOnlyError';
  }
}

function buildSchema(): mongoose.Schema<StoredAuditEntry> {
  const schema = new mongoose.Schema<StoredAuditEntry>(
    {
      seq: { type: Number, required: true },
      at: { type: Date, required: true },
      // `type: { type: String }` declares a nested path called "type", not the type of `actor`.
      actor: {
        type: { type: String, enum: ['user', 'system'], required: true },
        id: { type: String, required: true },
      },
      action: { type: String, required: true },
      subject: {
        type: { type: String },
        id: { type: String },
      },
      details: { type: mongoose.Schema.Types.Mixed, default: {} },
      prevHash: { type: String, required: true },
      hash: { type: String, required: true },
    },
    {
      collection: AUDIT_COLLECTION,
      versionKey: false,
      // Empty `details` must stay `{}`: the hash covers it.
      minimize: false,
      strict: 'throw',
    },
  );

  // The chain's order and the guard against two writers taking the same position.
  schema.index({ seq: 1 }, { unique: true, name: 'seq_unique' });
  // Matches latest() filtered by subject: equality on subject.id, then newest first.
  schema.index({ 'subject.id': 1, seq: -1 }, { name: 'subject_seq' });
  // No index for action filters: latest() walks seq newest-first and stops at `limit`, and every extra
  // index is one more write per entry on the slow store.

  const queryWrites = [
    'updateOne',
    'updateMany',
    'findOneAndUpdate',
    'replaceOne',
    'findOneAndReplace',
    'deleteOne',
    'deleteMany',
    'findOneAndDelete',
  ] as const;
  for (const op of queryWrites) {
    schema.pre(op, { query: true, document: false }, function () {
      throw new AuditLogAppendOnlyError(op);
    });
  }
  // doc.updateOne() / doc.deleteOne() on a hydrated entry.
  for (const op of ['updateOne', 'deleteOne'] as const) {
    schema.pre(op, { document: true, query: false }, function () {
      throw new AuditLogAppendOnlyError(`document ${op}`);
    });
  }
  // save() would either rewrite an entry or insert one outside the chain; Model.create goes through it
  // too. save validates before its own hooks run, so refuse at validation to fail with the clear error.
  schema.pre('validate', { document: true, query: false }, function () {
    throw new AuditLogAppendOnlyError('save');
  });
  schema.pre('save', function () {
    throw new AuditLogAppendOnlyError('save');
  });
  // bulkWrite can carry updates and deletes; append uses insertMany only.
  schema.pre('bulkWrite', function () {
    throw new AuditLogAppendOnlyError('bulkWrite');
  });
  return schema;
}

/** The model on `conn`, registering it once so several AuditLog instances can share a connection. */
export function auditEntryModel(conn: mongoose.Connection): AuditEntryModel {
  return (
    (conn.models[AUDIT_MODEL_NAME] as AuditEntryModel | undefined) ??
    (conn.model(AUDIT_MODEL_NAME, buildSchema()) as unknown as AuditEntryModel)
  );
}
