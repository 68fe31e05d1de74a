/**
 * Asking for access from Teams (docs/ARCHITECTURE.md, "Teams channel"): the core's request options
 * as a card, redrawn for what is picked, and submitted with the checks every channel makes
 * (prepareRequest), each refusal shown on the card under its field.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import {
  MAX_LISTED_RESOURCES,
  parseDurationChoice,
  requestFormCard,
  requestSentCard,
  shownFields,
  type TeamsRequestForm,
} from '../../../blocks/teams/request-card.js';
import type { AdaptiveCard } from '../../../blocks/teams/cards.js';
import type { ChannelCore } from '../../app.js';
import { describeApprovers } from '../../domain/approval.js';
import type { Identity } from '../../domain/identity.js';
import { LatchError } from '../../lifecycle/errors.js';
import {
  prepareRequest,
  refusalField,
  requestOptions,
  searchOffers,
  type FieldErrors,
  type Offers,
  type RequestChoice,
  type RequestField,
} from '../../lifecycle/queries/request-options.js';
import type { Logger } from '../../logger.js';

/**
 * A multi-select's value is its choices joined by commas, and offer keys may hold any character:
 * each offer travels as a short digest of its key instead.
 */
export function choiceValue(key: string): string {
  return createHash('sha256').update(key).digest('base64url').slice(0, 16);
}

const FIELDS = [
  'targets',
  'bundle',
  'flow',
  'permission',
  'duration',
  'justification',
  'breakGlass',
  'onBehalfOf',
] as const;

/** What the card sends back (Action.Execute data merged with its inputs); anything else is ignored. */
const Submitted = z.object({
  targets: z.string().max(20_000).optional(),
  bundle: z.string().max(500).optional(),
  flow: z.string().max(500).optional(),
  permission: z.string().max(500).optional(),
  duration: z.string().max(50).optional(),
  justification: z.string().max(5_000).optional(),
  breakGlass: z.string().max(10).optional(),
  onBehalfOf: z.string().max(320).optional(),
  find: z.string().max(500).optional(),
  shown: z.string().max(200).optional(),
  drawn: z.string().max(100).optional(),
});

/**
 * What the card was drawn for (resources, bundle, flow), as a digest the card carries: a submit
 * for a different choice was made without Update choices, on fields drawn for another.
 */
function choiceDigest(targets: string[], bundle?: string, flow?: string): string {
  const key = JSON.stringify([[...targets].sort(), bundle ?? '', flow ?? '']);
  return createHash('sha256').update(key).digest('base64url').slice(0, 12);
}

interface FormState extends RequestChoice {
  justification?: string;
  find?: string;
}

function stateOf(
  all: Offers,
  raw: Record<string, unknown>,
): { state: FormState; shown: Set<RequestField>; changed: boolean } {
  const parsed = Submitted.safeParse(raw);
  const d = parsed.success ? parsed.data : {};
  const byValue = new Map(all.offers.map((o) => [choiceValue(o.key), o.key]));
  const values = (d.targets ?? '')
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  const shown = new Set(
    (d.shown ?? '').split(',').filter((f): f is RequestField => FIELDS.includes(f as never)),
  );
  return {
    changed: d.drawn !== choiceDigest(values, d.bundle || undefined, shown.has('flow') ? d.flow : undefined),
    state: {
      // A value no offer has any more stays as it is, and is refused as no longer offered.
      selected: [...new Set(values.map((v) => byValue.get(v) ?? v))],
      bundle: d.bundle || undefined,
      flowId: d.flow || undefined,
      permission: d.permission || undefined,
      duration: parseDurationChoice(d.duration),
      justification: d.justification,
      breakGlass: d.breakGlass === 'true' || undefined,
      onBehalfOf: d.onBehalfOf?.trim() || undefined,
      find: d.find?.trim() || undefined,
    },
    shown,
  };
}

