/**
 * The agent's troubleshooting API for vpp-cnictl: JSON over HTTP on a unix socket created 0600 in a
 * 0700 directory (root only, like the CNI socket). Paths in contract/ctl-api.ts. Read-only but for one
 * POST: /v1/node/cleanup, which removes the node dataplane's objects (the uninstall path, docs/install.md).
 * The node routes answer 404 while no node dataplane is bound (it is off on this node).
 */
import { preparePrivateSocket, restrictSocket } from '../linux/private-socket.js';
import { rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { echo } from '../../contract/echo.js';
import { CTL_API_PREFIX, type CtlErrorBody, type CtlNodeCleanupReport, type NodeDataplaneView } from '../../contract/ctl-api.js';
import type { PodView } from './pod-view.js';

const NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/i;

/** A Service is named by its namespace (an RFC 1123 label) and its name (an RFC 1035 label). */
const serviceRef = z.object({
  namespace: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/),
  name: z.string().regex(/^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/),
});

const NODE_OFF = 'the node dataplane is off on this node (VPPCNI_NODE_DATAPLANE is not true, or the agent has not started it)';

export class CtlServer {
  private readonly server: Server;
  private node: NodeDataplaneView | undefined;
  /** The cleanup in progress: a second POST meanwhile gets 409 rather than a second run. */
  private cleaning: Promise<CtlNodeCleanupReport> | undefined;

  constructor(
    private readonly socketPath: string,
    private readonly view: PodView,
    private readonly log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void },
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.requestTimeout = 60_000;
  }

  /** Where /v1/node, /v1/services/... and /v1/node/cleanup are served from; undefined: the node dataplane is off. */
  bindNode(view: NodeDataplaneView | undefined): void {
    this.node = view;
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
      let path: string;
      try {
        path = decodeURIComponent((req.url ?? '/').split('?')[0]!);
      } catch {
        return this.fail(res, 400, `not a valid path: ${echo(req.url)}`);
      }
      if (path === `${CTL_API_PREFIX}/node/cleanup`) return await this.cleanup(req, res);
      if (req.method !== 'GET') return this.notAllowed(res, req.method, 'GET');
      if (path === `${CTL_API_PREFIX}/pods`) return this.json(res, 200, this.view.list());
      if (path === `${CTL_API_PREFIX}/node`) {
        if (!this.node) return this.fail(res, 404, NODE_OFF);
        return this.json(res, 200, await this.node.status());
      }
      const svc = new RegExp(`^${CTL_API_PREFIX}/services/([^/]+)/([^/]+)$`).exec(path);
      if (svc) {
        const ref = serviceRef.safeParse({ namespace: svc[1], name: svc[2] });
        if (!ref.success) return this.fail(res, 400, `not a Service namespace/name: ${echo(`${svc[1]}/${svc[2]}`)}`);
        if (!this.node) return this.fail(res, 404, NODE_OFF);
        const s = await this.node.service(ref.data.namespace, ref.data.name);
        if (!s) return this.fail(res, 404, `service ${ref.data.namespace}/${ref.data.name}: not known to this node's agent (no such Service, or not yet seen)`);
        return this.json(res, 200, s);
      }
      const m = new RegExp(`^${CTL_API_PREFIX}/pods/([^/]+)/([^/]+)$`).exec(path);
      if (m) {
        const [, ns, name] = m as unknown as [string, string, string];
        if (!NAME.test(ns) || !NAME.test(name)) return this.fail(res, 400, `not a namespace/name: ${ns}/${name}`);
        const d = await this.view.detail(ns, name);
        if (!d) return this.fail(res, 404, `pod ${ns}/${name}: no attachment and no recent error on this node`);
        return this.json(res, 200, d);
      }
      const paths = ['pods', 'pods/<namespace>/<name>', 'node', 'services/<namespace>/<name>'].map((p) => `${CTL_API_PREFIX}/${p}`);
      this.fail(res, 404, `unknown path ${echo(path)}; try ${paths.join(', ')} (GET) or ${CTL_API_PREFIX}/node/cleanup (POST)`);
    } catch (e) {
      this.log.warn({ err: (e as Error).message, url: req.url }, 'ctl request failed');
      if (!res.headersSent) this.fail(res, 500, (e as Error).message);
      else res.destroy();
    }
  }

  private notAllowed(res: ServerResponse, method: string | undefined, allow: string): void {
    res.setHeader('allow', allow);
    this.fail(res, 405, `${method ?? '?'} not allowed here (${allow} only)`);
  }

  /** POST /v1/node/cleanup, no body: the node dataplane removes every object of its own and reports. */
  private async cleanup(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return this.notAllowed(res, req.method, 'POST');
    const length = req.headers['content-length'];
    if ((length !== undefined && length !== '0') || req.headers['transfer-encoding'] !== undefined) {
      return this.fail(res, 400, `${CTL_API_PREFIX}/node/cleanup takes no request body`);
    }
    if (!this.node) return this.fail(res, 404, NODE_OFF);
    if (this.cleaning) return this.fail(res, 409, 'a node cleanup is already running; wait for it to answer');
    this.log.info({}, 'node cleanup requested through the ctl socket');
    const run = this.node.cleanup();
    this.cleaning = run;
    try {
      const report = await run;
      this.log.info({ removed: report.removed.length, errors: report.errors }, 'node cleanup done');
      this.json(res, 200, report);
    } finally {
      this.cleaning = undefined;
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
