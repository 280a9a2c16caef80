/**
 * The agent's CNI server: grpc-js on a unix socket created 0600 in a 0700 directory (only root talks to
 * it). Requests are validated with zod (a trust boundary), then handed to the AttachmentManager;
 * failures come back inside the reply as CNI errors with the code the plugin must print.
 */
import { preparePrivateSocket, restrictSocket } from '../linux/private-socket.js';
import { rmSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { z } from 'zod';
import { loadContract } from '../../contract/load.js';
import { CNI_CODES, type CniErrorMsg, type ResultMsg } from '../../contract/types.js';
import type { AttachResult } from '../pod/attachment.js';
import type { AttachmentManager } from './attachment-manager.js';
import { CniFailure, toCniError } from './cni-error.js';

const podSchema = z.object({ namespace: z.string().max(253), name: z.string().max(253), uid: z.string().max(64) }).nullable();
const attachmentSchema = z.object({
  container_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'container_id must be alphanumeric with _ . -').max(256),
  if_name: z.string().min(1).max(15).regex(/^[^\s/:]+$/, 'if_name must not contain whitespace, / or :').refine((s) => s !== '.' && s !== '..', 'if_name must not be . or ..'),
  netns: z.string().max(4096),
  pod: podSchema,
});
const cidr = z.string().regex(/^[0-9a-fA-F:.]+\/\d{1,3}$/, 'expected address/prefix-length');
const addSchema = z.object({
  attachment: attachmentSchema,
  ips: z.array(z.object({ address: cidr, gateway: z.string() })).min(1, 'at least one IP from IPAM'),
  routes: z.array(z.object({ dst: cidr, gw: z.string() })),
  network_name: z.string(),
});
const keyOnly = z.object({ attachment: attachmentSchema });
const gcSchema = z.object({ valid: z.array(z.object({ container_id: z.string(), if_name: z.string() }).passthrough()), network_name: z.string() });

export interface ReadinessSource {
  /** Undefined when ready, else why not (for STATUS and ADD). */
  notReady(): string | undefined;
  /** True when existing pods may have lost connectivity (STATUS code 51 instead of 50). */
  degraded(): boolean;
}

function invalid(e: z.ZodError): CniErrorMsg {
  const i = e.issues[0]!;
  return { code: CNI_CODES.invalidNetworkConfig, msg: `invalid request: ${i.path.join('.') || 'value'}: ${i.message}`, details: '' };
}

function toResultMsg(r: AttachResult): ResultMsg {
  return {
    interfaces: r.interfaces.map((i) => ({ name: i.name, mac: i.mac ?? '', mtu: i.mtu ?? 0, sandbox: i.sandbox, socket_path: i.socketPath ?? '' })),
    ips: r.ips.map((i) => ({ address: i.address, gateway: i.gateway ?? '', interface: i.interface })),
    routes: r.routes.map((x) => ({ dst: x.dst, gw: x.gw ?? '' })),
  };
}

function podOf(a: z.infer<typeof attachmentSchema>): { namespace: string; name: string; uid?: string } {
  const p = { namespace: a.pod?.namespace || 'default', name: a.pod?.name ?? '' };
  return a.pod?.uid ? { ...p, uid: a.pod.uid } : p;
}

type Handler = grpc.handleUnaryCall<unknown, unknown>;

export interface CniServerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export class CniServer {
  private readonly server = new grpc.Server();
  private listening = false;

  constructor(
    private readonly socketPath: string,
    private readonly manager: AttachmentManager,
    private readonly readiness: ReadinessSource,
    private readonly log: CniServerLogger,
  ) {
    const def = loadContract()['vppcni.v1.CniBackend'] as grpc.ServiceDefinition;
    const wrap = (name: string, fn: (req: unknown) => Promise<object>): Handler => {
      return (call, cb) => {
        fn(call.request).then(
          (reply) => cb(null, reply),
          (e: unknown) => {
            this.log.error({ rpc: name, err: (e as Error).message }, 'CNI request failed unexpectedly');
            cb(null, { error: toCniError(e) });
          },
        );
      };
    };
    this.server.addService(def, {
      Add: wrap('Add', (r) => this.add(r)),
      Del: wrap('Del', (r) => this.del(r)),
      Check: wrap('Check', (r) => this.check(r)),
      Gc: wrap('Gc', (r) => this.gc(r)),
      Status: wrap('Status', () => this.status()),
    });
  }

  get isListening(): boolean {
    return this.listening;
  }

  async start(): Promise<void> {
    preparePrivateSocket(this.socketPath);
    await new Promise<void>((resolve, reject) => {
      this.server.bindAsync(`unix:${this.socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    restrictSocket(this.socketPath);
    this.listening = true;
    this.log.info({ socket: this.socketPath }, 'CNI server listening');
  }

  async stop(): Promise<void> {
    this.listening = false;
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    rmSync(this.socketPath, { force: true });
  }

  private async add(raw: unknown): Promise<object> {
    const p = addSchema.safeParse(raw);
    if (!p.success) return { error: invalid(p.error) };
    const a = p.data.attachment;
    try {
      const result = await this.manager.add({
        containerId: a.container_id,
        ifName: a.if_name,
        netns: a.netns,
        pod: podOf(a),
        ips: p.data.ips.map((i) => (i.gateway ? { address: i.address, gateway: i.gateway } : { address: i.address })),
        routes: p.data.routes.map((r) => (r.gw ? { dst: r.dst, gw: r.gw } : { dst: r.dst })),
        network: p.data.network_name,
      });
      return { result: toResultMsg(result) };
    } catch (e) {
      return { error: toCniError(e) };
    }
  }

  private async del(raw: unknown): Promise<object> {
    const p = keyOnly.safeParse(raw);
    if (!p.success) return { error: invalid(p.error) };
    const a = p.data.attachment;
    try {
      await this.manager.del({ containerId: a.container_id, ifName: a.if_name, netns: a.netns, pod: podOf(a) });
      return {};
    } catch (e) {
      return { error: toCniError(e) };
    }
  }

  private async check(raw: unknown): Promise<object> {
    const p = keyOnly.safeParse(raw);
    if (!p.success) return { error: invalid(p.error) };
    const a = p.data.attachment;
    try {
      await this.manager.check({ containerId: a.container_id, ifName: a.if_name, netns: a.netns, pod: podOf(a) });
      return {};
    } catch (e) {
      return { error: toCniError(e) };
    }
  }

  private async gc(raw: unknown): Promise<object> {
    const p = gcSchema.safeParse(raw);
    if (!p.success) return { error: invalid(p.error) };
    try {
      const removed = await this.manager.gc(p.data.network_name, p.data.valid.map((v) => ({ containerId: v.container_id, ifName: v.if_name })));
      return { removed };
    } catch (e) {
      return { error: toCniError(e) };
    }
  }

  private status(): Promise<object> {
    const why = this.readiness.notReady();
    if (!why) return Promise.resolve({});
    const code = this.readiness.degraded() ? CNI_CODES.pluginNotAvailableLimitedConnectivity : CNI_CODES.pluginNotAvailable;
    return Promise.resolve({ error: toCniError(new CniFailure(code, `vpp-cni agent not ready: ${why}`)) });
  }
}
