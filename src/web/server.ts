/**
 * Latch's web server (docs/ARCHITECTURE.md, "Web"): /healthz for load balancers, /metrics in the
 * Prometheus text format, and whatever routes the chat channels mount, dispatched by find-my-way
 * (the router fastify uses). With a front (./front/), the public port belongs to the front's
 * thread, and this server listens on loopback behind it.
 */
import http from 'node:http';
import FindMyWay from 'find-my-way';
import type { Latch } from '../app.js';
import { startFront, type AckedCommandSink, type Front } from './front/index.js';
import type { FrontData } from './front/protocol.js';

export type Router = FindMyWay.Instance<FindMyWay.HTTPVersion.V1>;
/** A channel's routes, mounted on the router. */
export type Routes = (router: Router) => void;

export interface WebServer {
  /** Where Slack and browsers reach Latch (the front's port when there is one). */
  port: number;
  /** Latch's own server: the public one, or on loopback behind the front. */
  own: http.Server;
  fronted: boolean;
  /** Stops accepting, lets answers under way finish for up to graceMs, then closes what is left. */
  close(graceMs: number): Promise<void>;
}

export interface WebOptions {
  port: number;
  routes?: Routes[];
  /** Answer Slack slash commands from a thread of their own (./front/thread.ts), and hand them to `deliver`. */
  front?: { slack: NonNullable<FrontData['slack']> & { deliver: AckedCommandSink } };
  /** Called if the front's thread dies while Latch runs (see startFront). */
  onFrontLost?: () => void;
}

export async function startWebServer(latch: Latch, opts: WebOptions): Promise<WebServer> {
  const log = latch.ctx.log;
  const router: Router = FindMyWay({
    ignoreTrailingSlash: true,
    defaultRoute: (_req, res) => json(res, 404, { error: 'not found' }),
  });
  router.on('GET', '/healthz', async (_req, res) => {
    try {
      await latch.db.conn.db!.command({ ping: 1 });
      json(res, 200, { ok: true });
    } catch (err) {
      json(res, 503, { ok: false, error: (err as Error).message });
    }
  });
  router.on('GET', '/metrics', async (_req, res) => {
    const body = await latch.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': latch.metrics.registry.contentType }).end(body);
  });
  for (const mount of opts.routes ?? []) mount(router);

  const server = http.createServer(async (req, res) => {
    try {
      await router.lookup(req, res);
    } catch (err) {
      log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    }
  });
  const front = opts.front;
  await new Promise<void>((resolve) =>
    front ? server.listen(0, '127.0.0.1', resolve) : server.listen(opts.port, resolve),
  );
  const ownPort = (server.address() as { port: number }).port;
  let started: Front | undefined;
  if (front) {
    try {
      const { deliver, ...slack } = front.slack;
      started = await startFront(
        { slack, port: opts.port, backendPort: ownPort },
        log,
        deliver,
        opts.onFrontLost,
      );
    } catch (err) {
      server.close();
      throw err;
    }
  }
  return {
    port: started?.port ?? ownPort,
    own: server,
    fronted: started !== undefined,
    close: async (graceMs) => {
      await started?.close(graceMs);
      await closeServer(server, graceMs);
    },
  };
}

async function closeServer(server: http.Server, graceMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
