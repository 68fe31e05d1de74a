/**
 * HTTP routes beyond the chat receivers. For now: /healthz for load balancers and /metrics in the
 * Prometheus text format. The chat channels mount their own routes on the same server.
 */
import http from 'node:http';
import type { Latch } from '../app.js';

export type Route = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<boolean>;

export async function startHttpServer(
  latch: Latch,
  port: number,
  extraRoutes: Route[] = [],
): Promise<http.Server> {
  const routes: Route[] = [...extraRoutes, healthz(latch), metrics(latch)];
  const server = http.createServer(async (req, res) => {
    try {
      for (const route of routes) if (await route(req, res)) return;
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'not found' }));
    } catch (err) {
      latch.ctx.log.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: 'internal error' }));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, resolve));
  return server;
}

function healthz(latch: Latch): Route {
  return async (req, res) => {
    if (req.url !== '/healthz') return false;
    try {
      await latch.db.conn.db!.command({ ping: 1 });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: true }));
    } catch (err) {
      res
        .writeHead(503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ ok: false, error: (err as Error).message }));
    }
    return true;
  };
}

function metrics(latch: Latch): Route {
  return async (req, res) => {
    if (req.url !== '/metrics') return false;
    const body = await latch.metrics.registry.metrics();
    res.writeHead(200, { 'content-type': latch.metrics.registry.contentType }).end(body);
    return true;
  };
}
