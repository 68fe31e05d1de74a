/**
 * Bolt, the Web API client, Socket Mode and OAuth log through Latch's logger (their chatter at debug
 * level). What they pass must never be logged as given: at debug the Web API client dumps every
 * request's arguments and every response (a credentials modal carries a generated password), Bolt
 * dumps each delivery and Socket Mode each envelope. So, at every level:
 *
 *   - a Web API call is logged as its method name (`apiCall('views.open') start|end`) and its result
 *     as `ok` and the error code only;
 *   - text is cut where serialized data (JSON, or URL-encoded JSON) starts, and kept short;
 *   - errors keep their name, code and message, never their other fields (a WebAPIHTTPError holds
 *     the response body); any other value is dropped.
 *
 * Warnings and errors are kept, so rate limits, deprecations and failed requests still show.
 */
import { LogLevel, type Logger as SlackLogger } from '@slack/bolt';
import type { Logger } from '../../logger.js';

/** Where serialized data begins: `{"`, `[{`, `["`, `{}`, `[]` and the same URL-encoded. */
const DATA = /[{[]\s*["{[\]}]|%7B%22|%5B%7B|%5B%22/i;
const API_CALL = /^apiCall\('([\w.]+)'\) (start|end)$/;
const API_RESULT = /^http request result: /;
/** The WebClient's other per-request lines; the method line already says which call it is. */
const REQUEST_DETAIL = /^http (request (url|body|headers)|response received)\b/;
const MAX_TEXT = 300;
const OMITTED = '[data omitted]';

type Level = 'debug' | 'warn' | 'error';

/** Bolt's logger interface over pino. */
export function boltLogger(log: Logger): SlackLogger {
  let level = LogLevel.INFO;
  const emit = (to: Level, m: unknown[]) => {
    if (!log.isLevelEnabled(to)) return;
    const entry = boltLogEntry(m);
    if (entry) log[to](entry.fields, entry.msg);
  };
  return {
    debug: (...m: unknown[]) => emit('debug', m),
    info: (...m: unknown[]) => emit('debug', m),
    warn: (...m: unknown[]) => emit('warn', m),
    error: (...m: unknown[]) => emit('error', m),
    setLevel: (l: LogLevel) => {
      level = l;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

interface Entry {
  fields: Record<string, unknown>;
  msg: string;
}

/** What may be logged of one call to Bolt's logger; undefined: nothing worth a line. */
export function boltLogEntry(m: unknown[]): Entry | undefined {
  const first = typeof m[0] === 'string' ? m[0] : undefined;
  if (first !== undefined && m.length === 1) {
    const call = API_CALL.exec(first);
    if (call) return { fields: { slackMethod: call[1] }, msg: `slack api call ${call[2]}` };
    if (API_RESULT.test(first)) return { fields: apiResult(first), msg: 'slack api result' };
    if (REQUEST_DETAIL.test(first)) return undefined;
  }
  const texts: string[] = [];
  let err: Record<string, unknown> | undefined;
  for (const part of m) {
    if (typeof part === 'string') texts.push(cut(part));
    else if (typeof part === 'number' || typeof part === 'boolean') texts.push(String(part));
    else if (part instanceof Error) {
      err ??= errorFields(part);
      if (texts.length === 0 && m.length === 1) texts.push(String(err.message));
    } else if (part !== undefined && part !== null) texts.push(OMITTED);
  }
  return { fields: { bolt: true, ...(err ? { err } : {}) }, msg: texts.join(' ') || 'bolt' };
}

/** `ok` and the error code of a logged Web API result, never the rest of it. */
function apiResult(text: string): Record<string, unknown> {
  const ok = /"ok":(true|false)/.exec(text)?.[1];
  const error = /"error":"([\w.-]{1,80})"/.exec(text)?.[1];
  return { ...(ok ? { ok: ok === 'true' } : {}), ...(error ? { error } : {}) };
}

function errorFields(e: Error): Record<string, unknown> {
  const code = (e as { code?: unknown }).code;
  return {
    type: e.name,
    message: cut(e.message),
    ...(typeof code === 'string' || typeof code === 'number' ? { code } : {}),
  };
}

/** Text up to where serialized data starts, at most MAX_TEXT characters. */
function cut(text: string): string {
  const at = text.search(DATA);
  let out = at >= 0 ? `${text.slice(0, at)}${OMITTED}` : text;
  if (out.length > MAX_TEXT) out = `${out.slice(0, MAX_TEXT)}…`;
  return out;
}
