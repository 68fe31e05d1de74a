/**
 * The request form as an Adaptive Card (schema 1.5): what the core's request options offer this
 * person, as inputs; "Update choices" redraws it for what is picked so far (a card cannot react to
 * a change by itself), "Submit" asks. Refusals come back on the card under the field they concern.
 */
import { formatDuration } from '../../src/domain/duration.js';
import type { FieldErrors, RequestField } from '../../src/lifecycle/queries/request-options.js';
import type { RequestView } from '../../src/lifecycle/request-view.js';
import {
  card,
  cardBytes,
  execute,
  line,
  MAX_CARD_BYTES,
  targetsText,
  truncate,
  VERB,
  type AdaptiveCard,
  type CardElement,
} from './cards.js';

/** Listed at most, so the card stays far below Teams' size limit; "Find" narrows the rest. */
export const MAX_LISTED_RESOURCES = 50;
const MAX_LABEL = 80;
const MAX_FLOWS = 20;
const MAX_PERMISSIONS = 40;
const MAX_DURATIONS = 30;

export interface TeamsRequestForm {
  /** Some resource or bundle can be asked for at all. */
  anything: boolean;
  /** Resources listed (the chosen ones first), as the channel encodes them. */
  resources: Array<{ value: string; label: string }>;
  selectedResources: string[];
  /** Offered but not listed: narrowed with the Find box. */
  unlisted: number;
  find?: string;
  bundles: string[];
  selectedBundle?: string;
  flows: Array<{ id: string; name: string }>;
  selectedFlowId?: string;
  permissions: string[];
  selectedPermission?: string;
  durations: Array<number | null>;
  selectedDuration?: number | null;
  justificationRequired: boolean;
  justification?: string;
  /** The flow lets the requester break the glass (docs/ARCHITECTURE.md, "Break-glass"). */
  breakGlass?: boolean;
  breakGlassChosen?: boolean;
  /** Some offered flow lets this person ask for someone else: the "For" field, with its hint. */
  forOthersHint?: string;
  /** The email typed in "For", kept across redraws. */
  onBehalfOf?: string;
  notes: string[];
  /** Why flows that list this person are closed to them now. */
  closed: string[];
  errors: FieldErrors;
  /** A line above the form (why it was redrawn). */
  banner?: string;
  /** What the form was drawn for, as the channel recognises it when it comes back. */
  drawn?: string;
}

export function durationChoice(minutes: number | null): string {
  return minutes === null ? 'indefinite' : String(minutes);
}

