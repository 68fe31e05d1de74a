/**
 * Validator of the documented Slack Block Kit limits
 * (https://docs.slack.dev/reference/block-kit/, https://docs.slack.dev/reference/views/).
 *
 * The view builders must never produce something Slack rejects, so the tests run every view, message,
 * options-load response and view_submission response through these checks. The zod schemas describe the
 * shape and the per-field limits; `crossChecks` adds the rules that span several blocks (unique block_id
 * and action_id, a single focus_on_load).
 *
 * Objects are strict: an unknown field is reported, so typos such as `acton_id` are caught. Lengths are
 * counted in UTF-16 code units (`string.length`), which is never less than Slack's character count.
 */
import { z } from 'zod';

/** The numbers, for builders that truncate or paginate. */
export const LIMITS = {
  // surfaces
  viewBlocks: 100,
  messageBlocks: 50,
  messageText: 40000,
  modalTitle: 24,
  /** modal `submit` and `close` */
  modalButton: 24,
  privateMetadata: 3000,
  /** block_id, action_id, callback_id, external_id */
  id: 255,
  // text
  /** any text object without a tighter limit (context elements, ...) */
  text: 3000,
  sectionText: 3000,
  fields: 10,
  fieldText: 2000,
  headerText: 150,
  contextElements: 10,
  actionsElements: 25,
  inputLabel: 2000,
  inputHint: 2000,
  imageUrl: 3000,
  imageAltText: 2000,
  imageTitle: 2000,
  url: 3000,
  // elements
  buttonText: 75,
  buttonValue: 2000,
  accessibilityLabel: 75,
  placeholder: 150,
  confirmTitle: 100,
  confirmText: 300,
  confirmButton: 30,
  /** static selects: options, option groups, options per group; also options-load responses */
  options: 100,
  optionGroups: 100,
  optionGroupLabel: 75,
  overflowOptionsMin: 2,
  overflowOptions: 5,
  /** checkboxes and radio buttons */
  choiceOptions: 10,
  /** plain_text_input max_length / min_length */
  textInputLength: 3000,
  // option objects
  optionText: 75,
  optionValue: 150,
  optionDescription: 75,
} as const;

export interface BlockKitIssue {
  path: string;
  message: string;
}

export class BlockKitViolation extends Error {
  issues: BlockKitIssue[];

