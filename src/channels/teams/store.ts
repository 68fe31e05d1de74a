/**
 * What the Teams channel keeps in MongoDB (docs/ARCHITECTURE.md, "Teams channel"): the people who
 * installed the app, with their Entra identity and the conversation reference that lets Latch
 * message them first (a proactive message needs one, and Teams gives it only through an activity
 * from that person's chat). When a message cannot reach someone (app removed, bot blocked), that is
 * recorded, so the requester and admins can be told who could not be reached.
 */
import { Schema, type Connection } from 'mongoose';
import { normalizeEmail } from '../../domain/identity.js';
import { model } from '../../store/define-model.js';

/** Where a proactive message goes: the Bot Framework's conversation reference, as plain JSON. */
export type ConversationReference = Record<string, unknown> & {
  serviceUrl: string;
  conversation: { id: string; tenantId?: string };
};

const teamsUserSchema = new Schema(
  {
    /** `${tenantId}:${aadObjectId}`: one person in one tenant. */
    _id: { type: String },
    tenantId: { type: String, required: true },
    aadObjectId: { type: String, required: true },
    /** The Bot Framework's id of the person in this bot's chats (`29:…`). */
    userId: { type: String, required: true },
    /** Lower-case; the Latch identity. Absent until Teams told us (TeamsInfo.getMember). */
    email: String,
    userPrincipalName: String,
    displayName: String,
    reference: { type: Schema.Types.Mixed },
    installedAt: Date,
    /** Set when the app was removed or a message bounced; cleared by the next activity. */
    unreachableAt: Date,
    unreachableReason: String,
    seenAt: { type: Date, required: true },
  },
  { versionKey: false, minimize: false },
);
teamsUserSchema.index({ email: 1 });

/** Where a card went (so every copy can be rewritten once anyone decides), and which version it shows. */
const messageRefSchema = new Schema(
  {
    /** `${requestId}:${kind}:${step}:${email}` */
    _id: { type: String },
    requestId: { type: String, required: true },
    kind: { type: String, required: true },
    step: { type: Number, required: true },
    email: { type: String, required: true },
    userId: String,
    reference: { type: Schema.Types.Mixed, required: true },
    activityId: { type: String, required: true },
    version: { type: Number, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
messageRefSchema.index({ requestId: 1, kind: 1 });

/**
 * One per message of an outbox event and recipient: a retried event sends nothing twice. A claim
 * not marked done after a while is a sender that died mid-send, and is taken over.
 */
const sentSchema = new Schema(
  {
    _id: { type: String },
    at: { type: Date, required: true },
    done: { type: Boolean, default: false },
  },
  { versionKey: false },
);
// Outbox events are delivered within days; their claims need not outlive that.
sentSchema.index({ at: 1 }, { expireAfterSeconds: 14 * 24 * 3600 });

/** One-time credentials, sealed (SecretBox) until the requester opens them, once. */
const credentialDropSchema = new Schema(
  {
    _id: { type: String },
    requestId: { type: String, required: true },
    /** The requester's email: nobody else may open it. */
    owner: { type: String, required: true },
    sealed: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
credentialDropSchema.index({ at: 1 }, { expireAfterSeconds: 7 * 24 * 3600 });

export function teamsModels(conn: Connection) {
  return {
    TeamsUser: model(conn, 'TeamsUser', teamsUserSchema, 'teams_users'),
    MessageRef: model(conn, 'TeamsMessageRef', messageRefSchema, 'teams_messages'),
    Sent: model(conn, 'TeamsSent', sentSchema, 'teams_sent'),
    CredentialDrop: model(conn, 'TeamsCredentialDrop', credentialDropSchema, 'teams_credential_drops'),
  };
}

export type TeamsModels = ReturnType<typeof teamsModels>;

export async function ensureTeamsIndexes(m: TeamsModels): Promise<void> {
  await Promise.all([
    m.TeamsUser.createIndexes(),
    m.MessageRef.createIndexes(),
    m.Sent.createIndexes(),
    m.CredentialDrop.createIndexes(),
  ]);
}

export interface TeamsPerson {
  tenantId: string;
  aadObjectId: string;
  userId: string;
  email?: string;
  userPrincipalName?: string;
  displayName?: string;
}

/** The people Latch can reach in Teams, and the ones it could not. */
export class TeamsPeople {
  constructor(
    private readonly m: TeamsModels,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Any activity from a person: who they are, and (from their personal chat) where to reach them.
   * Reaching Latch again makes them reachable again.
   */
  async seen(person: TeamsPerson, reference?: ConversationReference, installed = false): Promise<void> {
    const now = this.now();
    await this.m.TeamsUser.updateOne(
      { _id: `${person.tenantId}:${person.aadObjectId}` },
      {
        $set: {
          tenantId: person.tenantId,
          aadObjectId: person.aadObjectId,
          userId: person.userId,
          seenAt: now,
          ...(person.email ? { email: normalizeEmail(person.email) } : {}),
          ...(person.userPrincipalName ? { userPrincipalName: person.userPrincipalName } : {}),
          ...(person.displayName ? { displayName: person.displayName } : {}),
          ...(reference ? { reference } : {}),
          ...(installed ? { installedAt: now } : {}),
        },
        ...(reference ? { $unset: { unreachableAt: 1, unreachableReason: 1 } } : {}),
      },
      { upsert: true },
    );
  }

  /** The app was removed, or a message bounced: no proactive message until they come back. */
  async unreachable(tenantId: string, aadObjectId: string, reason: string): Promise<void> {
    await this.m.TeamsUser.updateOne(
      { _id: `${tenantId}:${aadObjectId}` },
      { $set: { unreachableAt: this.now(), unreachableReason: reason } },
    );
  }

  /** Where to message the person with this email, or why that cannot be done. */
  /** Teams refused a send to this person for good (conversationLost): not reachable until they come back. */
  async lost(email: string, reason: string): Promise<void> {
    await this.m.TeamsUser.updateMany(
      { email: normalizeEmail(email), unreachableAt: { $exists: false } },
      { $set: { unreachableAt: this.now(), unreachableReason: reason } },
    );
  }

  async reach(
    email: string,
  ): Promise<{ reference: ConversationReference; userId: string } | { unreachable: string }> {
    const rows = await this.m.TeamsUser.find({ email: normalizeEmail(email) })
      .sort({ seenAt: -1 })
      .lean();
    const ok = rows.find((r) => r.reference && !r.unreachableAt);
    if (ok) return { reference: ok.reference as ConversationReference, userId: ok.userId };
    const lost = rows.find((r) => r.unreachableAt);
    if (lost) return { unreachable: lost.unreachableReason ?? 'Latch could not reach them in Teams' };
    return { unreachable: 'they have not installed Latch in Teams' };
  }
}
