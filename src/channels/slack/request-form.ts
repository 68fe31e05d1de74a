/**
 * The request modal's model in Slack terms: the core's request options (src/lifecycle/queries)
 * with offers carried as option values Slack accepts (long keys travel as a hash, see encodeValue).
 */
import type { RequestForm } from '../../../blocks/slack/request-modal.js';
import { encodeValue } from '../../../blocks/slack/text.js';
import type { Offer, Offers, RequestChoice } from '../../lifecycle/queries/request-options.js';
import { requestOptions } from '../../lifecycle/queries/request-options.js';

/** The modal's state: selected option values, not keys. */
export type FormState = Omit<RequestChoice, 'selected'> & { selected: string[] };

/** An offer's option value in Slack. */
export function offerValue(offer: Pick<Offer, 'key'>): string {
  return encodeValue(offer.key);
}

/** The offer behind an option value, if it is still offered. */
export function offerOf(all: Offers, value: string): Offer | undefined {
  return all.offers.find((o) => offerValue(o) === value);
}

export function buildForm(all: Offers, state: FormState, metadata: string): RequestForm {
  const selected = state.selected
    .map((v) => offerOf(all, v)?.key)
    .filter((k): k is string => k !== undefined);
  const o = requestOptions(all, { ...state, selected });
  return {
    ...o,
    selected: o.selected.map((s) => ({ value: offerValue(s), label: s.label })),
    bundles: o.bundles.map((name) => ({ name, description: '' })),
    privateMetadata: metadata,
  };
}
