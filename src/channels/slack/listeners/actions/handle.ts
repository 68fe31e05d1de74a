/**
 * How every button click is run: acknowledged at once, then as the verified clicker; the use-cases
 * decide whether that person may, so a forged payload gets the same refusal as a click. Refusals
 * and failures are told where the click happened, and an App Home that was clicked is redrawn.
 */
import type { AllMiddlewareArgs, BlockAction, SlackActionMiddlewareArgs } from '@slack/bolt';
import type { Identity } from '../../../../domain/identity.js';
import { actorOf, errorText, identityOf, tell, type SlackDeps } from '../../context.js';

export type Args = SlackActionMiddlewareArgs<BlockAction> & AllMiddlewareArgs;

export function valueOf(args: Args): string {
  const a = args.action as { value?: string; selected_option?: { value: string } };
  return a.value ?? a.selected_option?.value ?? '';
}

/** Runs a click as the verified clicker; refusals and failures are told where the click happened. */
export function handle(deps: SlackDeps, run: (who: Identity, args: Args) => Promise<string | void>) {
  return async (args: Args) => {
    await args.ack();
    const { body, client, respond } = args;
    try {
      const who = await identityOf(deps, body);
      const done = await run(who, args);
      if (done) await tell(client, body, respond, done);
    } catch (err) {
      await tell(client, body, respond, `:warning: ${errorText(deps, err)}`);
    }
    if (body.view?.type === 'home') {
      const a = actorOf(body);
      await deps.home
        .publish(a.teamId, a.userId)
        .catch((err) => deps.log.warn({ err }, 'home refresh failed'));
    }
  };
}
