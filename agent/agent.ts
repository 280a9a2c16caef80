/**
 * The composition root of the node agent: the VPP connection, the pod-interface layer, the attachment
 * manager and the CNI server, wired from one config. No module-level state: tests run several agents.
 */
import { allModules } from '../vpp-api/generated/index.js';
import * as memif from '../vpp-api/generated/memif.js';
import * as tapv2 from '../vpp-api/generated/tapv2.js';
import * as iface from '../vpp-api/generated/interface.js';
import * as ip from '../vpp-api/generated/ip.js';
import { VppClient } from '../vpp-api/client/index.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { LinuxNetns, type NetnsOps } from './linux/netns.js';
import { NodeResources } from './pod/node-resources.js';
import { PodNetwork } from './pod/pod-network.js';
import type { StepHook } from './pod/transaction.js';
import { AttachmentManager, MemoryStore, type AttachmentStore } from './cni/attachment-manager.js';
import { CniServer } from './cni/server.js';
import type { PodSource } from './pods/pod-source.js';

/** Messages the agent cannot work without: connect fails, listing them, when VPP lacks any. */
export const REQUIRED_MESSAGES = [
  iface.sw_interface_dump,
  iface.sw_interface_set_flags,
  iface.create_loopback,
  ip.ip_route_add_del,
  tapv2.tap_create_v3,
  tapv2.tap_delete_v2,
  memif.memif_socket_filename_add_del_v2,
  memif.memif_create_v2,
  memif.memif_delete,
];

export interface AgentDeps {
  pods: PodSource;
  netns?: NetnsOps;
  store?: AttachmentStore;
  stepHook?: StepHook;
}

export class Agent {
  readonly vpp: VppClient;
  readonly node: NodeResources;
  readonly network: PodNetwork;
  readonly manager: AttachmentManager;
  readonly server: CniServer;
  private stopped = false;
  private connectLoop: Promise<void> | undefined;

  constructor(
    readonly cfg: AgentConfig,
    readonly log: Logger,
    deps: AgentDeps,
  ) {
    this.vpp = new VppClient({
      socketPath: cfg.vppApiSocket,
      clientName: `vpp-cni-agent-${process.pid}`,
      modules: allModules,
      required: REQUIRED_MESSAGES,
      logger: log.child({ subsystem: 'vpp' }),
    });
    this.node = new NodeResources(this.vpp);
    const netns = deps.netns ?? new LinuxNetns();
    this.network = new PodNetwork(
      { vpp: this.vpp, netns, node: this.node, cfg: cfg.pod, log: log.child({ subsystem: 'pod' }) },
      deps.stepHook ? { stepHook: deps.stepHook } : {},
    );
    this.manager = new AttachmentManager({
      network: this.network,
      pods: deps.pods,
      store: deps.store ?? new MemoryStore(),
      log: log.child({ subsystem: 'cni' }),
      notReady: () => this.notReady(),
    });
    this.server = new CniServer(cfg.cniSocket, this.manager, { notReady: () => this.notReady(), degraded: () => this.degraded() }, log.child({ subsystem: 'cni-server' }));
    this.vpp.onRestart((r) => {
      this.log.warn({ previousPid: r.previousPid, vpePid: r.vpePid }, 'VPP restarted: node objects will be made again');
      this.node.reset();
    });
  }

  /** Why ADD cannot be served, or undefined. */
  notReady(): string | undefined {
    const s = this.vpp.state;
    if (s !== 'connected' && s !== 'not-responding') return `VPP API ${this.cfg.vppApiSocket} not connected (${s})`;
    if (s === 'not-responding') return 'VPP is not answering health pings';
    if (!this.server.isListening) return 'CNI server not listening';
    return undefined;
  }

  degraded(): boolean {
    return this.manager.records.length > 0 && this.vpp.state !== 'connected';
  }

  /** Starts serving CNI at once (answering "try again later" until VPP is connected) and connects to VPP. */
  async start(): Promise<void> {
    await this.server.start();
    this.connectLoop = this.connectVpp();
  }

  /** Resolves once VPP is connected (or the agent stopped). */
  async ready(): Promise<void> {
    await this.connectLoop;
  }

  private async connectVpp(): Promise<void> {
    let delay = 100;
    while (!this.stopped) {
      try {
        const info = await this.vpp.connect();
        this.log.info({ vpePid: info.vpePid, messages: info.messageCount, socket: this.cfg.vppApiSocket }, 'connected to VPP');
        return;
      } catch (e) {
        this.log.warn({ err: (e as Error).message, retryInMs: delay }, 'cannot connect to VPP yet');
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 5000);
      }
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.server.stop();
    await this.vpp.close();
  }
}
