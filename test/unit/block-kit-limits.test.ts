import { describe, expect, it } from '@jest/globals';
import {
  assertMessage,
  assertView,
  BlockKitViolation,
  checkMessage,
  checkOptionsResponse,
  checkView,
  checkViewSubmissionResponse,
  LIMITS,
} from '../support/slack-views/block-kit-limits.js';

type Json = Record<string, unknown>;

const pt = (text: string) => ({ type: 'plain_text', text });
const md = (text: string) => ({ type: 'mrkdwn', text });
const x = (n: number) => 'x'.repeat(n);
const opt = (value: string, text = value) => ({ text: pt(text), value });
const opts = (n: number) => Array.from({ length: n }, (_, i) => opt(`v${i}`));
const button = (action_id: string, extra: Json = {}) => ({
  type: 'button',
  text: pt('Go'),
  action_id,
  ...extra,
});
const confirm = (extra: Json = {}) => ({
  title: pt('Are you sure?'),
  text: pt('This grants production access.'),
  confirm: pt('Approve'),
  deny: pt('Cancel'),
  ...extra,
});

const modal = (blocks: unknown[], extra: Json = {}) => ({
  type: 'modal',
  title: pt('Request access'),
  submit: pt('Request'),
  close: pt('Cancel'),
  blocks,
  ...extra,
});
const section = (extra: Json) => ({ type: 'section', text: md('Hello'), ...extra });
const actions = (...elements: unknown[]) => ({ type: 'actions', elements });
const input = (element: unknown, extra: Json = {}) => ({
  type: 'input',
  label: pt('Label'),
  element,
  ...extra,
});
const select = (extra: Json) => ({ type: 'static_select', action_id: 'pick', ...extra });

/** The realistic request modal the access-request flow opens. */
const requestModal = modal(
  [
    { type: 'header', text: pt('Request just-in-time access') },
    section({ text: md('*Flow:* production database — approvals by _#sre-oncall_') }),
    input(
      {
        type: 'external_select',
        action_id: 'resource',
        min_query_length: 0,
        placeholder: pt('Search resources'),
        initial_option: opt('db-prod', 'Production DB'),
      },
      { block_id: 'resource', label: pt('Resource'), dispatch_action: true },
    ),
    input(
      select({
        action_id: 'role',
        placeholder: pt('Pick a role'),
        option_groups: [
          { label: pt('Read'), options: [opt('ro', 'Read only'), opt('audit', 'Auditor')] },
          { label: pt('Write'), options: [opt('rw', 'Read/write')] },
        ],
        initial_option: opt('ro', 'Read only'),
      }),
      { block_id: 'role', label: pt('Role') },
    ),
    input(
      select({
        action_id: 'duration',
        options: [opt('60', '1 hour'), opt('240', '4 hours')],
        initial_option: opt('60', '1 hour'),
      }),
      { block_id: 'duration', label: pt('Duration'), hint: pt('The flow allows at most 4 hours') },
    ),
    input(
      {
        type: 'plain_text_input',
        action_id: 'reason',
        multiline: true,
        min_length: 10,
        max_length: 500,
        initial_value: 'Investigating INC-123',
        placeholder: pt('Why do you need access?'),
        focus_on_load: true,
      },
      { block_id: 'reason', label: pt('Reason') },
    ),
    input(
      {
        type: 'checkboxes',
        action_id: 'notify',
        options: [
          { text: md('*Notify* my team'), value: 'team', description: md('Posts in _#team_') },
          { text: pt('Notify approvers by DM'), value: 'dm' },
        ],
        initial_options: [
          { text: md('*Notify* my team'), value: 'team', description: md('Posts in _#team_') },
        ],
      },
      { block_id: 'notify', label: pt('Notifications'), optional: true },
    ),
    { type: 'divider' },
    {
      type: 'context',
      elements: [
        md('Requested by <@U123>'),
        { type: 'image', image_url: 'https://x.test/a.png', alt_text: 'avatar' },
      ],
    },
    actions(
      button('approve', { style: 'primary', value: 'req-1', confirm: confirm({ style: 'primary' }) }),
      button('deny', { style: 'danger', value: 'req-1', confirm: confirm({ style: 'danger' }) }),
      button('docs', { url: 'https://docs.test/runbook', accessibility_label: 'Open the runbook' }),
      {
        type: 'overflow',
        action_id: 'more',
        options: [opt('extend', 'Extend'), { ...opt('help', 'Help'), url: 'https://docs.test/help' }],
      },
    ),
  ],
  {
    callback_id: 'request',
    private_metadata: JSON.stringify({ flow: 'db', channel: 'C1' }),
    external_id: 'req-1',
  },
);

