/**
 * The agent's troubleshooting API for vpp-cnictl: JSON over HTTP on a unix socket created 0600 in a
 * 0700 directory (root only, like the CNI socket). Read-only. Paths in contract/ctl-api.ts.
 */
import { preparePrivateSocket, restrictSocket } from '../linux/private-socket.js';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { CTL_API_PREFIX, type CtlErrorBody } from '../../contract/ctl-api.js';
import type { PodView } from './pod-view.js';

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i;

export class CtlServer {
  private readonly server: Server;

  constructor(
    private readonly socketPath: string,
    private readonly view: PodView,
    private readonly log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void },
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 60_000;
  }

  private json(res: ServerResponse, code: number, body: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(`${JSON.stringify(body)}\n`);
  }

  private fail(res: ServerResponse, code: number, error: string): void {
    const b: CtlErrorBody = { error };
    this.json(res, code, b);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      if (req.method !== 'GET') return this.fail(res, 405, `${req.method} not allowed`);
      const path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
      if (path === `${CTL_API_PREFIX}/pods`) return this.json(res, 200, this.view.list());
      const m = new RegExp(`^${CTL_API_PREFIX}/pods/([^/]+)/([^/]+)$`).exec(path);
      if (m) {
        const [, ns, name] = m as unknown as [string, string, string];
        if (!NAME.test(ns) || !NAME.test(name)) return this.fail(res, 400, `not a namespace/name: ${ns}/${name}`);
        const d = await this.view.detail(ns, name);
        if (!d) return this.fail(res, 404, `pod ${ns}/${name}: no attachment and no recent error on this node`);
        return this.json(res, 200, d);
      }
      this.fail(res, 404, `unknown path ${path}; try ${CTL_API_PREFIX}/pods or ${CTL_API_PREFIX}/pods/<namespace>/<name>`);
    } catch (e) {
      this.log.warn({ err: (e as Error).message, url: req.url }, 'ctl request failed');
      if (!res.headersSent) this.fail(res, 500, (e as Error).message);
      else res.destroy();
    }
  }

  async start(): Promise<void> {
    preparePrivateSocket(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    restrictSocket(this.socketPath);
    this.log.info({ socket: this.socketPath }, 'ctl server listening');
  }

  async stop(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
    rmSync(this.socketPath, { force: true });
  }
}
