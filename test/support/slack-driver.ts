/**
 * Plays Slack's side of the Events API and interactivity against the app under test: builds the
 * documented payloads (slash commands, block actions, view submissions, events, ...), signs them
 * with the signing secret (v0 scheme) and POSTs them to the app's request URL.
 *
 * Every sender takes optional `SendOptions` last, so a test can sign with an old or future
 * timestamp, a wrong secret, or extra/missing headers; `lastRequest` + `resend()` replay a
 * delivery byte for byte (what Slack does when it retries).
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { SlackView } from './slack-stand-in.js';

export interface DriverOptions {
  /** The app's request URL, e.g. http://127.0.0.1:PORT/slack/events. */
  url: string;
  signingSecret: string;
  /** Default 'T0LATCH' (the stand-in's default workspace). */
  teamId?: string;
  /** Default 'A0LATCH'. */
  apiAppId?: string;
  /** Default 'latch-test'. */
  teamDomain?: string;
  /** The bot user named in events' `authorizations`. Default 'UBOT'. */
  botUserId?: string;
  /** The deprecated verification token Slack still sends in payloads. Default 'verification-token'. */
  verificationToken?: string;
  /**
   * Base of the response_url handed to the app; pass `standIn.hooksUrl` so `respond()` lands in
   * the stand-in. Default 'https://hooks.slack.com/'.
   */
  responseUrlBase?: string;
  /** Clock for request timestamps, in unix seconds (for apps under test with a fake clock). Default: real time. */
  nowSeconds?: () => number;
}

export interface SlackUserRef {
  id: string;
  /** Username; defaults to the id in lower case. */
  name?: string;
  /** Defaults to the driver's team. */
  teamId?: string;
}

export interface SendOptions {
  /** X-Slack-Request-Timestamp in unix seconds (and the one that is signed). Default: now. */
  timestamp?: number;
  /** Sign with this secret instead of the real one. */
  secretOverride?: string;
  /** Send this X-Slack-Signature verbatim instead of computing it; null leaves the header out. */
  signature?: string | null;
  /** Extra headers; a value of undefined removes a header the driver would send. */
  headers?: Record<string, string | undefined>;
}

export interface DriverResponse {
  status: number;
  body: string;
  /** The body parsed as JSON, when it is JSON. */
  json?: unknown;
  headers: Record<string, string>;
}

/** Exactly what was sent, for `resend()`. */
export interface SentRequest {
  url: string;
  body: string;
  headers: Record<string, string>;
}

/** An action as a test describes it; the driver adds `action_ts` and fills in `block_id`/`type`. */
export type ActionInput = {
  action_id: string;
  block_id?: string;
  type?: string;
  value?: string;
  selected_option?: unknown;
} & Record<string, unknown>;

/** A view as the test knows it, usually `standIn.view(id)`. */
export type ViewInput = {
  id: string;
  callback_id?: string;
  private_metadata?: string;
  hash?: string;
  state?: { values: Record<string, Record<string, unknown>> };
} & Record<string, unknown>;

export type MessageContainer = {
  message: {
    ts: string;
    channel: string;
    text?: string;
    blocks?: unknown[];
    thread_ts?: string;
    /** An ephemeral message: Slack sends no `message` object for those. */
    ephemeral?: boolean;
  };
};
export type ViewContainer = { view: ViewInput };

type Option = { text: { type: 'plain_text'; text: string }; value: string };
type OptionInput = string | { value: string; text?: string };

export class SlackDriver {
  /** The last request sent (by any method), for replaying it with `resend()`. */
  lastRequest: SentRequest | undefined;
  /** The trigger_id of the last payload that carried one. */
  lastTriggerId: string | undefined;

  private readonly teamId: string;
  private readonly apiAppId: string;
  private readonly teamDomain: string;
  private readonly botUserId: string;
  private readonly token: string;
  private readonly responseUrlBase: string;
  private readonly now: () => number;
  private counter = 0;

  constructor(private readonly opts: DriverOptions) {
    this.teamId = opts.teamId ?? 'T0LATCH';
    this.apiAppId = opts.apiAppId ?? 'A0LATCH';
    this.teamDomain = opts.teamDomain ?? 'latch-test';
    this.botUserId = opts.botUserId ?? 'UBOT';
    this.token = opts.verificationToken ?? 'verification-token';
    this.responseUrlBase = opts.responseUrlBase ?? 'https://hooks.slack.com/';
    this.now = opts.nowSeconds ?? (() => Math.floor(Date.now() / 1000));
  }