/** Every other element and block we may use, in one valid modal. */
const kitchenSink = modal([
  section({
    fields: [md('*Requester*\n<@U1>'), pt('Status: pending')],
    text: undefined,
    accessory: button('open', { text: pt('Open') }),
  }),
  section({ accessory: { type: 'image', slack_file: { id: 'F123' }, alt_text: 'diagram' }, expand: true }),
  section({ accessory: { type: 'users_select', action_id: 'who', initial_user: 'U1' } }),
  section({
    accessory: {
      type: 'multi_static_select',
      action_id: 'envs',
      options: [opt('dev'), opt('prod')],
      initial_options: [opt('prod')],
      max_selected_items: 2,
    },
  }),
  { type: 'image', image_url: 'https://x.test/b.png', alt_text: 'graph', title: pt('Usage') },
  {
    type: 'rich_text',
    elements: [
      { type: 'rich_text_section', elements: [{ type: 'text', text: 'hi', style: { bold: true } }] },
    ],
  },
  input({ type: 'users_select', action_id: 'approver', placeholder: pt('Approver') }),
  input({ type: 'multi_users_select', action_id: 'approvers', initial_users: ['U1', 'U2'] }),
  input({
    type: 'conversations_select',
    action_id: 'channel',
    default_to_current_conversation: true,
    response_url_enabled: true,
    filter: { include: ['public', 'private'], exclude_bot_users: true },
  }),
  input({ type: 'multi_conversations_select', action_id: 'channels', initial_conversations: ['C1'] }),
  input({ type: 'channels_select', action_id: 'pub', initial_channel: 'C1' }),
  input({ type: 'multi_channels_select', action_id: 'pubs', max_selected_items: 3 }),
  input({
    type: 'multi_external_select',
    action_id: 'groups',
    min_query_length: 2,
    initial_options: [opt('g1')],
  }),
  input({
    type: 'number_input',
    action_id: 'hours',
    is_decimal_allowed: false,
    min_value: '1',
    max_value: '8',
  }),
  input({ type: 'email_text_input', action_id: 'email', initial_value: 'a@b.test' }),
  input({
    type: 'url_text_input',
    action_id: 'link',
    dispatch_action_config: { trigger_actions_on: ['on_enter_pressed'] },
  }),
  input({ type: 'datepicker', action_id: 'day', initial_date: '2024-02-29' }),
  input({ type: 'timepicker', action_id: 'at', initial_time: '23:59', timezone: 'Europe/Paris' }),
  input({ type: 'datetimepicker', action_id: 'when', initial_date_time: 1700000000 }),
  input({
    type: 'radio_buttons',
    action_id: 'urgency',
    options: [opt('low', 'Low'), { text: md('*High*'), value: 'high' }],
    initial_option: opt('low', 'Low'),
  }),
  input({
    type: 'rich_text_input',
    action_id: 'notes',
    initial_value: { type: 'rich_text', elements: [] },
  }),
  actions({ type: 'datepicker', action_id: 'd2' }, { type: 'timepicker', action_id: 't2' }),
  actions(
    { type: 'checkboxes', action_id: 'c2', options: opts(10) },
    select({ action_id: 's2', options: opts(100) }),
  ),
]);