/** The form for a state: the options the core offers for it, with what is picked kept when still offered. */
function formFor(all: Offers, state: FormState, errors: FieldErrors = {}, banner?: string): TeamsRequestForm {
  const o = requestOptions(all, state);
  const chosen = new Set(o.selected.map((s) => s.key));
  const found = searchOffers(all.offers, state.find ?? '', all.offers.length).filter(
    (x) => !chosen.has(x.key),
  );
  const room = Math.max(0, MAX_LISTED_RESOURCES - o.selected.length);
  const selectedResources = o.selected.map((s) => choiceValue(s.key));
  const durations = o.durations;
  return {
    anything: o.anything,
    resources: [...o.selected, ...found.slice(0, room)].map((x) => ({
      value: choiceValue(x.key),
      label: x.label,
    })),
    selectedResources,
    unlisted: Math.max(0, found.length - room),
    find: state.find,
    bundles: o.bundles,
    selectedBundle: o.selectedBundle,
    flows: o.flows,
    selectedFlowId: o.selectedFlowId,
    permissions: o.permissions,
    selectedPermission:
      o.selectedPermission && o.permissions.includes(o.selectedPermission) ? o.selectedPermission : undefined,
    durations,
    selectedDuration:
      o.selectedDuration !== undefined && durations.includes(o.selectedDuration)
        ? o.selectedDuration
        : undefined,
    justificationRequired: o.justificationRequired,
    justification: state.justification,
    breakGlass: o.breakGlass,
    breakGlassChosen: o.breakGlass ? state.breakGlass : undefined,
    ...(o.forOthersHint ? { forOthersHint: o.forOthersHint, onBehalfOf: state.onBehalfOf } : {}),
    notes: o.notes,
    closed: o.closed,
    errors,
    banner,
    drawn: choiceDigest(
      selectedResources,
      o.selectedBundle,
      o.flows.length > 1 ? o.selectedFlowId : undefined,
    ),
  };
}

export class TeamsRequestForms {
  constructor(
    private readonly core: ChannelCore,
    private readonly log: Logger,
  ) {}

  /** The first form: `words` (from `request billing`) pick what matches. */
  async open(who: Identity, words?: string): Promise<AdaptiveCard> {
    const all = await this.core.queries.offers(who);
    const o = requestOptions(all, { selected: [], words });
    return requestFormCard(formFor(all, { selected: o.selected.map((s) => s.key), find: words }));
  }

  /** "Update choices": the form for what is picked now. */
  async redraw(who: Identity, data: Record<string, unknown>): Promise<AdaptiveCard> {
    const all = await this.core.queries.offers(who);
    const { state } = stateOf(all, data);
    return requestFormCard(formFor(all, state));
  }

  async submit(who: Identity, data: Record<string, unknown>): Promise<AdaptiveCard> {
    const all = await this.core.queries.offers(who);
    const { state, shown, changed } = stateOf(all, data);
    const form = formFor(all, state);
    // Picked something else without Update choices: the other fields were drawn for another
    // choice, so they see the fields for this one first.
    const now = new Set(shownFields(form));
    if (changed || now.size !== shown.size || [...now].some((f) => !shown.has(f)))
      return requestFormCard({
        ...form,
        banner: 'The choices changed with what you picked: check them, then Submit again.',
      });
    const prepared = prepareRequest(
      all,
      {
        ...state,
        // A permission or duration the new choice does not offer counts as not chosen.
        permission: form.selectedPermission,
        duration: form.selectedDuration,
      },
      shown,
    );
    if ('errors' in prepared) return requestFormCard({ ...form, errors: prepared.errors });
    try {
      const r = await this.core.requests.submit(who, { ...prepared.input, source: 'teams' });
      const flow = all.flows.find((f) => f.id === r.flowId);
      const step = flow?.approval.steps[0];
      return requestSentCard(r, step ? describeApprovers(step) : undefined);
    } catch (err) {
      const field = refusalField(err instanceof LatchError ? err.field : undefined, shown);
      let text = 'Something went wrong on the Latch side; the admins can find the details in its log.';
      if (err instanceof LatchError) text = err.message;
      else this.log.error({ err }, 'Teams request submit failed');
      return requestFormCard({ ...form, errors: { [field]: text } });
    }
  }
}