  /** A slash command, as Slack posts it (form-encoded). `extra` overrides or adds fields. */
  command(
    user: SlackUserRef,
    command: string,
    text: string,
    extra: Record<string, string> = {},
    opts?: SendOptions,
  ): Promise<DriverResponse> {
    const fields: Record<string, string> = {
      token: this.token,
      team_id: user.teamId ?? this.teamId,
      team_domain: this.teamDomain,
      channel_id: 'C0GENERAL',
      channel_name: 'general',
      user_id: user.id,
      user_name: username(user),
      command,
      text,
      api_app_id: this.apiAppId,
      is_enterprise_install: 'false',
      response_url: this.responseUrl('commands'),
      trigger_id: this.triggerId(),
      ...extra,
    };
    return this.send(new URLSearchParams(fields).toString(), FORM, opts);
  }

  /** A `block_actions` interaction on a view (modal/home) or a message. */
  blockActions(
    user: SlackUserRef,
    actions: ActionInput[],
    container: ViewContainer | MessageContainer,
    opts?: SendOptions,
  ): Promise<DriverResponse> {
    const actionTs = this.eventTs();
    const blocks = 'view' in container ? container.view.blocks : container.message.blocks;
    const fullActions = actions.map((input) => {
      // Drop explicit undefineds so they do not override the defaults below.
      const a = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined));
      const element = findElement(blocks, input.action_id);
      return {
        type: element?.element.type ?? 'button',
        block_id: element?.blockId ?? randomId(5),
        ...(element?.element.text !== undefined && element.element.type === 'button'
          ? { text: element.element.text }
          : {}),
        ...a,
        action_ts: actionTs,
      };
    });
    const payload: Record<string, unknown> = {
      type: 'block_actions',
      user: this.userShape(user),
      api_app_id: this.apiAppId,
      token: this.token,
      trigger_id: this.triggerId(),
      team: { id: user.teamId ?? this.teamId, domain: this.teamDomain },
      enterprise: null,
      is_enterprise_install: false,
    };
    if ('view' in container) {
      const view = this.viewShape(container.view, container.view.state?.values ?? {});
      payload.container = { type: 'view', view_id: container.view.id };
      payload.view = view;
    } else {
      const m = container.message;
      payload.container = {
        type: 'message',
        message_ts: m.ts,
        channel_id: m.channel,
        is_ephemeral: m.ephemeral ?? false,
        ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
      };
      payload.channel = { id: m.channel, name: m.channel.startsWith('D') ? 'directmessage' : m.channel };
      if (!m.ephemeral) {
        payload.message = {
          type: 'message',
          user: this.botUserId,
          ts: m.ts,
          text: m.text ?? '',
          ...(m.blocks ? { blocks: m.blocks } : {}),
          ...(m.thread_ts ? { thread_ts: m.thread_ts } : {}),
          bot_id: 'BBOT',
          app_id: this.apiAppId,
          team: user.teamId ?? this.teamId,
        };
      }
      payload.state = { values: {} };
      payload.response_url = this.responseUrl('actions');
    }
    payload.actions = fullActions;
    return this.sendPayload(payload, opts);
  }

  /** A modal submitted with these input values (block_id -> action_id -> value object). */
  viewSubmission(
    user: SlackUserRef,
    view: ViewInput,
    values: Record<string, Record<string, unknown>>,
    opts?: SendOptions,
  ): Promise<DriverResponse> {
    return this.sendPayload(
      {
        type: 'view_submission',
        team: { id: user.teamId ?? this.teamId, domain: this.teamDomain },
        user: this.userShape(user),
        api_app_id: this.apiAppId,
        token: this.token,
        trigger_id: this.triggerId(),
        view: this.viewShape(view, values),
        response_urls: [],
        enterprise: null,
        is_enterprise_install: false,
      },
      opts,
    );
  }

  /** The user closed a modal (sent only for views with notify_on_close). */
  viewClosed(user: SlackUserRef, view: ViewInput, opts?: SendOptions): Promise<DriverResponse> {
    return this.sendPayload(
      {
        type: 'view_closed',
        team: { id: user.teamId ?? this.teamId, domain: this.teamDomain },
        user: this.userShape(user),
        api_app_id: this.apiAppId,
        token: this.token,
        view: this.viewShape(view, view.state?.values ?? {}),
        is_cleared: false,
        enterprise: null,
        is_enterprise_install: false,
      },
      opts,
    );
  }

  /** An external select asking for options; the app answers in the response body (`json.options`). */
  blockSuggestion(
    user: SlackUserRef,
    s: { action_id: string; block_id: string; value: string; view?: ViewInput },
    opts?: SendOptions,
  ): Promise<DriverResponse> {
    return this.sendPayload(
      {
        type: 'block_suggestion',
        user: this.userShape(user),
        ...(s.view ? { container: { type: 'view', view_id: s.view.id } } : {}),
        api_app_id: this.apiAppId,
        token: this.token,
        action_id: s.action_id,
        block_id: s.block_id,
        value: s.value,
        team: { id: user.teamId ?? this.teamId, domain: this.teamDomain },
        enterprise: null,
        is_enterprise_install: false,
        ...(s.view ? { view: this.viewShape(s.view, s.view.state?.values ?? {}) } : {}),
      },
      opts,
    );
  }

  /**
   * An Events API delivery (JSON). `event_ts` is added when the event has none. A retry is the same
   * `eventId` with `retryNum` (and `retryReason`, default 'http_timeout').
   */
  event(
    event: Record<string, unknown>,
    opts: { eventId?: string; retryNum?: number; retryReason?: string } & SendOptions = {},
  ): Promise<DriverResponse> {
    const { eventId, retryNum, retryReason, ...send } = opts;
    const timestamp = send.timestamp ?? this.now();
    const body = {
      token: this.token,
      team_id: this.teamId,
      api_app_id: this.apiAppId,
      event: { event_ts: this.eventTs(), ...event },
      type: 'event_callback',
      event_id: eventId ?? `Ev${randomId(9)}`,
      event_time: timestamp,
      authorizations: [
        {
          enterprise_id: null,
          team_id: this.teamId,
          user_id: this.botUserId,
          is_bot: true,
          is_enterprise_install: false,
        },
      ],
      is_ext_shared_channel: false,
    };
    const headers: Record<string, string | undefined> = { ...send.headers };
    if (retryNum !== undefined) {
      headers['x-slack-retry-num'] = String(retryNum);
      headers['x-slack-retry-reason'] = retryReason ?? 'http_timeout';
    }
    return this.send(JSON.stringify(body), JSON_TYPE, { ...send, timestamp, headers });
  }

  /** The handshake Slack sends when the request URL is saved; the app should echo `challenge`. */
  urlVerification(challenge: string, opts?: SendOptions): Promise<DriverResponse> {
    return this.send(
      JSON.stringify({ token: this.token, challenge, type: 'url_verification' }),
      JSON_TYPE,
      opts,
    );
  }

  /** Any body, signed unless `signature` is given (a string is sent verbatim, null omits it). */
  raw(
    body: string,
    contentType: string,
    opts: { timestamp?: number; signature?: string | null } = {},
  ): Promise<DriverResponse> {
    return this.send(body, contentType, opts);
  }

  /** The primitive everything uses: signs `body` (v0 scheme) and POSTs it to the app. */
  async send(body: string, contentType: string, opts: SendOptions = {}): Promise<DriverResponse> {
    const timestamp = opts.timestamp ?? this.now();
    const signature =
      opts.signature === undefined
        ? sign(opts.secretOverride ?? this.opts.signingSecret, timestamp, body)
        : opts.signature;
    const headers: Record<string, string> = {
      'content-type': contentType,
      'user-agent': 'Slackbot 1.0 (+https://api.slack.com/robots)',
      'x-slack-request-timestamp': String(timestamp),
    };
    if (signature !== null) headers['x-slack-signature'] = signature;
    for (const [k, v] of Object.entries(opts.headers ?? {})) {
      if (v === undefined) delete headers[k.toLowerCase()];
      else headers[k.toLowerCase()] = v;
    }
    return this.resend({ url: this.opts.url, body, headers });
  }

  /** Sends a request again exactly as it was (same body, timestamp and signature). Default: the last one. */
  async resend(request: SentRequest | undefined = this.lastRequest): Promise<DriverResponse> {
    if (!request) throw new Error('SlackDriver.resend: nothing was sent yet');
    this.lastRequest = { ...request, headers: { ...request.headers } };
    const res = await fetch(request.url, {
      method: 'POST',
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, body: text, json, headers: Object.fromEntries(res.headers) };
  }

  // ---- payload pieces ------------------------------------------------------------------------

  private sendPayload(payload: Record<string, unknown>, opts?: SendOptions): Promise<DriverResponse> {
    return this.send(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), FORM, opts);
  }

  private userShape(user: SlackUserRef): Record<string, unknown> {
    const name = username(user);
    return { id: user.id, username: name, name, team_id: user.teamId ?? this.teamId };
  }

  /** The view as Slack sends it back in payloads: whatever the test passed, with defaults and state. */
  private viewShape(
    view: ViewInput,
    values: Record<string, Record<string, unknown>>,
  ): Record<string, unknown> {
    return {
      type: 'modal',
      team_id: this.teamId,
      blocks: [],
      private_metadata: '',
      callback_id: '',
      external_id: '',
      hash: `${this.now()}.${randomBytes(4).toString('hex')}`,
      previous_view_id: null,
      root_view_id: view.id,
      app_id: this.apiAppId,
      app_installed_team_id: this.teamId,
      bot_id: 'BBOT',
      ...view,
      state: { values },
    };
  }

  /** Unique per call, shaped like Slack's '1234.5678.abcdef…'. */
  private triggerId(): string {
    this.lastTriggerId = `${++this.counter}${randomDigits(9)}.${randomDigits(12)}.${randomBytes(16).toString('hex')}`;
    return this.lastTriggerId;
  }

  private responseUrl(kind: 'commands' | 'actions'): string {
    return `${this.responseUrlBase}${kind}/${this.teamId}/${randomDigits(13)}/${randomId(24)}`;
  }

  private eventTs(): string {
    return `${this.now()}.${String(++this.counter % 1_000_000).padStart(6, '0')}`;
  }
}