describe('valid Block Kit', () => {
  it('accepts the request modal', () => {
    expect(checkView(requestModal)).toEqual([]);
    expect(() => assertView(requestModal)).not.toThrow();
  });

  it('accepts every element and block we use', () => {
    expect(checkView(kitchenSink)).toEqual([]);
  });

  it('accepts a home tab', () => {
    const home = {
      type: 'home',
      callback_id: 'home',
      blocks: [
        { type: 'header', text: pt('Your access') },
        section({ text: md('You have *2* active grants'), accessory: button('refresh') }),
        actions(button('request', { style: 'primary' })),
      ],
    };
    expect(checkView(home)).toEqual([]);
  });

  it('accepts views given as JSON strings, as in form-encoded Web API calls', () => {
    expect(checkView(JSON.stringify(requestModal))).toEqual([]);
    expect(checkView('{not json')).toEqual([{ path: '', message: 'is a string but not valid JSON' }]);
  });

  it('accepts messages with text, blocks or both, and extra keys', () => {
    const blocks = [section({ text: md('*Approved* for 1 hour') }), actions(button('revoke'))];
    expect(checkMessage({ channel: 'C1', text: 'Approved' })).toEqual([]);
    expect(checkMessage({ channel: 'C1', ts: '1.2', text: 'Approved', blocks })).toEqual([]);
    expect(checkMessage({ blocks })).toEqual([]);
    expect(checkMessage({ text: 'Approved', blocks: JSON.stringify(blocks) })).toEqual([]);
    expect(checkMessage({ replace_original: true, text: x(LIMITS.messageText) })).toEqual([]);
    expect(checkMessage({ delete_original: true })).toEqual([]);
    expect(() => assertMessage({ text: 'hi' })).not.toThrow();
  });

  it('accepts the limits themselves', () => {
    expect(checkView(modal([], { title: pt(x(24)), submit: pt(x(24)), close: pt(x(24)) }))).toEqual([]);
    expect(checkView(modal(Array.from({ length: 100 }, () => ({ type: 'divider' }))))).toEqual([]);
    expect(
      checkMessage({ text: 't', blocks: Array.from({ length: 50 }, () => ({ type: 'divider' })) }),
    ).toEqual([]);
    expect(checkView(modal([section({ text: md(x(3000)), fields: Array(10).fill(pt(x(2000))) })]))).toEqual(
      [],
    );
    expect(checkView(modal([actions(button('a', { text: pt(x(75)), value: x(2000) }))]))).toEqual([]);
    expect(
      checkView(
        modal([actions(select({ options: [{ text: pt(x(75)), value: x(150), description: pt(x(75)) }] }))]),
      ),
    ).toEqual([]);
  });

  it('accepts options-load responses', () => {
    expect(checkOptionsResponse({ options: opts(100) })).toEqual([]);
    expect(checkOptionsResponse({ options: [] })).toEqual([]);
    expect(checkOptionsResponse({ option_groups: [{ label: pt('Recent'), options: opts(3) }] })).toEqual([]);
  });

  it('accepts view_submission responses', () => {
    expect(checkViewSubmissionResponse(undefined)).toEqual([]);
    expect(checkViewSubmissionResponse({})).toEqual([]);
    expect(
      checkViewSubmissionResponse({ response_action: 'errors', errors: { reason: 'Too short' } }),
    ).toEqual([]);
    expect(checkViewSubmissionResponse({ response_action: 'update', view: requestModal })).toEqual([]);
    expect(checkViewSubmissionResponse({ response_action: 'push', view: modal([]) })).toEqual([]);
    expect(checkViewSubmissionResponse({ response_action: 'clear' })).toEqual([]);
  });
});

