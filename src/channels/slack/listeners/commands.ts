/** `/access`: open the request modal (with optional search words), or list, revoke, help. */
import type { App } from '@slack/bolt';
import { commandReply, helpReply } from '../../../../blocks/slack/command-replies.js';
import { formatRequestId, parseRequestId } from '../../../domain/human-id.js';
import { errorText, type SlackDeps } from '../context.js';
import { openRequestModal } from '../request-flow.js';

export function registerCommands(app: App, deps: SlackDeps): void {
  app.command('/access', async ({ command, ack, client, respond }) => {
    await ack();
    const text = command.text.trim();
    const [verb = '', ...rest] = text.split(/\s+/);
    const who = () => deps.directory.identity(command.team_id, command.user_id);
    try {
      switch (verb.toLowerCase()) {
        case 'help':
          await respond({ response_type: 'ephemeral', ...helpReply() });
          return;
        case 'list': {
          const identity = await who();
          const mine = await deps.latch.queries.myAccess(identity);
          const open = [...mine.pending, ...mine.active.map((a) => a.request)]
            .sort((a, b) => b.number - a.number)
            .slice(0, 40);
          await respond({ response_type: 'ephemeral', ...commandReply.list(open, identity.timeZone) });
          return;
        }
        case 'revoke': {
          const ref = rest[0];
          const n = ref ? parseRequestId(ref) : null;
          if (!ref || n === undefined || n === null) {
            await respond({
              response_type: 'ephemeral',
              text: 'Usage: `/access revoke AR-1234` (see `/access list`).',
            });
            return;
          }
          const view = await deps.latch.requests.revoke(
            await who(),
            formatRequestId(n),
            'revoked from /access',
          );
          await respond({
            response_type: 'ephemeral',
            text: `${view.id} is being revoked; you will get a DM when it is done.`,
          });
          return;
        }
        default:
          await openRequestModal(deps, client, command.trigger_id, who, text || undefined);
      }
    } catch (err) {
      await respond({ response_type: 'ephemeral', text: `:warning: ${errorText(deps, err)}` }).catch(
        () => undefined,
      );
    }
  });
}