const FORM = 'application/x-www-form-urlencoded';
const JSON_TYPE = 'application/json';

/** 'v0=' + hex HMAC-SHA256 of `v0:${timestamp}:${body}`, Slack's request signature. */
export function sign(secret: string, timestamp: number, body: string): string {
  return 'v0=' + createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex');
}

function username(user: SlackUserRef): string {
  return user.name ?? user.id.toLowerCase();
}

/** Finds the interactive element with `actionId` in a block list (accessory, actions/input blocks). */
function findElement(
  blocks: unknown,
  actionId: string,
): { blockId: string | undefined; element: Record<string, unknown> } | undefined {
  if (!Array.isArray(blocks)) return undefined;
  for (const block of blocks as Array<Record<string, unknown>>) {
    const candidates = [
      block.accessory,
      block.element,
      ...(Array.isArray(block.elements) ? block.elements : []),
    ];
    for (const c of candidates) {
      if (c && typeof c === 'object' && (c as Record<string, unknown>).action_id === actionId) {
        return {
          blockId: typeof block.block_id === 'string' ? block.block_id : undefined,
          element: c as Record<string, unknown>,
        };
      }
    }
  }
  return undefined;
}

function randomDigits(n: number): string {
  let s = '';
  for (const b of randomBytes(n)) s += String(b % 10);
  return s;
}