/** [what, view, path, message]: each view breaks exactly one rule. */
const viewViolations: [string, unknown, string, string][] = [
  // views
  [
    'a 25-character modal title',
    modal([], { title: pt(x(25)) }),
    'title.text',
    'must be at most 24 characters (got 25)',
  ],
  ['a modal without title', modal([], { title: undefined }), 'title', 'is required'],
  [
    'a mrkdwn modal title',
    modal([], { title: md('Hi') }),
    'title.type',
    'must be "plain_text" here (got "mrkdwn")',
  ],
  [
    'a long submit',
    modal([], { submit: pt(x(25)) }),
    'submit.text',
    'must be at most 24 characters (got 25)',
  ],
  ['a long close', modal([], { close: pt(x(25)) }), 'close.text', 'must be at most 24 characters (got 25)'],
  [
    '101 blocks in a modal',
    modal(Array.from({ length: 101 }, () => ({ type: 'divider' }))),
    'blocks',
    'must have at most 100 items (got 101)',
  ],
  [
    'long private_metadata',
    modal([], { private_metadata: x(3001) }),
    'private_metadata',
    'must be at most 3000 characters (got 3001)',
  ],
  [
    'long callback_id',
    modal([], { callback_id: x(256) }),
    'callback_id',
    'must be at most 255 characters (got 256)',
  ],
  [
    'long external_id',
    modal([], { external_id: x(256) }),
    'external_id',
    'must be at most 255 characters (got 256)',
  ],
  [
    'an input modal without submit',
    modal([input({ type: 'plain_text_input' })], { submit: undefined }),
    'submit',
    'is required when the modal has an input block',
  ],
  [
    'a home tab with a title',
    { type: 'home', title: pt('Hi'), blocks: [] },
    'title',
    'is not a known field here',
  ],
  [
    'an unknown view type',
    { type: 'dialog', blocks: [] },
    'type',
    'type "dialog" is not allowed in a view (allowed: "modal", "home")',
  ],
  // text objects and blocks
  ['an empty text', modal([section({ text: md('') })]), 'blocks[0].text.text', 'must not be empty'],
  [
    'an unknown block type',
    modal([{ type: 'sectoin', text: md('Hi') }]),
    'blocks[0].type',
    'type "sectoin" is not allowed in a block list (allowed: "section", "header", "divider", "context", "actions", "input", "image", "rich_text")',
  ],
  [
    'a misspelt field',
    modal([section({ blokc_id: 'b' })]),
    'blocks[0].blokc_id',
    'is not a known field here',
  ],
  [
    'a long block_id',
    modal([{ type: 'divider', block_id: x(256) }]),
    'blocks[0].block_id',
    'must be at most 255 characters (got 256)',
  ],
  [
    'a duplicate block_id',
    modal([section({ block_id: 'b' }), { type: 'divider', block_id: 'b' }]),
    'blocks[1].block_id',
    'duplicate block_id "b" (also used at blocks[0].block_id)',
  ],
  [
    'long section text',
    modal([section({ text: md(x(3001)) })]),
    'blocks[0].text.text',
    'must be at most 3000 characters (got 3001)',
  ],
  [
    '11 fields',
    modal([section({ fields: Array(11).fill(md('f')) })]),
    'blocks[0].fields',
    'must have at most 10 items (got 11)',
  ],
  [
    'a long field',
    modal([section({ fields: [md('ok'), md(x(2001))] })]),
    'blocks[0].fields[1].text',
    'must be at most 2000 characters (got 2001)',
  ],
  [
    'a section with neither text nor fields',
    modal([{ type: 'section' }]),
    'blocks[0]',
    'needs text or fields',
  ],
  [
    'a text input as section accessory',
    modal([section({ accessory: { type: 'plain_text_input' } })]),
    'blocks[0].accessory.type',
    'type "plain_text_input" is not allowed in a section accessory (allowed: "button", "checkboxes", "datepicker", "image", "overflow", "radio_buttons", "timepicker", "static_select", "external_select", "users_select", "conversations_select", "channels_select", "multi_static_select", "multi_external_select", "multi_users_select", "multi_conversations_select", "multi_channels_select")',
  ],
  [
    'a long header',
    modal([{ type: 'header', text: pt(x(151)) }]),
    'blocks[0].text.text',
    'must be at most 150 characters (got 151)',
  ],
  [
    'a mrkdwn header',
    modal([{ type: 'header', text: md('*Hi*') }]),
    'blocks[0].text.type',
    'must be "plain_text" here (got "mrkdwn")',
  ],
  [
    '11 context elements',
    modal([{ type: 'context', elements: Array(11).fill(md('c')) }]),
    'blocks[0].elements',
    'must have at most 10 items (got 11)',
  ],
  [
    'a button in a context block',
    modal([{ type: 'context', elements: [button('b')] }]),
    'blocks[0].elements[0].type',
    'type "button" is not allowed in a context block (allowed: "plain_text", "mrkdwn", "image")',
  ],
  [
    '26 action elements',
    modal([actions(...Array.from({ length: 26 }, (_, i) => button(`b${i}`)))]),
    'blocks[0].elements',
    'must have at most 25 items (got 26)',
  ],
  [
    'a long input label',
    modal([input({ type: 'plain_text_input' }, { label: pt(x(2001)) })]),
    'blocks[0].label.text',
    'must be at most 2000 characters (got 2001)',
  ],
  [
    'a long input hint',
    modal([input({ type: 'plain_text_input' }, { hint: pt(x(2001)) })]),
    'blocks[0].hint.text',
    'must be at most 2000 characters (got 2001)',
  ],
  [
    'a mrkdwn input label',
    modal([input({ type: 'plain_text_input' }, { label: md('L') })]),
    'blocks[0].label.type',
    'must be "plain_text" here (got "mrkdwn")',
  ],
  [
    'an input without element',
    modal([{ type: 'input', label: pt('L') }]),
    'blocks[0].element',
    'is required',
  ],
  [
    'a button in an input block',
    modal([input(button('b'))]),
    'blocks[0].element.type',
    'type "button" is not allowed in an input block (allowed: "plain_text_input", "number_input", "email_text_input", "url_text_input", "rich_text_input", "checkboxes", "radio_buttons", "datepicker", "timepicker", "datetimepicker", "static_select", "external_select", "users_select", "conversations_select", "channels_select", "multi_static_select", "multi_external_select", "multi_users_select", "multi_conversations_select", "multi_channels_select")',
  ],
  [
    'a long image_url',
    modal([{ type: 'image', image_url: x(3001), alt_text: 'a' }]),
    'blocks[0].image_url',
    'must be at most 3000 characters (got 3001)',
  ],
  [
    'a long alt_text',
    modal([{ type: 'image', image_url: 'https://x.test/i.png', alt_text: x(2001) }]),
    'blocks[0].alt_text',
    'must be at most 2000 characters (got 2001)',
  ],
  [
    'an image with image_url and slack_file',
    modal([{ type: 'image', image_url: 'https://x.test/i.png', slack_file: { id: 'F1' }, alt_text: 'a' }]),
    'blocks[0].slack_file',
    'cannot be combined with image_url',
  ],
  [
    'an image without source',
    modal([{ type: 'image', alt_text: 'a' }]),
    'blocks[0]',
    'needs one of image_url or slack_file',
  ],
  // elements
  [
    'a long action_id',
    modal([actions(button(x(256)))]),
    'blocks[0].elements[0].action_id',
    'must be at most 255 characters (got 256)',
  ],
  [
    'a duplicate action_id in one block',
    modal([actions(button('go'), button('go'))]),
    'blocks[0].elements[1].action_id',
    'duplicate action_id "go" (also used at blocks[0].elements[0].action_id)',
  ],
  [
    'a long button text',
    modal([actions(button('b', { text: pt(x(76)) }))]),
    'blocks[0].elements[0].text.text',
    'must be at most 75 characters (got 76)',
  ],
  [
    'a mrkdwn button text',
    modal([actions(button('b', { text: md('*Go*') }))]),
    'blocks[0].elements[0].text.type',
    'must be "plain_text" here (got "mrkdwn")',
  ],
  [
    'a long button value',
    modal([actions(button('b', { value: x(2001) }))]),
    'blocks[0].elements[0].value',
    'must be at most 2000 characters (got 2001)',
  ],
  [
    'a long button url',
    modal([actions(button('b', { url: x(3001) }))]),
    'blocks[0].elements[0].url',
    'must be at most 3000 characters (got 3001)',
  ],
  [
    'a button style',
    modal([actions(button('b', { style: 'green' }))]),
    'blocks[0].elements[0].style',
    'must be one of "primary", "danger" (got "green")',
  ],
  [
    'a long confirm title',
    modal([actions(button('b', { confirm: confirm({ title: pt(x(101)) }) }))]),
    'blocks[0].elements[0].confirm.title.text',
    'must be at most 100 characters (got 101)',
  ],
  [
    'a long confirm text',
    modal([actions(button('b', { confirm: confirm({ text: pt(x(301)) }) }))]),
    'blocks[0].elements[0].confirm.text.text',
    'must be at most 300 characters (got 301)',
  ],
  [
    'a long confirm button',
    modal([actions(button('b', { confirm: confirm({ confirm: pt(x(31)) }) }))]),
    'blocks[0].elements[0].confirm.confirm.text',
    'must be at most 30 characters (got 31)',
  ],
  [
    'a long deny button',
    modal([actions(button('b', { confirm: confirm({ deny: pt(x(31)) }) }))]),
    'blocks[0].elements[0].confirm.deny.text',
    'must be at most 30 characters (got 31)',
  ],
  [
    'a long placeholder',
    modal([input(select({ options: opts(1), placeholder: pt(x(151)) }))]),
    'blocks[0].element.placeholder.text',
    'must be at most 150 characters (got 151)',
  ],
  [
    '101 options',
    modal([input(select({ options: opts(101) }))]),
    'blocks[0].element.options',
    'must have at most 100 items (got 101)',
  ],
  [
    '101 option groups',
    modal([input(select({ option_groups: Array(101).fill({ label: pt('g'), options: opts(1) }) }))]),
    'blocks[0].element.option_groups',
    'must have at most 100 items (got 101)',
  ],
  [
    '101 options in a group',
    modal([input(select({ option_groups: [{ label: pt('g'), options: opts(101) }] }))]),
    'blocks[0].element.option_groups[0].options',
    'must have at most 100 items (got 101)',
  ],
  [
    'a long option group label',
    modal([input(select({ option_groups: [{ label: pt(x(76)), options: opts(1) }] }))]),
    'blocks[0].element.option_groups[0].label.text',
    'must be at most 75 characters (got 76)',
  ],
  [
    'both options and option_groups',
    modal([input(select({ options: opts(1), option_groups: [{ label: pt('g'), options: opts(1) }] }))]),
    'blocks[0].element.option_groups',
    'cannot be combined with options',
  ],
  [
    'a static select without options',
    modal([input(select({}))]),
    'blocks[0].element',
    'needs one of options or option_groups',
  ],
  [
    'a long option text',
    modal([input(select({ options: [{ text: pt(x(76)), value: 'v' }] }))]),
    'blocks[0].element.options[0].text.text',
    'must be at most 75 characters (got 76)',
  ],
  [
    'a mrkdwn option in a select',
    modal([input(select({ options: [{ text: md('*v*'), value: 'v' }] }))]),
    'blocks[0].element.options[0].text.type',
    'must be "plain_text" here (got "mrkdwn")',
  ],
  [
    'a long option value',
    modal([input(select({ options: [opt(x(151), 'Long')] }))]),
    'blocks[0].element.options[0].value',
    'must be at most 150 characters (got 151)',
  ],
  [
    'a long option description',
    modal([input(select({ options: [{ ...opt('v'), description: pt(x(76)) }] }))]),
    'blocks[0].element.options[0].description.text',
    'must be at most 75 characters (got 76)',
  ],
  [
    'an option url outside an overflow menu',
    modal([input(select({ options: [{ ...opt('v'), url: 'https://x.test' }] }))]),
    'blocks[0].element.options[0].url',
    'is not a known field here',
  ],
  [
    'an initial_option not among the options',
    modal([input(select({ options: opts(2), initial_option: opt('v9') }))]),
    'blocks[0].element.initial_option',
    'must be one of the options (none has value "v9")',
  ],
  [
    'an initial_option with another text',
    modal([input(select({ options: opts(2), initial_option: opt('v1', 'Other') }))]),
    'blocks[0].element.initial_option.text',
    'must match the text of the option with value "v1"',
  ],
  [
    'initial_options not among the option groups',
    modal([
      input({
        type: 'multi_static_select',
        option_groups: [{ label: pt('g'), options: opts(2) }],
        initial_options: [opt('v0'), opt('nope')],
      }),
    ]),
    'blocks[0].element.initial_options[1]',
    'must be one of the options (none has value "nope")',
  ],
  [
    'a negative min_query_length',
    modal([input({ type: 'external_select', min_query_length: -1 })]),
    'blocks[0].element.min_query_length',
    'must be at least 0 (got -1)',
  ],
  [
    'an overflow with one option',
    modal([actions({ type: 'overflow', options: opts(1) })]),
    'blocks[0].elements[0].options',
    'must have at least 2 items (got 1)',
  ],
  [
    'an overflow with six options',
    modal([actions({ type: 'overflow', options: opts(6) })]),
    'blocks[0].elements[0].options',
    'must have at most 5 items (got 6)',
  ],
  [
    'a long overflow url',
    modal([actions({ type: 'overflow', options: [opt('a'), { ...opt('b'), url: x(3001) }] })]),
    'blocks[0].elements[0].options[1].url',
    'must be at most 3000 characters (got 3001)',
  ],
  [
    '11 checkboxes',
    modal([input({ type: 'checkboxes', options: opts(11) })]),
    'blocks[0].element.options',
    'must have at most 10 items (got 11)',
  ],
  [
    '11 radio buttons',
    modal([input({ type: 'radio_buttons', options: opts(11) })]),
    'blocks[0].element.options',
    'must have at most 10 items (got 11)',
  ],
  [
    'a checkbox initial option not among the options',
    modal([input({ type: 'checkboxes', options: opts(2), initial_options: [opt('x')] })]),
    'blocks[0].element.initial_options[0]',
    'must be one of the options (none has value "x")',
  ],
  [
    'a radio initial option not among the options',
    modal([input({ type: 'radio_buttons', options: opts(2), initial_option: opt('x') })]),
    'blocks[0].element.initial_option',
    'must be one of the options (none has value "x")',
  ],
  [
    'a max_length over 3000',
    modal([input({ type: 'plain_text_input', max_length: 3001 })]),
    'blocks[0].element.max_length',
    'must be at most 3000 (got 3001)',
  ],
  [
    'a min_length over 3000',
    modal([input({ type: 'plain_text_input', min_length: 3001 })]),
    'blocks[0].element.min_length',
    'must be at most 3000 (got 3001)',
  ],
  [
    'an initial_value longer than max_length',
    modal([input({ type: 'plain_text_input', max_length: 5, initial_value: x(6) })]),
    'blocks[0].element.initial_value',
    'must be at most max_length = 5 characters (got 6)',
  ],
  [
    'a badly formatted date',
    modal([input({ type: 'datepicker', initial_date: '29/02/2024' })]),
    'blocks[0].element.initial_date',
    'must be a date formatted YYYY-MM-DD',
  ],
  [
    'a decimal in an integer number input',
    modal([input({ type: 'number_input', is_decimal_allowed: false, initial_value: '1.5' })]),
    'blocks[0].element.initial_value',
    'must be a whole number when is_decimal_allowed is false',
  ],
  [
    'two elements with focus_on_load',
    modal([
      input({ type: 'plain_text_input', action_id: 'a', focus_on_load: true }),
      input({ type: 'plain_text_input', action_id: 'b', focus_on_load: true }),
    ]),
    'blocks[1].element.focus_on_load',
    'only one element may set focus_on_load (also set at blocks[0].element)',
  ],
];

