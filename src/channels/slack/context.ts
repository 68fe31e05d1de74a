/**
 * What every Slack listener needs, and the few helpers they share: who is acting, and how to tell
 * them something went wrong in the place they acted (ephemeral reply, or a small modal).
 */
import type { WebClient } from '@slack/web-api';
import { noticeModal } from '../../../blocks/slack/request-modal.js';
import type { ChannelCore } from '../../app.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import type { Logger } from '../../logger.js';
import type { SecretBox } from '../../store/secrets.js';
import type { SlackDirectory } from './directory.js';
import type { SlackModels } from './store.js';
import type { Workspaces } from './workspaces.js';

export interface SlackDeps {
  /** The core as channels see it: use-cases and queries, no store. */
  latch: ChannelCore;
  m: SlackModels;
  directory: SlackDirectory;
  workspaces: Workspaces;
  log: Logger;
  envAdmins: string[];
  box: SecretBox;
  home: {
    publish(
      teamId: string | undefined,
      userId: string,
      nav?: { section?: string; page?: number },
    ): Promise<void>;
  };
}

/** The parts of any Slack payload that say who acted and where. */
export interface Actor {
  teamId?: string;
  userId: string;
}

export function actorOf(body: unknown): Actor {
  const b = body as {
    team?: { id?: string } | null;
    team_id?: string;
    user?: { id?: string; team_id?: string };
    user_id?: string;
  };
  const userId = b.user?.id ?? b.user_id;
  if (!userId) throw new Error('payload names no user');
  return { teamId: b.team?.id ?? b.team_id ?? b.user?.team_id, userId };
}

export async function identityOf(deps: SlackDeps, body: unknown): Promise<Identity> {
  const a = actorOf(body);
  return deps.directory.identity(a.teamId, a.userId);
}

/** The message a person sees for a refusal or failure; unexpected errors are logged, not shown. */
export function errorText(deps: SlackDeps, err: unknown): string {
  if (err instanceof LatchError) return err.message;
  deps.log.error({ err }, 'Slack action failed');
  return 'Something went wrong on the Latch side; the admins can find the details in its log.';
}

type Respond = (msg: {
  text: string;
  response_type?: 'ephemeral';
  replace_original?: boolean;
}) => Promise<unknown>;

/** Replies in the conversation when the action came from a message, else in a small modal. */
export async function tell(
  client: WebClient,
  body: { trigger_id?: string; container?: { type?: string } },
  respond: Respond | undefined,
  text: string,
  title = 'Latch',
): Promise<void> {
  try {
    if (respond && body.container?.type === 'message') {
      await respond({ text, response_type: 'ephemeral', replace_original: false });
    } else if (body.trigger_id) {
      await client.views.open({ trigger_id: body.trigger_id, view: noticeModal(title, text) });
    }
  } catch {
    // The person is told nothing only when Slack itself is unreachable.
  }
}

export function parseMetadata<T>(raw: string | undefined): Partial<T> {
  try {
    return raw ? (JSON.parse(raw) as Partial<T>) : {};
  } catch {
    return {};
  }
}