  constructor(issues: BlockKitIssue[], what = 'payload') {
    super(
      `Slack would reject this ${what}:\n` +
        issues.map((issue) => `  ${issue.path || '(root)'}: ${issue.message}`).join('\n'),
    );
    this.name = 'BlockKitViolation';
    this.issues = issues;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Primitives

/** A string of at most `max` characters; `min` 1 unless told otherwise. */
const str = (max: number, min = 1) => z.string().min(min).max(max);
const id = str(LIMITS.id);
const url = str(LIMITS.url);
const style = z.enum(['primary', 'danger']);
const count = (min: number, max?: number) => {
  const n = z.number().int().min(min);
  return max === undefined ? n : n.max(max);
};

// ---------------------------------------------------------------------------------------------------------
// Composition objects

/** A plain_text text object whose text has at most `max` characters; mrkdwn is rejected. */
function plainText(max: number) {
  return z.strictObject({
    type: z.literal('plain_text', {
      error: (iss) =>
        iss.input === undefined ? 'is required' : `must be "plain_text" here (got ${show(iss.input)})`,
    }),
    text: str(max),
    emoji: z.boolean().optional(),
  });
}

function mrkdwn(max: number) {
  return z.strictObject({
    type: z.literal('mrkdwn'),
    text: str(max),
    verbatim: z.boolean().optional(),
  });
}

/** A plain_text or mrkdwn text object whose text has at most `max` characters. */
function textObject(max: number) {
  return oneOfTypes('a text object', [plainText(max), mrkdwn(max)]);
}

const confirmDialog = z.strictObject({
  title: plainText(LIMITS.confirmTitle),
  text: plainText(LIMITS.confirmText),
  confirm: plainText(LIMITS.confirmButton),
  deny: plainText(LIMITS.confirmButton),
  style: style.optional(),
});

/** Option object; `label` is plain_text in menus, plain_text or mrkdwn in checkboxes and radio buttons. */
function option(label: z.ZodType, withUrl: boolean) {
  return z.strictObject({
    text: label,
    value: str(LIMITS.optionValue),
    description: label.optional(),
    ...(withUrl ? { url: url.optional() } : {}),
  });
}

const menuOption = option(plainText(LIMITS.optionText), false);
const overflowOption = option(plainText(LIMITS.optionText), true);
const choiceOption = option(textObject(LIMITS.optionText), false);

const optionGroup = z.strictObject({
  label: plainText(LIMITS.optionGroupLabel),
  options: z.array(menuOption).min(1).max(LIMITS.options),
});

const dispatchActionConfig = z.strictObject({
  trigger_actions_on: z
    .array(z.enum(['on_enter_pressed', 'on_character_entered']))
    .min(1)
    .optional(),
});

const conversationFilter = z.strictObject({
  include: z
    .array(z.enum(['im', 'mpim', 'private', 'public']))
    .min(1)
    .optional(),
  exclude_external_shared_channels: z.boolean().optional(),
  exclude_bot_users: z.boolean().optional(),
});

const slackFile = z
  .strictObject({ id: z.string().min(1).optional(), url: url.optional() })
  .superRefine(exactlyOneOf(['id', 'url']));

// ---------------------------------------------------------------------------------------------------------
// Block elements

// Fields shared by the interactive elements.
const actionId = { action_id: id.optional() };
const confirmable = { confirm: confirmDialog.optional() };
const focusable = { focus_on_load: z.boolean().optional() };
const placeholder = { placeholder: plainText(LIMITS.placeholder).optional() };
/** select menus, date picker, time picker */
const pickerFields = { ...actionId, ...confirmable, ...focusable, ...placeholder };
/** checkboxes, radio buttons, datetime picker */
const choiceFields = { ...actionId, ...confirmable, ...focusable };
/** plain_text_input, number_input, email/url/rich text inputs */
const textInputFields = {
  ...actionId,
  ...focusable,
  ...placeholder,
  dispatch_action_config: dispatchActionConfig.optional(),
};

const button = z.strictObject({
  type: z.literal('button'),
  text: plainText(LIMITS.buttonText),
  ...actionId,
  url: url.optional(),
  value: str(LIMITS.buttonValue).optional(),
  style: style.optional(),
  ...confirmable,
  accessibility_label: str(LIMITS.accessibilityLabel).optional(),
});

const staticOptions = {
  options: z.array(menuOption).min(1).max(LIMITS.options).optional(),
  option_groups: z.array(optionGroup).min(1).max(LIMITS.optionGroups).optional(),
};
const multi = { max_selected_items: count(1).optional() };
const minQueryLength = { min_query_length: count(0).optional() };

const staticSelect = z
  .strictObject({
    type: z.literal('static_select'),
    ...pickerFields,
    ...staticOptions,
    initial_option: menuOption.optional(),
  })
  .superRefine(exactlyOneOf(['options', 'option_groups']))
  .superRefine(initialOptionsAmongOptions);
const multiStaticSelect = z
  .strictObject({
    type: z.literal('multi_static_select'),
    ...pickerFields,
    ...staticOptions,
    ...multi,
    initial_options: z.array(menuOption).optional(),
  })
  .superRefine(exactlyOneOf(['options', 'option_groups']))
  .superRefine(initialOptionsAmongOptions);
const externalSelect = z.strictObject({
  type: z.literal('external_select'),
  ...pickerFields,
  ...minQueryLength,
  initial_option: menuOption.optional(),
});
const multiExternalSelect = z.strictObject({
  type: z.literal('multi_external_select'),
  ...pickerFields,
  ...minQueryLength,
  ...multi,
  initial_options: z.array(menuOption).optional(),
});
const usersSelect = z.strictObject({
  type: z.literal('users_select'),
  ...pickerFields,
  initial_user: z.string().min(1).optional(),
});
const multiUsersSelect = z.strictObject({
  type: z.literal('multi_users_select'),
  ...pickerFields,
  ...multi,
  initial_users: z.array(z.string().min(1)).optional(),
});
const conversationsSelect = z.strictObject({
  type: z.literal('conversations_select'),
  ...pickerFields,
  initial_conversation: z.string().min(1).optional(),
  default_to_current_conversation: z.boolean().optional(),
  response_url_enabled: z.boolean().optional(),
  filter: conversationFilter.optional(),
});
const multiConversationsSelect = z.strictObject({
  type: z.literal('multi_conversations_select'),
  ...pickerFields,
  ...multi,
  initial_conversations: z.array(z.string().min(1)).optional(),
  default_to_current_conversation: z.boolean().optional(),
  filter: conversationFilter.optional(),
});
const channelsSelect = z.strictObject({
  type: z.literal('channels_select'),
  ...pickerFields,
  initial_channel: z.string().min(1).optional(),
  response_url_enabled: z.boolean().optional(),
});
const multiChannelsSelect = z.strictObject({
  type: z.literal('multi_channels_select'),
  ...pickerFields,
  ...multi,
  initial_channels: z.array(z.string().min(1)).optional(),
});
const selectMenus = [
  staticSelect,
  externalSelect,
  usersSelect,
  conversationsSelect,
  channelsSelect,
  multiStaticSelect,
  multiExternalSelect,
  multiUsersSelect,
  multiConversationsSelect,
  multiChannelsSelect,
] as const;

const overflow = z.strictObject({
  type: z.literal('overflow'),
  ...actionId,
  ...confirmable,
  options: z.array(overflowOption).min(LIMITS.overflowOptionsMin).max(LIMITS.overflowOptions),
});

const choiceOptions = z.array(choiceOption).min(1).max(LIMITS.choiceOptions);
const checkboxes = z
  .strictObject({
    type: z.literal('checkboxes'),
    ...choiceFields,
    options: choiceOptions,
    initial_options: z.array(choiceOption).optional(),
  })
  .superRefine(initialOptionsAmongOptions);
const radioButtons = z
  .strictObject({
    type: z.literal('radio_buttons'),
    ...choiceFields,
    options: choiceOptions,
    initial_option: choiceOption.optional(),
  })
  .superRefine(initialOptionsAmongOptions);

const datepicker = z.strictObject({
  type: z.literal('datepicker'),
  ...pickerFields,
  initial_date: z
    .string()
    .regex(/^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/, 'must be a date formatted YYYY-MM-DD')
    .optional(),
});
const timepicker = z.strictObject({
  type: z.literal('timepicker'),
  ...pickerFields,
  initial_time: z
    .string()
    .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'must be a 24-hour time formatted HH:mm')
    .optional(),
  timezone: z.string().min(1).optional(),
});
const datetimepicker = z.strictObject({
  type: z.literal('datetimepicker'),
  ...choiceFields,
  initial_date_time: count(0, 9_999_999_999).optional(),
});

const plainTextInput = z
  .strictObject({
    type: z.literal('plain_text_input'),
    ...textInputFields,
    initial_value: z.string().optional(),
    multiline: z.boolean().optional(),
    min_length: count(0, LIMITS.textInputLength).optional(),
    max_length: count(1, LIMITS.textInputLength).optional(),
  })
  .superRefine((el, ctx) => {
    const { min_length: min, max_length: max, initial_value: initial } = el;
    if (typeof min === 'number' && typeof max === 'number' && min > max) {
      issue(ctx, ['min_length'], `must not exceed max_length (${min} > ${max})`);
    }
    if (typeof initial === 'string' && typeof max === 'number' && initial.length > max) {
      issue(ctx, ['initial_value'], `must be at most max_length = ${max} characters (got ${initial.length})`);
    }
  });

const numeric = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a number written as a string, e.g. "42"');
const numberInput = z
  .strictObject({
    type: z.literal('number_input'),
    ...textInputFields,
    is_decimal_allowed: z.boolean(),
    initial_value: numeric.optional(),
    min_value: numeric.optional(),
    max_value: numeric.optional(),
  })
  .superRefine((el, ctx) => {
    const fields = ['initial_value', 'min_value', 'max_value'] as const;
    const [initial, min, max] = fields.map((field) => {
      const value: unknown = el[field];
      if (typeof value !== 'string') return undefined;
      if (el.is_decimal_allowed === false && value.includes('.')) {
        issue(ctx, [field], 'must be a whole number when is_decimal_allowed is false');
      }
      return Number(value);
    });
    if (min !== undefined && max !== undefined && min > max) {
      issue(ctx, ['min_value'], `must not exceed max_value (${min} > ${max})`);
    }
    if (initial !== undefined && min !== undefined && initial < min) {
      issue(ctx, ['initial_value'], `must be at least min_value (${initial} < ${min})`);
    }
    if (initial !== undefined && max !== undefined && initial > max) {
      issue(ctx, ['initial_value'], `must be at most max_value (${initial} > ${max})`);
    }
  });
const emailTextInput = z.strictObject({
  type: z.literal('email_text_input'),
  ...textInputFields,
  initial_value: z.string().optional(),
});
const urlTextInput = z.strictObject({
  type: z.literal('url_text_input'),
  ...textInputFields,
  initial_value: z.string().optional(),
});
/** The rich text itself is accepted loosely. */
const richTextValue = z.looseObject({ type: z.literal('rich_text'), elements: z.array(z.unknown()) });
const richTextInput = z.strictObject({
  type: z.literal('rich_text_input'),
  ...textInputFields,
  initial_value: richTextValue.optional(),
});

/** Image element (section accessory, context element). Slack documents no alt_text limit for it. */
const imageElement = z
  .strictObject({
    type: z.literal('image'),
    alt_text: z.string().min(1),
    image_url: url.optional(),
    slack_file: slackFile.optional(),
  })
  .superRefine(exactlyOneOf(['image_url', 'slack_file']));

// Which elements each block accepts.
const sectionAccessory = oneOfTypes('a section accessory', [
  button,
  checkboxes,
  datepicker,
  imageElement,
  overflow,
  radioButtons,
  timepicker,
  ...selectMenus,
]);
const actionsElement = oneOfTypes('an actions block', [
  button,
  checkboxes,
  datepicker,
  datetimepicker,
  overflow,
  radioButtons,
  timepicker,
  ...selectMenus,
]);
const inputElement = oneOfTypes('an input block', [
  plainTextInput,
  numberInput,
  emailTextInput,
  urlTextInput,
  richTextInput,
  checkboxes,
  radioButtons,
  datepicker,
  timepicker,
  datetimepicker,
  ...selectMenus,
]);
const contextElement = oneOfTypes('a context block', [
  plainText(LIMITS.text),
  mrkdwn(LIMITS.text),
  imageElement,
]);

// ---------------------------------------------------------------------------------------------------------
// Blocks

const blockId = { block_id: id.optional() };

const section = z
  .strictObject({
    type: z.literal('section'),
    ...blockId,
    text: textObject(LIMITS.sectionText).optional(),
    fields: z.array(textObject(LIMITS.fieldText)).min(1).max(LIMITS.fields).optional(),
    accessory: sectionAccessory.optional(),
    expand: z.boolean().optional(),
  })
  .superRefine((block, ctx) => {
    if (block.text === undefined && block.fields === undefined) issue(ctx, [], 'needs text or fields');
  });
const header = z.strictObject({ type: z.literal('header'), ...blockId, text: plainText(LIMITS.headerText) });
const divider = z.strictObject({ type: z.literal('divider'), ...blockId });
const context = z.strictObject({
  type: z.literal('context'),
  ...blockId,
  elements: z.array(contextElement).min(1).max(LIMITS.contextElements),
});
const actions = z.strictObject({
  type: z.literal('actions'),
  ...blockId,
  elements: z.array(actionsElement).min(1).max(LIMITS.actionsElements),
});
const inputBlock = z.strictObject({
  type: z.literal('input'),
  ...blockId,
  label: plainText(LIMITS.inputLabel),
  element: inputElement,
  hint: plainText(LIMITS.inputHint).optional(),
  optional: z.boolean().optional(),
  dispatch_action: z.boolean().optional(),
});
const imageBlock = z
  .strictObject({
    type: z.literal('image'),
    ...blockId,
    alt_text: str(LIMITS.imageAltText),
    image_url: str(LIMITS.imageUrl).optional(),
    slack_file: slackFile.optional(),
    title: plainText(LIMITS.imageTitle).optional(),
  })
  .superRefine(exactlyOneOf(['image_url', 'slack_file']));
/** Rich text is accepted loosely: only its outline is checked. */
const richText = z.looseObject({
  type: z.literal('rich_text'),
  ...blockId,
  elements: z.array(z.looseObject({ type: z.string() })),
});

const block = oneOfTypes('a block list', [
  section,
  header,
  divider,
  context,
  actions,
  inputBlock,
  imageBlock,
  richText,
]);

// ---------------------------------------------------------------------------------------------------------
// Surfaces

const viewFields = {
  blocks: z.array(block).max(LIMITS.viewBlocks),
  private_metadata: z.string().max(LIMITS.privateMetadata).optional(),
  callback_id: z.string().max(LIMITS.id).optional(),
  // Slack documents no length for external_id; the 255 is our own rule, like the other identifiers.
  external_id: z.string().max(LIMITS.id).optional(),
};

const modalView = z.strictObject({
  type: z.literal('modal'),
  title: plainText(LIMITS.modalTitle),
  close: plainText(LIMITS.modalButton).optional(),
  submit: plainText(LIMITS.modalButton).optional(),
  clear_on_close: z.boolean().optional(),
  notify_on_close: z.boolean().optional(),
  submit_disabled: z.boolean().optional(),
  ...viewFields,
});
const homeView = z.strictObject({ type: z.literal('home'), ...viewFields });
const viewSchema = oneOfTypes('a view', [modalView, homeView]);

const messageSchema = z
  .looseObject({
    text: z.string().max(LIMITS.messageText).optional(),
    blocks: z.array(block).max(LIMITS.messageBlocks).optional(),
  })
  .superRefine((msg, ctx) => {
    const hasText = typeof msg.text === 'string' && msg.text.length > 0;
    const hasBlocks = Array.isArray(msg.blocks) && msg.blocks.length > 0;
    const hasAttachments = Array.isArray(msg.attachments) && msg.attachments.length > 0;
    if (!hasText && !hasBlocks && !hasAttachments && msg.delete_original !== true) {
      issue(ctx, [], 'needs non-empty text or blocks');
    }
  });

const optionsResponse = z
  .strictObject({
    options: z.array(menuOption).max(LIMITS.options).optional(),
    option_groups: z.array(optionGroup).max(LIMITS.optionGroups).optional(),
  })
  .superRefine(exactlyOneOf(['options', 'option_groups']));

const viewSubmissionResponse = z.discriminatedUnion(
  'response_action',
  [
    z.strictObject({
      response_action: z.literal('errors'),
      errors: z
        .record(id, z.string().min(1))
        .refine((errors) => Object.keys(errors).length > 0, 'must name at least one block_id'),
    }),
    z.strictObject({ response_action: z.enum(['update', 'push']), view: modalView }),
    z.strictObject({ response_action: z.literal('clear') }),
  ],
  { error: (iss) => unknownType(iss) },
);

// ---------------------------------------------------------------------------------------------------------
// Entry points

/** A modal or home tab view, as given to views.open / update / push / publish. */
export function checkView(value: unknown): BlockKitIssue[] {
  const v = fromJson(value);
  if (!v.ok) return [v.issue];
  return [...run(viewSchema, v.value), ...crossChecks(v.value, '')];
}

/** A message as sent to chat.postMessage, chat.update, chat.postEphemeral or a response_url. */
export function checkMessage(value: unknown): BlockKitIssue[] {
  if (isRecord(value) && typeof value.blocks === 'string') {
    const blocks = fromJson(value.blocks, 'blocks');
    if (!blocks.ok) return [blocks.issue];
    value = { ...value, blocks: blocks.value };
  }
  return [...run(messageSchema, value), ...crossChecks(value, '')];
}

/** The response to a block_suggestion (options load) request of an external select. */
export function checkOptionsResponse(value: unknown): BlockKitIssue[] {
  return run(optionsResponse, value);
}

/** The body acknowledging a view_submission: empty, errors, update, push or clear. */
export function checkViewSubmissionResponse(value: unknown): BlockKitIssue[] {
  if (value === undefined || value === null || value === '') return [];
  if (isRecord(value) && Object.keys(value).length === 0) return [];
  const view = isRecord(value) ? value.view : undefined;
  return [...run(viewSubmissionResponse, value), ...crossChecks(view, 'view.')];
}

export function assertView(value: unknown): void {
  const issues = checkView(value);
  if (issues.length > 0) throw new BlockKitViolation(issues, 'view');
}

export function assertMessage(value: unknown): void {
  const issues = checkMessage(value);
  if (issues.length > 0) throw new BlockKitViolation(issues, 'message');
}

// ---------------------------------------------------------------------------------------------------------
// Cross-block rules

/**
 * Rules that span blocks, checked on the raw value so that they are reported even when a block is malformed:
 * block_id unique within the surface, action_id unique within its block (Slack's documented rule, which
 * lets a list repeat one button per row), at most one element with focus_on_load, and a submit
 * button on a modal with an input block.
 */
function crossChecks(surface: unknown, prefix: string): BlockKitIssue[] {
  const issues: BlockKitIssue[] = [];
  if (!isRecord(surface)) return issues;
  const blocks = arrayOf(surface.blocks);
  const blockIds = new Map<string, string>();
  let focused: string | undefined;
  const unique = (seen: Map<string, string>, key: string, value: unknown, path: string) => {
    if (typeof value !== 'string') return;
    const first = seen.get(value);
    if (first === undefined) seen.set(value, path);
    else issues.push({ path, message: `duplicate ${key} ${show(value)} (also used at ${first})` });
  };

  blocks.forEach((b, i) => {
    if (!isRecord(b)) return;
    const blockPath = `${prefix}blocks[${i}]`;
    unique(blockIds, 'block_id', b.block_id, `${blockPath}.block_id`);
    const actionIds = new Map<string, string>();
    for (const [element, path] of elementsOf(b, blockPath)) {
      unique(actionIds, 'action_id', element.action_id, `${path}.action_id`);
      if (element.focus_on_load === true) {
        if (focused === undefined) focused = path;
        else
          issues.push({
            path: `${path}.focus_on_load`,
            message: `only one element may set focus_on_load (also set at ${focused})`,
          });
      }
    }
  });

  const hasInput = blocks.some((b) => isRecord(b) && b.type === 'input');
  if (surface.type === 'modal' && hasInput && surface.submit === undefined) {
    issues.push({ path: `${prefix}submit`, message: 'is required when the modal has an input block' });
  }
  return issues;
}

/** The interactive elements of a block with their paths. */
function elementsOf(b: Record<string, unknown>, at: string): [Record<string, unknown>, string][] {
  const found: [Record<string, unknown>, string][] = [];
  if (isRecord(b.accessory)) found.push([b.accessory, `${at}.accessory`]);
  if (isRecord(b.element)) found.push([b.element, `${at}.element`]);
  if (b.type === 'actions' && Array.isArray(b.elements)) {
    b.elements.forEach((e, i) => {
      if (isRecord(e)) found.push([e, `${at}.elements[${i}]`]);
    });
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------
// Helpers

type Ctx = z.RefinementCtx;

function issue(ctx: Ctx, path: PropertyKey[], message: string): void {
  ctx.addIssue({ code: 'custom', path, message });
}

/** Exactly one of the given fields must be present. */
function exactlyOneOf(fields: string[]) {
  return (value: Record<string, unknown>, ctx: Ctx) => {
    const present = fields.filter((field) => value[field] !== undefined);
    if (present.length === 0) issue(ctx, [], `needs one of ${fields.join(' or ')}`);
    if (present.length > 1) issue(ctx, [present[1]!], `cannot be combined with ${present[0]}`);
  };
}

/** initial_option / initial_options must exactly match options of the element (text and value). */
function initialOptionsAmongOptions(
  el: { options?: unknown; option_groups?: unknown; initial_option?: unknown; initial_options?: unknown },
  ctx: Ctx,
) {
  const options = [
    ...arrayOf(el.options),
    ...arrayOf(el.option_groups).flatMap((group) => (isRecord(group) ? arrayOf(group.options) : [])),
  ].filter(isRecord);
  const initial: [unknown, PropertyKey[]][] =
    el.initial_options !== undefined
      ? arrayOf(el.initial_options).map((o, i) => [o, ['initial_options', i]])
      : el.initial_option !== undefined
        ? [[el.initial_option, ['initial_option']]]
        : [];
  for (const [chosen, path] of initial) {
    if (!isRecord(chosen)) continue;
    const match = options.find((o) => o.value === chosen.value);
    if (match === undefined) {
      issue(ctx, path, `must be one of the options (none has value ${show(chosen.value)})`);
    } else if (!sameText(match.text, chosen.text)) {
      issue(ctx, [...path, 'text'], `must match the text of the option with value ${show(chosen.value)}`);
    }
  }
}

function sameText(a: unknown, b: unknown): boolean {
  return isRecord(a) && isRecord(b) && a.type === b.type && a.text === b.text;
}

/** A union of object schemas told apart by `type`, reporting an unknown type readably. */
function oneOfTypes<
  const T extends readonly [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]],
>(where: string, options: T) {
  return z.discriminatedUnion('type', options, { error: (iss) => unknownType(iss, where) });
}

/** The message for a discriminated union given an unknown (or no) discriminator value. */
function unknownType(iss: z.core.$ZodRawIssue, where?: string): string | undefined {
  if (iss.code !== 'invalid_union' || !('discriminator' in iss)) return undefined;
  const key = String(iss.discriminator);
  const got = isRecord(iss.input) ? iss.input[key] : undefined;
  const allowed = `(allowed: ${Array.isArray(iss.options) ? iss.options.map(show).join(', ') : '?'})`;
  if (got === undefined) return `is required ${allowed}`;
  return `${key} ${show(got)} is not allowed${where === undefined ? '' : ` in ${where}`} ${allowed}`;
}

function run(schema: z.ZodType, value: unknown): BlockKitIssue[] {
  const result = schema.safeParse(value, { error: describe });
  if (result.success) return [];
  return result.error.issues.flatMap((iss) =>
    iss.code === 'unrecognized_keys'
      ? iss.keys.map((key) => ({
          path: formatPath([...iss.path, key]),
          message: 'is not a known field here',
        }))
      : [{ path: formatPath(iss.path), message: iss.message }],
  );
}

/** Messages for zod's built-in issues, naming the limit and what was found. */
function describe(iss: z.core.$ZodRawIssue): string | undefined {
  const input: unknown = iss.input;
  switch (iss.code) {
    case 'too_big':
    case 'too_small': {
      const most = iss.code === 'too_big';
      const bound = Number(most ? iss.maximum : iss.minimum);
      const word = most ? 'at most' : 'at least';
      if (typeof input === 'string') {
        if (!most && bound === 1) return 'must not be empty';
        return `must be ${word} ${bound} characters (got ${input.length})`;
      }
      if (Array.isArray(input))
        return `must have ${word} ${bound} item${bound === 1 ? '' : 's'} (got ${input.length})`;
      return `must be ${word} ${bound} (got ${show(input)})`;
    }
    case 'invalid_type':
      if (input === undefined) return 'is required';
      if (iss.expected === 'int') return `must be an integer (got ${show(input)})`;
      return `must be ${iss.expected === 'array' || iss.expected === 'object' ? 'an' : 'a'} ${iss.expected} (got ${kind(input)})`;
    case 'invalid_value':
      return iss.values.length === 1
        ? `must be ${show(iss.values[0])} (got ${show(input)})`
        : `must be one of ${iss.values.map(show).join(', ')} (got ${show(input)})`;
    case 'invalid_union':
      return unknownType(iss);
    default:
      return undefined;
  }
}

function formatPath(path: PropertyKey[]): string {
  return path
    .map((key, i) =>
      typeof key === 'number'
        ? `[${key}]`
        : typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)
          ? `${i === 0 ? '' : '.'}${key}`
          : `[${JSON.stringify(String(key))}]`,
    )
    .join('');
}

/** The Web API also takes views and blocks as JSON strings (form-encoded requests). */
function fromJson(
  value: unknown,
  path = '',
): { ok: true; value: unknown } | { ok: false; issue: BlockKitIssue } {
  if (typeof value !== 'string') return { ok: true, value };
  try {
    return { ok: true, value: JSON.parse(value) as unknown };
  } catch {
    return { ok: false, issue: { path, message: 'is a string but not valid JSON' } };
  }
}

function arrayOf(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
}

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (typeof value === 'object' && value !== null) return kind(value);
  return String(value);
}