describe('checkView violations', () => {
  it.each(viewViolations)('rejects %s', (_what, view, path, message) => {
    expect(checkView(view)).toEqual([{ path, message }]);
  });

  it('reports every violation at once', () => {
    const issues = checkView(
      modal(
        [
          section({ text: md(x(3001)), accessory: button('a') }),
          actions(button('a'), button('a', { text: pt(x(80)) })),
        ],
        {
          title: pt(x(25)),
        },
      ),
    );
    expect(issues.map((issue) => issue.path)).toEqual([
      'title.text',
      'blocks[0].text.text',
      'blocks[1].elements[1].text.text',
      'blocks[1].elements[1].action_id',
    ]);
  });

  it('assertView throws a BlockKitViolation listing the issues', () => {
    const view = modal([], { title: pt(x(25)) });
    expect(() => assertView(view)).toThrow(BlockKitViolation);
    try {
      assertView(view);
    } catch (err) {
      expect(err).toBeInstanceOf(BlockKitViolation);
      const violation = err as BlockKitViolation;
      expect(violation.issues).toEqual([
        { path: 'title.text', message: 'must be at most 24 characters (got 25)' },
      ]);
      expect(violation.message).toContain('title.text: must be at most 24 characters (got 25)');
    }
  });
});

describe('checkMessage violations', () => {
  const dividers = (n: number) => Array.from({ length: n }, () => ({ type: 'divider' }));

  it('rejects 51 blocks', () => {
    expect(checkMessage({ text: 't', blocks: dividers(51) })).toEqual([
      { path: 'blocks', message: 'must have at most 50 items (got 51)' },
    ]);
  });

  it('rejects text over 40000 characters', () => {
    expect(checkMessage({ text: x(40001) })).toEqual([
      { path: 'text', message: 'must be at most 40000 characters (got 40001)' },
    ]);
  });

  it('rejects a message with neither text nor blocks', () => {
    expect(checkMessage({ channel: 'C1' })).toEqual([
      { path: '', message: 'needs non-empty text or blocks' },
    ]);
    expect(checkMessage({ text: '', blocks: [] })).toEqual([
      { path: '', message: 'needs non-empty text or blocks' },
    ]);
  });

  it('rejects a non-string text', () => {
    expect(checkMessage({ text: 42 })).toEqual([{ path: 'text', message: 'must be a string (got number)' }]);
  });

  it('checks the blocks and the action ids of a message', () => {
    expect(
      checkMessage({ text: 't', blocks: [actions(button('a'), button('a', { text: pt(x(76)) }))] }),
    ).toEqual([
      { path: 'blocks[0].elements[1].text.text', message: 'must be at most 75 characters (got 76)' },
      {
        path: 'blocks[0].elements[1].action_id',
        message: 'duplicate action_id "a" (also used at blocks[0].elements[0].action_id)',
      },
    ]);
  });

  it('lets separate blocks repeat an action_id, as a list of rows does', () => {
    expect(checkMessage({ text: 't', blocks: [actions(button('a')), actions(button('a'))] })).toEqual([]);
  });

  it('assertMessage throws a BlockKitViolation', () => {
    expect(() => assertMessage({ text: 't', blocks: dividers(51) })).toThrow(BlockKitViolation);
  });
});

