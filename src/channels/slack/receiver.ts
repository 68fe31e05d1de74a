/**
 * The HTTP receiver for Bolt, mounted on Latch's own web server (Bolt's HTTPReceiver owns a port).
 * It checks signatures more strictly than Bolt (./signature.ts) and serves the OAuth install routes
 * when OAuth is configured.
 */
import type http from 'node:http';
import { HTTPModuleFunctions as httpFunc, HTTPResponseAck, type App, type Receiver } from '@slack/bolt';
import type { InstallProvider } from '@slack/oauth';
import type { Logger } from '../../logger.js';
import { boltLogger } from './bolt-logger.js';
import type { Routes } from '../../web/server.js';
import { slackSignatureProblem } from './signature.js';

export const SLACK_EVENTS_PATH = '/slack/events';
export const SLACK_INSTALL_PATH = '/slack/install';
export const SLACK_REDIRECT_PATH = '/slack/oauth_redirect';

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

  /** /slack/events, and with OAuth the install and redirect routes, on Latch's router. */
  routes(): Routes {
    return (router) => {
      router.on('POST', SLACK_EVENTS_PATH, (req, res) => this.handleDelivery(req, res));
      router.on(['GET', 'PUT', 'PATCH', 'DELETE'], SLACK_EVENTS_PATH, (_req, res) => {
        res.writeHead(405, { allow: 'POST' }).end();
      });
      const installer = this.opts.installer;
      if (!installer) return;
      router.on('GET', SLACK_INSTALL_PATH, (req, res) =>
        installer.handleInstallPath(req, res, {}, { scopes: BOT_SCOPES, redirectUri: undefined }),
      );
      router.on('GET', SLACK_REDIRECT_PATH, (req, res) => installer.handleCallback(req, res));
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
    const failed = await this.process(body, req.headers, ack.bind());
    if (failed && !res.headersSent) ack.ack();
  }

  /** Runs the delivery through Bolt; true if it threw (logged here). */
  private async process(
    body: Record<string, unknown>,
    headers: http.IncomingHttpHeaders,
    ack: (response?: unknown) => Promise<void>,
  ): Promise<boolean> {
    try {
      await this.app!.processEvent({
        body,
        ack,
        retryNum: httpFunc.extractRetryNumFromHTTPRequest({ headers } as http.IncomingMessage),
        retryReason: httpFunc.extractRetryReasonFromHTTPRequest({ headers } as http.IncomingMessage),
      });
      return false;
    } catch (err) {
      this.opts.log.error({ err }, 'Slack delivery failed');
      return true;
    }
  }

  /**
   * A slash command the front (src/web/front/) has acknowledged to Slack already, as it came. It is
   * checked again here as any delivery is, and runs with an ack that has nothing left to answer.
   */
  async acknowledgedCommand(headers: http.IncomingHttpHeaders, rawBody: Buffer): Promise<void> {
    const problem = slackSignatureProblem(
      headers,
      rawBody,
      this.opts.signingSecret,
      this.opts.nowSeconds?.(),
    );
    if (problem) {
      this.opts.log.warn({ problem }, 'refused a Slack command from the front');
      return;
    }
    const body = Object.fromEntries(new URLSearchParams(rawBody.toString('utf8')));
    if (typeof body.command !== 'string') return;
    await this.process(body, headers, async () => {});
  }

  private verify(req: http.IncomingMessage, rawBody: Buffer): string | undefined {
    return slackSignatureProblem(req.headers, rawBody, this.opts.signingSecret, this.opts.nowSeconds?.());
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

function refuse(res: http.ServerResponse, status: number, reason: string): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ error: reason }));
}