function randomId(n: number): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  let s = '';
  for (const b of randomBytes(n)) s += alphabet[b % alphabet.length];
  return s;
}

function option(o: OptionInput): Option {
  const { value, text } = typeof o === 'string' ? { value: o, text: o } : o;
  return { text: { type: 'plain_text', text: text ?? value }, value };
}

// ---- input values, as they appear in view.state.values[blockId][actionId] or as actions ----------

export function selectedValue(value: string, text: string = value) {
  return { type: 'static_select' as const, selected_option: option({ value, text }) };
}

export function plainInput(value: string) {
  return { type: 'plain_text_input' as const, value };
}

export function externalSelected(value: string, text: string) {
  return { type: 'external_select' as const, selected_option: option({ value, text }) };
}

export function multiExternalSelected(options: Array<{ value: string; text: string }>) {
  return { type: 'multi_external_select' as const, selected_options: options.map(option) };
}

export function multiStaticSelected(options: OptionInput[]) {
  return { type: 'multi_static_select' as const, selected_options: options.map(option) };
}

export function checkboxes(options: OptionInput[]) {
  return { type: 'checkboxes' as const, selected_options: options.map(option) };
}

export function usersSelected(userIds: string[]) {
  return { type: 'multi_users_select' as const, selected_users: [...userIds] };
}