export function parseDurationChoice(value: unknown): number | null | undefined {
  if (typeof value !== 'string' || value === '') return undefined;
  if (value === 'indefinite') return null;
  const n = Number(value);
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** The fields a form shows: the card carries them, so a submit is checked against what was seen. */
export function shownFields(form: TeamsRequestForm): RequestField[] {
  const shown: RequestField[] = [];
  if (form.resources.length > 0 || form.unlisted > 0) shown.push('targets');
  if (form.bundles.length > 0) shown.push('bundle');
  if (form.flows.length > 1) shown.push('flow');
  if (form.permissions.length > 0) shown.push('permission');
  if (form.durations.length > 0) shown.push('duration');
  shown.push('justification');
  if (form.breakGlass) shown.push('breakGlass');
  if (form.forOthersHint) shown.push('onBehalfOf');
  return shown;
}

function errorLine(text: string | undefined): CardElement[] {
  if (!text) return [];
  return [{ type: 'TextBlock', text: truncate(text, 500), color: 'Attention', wrap: true, spacing: 'None' }];
}

function choices(items: Array<{ title: string; value: string }>) {
  return items.map((c) => ({ title: truncate(c.title, MAX_LABEL), value: c.value }));
}

/**
 * The form, under Teams' size limit whatever it is given: when long names make it too large, fewer
 * resources (then bundles) are listed, and the card says how many more the Find box can reach.
 */
export function requestFormCard(form: TeamsRequestForm): AdaptiveCard {
  let f = form;
  let built = formCard(f);
  while (cardBytes(built) > MAX_CARD_BYTES && (f.resources.length > 1 || f.bundles.length > 1)) {
    if (f.resources.length > 1) {
      const keep = Math.max(1, Math.floor(f.resources.length / 2));
      const kept = f.resources.slice(0, keep);
      f = {
        ...f,
        resources: kept,
        selectedResources: f.selectedResources.filter((v) => kept.some((r) => r.value === v)),
        unlisted: f.unlisted + f.resources.length - keep,
      };
    } else {
      // The chosen bundle stays listed, first.
      const rest = f.bundles.filter((b) => b !== f.selectedBundle);
      const keep = Math.max(1, Math.floor(f.bundles.length / 2));
      const kept =
        f.selectedBundle && f.bundles.includes(f.selectedBundle)
          ? [f.selectedBundle, ...rest].slice(0, keep)
          : rest.slice(0, keep);
      f = { ...f, bundles: kept };
    }
    built = formCard(f);
  }
  return built;
}

function formCard(form: TeamsRequestForm): AdaptiveCard {
  const title = line([{ text: 'Ask for access', bold: true }], { size: 'Medium' });
  if (!form.anything)
    return card([
      title,
      line([
        form.closed.length > 0
          ? 'There is nothing you can ask for right now:'
          : 'There is nothing you can ask for yet: no access flow lets you ask for anything. An admin can add one.',
      ]),
      ...form.closed.slice(0, 5).map((why) => line([`• ${truncate(why, 500)}`])),
    ]);
  const e = form.errors;
  const body: CardElement[] = [title];
  if (form.banner) body.push(line([{ text: truncate(form.banner, 500), italic: true }]));
  if (form.resources.length > 0 || form.unlisted > 0) {
    if (form.unlisted > 0 || form.find)
      body.push({
        type: 'Input.Text',
        id: 'find',
        label: 'Find resources',
        placeholder: 'Words in the name, then Update choices',
        maxLength: 200,
        ...(form.find ? { value: truncate(form.find, 200) } : {}),
      });
    body.push({
      type: 'Input.ChoiceSet',
      id: 'targets',
      label: 'Resources',
      isMultiSelect: true,
      style: 'compact',
      placeholder: 'Choose resources',
      choices: choices(form.resources.map((r) => ({ title: r.label, value: r.value }))),
      ...(form.selectedResources.length ? { value: form.selectedResources.join(',') } : {}),
    });
    if (form.unlisted > 0)
      body.push(
        line([
          {
            text: `${form.unlisted} more ${form.find ? 'match' : 'are offered'}: narrow them down with Find resources.`,
            italic: true,
          },
        ]),
      );
    else if (form.find)
      body.push(line([{ text: 'Only those matching Find resources are listed.', italic: true }]));
    body.push(...errorLine(e.targets));
  }
  if (form.bundles.length > 0) {
    body.push({
      type: 'Input.ChoiceSet',
      id: 'bundle',
      label: form.resources.length > 0 ? 'Or a bundle' : 'Bundle',
      style: 'compact',
      placeholder: 'No bundle',
      choices: choices(form.bundles.map((b) => ({ title: b, value: b }))),
      ...(form.selectedBundle ? { value: form.selectedBundle } : {}),
    });
    body.push(...errorLine(e.bundle));
  }
  if (form.flows.length > 1) {
    body.push({
      type: 'Input.ChoiceSet',
      id: 'flow',
      label: 'Access flow',
      style: 'compact',
      choices: choices(form.flows.slice(0, MAX_FLOWS).map((f) => ({ title: f.name, value: f.id }))),
      ...(form.selectedFlowId ? { value: form.selectedFlowId } : {}),
    });
    body.push(...errorLine(e.flow));
  }
  if (form.permissions.length > 0) {
    const selected =
      form.selectedPermission ?? (form.permissions.length === 1 ? form.permissions[0] : undefined);
    body.push({
      type: 'Input.ChoiceSet',
      id: 'permission',
      label: 'Permission',
      style: form.permissions.length <= 4 ? 'expanded' : 'compact',
      choices: choices(form.permissions.slice(0, MAX_PERMISSIONS).map((p) => ({ title: p, value: p }))),
      ...(selected ? { value: selected } : {}),
    });
    body.push(...errorLine(e.permission));
  }
  if (form.durations.length > 0) {
    body.push({
      type: 'Input.ChoiceSet',
      id: 'duration',
      label: 'For how long',
      style: 'compact',
      choices: choices(
        form.durations
          .slice(0, MAX_DURATIONS)
          .map((d) => ({ title: formatDuration(d), value: durationChoice(d) })),
      ),
      ...(form.selectedDuration !== undefined ? { value: durationChoice(form.selectedDuration) } : {}),
    });
    body.push(...errorLine(e.duration));
  }
  if (form.breakGlass) {
    body.push({
      type: 'Input.Toggle',
      id: 'breakGlass',
      label: 'Emergency',
      title: 'Break glass: approve it myself now. Every admin is told at once, and one reviews it.',
      valueOn: 'true',
      valueOff: 'false',
      value: form.breakGlassChosen ? 'true' : 'false',
      wrap: true,
    });
    body.push(...errorLine(e.breakGlass));
  }
  if (form.forOthersHint) {
    body.push({
      type: 'Input.Text',
      id: 'onBehalfOf',
      label: 'For (optional): their email',
      placeholder: truncate(form.forOthersHint, 500),
      style: 'Email',
      maxLength: 320,
      ...(form.onBehalfOf ? { value: truncate(form.onBehalfOf, 320) } : {}),
    });
    body.push(...errorLine(e.onBehalfOf));
  }
  body.push({
    type: 'Input.Text',
    id: 'justification',
    label: form.justificationRequired ? 'Why (required)' : 'Why (optional)',
    isMultiline: true,
    maxLength: 2000,
    ...(form.justificationRequired ? { isRequired: true, errorMessage: 'Say why you need this.' } : {}),
    ...(form.justification ? { value: truncate(form.justification, 2000) } : {}),
  });
  body.push(...errorLine(e.justification));
  for (const note of [...form.notes, ...form.closed].slice(0, 5))
    body.push(line([{ text: truncate(note, 500), italic: true }]));
  const data = { shown: shownFields(form).join(','), ...(form.drawn ? { drawn: form.drawn } : {}) };
  return card(body, [
    execute('Submit', VERB.requestSubmit, data, { style: 'positive', associatedInputs: 'auto' }),
    execute('Update choices', VERB.requestForm, data, { associatedInputs: 'auto' }),
  ]);
}

/** The form's answer once the request exists; the outbox's own card (with Cancel) follows. */
export function requestSentCard(r: RequestView, waitingOn: string | undefined): AdaptiveCard {
  return card([
    line([
      { text: r.id, bold: true },
      r.askedBy ? `: you asked, for ${truncate(r.requester.email, 320)}, ` : ': you asked for ',
      targetsText(r),
      ' for ',
      { text: formatDuration(r.durationMinutes), bold: true },
      '.',
    ]),
    line([
      r.breakGlass
        ? 'You broke the glass: Latch is granting it now. Every admin has been told, and one will review it.'
        : r.state === 'pending'
          ? `Waiting for ${truncate(waitingOn ?? 'the approvers', 500)}.`
          : 'No approval needed: Latch is granting it now.',
    ]),
  ]);
}
