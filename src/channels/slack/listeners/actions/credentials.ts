/** Show credentials: one-time, for their owner only, used up only once the window opened. */
import type { App, BlockAction } from '@slack/bolt';
import { credentialsModal } from '../../../../../blocks/slack/admin-modals.js';
import { ACTION } from '../../../../../blocks/slack/ids.js';
import { registerSecret } from '../../../../secret-scrubber.js';
import { type SlackDeps } from '../../context.js';
import { CredentialDrops } from '../../credential-drops.js';
import { handle, valueOf } from './handle.js';

export function registerCredentialActions(app: App, deps: SlackDeps): void {
  const { latch } = deps;

  app.action<BlockAction>(
    ACTION.showCredentials,
    handle(deps, async (who, args) => {
      const dropId = valueOf(args);
      const drops = new CredentialDrops(deps.m, deps.box);
      const claim = await drops.claim(dropId, who.id, latch.queries.now());
      if (claim.outcome === 'not_owner' || claim.outcome === 'gone') {
        if (claim.outcome === 'not_owner')
          await latch.requests.refuseCredentials(who, claim.requestId, 'not the requester');
        return 'These credentials were already shown once (or are not yours). If you lost them, revoke this access and request it again.';
      }
      if (claim.outcome === 'busy') return 'Your credentials are being opened in another window.';
      // A web process apart from the worker that generated them has not seen them yet.
      for (const set of claim.sets) registerSecret(set.values.password);
      try {
        await args.client.views.open({
          trigger_id: args.body.trigger_id,
          view: credentialsModal(claim.sets),
        });
      } catch (err) {
        // Not shown, so not used up: the next click tries again.
        await drops.release(claim);
        deps.log.warn({ err: (err as Error).message }, 'could not open the credentials window');
        return 'Slack could not open the window with your credentials. They are kept: click *Show credentials* again.';
      }
      await drops.consume(claim);
      await latch.requests.credentialsShown(who, claim.requestId);
    }),
  );
}