export function userSelected(userId: string) {
  return { type: 'users_select' as const, selected_user: userId };
}

/**
 * The `view.state.values` Slack sends when a person submits `view` after filling in only `filled`
 * (block id -> element state, e.g. `{ name: plainInput('x') }`): every other input keeps its
 * initial value or comes back empty, exactly as Slack reports an untouched field (`value: null`,
 * `selected_option: null`, `selected_users: []`…). Like Slack's client, it refuses to submit when
 * a required input is left empty, so a test cannot send what no person could.
 */
export function formState(
  view: object,
  filled: Record<string, Record<string, unknown>> = {},
  /** `action`: the state sent with a block action while the form is being filled in (no required check). */
  purpose: 'submit' | 'action' = 'submit',
): Record<string, Record<string, unknown>> {
  const values: Record<string, Record<string, unknown>> = {};
  const missing: string[] = [];
  for (const block of ((view as { blocks?: unknown }).blocks ?? []) as Array<Record<string, unknown>>) {
    if (block.type !== 'input' || typeof block.block_id !== 'string') continue;
    const element = block.element as Record<string, unknown>;
    const actionId = String(element.action_id);
    const state = filled[block.block_id] ?? untouched(element);
    if (!block.optional && isEmpty(state)) missing.push(block.block_id);
    values[block.block_id] = { [actionId]: { type: element.type, ...state } };
  }
  const unknown = Object.keys(filled).filter((id) => !(id in values));
  if (unknown.length) throw new Error(`formState: the view has no input blocks ${unknown.join(', ')}`);
  if (missing.length && purpose === 'submit')
    throw new Error(`formState: Slack would not submit; required: ${missing.join(', ')}`);
  return values;
}

function untouched(e: Record<string, unknown>): Record<string, unknown> {
  switch (e.type) {
    case 'plain_text_input':
    case 'number_input':
    case 'email_text_input':
    case 'url_text_input':
      return { value: e.initial_value ?? null };
    case 'static_select':
    case 'external_select':
    case 'radio_buttons':
      return { selected_option: e.initial_option ?? null };
    case 'multi_static_select':
    case 'multi_external_select':
    case 'checkboxes':
      return { selected_options: e.initial_options ?? [] };
    case 'users_select':
      return { selected_user: e.initial_user ?? null };
    case 'multi_users_select':
      return { selected_users: e.initial_users ?? [] };
    case 'conversations_select':
      return { selected_conversation: e.initial_conversation ?? null };
    case 'multi_conversations_select':
      return { selected_conversations: e.initial_conversations ?? [] };
    case 'channels_select':
      return { selected_channel: e.initial_channel ?? null };
    case 'datepicker':
      return { selected_date: e.initial_date ?? null };
    case 'timepicker':
      return { selected_time: e.initial_time ?? null };
    default:
      throw new Error(`formState: no untouched state known for element type ${String(e.type)}`);
  }
}

function isEmpty(state: Record<string, unknown>): boolean {
  return Object.entries(state).every(
    ([k, v]) => k === 'type' || v === null || v === '' || (Array.isArray(v) && v.length === 0),
  );
}

/** The option of a select in the modal whose text is `text` (what a person would pick). */
export function optionOf(view: SlackView, blockId: string, text: string): Record<string, unknown> {
  const block = (
    view.blocks as Array<{ block_id?: string; element?: { options?: Array<{ text: { text: string } }> } }>
  ).find((b) => b.block_id === blockId);
  const found = block?.element?.options?.find((o) => o.text.text === text);
  if (!found) throw new Error(`${blockId} offers no ${text}`);
  return found;
}

export function blockOf(view: SlackView, blockId: string) {
  return (view.blocks as Array<{ block_id?: string }>).find((b) => b.block_id === blockId);
}