describe('checkOptionsResponse violations', () => {
  it('rejects more than 100 options or groups', () => {
    expect(checkOptionsResponse({ options: opts(101) })).toEqual([
      { path: 'options', message: 'must have at most 100 items (got 101)' },
    ]);
    expect(
      checkOptionsResponse({ option_groups: Array(101).fill({ label: pt('g'), options: opts(1) }) }),
    ).toEqual([{ path: 'option_groups', message: 'must have at most 100 items (got 101)' }]);
  });

  it('rejects long option texts and missing or doubled lists', () => {
    expect(checkOptionsResponse({ options: [opt('v', x(76))] })).toEqual([
      { path: 'options[0].text.text', message: 'must be at most 75 characters (got 76)' },
    ]);
    expect(checkOptionsResponse({})).toEqual([
      { path: '', message: 'needs one of options or option_groups' },
    ]);
    expect(checkOptionsResponse({ options: [], option_groups: [] })).toEqual([
      { path: 'option_groups', message: 'cannot be combined with options' },
    ]);
  });
});

describe('checkViewSubmissionResponse violations', () => {
  it('checks the pushed or updated view', () => {
    expect(
      checkViewSubmissionResponse({ response_action: 'push', view: modal([], { title: pt(x(25)) }) }),
    ).toEqual([{ path: 'view.title.text', message: 'must be at most 24 characters (got 25)' }]);
    expect(
      checkViewSubmissionResponse({
        response_action: 'update',
        view: modal([actions(button('a'), button('a'))]),
      }),
    ).toEqual([
      {
        path: 'view.blocks[0].elements[1].action_id',
        message: 'duplicate action_id "a" (also used at view.blocks[0].elements[0].action_id)',
      },
    ]);
    expect(
      checkViewSubmissionResponse({ response_action: 'update', view: { type: 'home', blocks: [] } }),
    ).toEqual([
      { path: 'view.type', message: 'must be "modal" (got "home")' },
      { path: 'view.title', message: 'is required' },
    ]);
  });

  it('rejects empty errors and unknown actions', () => {
    expect(checkViewSubmissionResponse({ response_action: 'errors', errors: {} })).toEqual([
      { path: 'errors', message: 'must name at least one block_id' },
    ]);
    expect(checkViewSubmissionResponse({ response_action: 'close' })).toEqual([
      {
        path: 'response_action',
        message: 'response_action "close" is not allowed (allowed: "errors", "update", "push", "clear")',
      },
    ]);
  });
});

describe('LIMITS', () => {
  it('exposes the documented numbers', () => {
    expect(LIMITS).toMatchObject({
      buttonText: 75,
      modalTitle: 24,
      sectionText: 3000,
      optionText: 75,
      optionValue: 150,
      options: 100,
      messageBlocks: 50,
      viewBlocks: 100,
      privateMetadata: 3000,
      id: 255,
      headerText: 150,
      fieldText: 2000,
      fields: 10,
      contextElements: 10,
      actionsElements: 25,
      buttonValue: 2000,
      inputLabel: 2000,
      placeholder: 150,
      confirmTitle: 100,
      confirmText: 300,
      confirmButton: 30,
    });
  });
});
