/**
 * What the Slack channel keeps in MongoDB: workspace installations (OAuth), the Slack side of
 * identities, where each request's messages were posted (so every copy can be updated), claimed
 * deliveries (so a retried delivery is applied once), messages sent for outbox events (so a retried
 * event sends nothing twice) and one-time credential drops.
 */
import { Schema, type Connection } from 'mongoose';
import { model } from '../../store/define-model.js';

const installationSchema = new Schema(
  {
    /** `E…` for an org-wide install, else the team id. */
    _id: { type: String },
    teamId: String,
    enterpriseId: String,
    isEnterpriseInstall: { type: Boolean, default: false },
    /** The whole installation from @slack/oauth, with the tokens sealed by SecretBox. */
    sealed: { type: String, required: true },
    installedAt: { type: Date, required: true },
  },
  { versionKey: false },
);

const slackUserSchema = new Schema(
  {
    /** `${teamId}:${userId}` */
    _id: { type: String },
    teamId: { type: String, required: true },
    userId: { type: String, required: true },
    email: { type: String, required: true },
    displayName: String,
    timeZone: String,
    groups: { type: [String], default: [] },
    fetchedAt: { type: Date, required: true },
    homeSection: String,
  },
  { versionKey: false },
);
slackUserSchema.index({ email: 1 });

const messageRefSchema = new Schema(
  {
    requestId: { type: String, required: true },
    /** approval | extension | requester */
    kind: { type: String, required: true },
    /** The approval step the card was sent for. */
    step: { type: Number, default: 0 },
    teamId: String,
    userId: { type: String, required: true },
    channel: { type: String, required: true },
    ts: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
messageRefSchema.index({ requestId: 1, kind: 1 });

const deliverySchema = new Schema(
  { _id: { type: String }, at: { type: Date, required: true } },
  { versionKey: false },
);
// Slack retries within minutes; a day of ids is plenty, and MongoDB drops older ones itself.
deliverySchema.index({ at: 1 }, { expireAfterSeconds: 24 * 60 * 60 });

/** One per message sent for an outbox event, so a retried event sends nothing twice. */
const sentSchema = new Schema(
  {
    /** `${requestId}:${eventId}:${purpose}:${team}:${user or channel}` */
    _id: { type: String },
    state: { type: String, enum: ['sending', 'sent'], required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false },
);
// Outbox events are retried for hours at most; a week of keys is plenty.
sentSchema.index({ at: 1 }, { expireAfterSeconds: 7 * 24 * 60 * 60 });

const credentialDropSchema = new Schema(
  {
    requestId: { type: String, required: true },
    /** Latch identity id of the only person who may open it. */
    owner: { type: String, required: true },
    sealed: { type: String, required: true },
    at: { type: Date, required: true },
    /** Set while a click is opening the window; a click whose window failed to open releases it. */
    claim: String,
    claimUntil: Date,
  },
  { versionKey: false },
);
// Credentials nobody opened within a week are dropped; the requester can revoke and ask again.
credentialDropSchema.index({ at: 1 }, { expireAfterSeconds: 7 * 24 * 60 * 60 });

export function slackModels(conn: Connection) {
  return {
    Installation: model(conn, 'SlackInstallation', installationSchema, 'slack_installations'),
    SlackUser: model(conn, 'SlackUser', slackUserSchema, 'slack_users'),
    MessageRef: model(conn, 'SlackMessageRef', messageRefSchema, 'slack_messages'),
    Delivery: model(conn, 'SlackDelivery', deliverySchema, 'slack_deliveries'),
    CredentialDrop: model(conn, 'SlackCredentialDrop', credentialDropSchema, 'slack_credential_drops'),
    Sent: model(conn, 'SlackSent', sentSchema, 'slack_sent'),
  };
}
export type SlackModels = ReturnType<typeof slackModels>;

export async function ensureSlackIndexes(m: SlackModels): Promise<void> {
  await Promise.all(Object.values(m).map((model) => model.createIndexes()));
}
