/**
 * Small HTTP helpers of the Teams personal tab (docs/ARCHITECTURE.md, "Teams channel", "Personal
 * tab"): bounded JSON bodies and answers that no cache keeps and no browser sniffs.
 */
import type http from 'node:http';
import type { z } from 'zod';
import type { Identity } from '../../../domain/identity.js';

/** Every answer of the tab's API: JSON, never cached, never sniffed as something else. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
  });
  res.end(text);
}

export class BadBody extends Error {}

/** The request's JSON body (an empty body is `{}`); BadBody when it is too large or not JSON. */
export async function readJson(req: http.IncomingMessage, limit = 64 * 1024): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BadBody(`body larger than ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new BadBody('body is not JSON');
  }
}

/** An answer other than 200: bad input (400) or a refusal, with the fields it concerns. */
export class Refusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields?: Record<string, string>,
  ) {
    super(message);
  }
}

/** A body or parameter checked with zod; a 400 naming the first problem's path otherwise. */
export function parse<T>(schema: z.ZodType<T>, value: unknown): T {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  throw new Refusal(400, `${where}${issue.message}`);
}

/** A 400 with each problem next to its field; the message is the first of them. */
export function refuseFields(
  fields: Record<string, string>,
  fallback = 'Some answers need another look.',
): never {
  const [first] = Object.values(fields);
  throw new Refusal(400, first ?? fallback, fields);
}

/** One route of the tab's API: the person the token names, the JSON body, the route's parameters. */
export type Handler = (
  who: Identity,
  body: unknown,
  params: Record<string, string | undefined>,
) => Promise<unknown>;

export type On = (method: 'GET' | 'POST', route: string, handler: Handler) => void;
