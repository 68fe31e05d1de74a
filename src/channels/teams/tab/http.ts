/**
 * Small HTTP helpers of the Teams personal tab (docs/ARCHITECTURE.md, "Teams channel", "Personal
 * tab"): bounded JSON bodies and answers that no cache keeps and no browser sniffs.
 */
import type http from 'node:http';

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
