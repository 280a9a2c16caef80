/**
 * /metrics (Prometheus text) on VPPCNI_METRICS_PORT and /healthz, /readyz on VPPCNI_HEALTH_PORT
 * (0 disables either; the same port serves all three). /healthz answers while the process runs;
 * /readyz answers 200 "ok" when ready, else 503 with the reason as one line of text.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';

export interface ObservabilityServerOptions {
  metricsPort: number;
  healthPort: number;
  /** Listen address (default: all addresses). */
  host?: string;
  registry: Registry;
  /** Undefined when ready, else why not. */
  notReady: () => string | undefined;
  log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

type Route = '/metrics' | '/healthz' | '/readyz';

export class ObservabilityServers {
  private readonly servers: { server: Server; port: number; routes: Set<Route>; setting: string }[] = [];

  constructor(private readonly o: ObservabilityServerOptions) {
    const plan = new Map<number, { routes: Set<Route>; setting: string }>();
    const add = (port: number, routes: Route[], setting: string): void => {
      if (port === 0) return;
      const cur = plan.get(port);
      if (cur) {
        for (const r of routes) cur.routes.add(r);
        cur.setting += ` and ${setting}`;
      } else plan.set(port, { routes: new Set(routes), setting });
    };
    add(o.metricsPort, ['/metrics'], 'VPPCNI_METRICS_PORT');
    add(o.healthPort, ['/healthz', '/readyz'], 'VPPCNI_HEALTH_PORT');
    for (const [port, p] of plan) {
      const server = createServer((req, res) => void this.handle(p.routes, req, res));
      this.servers.push({ server, port, routes: p.routes, setting: p.setting });
    }
  }

  private async handle(routes: Set<Route>, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] as Route;
    if (req.method !== 'GET' && req.method !== 'HEAD') return this.send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n');
    if (!routes.has(path)) return this.send(res, 404, 'text/plain; charset=utf-8', `not found; try ${[...routes].join(' ')}\n`);
    if (path === '/healthz') return this.send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    if (path === '/readyz') {
      let why: string | undefined;
      try {
        why = this.o.notReady();
      } catch (e) {
        why = `readiness check failed: ${(e as Error).message}`;
      }
      return why ? this.send(res, 503, 'text/plain; charset=utf-8', `not ready: ${why}\n`) : this.send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
    }
    try {
      const text = await this.o.registry.metrics();
      this.send(res, 200, this.o.registry.contentType, text);
    } catch (e) {
      this.send(res, 500, 'text/plain; charset=utf-8', `metrics failed: ${(e as Error).message}\n`);
    }
  }

  private send(res: ServerResponse, code: number, type: string, body: string): void {
    res.writeHead(code, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(res.req.method === 'HEAD' ? undefined : body);
  }

  async start(): Promise<void> {
    for (const s of this.servers) {
      await new Promise<void>((resolve, reject) => {
        const onError = (e: NodeJS.ErrnoException): void => {
          reject(new Error(`${s.setting} ${s.port}: cannot listen (${e.code ?? e.message})`));
        };
        s.server.once('error', onError);
        s.server.listen({ port: s.port, ...(this.o.host ? { host: this.o.host } : {}) }, () => {
          s.server.off('error', onError);
          resolve();
        });
      });
      this.o.log.info({ port: (s.server.address() as AddressInfo).port, paths: [...s.routes] }, 'observability server listening');
    }
  }

  /** The port actually bound for a path (tests), or undefined when disabled. */
  portOf(path: Route): number | undefined {
    const s = this.servers.find((x) => x.routes.has(path) && x.server.listening);
    return s ? (s.server.address() as AddressInfo).port : undefined;
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            if (!s.server.listening) return resolve();
            s.server.close(() => resolve());
            s.server.closeAllConnections();
          }),
      ),
    );
  }
}
