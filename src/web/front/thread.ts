/**
 * The acking front's thread (docs/ARCHITECTURE.md, "Web"). It owns the public port and forwards
 * every request to Latch's own server on loopback, with one exception: a Slack slash command with
 * a good signature is answered here at once (an empty 200 is Slack's acknowledgement) and handed to
 * the main thread as a message, which costs it no connection to accept or request to parse. This
 * thread runs nothing else, so a main event loop busy filling modals cannot delay the
 * acknowledgement Slack waits three seconds for. Everything else (modal
 * submissions, whose answer carries validation errors, button clicks, OAuth, health, metrics)
 * gets its answer from Latch itself, unchanged.
 */
import http from 'node:http';
import { pipeline } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { slackSignatureProblem } from '../../channels/slack/signature.js';
import type { FrontData, FrontMessage, ToFront } from './protocol.js';

const data = workerData as FrontData;
const post = (m: FrontMessage) => parentPort!.postMessage(m);
/** Slash command bodies are a few hundred bytes; anything larger is not one, and is streamed through. */
const FAST_ACK_MAX_BYTES = 64 * 1024;
// Connection headers describe one hop; they are not passed on.
const HOP_BY_HOP = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
];
const backendAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const server = http.createServer((req, res) => {
  const slack = data.slack;
  const length = Number(req.headers['content-length'] ?? NaN);
  if (
    slack &&
    req.method === 'POST' &&
    (req.url ?? '').split('?')[0] === slack.path &&
    String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded') &&
    length <= FAST_ACK_MAX_BYTES
  )
    return void readBody(req, (body) => {
      if (!body) return void res.writeHead(400).end();
      if (isSlashCommand(req, body, slack.signingSecret)) {
        res.writeHead(200, { 'content-length': '0' }).end();
        post({ type: 'command', headers: req.headers, body });
      } else forward(req, body, res);
    });
  forward(req, null, res);
});

function readBody(req: http.IncomingMessage, done: (body: Buffer | null) => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  req.on('data', (c: Buffer) => {
    size += c.length;
    if (size > FAST_ACK_MAX_BYTES) req.destroy();
    else chunks.push(c);
  });
  req.on('end', () => done(Buffer.concat(chunks)));
  req.on('error', () => done(null));
}

function isSlashCommand(req: http.IncomingMessage, body: Buffer, signingSecret: string): boolean {
  if (slackSignatureProblem(req.headers, body, signingSecret)) return false; // Latch refuses it, with the reason
  const form = new URLSearchParams(body.toString('utf8'));
  return form.has('command') && form.has('trigger_id') && !form.has('ssl_check');
}

/** Passes the request to Latch's server, and its answer back. */
function forward(req: http.IncomingMessage, body: Buffer | null, res: http.ServerResponse): void {
  const headers: http.OutgoingHttpHeaders = { ...req.headers };
  for (const h of HOP_BY_HOP) delete headers[h];
  const peer = req.socket.remoteAddress;
  if (peer) headers['x-forwarded-for'] = [req.headers['x-forwarded-for'], peer].filter(Boolean).join(', ');
  if (body) headers['content-length'] = String(body.length);
  const out = http.request(
    {
      host: '127.0.0.1',
      port: data.backendPort,
      method: req.method,
      path: req.url,
      headers,
      agent: backendAgent,
    },
    (back) => {
      const answer = { ...back.headers };
      for (const h of HOP_BY_HOP) delete answer[h];
      res.writeHead(back.statusCode ?? 502, answer);
      pipeline(back, res, () => {});
    },
  );
  out.on('error', (err) => {
    post({ type: 'log', level: 'error', msg: 'forwarding to Latch failed', detail: { error: err.message } });
    if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'Latch is not answering' }));
  });
  if (body) out.end(body);
  else pipeline(req, out, () => {});
}

server.on('error', (err) => post({ type: 'failed', error: err.message }));
server.listen(data.port, data.host, () => {
  const address = server.address();
  post({ type: 'listening', port: typeof address === 'object' && address ? address.port : data.port });
});

parentPort!.on('message', (m: ToFront) => {
  if (m.type !== 'close') return;
  const timer = setTimeout(() => server.closeAllConnections(), m.graceMs);
  server.close(() => {
    clearTimeout(timer);
    backendAgent.destroy();
    post({ type: 'closed' });
    parentPort!.close();
  });
  server.closeIdleConnections();
});
