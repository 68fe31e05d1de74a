/**
 * The HTTP receiver for Bolt, mounted on Latch's own web server. Bolt's HTTPReceiver owns a port
 * and only refuses old timestamps; this one refuses any request signed more than five minutes
 * before or after now (a clock-skewed or pre-signed replay is as bad as an old one), compares
 * signatures in constant time, and serves the OAuth install routes when OAuth is configured.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type http from 'node:http';
import { HTTPModuleFunctions as httpFunc, HTTPResponseAck, type App, type Receiver } from '@slack/bolt';
import type { InstallProvider } from '@slack/oauth';
import type { Logger } from '../../logger.js';
import { boltLogger } from './bolt-logger.js';
import type { Route } from '../../web/server.js';

export const SLACK_EVENTS_PATH = '/slack/events';
export const SLACK_INSTALL_PATH = '/slack/install';
export const SLACK_REDIRECT_PATH = '/slack/oauth_redirect';
const TOLERANCE_SECONDS = 5 * 60;

export interface ReceiverOptions {
  signingSecret: string;
  log: Logger;
  installer?: InstallProvider;
  /** Seconds since the epoch; tests move it. */
  nowSeconds?: () => number;
}

export class SlackHttpReceiver implements Receiver {
  private app?: App;
  private readonly logger: ReturnType<typeof boltLogger>;

  constructor(private readonly opts: ReceiverOptions) {
    this.logger = boltLogger(opts.log);
  }

  init(app: App): void {
    this.app = app;
  }

  // Latch's web server owns the port; nothing to start or stop here.
  async start(): Promise<void> {}
  async stop(): Promise<void> {}

  route(): Route {
    return async (req, res) => {
      const url = new URL(req.url ?? '/', 'http://latch');
      if (url.pathname === SLACK_EVENTS_PATH) {
        if (req.method !== 'POST') {
          res.writeHead(405, { allow: 'POST' }).end();
          return true;
        }
        await this.handleDelivery(req, res);
        return true;
      }
      const installer = this.opts.installer;
      if (installer && req.method === 'GET' && url.pathname === SLACK_INSTALL_PATH) {
        await installer.handleInstallPath(req, res, {}, { scopes: BOT_SCOPES, redirectUri: undefined });
        return true;
      }
      if (installer && req.method === 'GET' && url.pathname === SLACK_REDIRECT_PATH) {
        await installer.handleCallback(req, res);
        return true;
      }
      return false;
    };
  }

  private async handleDelivery(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let buffered;
    try {
      buffered = await httpFunc.bufferIncomingMessage(req);
    } catch (err) {
      if (httpFunc.isRawBodyError(err) && (err.type === 'entity.too.large' || err.statusCode === 413)) {
        refuse(res, 413, 'request body too large');
        return;
      }
      throw err;
    }
    const problem = this.verify(req, buffered.rawBody);
    if (problem) {
      this.opts.log.warn({ problem, path: req.url }, 'refused a Slack delivery');
      refuse(res, 401, problem);
      return;
    }
    let body: Record<string, unknown>;
    try {
      body = httpFunc.parseHTTPRequestBody(buffered) as Record<string, unknown>;
    } catch {
      refuse(res, 400, 'malformed body');
      return;
    }
    if (body.ssl_check === '1') return httpFunc.buildSSLCheckResponse(res);
    if (body.type === 'url_verification') return httpFunc.buildUrlVerificationResponse(res, body);

    const ack = new HTTPResponseAck({
      logger: this.logger,
      processBeforeResponse: false,
      httpRequest: buffered,
      httpRequestBody: body,
      httpResponse: res,
    });
    try {
      await this.app!.processEvent({
        body,
        ack: ack.bind(),
        retryNum: httpFunc.extractRetryNumFromHTTPRequest(req),
        retryReason: httpFunc.extractRetryReasonFromHTTPRequest(req),
      });
    } catch (err) {
      this.opts.log.error({ err }, 'Slack delivery failed');
      if (!res.headersSent) ack.ack();
    }
  }

  /** A reason to refuse, or undefined when the request is Slack's and fresh. */
  private verify(req: http.IncomingMessage, rawBody: Buffer): string | undefined {
    const ts = header(req, 'x-slack-request-timestamp');
    const sig = header(req, 'x-slack-signature');
    if (!ts || !sig) return 'missing signature headers';
    const seconds = Number(ts);
    if (!Number.isInteger(seconds)) return 'bad timestamp';
    const now = this.opts.nowSeconds ? this.opts.nowSeconds() : Math.floor(Date.now() / 1000);
    if (Math.abs(now - seconds) > TOLERANCE_SECONDS) return 'timestamp outside the 5-minute window';
    const expected = Buffer.from(
      'v0=' + createHmac('sha256', this.opts.signingSecret).update(`v0:${ts}:`).update(rawBody).digest('hex'),
    );
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'bad signature';
    return undefined;
  }
}

/** The bot scopes Latch asks for; the manifest lists the same ones. */
export const BOT_SCOPES = [
  'commands',
  'chat:write',
  'im:write',
  'users:read',
  'users:read.email',
  'usergroups:read',
];

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function refuse(res: http.ServerResponse, status: number, reason: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: reason }));
}
