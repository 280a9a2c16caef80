/**
 * The composition root of the node agent: the VPP connection, the pod-interface layer, the attachment
 * manager and the CNI server, wired from one config. No module-level state: tests run several agents.
 */
import { API_MODULES, Backoff, REQUIRED_MESSAGES, VppClient } from './vpp/connection.js';
import { Registry } from 'prom-client';
import type { AgentConfig } from './config.js';
import type { Logger } from './log.js';
import { LinuxNetns, type NetnsOps } from './linux/netns.js';
import { NodeResources } from './pod/node-resources.js';
import { PodNetwork } from './pod/pod-network.js';
import { fallbackEventMessage, PodInterfaceModeState } from './pod/interface-mode.js';
import type { StepHook } from './pod/transaction.js';
import { AttachmentManager } from './cni/attachment-manager.js';
import type { AttachmentStore } from './pod/record.js';
import { CniServer } from './cni/server.js';
import type { PodSource } from './pod-info/source.js';
import type { DriverContext } from './pod/kinds/context.js';
import { updatePblPorts } from './pod/pbl-update.js';
import type { PodAnnotationWatch } from './kube/pod-source.js';
import type { PodEventSink } from './kube/events.js';
import { AgentMetrics } from './observability/metrics.js';
import { ObservabilityServers } from './observability/http-servers.js';
import { PodErrorLog, classifyPodError } from './observability/pod-errors.js';
import { PodView } from './observability/pod-view.js';
import { CtlServer } from './observability/ctl-server.js';
import { CheckpointStore } from './state/checkpoint.js';
import { StateKeeper, type StateKeeperOptions } from './state/keeper.js';
import { HostCmd } from './linux/host-cmd.js';
import { NodeDataplane, type ClusterSource, type NodeDataplaneOptions } from './node/dataplane.js';

export interface AgentDeps {
  pods: PodSource;
  netns?: NetnsOps;
  store?: AttachmentStore;
  stepHook?: StepHook;
  /** Metrics (default: new ones in a new Registry). */
  metrics?: AgentMetrics;
  /** Warning Events on pods (Kubernetes); none without it. */
  events?: PodEventSink;
  /** Why the pod source is not ready (informer not synced), for /readyz. */
  podsNotReady?: () => string | undefined;
  /** Annotation changes of running pods (the Kubernetes pod source). */
  podWatch?: PodAnnotationWatch;
  /** Last errors per pod (default: a new log). */
  errorLog?: PodErrorLog;
  /**
   * Nodes, Services and EndpointSlices for the node dataplane (Kubernetes informers, or a pods file's lists);
   * without it, or with VPPCNI_NODE_DATAPLANE=off, the agent reaches only the pods of its own node.
   */
  cluster?: ClusterSource;
  /** Told after every node dataplane sync (metrics). */
  nodeObserver?: NodeDataplaneOptions['observer'];
  /** Tuning of the node dataplane (tests: a short resync). */
  nodeDataplane?: { resyncMs?: number; retry?: { initialMs: number; maxMs: number }; host?: HostCmd };
  /** Tuning of the state layer (tests: short retry backoff). */
  state?: Partial<Pick<StateKeeperOptions, 'retry' | 'concurrency' | 'drainTimeoutMs' | 'sweepAtStart'>>;
}

export class Agent {
  readonly vpp: VppClient;
  readonly node: NodeResources;
  readonly network: PodNetwork;
  readonly manager: AttachmentManager;
  readonly server: CniServer;
  readonly metrics: AgentMetrics;
  readonly errorLog: PodErrorLog;
  readonly observability: ObservabilityServers;
  readonly podView: PodView;
  readonly ctl: CtlServer;
  /** Checkpoint reconcile, VPP-restart recovery, orphan sweep (agent/state). */
  readonly state: StateKeeper;
  /** Host link, routes to other nodes, egress NAT, Services in VPP (agent/node); undefined when off. */
  readonly nodeDataplane: NodeDataplane | undefined;
  private stopped = false;
  private connectLoop: Promise<void> | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    readonly cfg: AgentConfig,
    readonly log: Logger,
    private readonly deps: AgentDeps,
  ) {
    this.metrics = deps.metrics ?? new AgentMetrics(new Registry());
    this.errorLog = deps.errorLog ?? new PodErrorLog();
    this.vpp = new VppClient({
      socketPath: cfg.vppApiSocket,
      clientName: `vpp-cni-agent-${process.pid}`,
      modules: API_MODULES,
      required: REQUIRED_MESSAGES,
      logger: log.child({ subsystem: 'vpp' }),
      observer: this.metrics.vppObserver,
    });
    this.vpp.onStateChange((c) => {
      if (c.to === 'connected' && c.from === 'reconnecting') this.metrics.vppReconnects.inc();
    });
    this.node = new NodeResources(this.vpp);
    const netns = deps.netns ?? new LinuxNetns();
    const nodeLog = log.child({ subsystem: 'node' });
    this.nodeDataplane =
      deps.cluster && cfg.node.enabled !== 'off'
        ? new NodeDataplane({
            vpp: this.vpp,
            host: deps.nodeDataplane?.host ?? new HostCmd({ netns: cfg.node.netns }),
            log: nodeLog,
            nodeName: cfg.nodeName,
            settings: cfg.node,
            cluster: deps.cluster,
            stateDir: cfg.stateDir,
            vpePid: () => this.vpp.pid,
            // The Event recorder writes Events on pods only: a Service warning is a log line (the reconciler's).
            observer: deps.nodeObserver ?? this.metrics.nodeObserver,
            ...(deps.nodeDataplane?.resyncMs ? { resyncMs: deps.nodeDataplane.resyncMs } : {}),
          })
        : undefined;
    // Pod eth0s join cnat's POD table only when Services are translated in VPP.
    const podCfg = { ...cfg.pod, servicesInVpp: this.nodeDataplane !== undefined && cfg.node.services };
    const ctx: DriverContext = { vpp: this.vpp, netns, node: this.node, cfg: podCfg, log: log.child({ subsystem: 'pod' }) };
    // auto mode's switch to veth: a warning Event on the first pod that got one (the log says it too).
    const interfaceMode = new PodInterfaceModeState(cfg.pod.interfaceMode ?? 'auto', ctx.log, (pod, s) => deps.events?.warn(pod, 'PodInterfaceFallback', fallbackEventMessage(s)));
    this.network = new PodNetwork(ctx, { interfaceMode, ...(deps.stepHook ? { stepHook: deps.stepHook } : {}) });
    // The checkpoint under the state dir, unless a store is given (tests).
    let store: AttachmentStore | CheckpointStore | undefined = deps.store;
    if (!store) {
      const cp = new CheckpointStore(cfg.stateDir, log.child({ subsystem: 'state' }));
      cp.load();
      store = cp;
    }
    this.manager = new AttachmentManager({
      network: this.network,
      pods: deps.pods,
      store,
      log: log.child({ subsystem: 'cni' }),
      notReady: () => this.notReady(),
      updatePblPorts: (rec, ports) => updatePblPorts(ctx, rec, ports),
      state: { isStale: (r) => this.state.isStale(r), deleteStale: (r) => this.state.deleteStale(r), sweepOrphans: () => this.state.sweep() },
      hooks: {
        operation: (o) => {
          if (o.command === 'UPDATE') this.metrics.pblUpdates.inc({ result: o.error === undefined ? 'ok' : 'error' });
          else this.metrics.cniOperation(o.command, o.error === undefined, o.seconds);
          if (o.error === undefined || !o.pod?.name) return;
          const c = classifyPodError(o.error);
          this.errorLog.record(o.pod, o.command, c, { ...(o.containerId ? { containerId: o.containerId } : {}), ...(o.ifName ? { ifName: o.ifName } : {}) });
          if (o.command === 'ADD' || o.command === 'UPDATE') deps.events?.warn(o.pod, c.reason, c.message);
        },
        podWarning: (w) => {
          this.errorLog.record(w.pod, 'UPDATE', { reason: w.reason, message: w.message }, { ...(w.containerId ? { containerId: w.containerId } : {}), ...(w.ifName ? { ifName: w.ifName } : {}) });
          deps.events?.warn(w.pod, w.reason, w.message);
        },
      },
    });
    this.state = new StateKeeper({
      ctx: { vpp: this.vpp, netns, node: this.node, cfg: podCfg, network: this.network, store, pods: deps.pods, exclusive: (cid, fn) => this.manager.exclusive(cid, fn), log: log.child({ subsystem: 'state' }) },
      rebuild: store instanceof CheckpointStore && store.outcome.kind === 'moved-aside',
      sweepIntervalMs: cfg.sweepIntervalSeconds * 1000,
      busy: () => this.manager.busy,
      ...deps.state,
    });
    this.metrics.bind(
      () => this.manager.records,
      () => this.vpp.state === 'connected' || this.vpp.state === 'not-responding',
      () => this.network.interfaceMode.status(),
    );
    if (deps.podWatch) {
      const cniLog = log.child({ subsystem: 'cni' });
      this.unsubscribe.push(
        deps.podWatch.onAnnotationsChanged((pod, previous) => {
          this.manager.onPodAnnotationsChanged(pod, previous).catch((e: unknown) => {
            cniLog.error({ namespace: pod.namespace, pod: pod.name, step: 'annotations update', err: (e as Error).message }, 'annotation update failed');
          });
        }),
      );
    }
    this.server = new CniServer(cfg.cniSocket, this.manager, { notReady: () => this.notReady(), degraded: () => this.degraded() }, log.child({ subsystem: 'cni-server' }));
    this.observability = new ObservabilityServers({
      metricsPort: cfg.metricsPort,
      healthPort: cfg.healthPort,
      registry: this.metrics.registry,
      notReady: () => this.readiness(),
      log: log.child({ subsystem: 'http' }),
    });
    this.podView = new PodView({
      nodeName: cfg.nodeName,
      records: () => this.manager.records,
      errors: this.errorLog,
      vpp: this.vpp,
      notReady: () => this.readiness(),
      interfaceMode: () => this.network.interfaceMode.status(),
      ...(deps.pods.list ? { nodePods: () => deps.pods.list!() } : {}),
      isNetns: (p) => netns.isNetns(p),
    });
    this.ctl = new CtlServer(cfg.ctlSocket, this.podView, log.child({ subsystem: 'ctl' }));
    // vpp-cnictl node / service / node cleanup and the node gauges (404 and 0 while the node dataplane is off).
    this.ctl.bindNode(this.nodeDataplane);
    const nd = this.nodeDataplane;
    this.metrics.bindNode(nd ? () => nd.counts() : undefined);
    this.vpp.onRestart((r) => {
      this.log.warn({ previousPid: r.previousPid, vpePid: r.vpePid }, 'VPP restarted: node objects will be made again');
      this.node.reset();
      const nd = this.nodeDataplane?.vppRestarted();
      if (!nd) {
        this.state.onVppRestart(r);
        return;
      }
      // Pods made again join cnat's POD table: cnat's SNAT base goes first (a few calls).
      void nd.base.then(() => this.state.onVppRestart(r));
      nd.done.catch(() => this.scheduleNodeStart());
    });
  }

  /** Why ADD cannot be served, or undefined. */
  notReady(): string | undefined {
    const s = this.vpp.state;
    if (s !== 'connected' && s !== 'not-responding') return `VPP API ${this.cfg.vppApiSocket} not connected (${s})`;
    if (s === 'not-responding') return 'VPP is not answering health pings';
    const st = this.state.notReady();
    if (st) return st;
    const nd = this.nodeDataplane?.notReady();
    if (nd) return nd;
    if (!this.server.isListening) return 'CNI server not listening';
    return undefined;
  }

  /** /readyz: VPP connected, CNI server listening, pod source synced (undefined when ready). */
  readiness(): string | undefined {
    return this.notReady() ?? this.deps.podsNotReady?.();
  }

  degraded(): boolean {
    return this.manager.records.length > 0 && this.vpp.state !== 'connected';
  }

  /** Starts serving CNI at once (answering "try again later" until VPP is connected) and connects to VPP. */
  async start(): Promise<void> {
    await this.observability.start();
    await this.server.start();
    await this.ctl.start();
    this.connectLoop = this.connectVpp();
  }

  /** Resolves once VPP is connected (or the agent stopped). */
  async ready(): Promise<void> {
    await this.connectLoop;
  }

  private async connectVpp(): Promise<void> {
    const backoff = new Backoff({ initialDelayMs: 100, maxDelayMs: 5000, multiplier: 2, jitter: 0 });
    while (!this.stopped) {
      try {
        const info = await this.vpp.connect();
        this.log.info({ vpePid: info.vpePid, messages: info.messageCount, socket: this.cfg.vppApiSocket }, 'connected to VPP');
        // The node dataplane first: pods the reconcile makes again need cnat's SNAT base (their POD-table
        // calls answer FEATURE_DISABLED before it); on an agent restart it adopts everything with no change.
        await this.startNodeDataplane();
        await this.state.start(); // reconcile the checkpoint and sweep orphans before ADDs are served
        return;
      } catch (e) {
        const delay = backoff.nextDelay();
        this.log.warn({ err: (e as Error).message, retryInMs: delay }, 'cannot connect to VPP yet');
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  /** Starts the node dataplane; on failure logs and retries in the background (ADD answers not ready meanwhile). */
  private async startNodeDataplane(): Promise<void> {
    const nd = this.nodeDataplane;
    if (!nd) return;
    try {
      await nd.start();
    } catch (e) {
      this.log.error({ subsystem: 'node', err: (e as Error).message }, 'node dataplane not started; retrying');
      this.scheduleNodeStart();
    }
  }

  private nodeRetry: NodeJS.Timeout | undefined;
  private nodeBackoff: Backoff | undefined;

  private scheduleNodeStart(): void {
    if (this.stopped || this.nodeRetry) return;
    const r = this.deps.nodeDataplane?.retry ?? { initialMs: 1000, maxMs: 30_000 };
    this.nodeBackoff ??= new Backoff({ initialDelayMs: r.initialMs, maxDelayMs: r.maxMs, multiplier: 2, jitter: 0 });
    this.nodeRetry = setTimeout(() => {
      this.nodeRetry = undefined;
      if (this.stopped) return;
      this.nodeDataplane!.start().then(
        () => (this.nodeBackoff = undefined),
        (e: unknown) => {
          this.log.error({ subsystem: 'node', err: (e as Error).message }, 'node dataplane not started; retrying');
          this.scheduleNodeStart();
        },
      );
    }, this.nodeBackoff.nextDelay());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.nodeRetry);
    const nodeStopped = this.nodeDataplane?.stop();
    const stateStopped = this.state.stop();
    for (const u of this.unsubscribe.splice(0)) u();
    await this.server.stop();
    await this.ctl.stop();
    await this.observability.stop();
    await nodeStopped;
    await this.vpp.close();
    await stateStopped;
  }
}
