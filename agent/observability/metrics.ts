/**
 * The agent's Prometheus metrics, registered in a Registry passed in (never prom-client's global one:
 * tests run several agents in one process). Gauges about pods are computed at scrape time from the
 * attachment records, so they cannot drift from what the agent actually holds; the node dataplane's gauges
 * likewise from its own counts (bindNode; 0 while it is off).
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';
import type { AttachmentRecord } from '../pod/record.js';
import type { InterfaceModeStatus } from '../pod/interface-mode.js';
import type { NodeSyncObserver } from '../../contract/ctl-api.js';

/** What /metrics exposes: name, type and help (the README's metrics reference lists the same). */
export const METRICS = {
  cniDuration: { name: 'vppcni_cni_operation_duration_seconds', type: 'histogram', labels: ['command', 'result'], help: 'CNI operations handled by the agent, by command (ADD, DEL, CHECK, GC) and result (ok, error)' },
  vppLatency: { name: 'vppcni_vpp_api_request_duration_seconds', type: 'histogram', labels: ['message'], help: 'VPP binary API requests and dumps, by message, from send to reply' },
  vppErrors: { name: 'vppcni_vpp_api_errors_total', type: 'counter', labels: ['message', 'error'], help: 'VPP API requests that failed, by message and error (retval name, or timeout / disconnect)' },
  pods: { name: 'vppcni_pods', type: 'gauge', labels: ['interface_kind'], help: 'Pods with an attachment of this interface kind (tun, veth, memif-pbl, memif-multinet, vcl)' },
  interfaceMode: {
    name: 'vppcni_pod_interface_mode',
    type: 'gauge',
    labels: ['setting', 'mode'],
    help: 'How new pod eth0 interfaces are made: 1 for the configured setting (tun, veth, auto) and the mode in use (tun, veth; auto moves to veth when VPP cannot make taps)',
  },
  memifs: { name: 'vppcni_memif_interfaces', type: 'gauge', labels: [], help: 'memif interfaces the agent made for pods' },
  watchRestarts: { name: 'vppcni_pod_watch_restarts_total', type: 'counter', labels: ['reason'], help: 'Restarts of the pod watch, by reason (closed: stream ended, expired: 410 relist, error: failure with backoff, idle: watchdog)' },
  vppReconnects: { name: 'vppcni_vpp_reconnects_total', type: 'counter', labels: [], help: 'Reconnections to the VPP API after a lost connection' },
  vppConnected: { name: 'vppcni_vpp_connected', type: 'gauge', labels: [], help: '1 when the VPP API connection is up' },
  events: { name: 'vppcni_pod_events_total', type: 'counter', labels: ['reason', 'outcome'], help: 'Kubernetes Events about pods, by reason and outcome (sent, patched, coalesced, dropped, failed)' },
  pblUpdates: { name: 'vppcni_pbl_live_updates_total', type: 'counter', labels: ['result'], help: 'Live updates of PBL ports after an annotation change, by result' },
  nodeSyncLatency: {
    name: 'vppcni_node_sync_latency_seconds',
    type: 'histogram',
    labels: [],
    help: 'Node dataplane syncs: seconds from the Kubernetes change (Node, Service, EndpointSlice) that caused one to the end of its VPP and host changes, for syncs with a known cause',
  },
  nodeSyncFailures: { name: 'vppcni_node_sync_failures_total', type: 'counter', labels: [], help: 'Node dataplane syncs that failed (each is retried with backoff; `vpp-cnictl node` shows the last error)' },
  nodesRouted: { name: 'vppcni_nodes_routed', type: 'gauge', labels: [], help: 'Other nodes whose pod CIDRs this node routes (host-gw or vxlan); 0 while the node dataplane is off' },
  serviceTranslations: { name: 'vppcni_service_translations', type: 'gauge', labels: [], help: 'cnat translations (one per Service VIP, port and protocol) the agent holds in VPP; 0 while the node dataplane is off' },
} as const;

/** The README's metrics reference, made from METRICS (a test keeps the README in sync). */
export function metricsMarkdown(): string {
  const rows = Object.values(METRICS).map((m) => `| \`${m.name}\` | ${m.type} | ${m.labels.length ? m.labels.map((l) => `\`${l}\``).join(', ') : '—'} | ${m.help} |`);
  return ['| metric | type | labels | meaning |', '|---|---|---|---|', ...rows].join('\n');
}

const meta = (m: { name: string; help: string }): { name: string; help: string } => ({ name: m.name, help: m.help });

const CNI_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const NODE_SYNC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const VPP_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];

export type PodInterfaceKind = 'tun' | 'veth' | 'memif-pbl' | 'memif-multinet' | 'vcl';

/** Distinct pods per interface kind among the records. */
export function podsByKind(records: readonly AttachmentRecord[]): Record<PodInterfaceKind, number> {
  const sets: Record<PodInterfaceKind, Set<string>> = { tun: new Set(), veth: new Set(), 'memif-pbl': new Set(), 'memif-multinet': new Set(), vcl: new Set() };
  for (const r of records) {
    const pod = r.pod.uid ?? `${r.pod.namespace}/${r.pod.name}`;
    if (r.objects.tun) sets.tun.add(pod);
    if (r.objects.veth) sets.veth.add(pod);
    if (r.objects.memif) sets[r.objects.memif.mode === 'pbl' ? 'memif-pbl' : 'memif-multinet'].add(pod);
    if (r.objects.vcl) sets.vcl.add(pod);
  }
  return { tun: sets.tun.size, veth: sets.veth.size, 'memif-pbl': sets['memif-pbl'].size, 'memif-multinet': sets['memif-multinet'].size, vcl: sets.vcl.size };
}

export interface AgentMetricsOptions {
  /** Also register Node's process metrics (process_*, nodejs_*). */
  processMetrics?: boolean;
}

export class AgentMetrics {
  readonly cniDuration: Histogram<'command' | 'result'>;
  readonly vppLatency: Histogram<'message'>;
  readonly vppErrors: Counter<'message' | 'error'>;
  readonly watchRestarts: Counter<'reason'>;
  readonly vppReconnects: Counter;
  readonly events: Counter<'reason' | 'outcome'>;
  readonly pblUpdates: Counter<'result'>;
  readonly nodeSyncLatency: Histogram;
  readonly nodeSyncFailures: Counter;
  private records: () => readonly AttachmentRecord[] = () => [];
  private vppState: () => boolean = () => false;
  private modeState: (() => InterfaceModeStatus) | undefined;
  private nodeCounts: (() => { nodesRouted: number; translations: number }) | undefined;

  constructor(
    readonly registry: Registry,
    opts: AgentMetricsOptions = {},
  ) {
    const registers = [registry];
    this.cniDuration = new Histogram({ ...meta(METRICS.cniDuration), labelNames: ['command', 'result'], buckets: CNI_BUCKETS, registers });
    this.vppLatency = new Histogram({ ...meta(METRICS.vppLatency), labelNames: ['message'], buckets: VPP_BUCKETS, registers });
    this.vppErrors = new Counter({ ...meta(METRICS.vppErrors), labelNames: ['message', 'error'], registers });
    this.watchRestarts = new Counter({ ...meta(METRICS.watchRestarts), labelNames: ['reason'], registers });
    this.vppReconnects = new Counter({ ...meta(METRICS.vppReconnects), registers });
    this.events = new Counter({ ...meta(METRICS.events), labelNames: ['reason', 'outcome'], registers });
    this.pblUpdates = new Counter({ ...meta(METRICS.pblUpdates), labelNames: ['result'], registers });
    this.nodeSyncLatency = new Histogram({ ...meta(METRICS.nodeSyncLatency), buckets: NODE_SYNC_BUCKETS, registers });
    this.nodeSyncFailures = new Counter({ ...meta(METRICS.nodeSyncFailures), registers });
    const self = this;
    new Gauge({
      ...meta(METRICS.pods),
      labelNames: ['interface_kind'],
      registers,
      collect() {
        const counts = podsByKind(self.records());
        for (const [kind, n] of Object.entries(counts)) this.set({ interface_kind: kind }, n);
      },
    });
    new Gauge({
      ...meta(METRICS.interfaceMode),
      labelNames: ['setting', 'mode'],
      registers,
      collect() {
        // Only the current pair: a fallback drops the (auto, tun) series rather than leaving it at 0.
        this.reset();
        const s = self.modeState?.();
        if (s) this.set({ setting: s.setting, mode: s.mode }, 1);
      },
    });
    new Gauge({
      ...meta(METRICS.memifs),
      registers,
      collect() {
        this.set(self.records().filter((r) => r.objects.memif).length);
      },
    });
    new Gauge({
      ...meta(METRICS.vppConnected),
      registers,
      collect() {
        this.set(self.vppState() ? 1 : 0);
      },
    });
    // counts() is cheap (no VPP call): each gauge asks for its own.
    const nodeGauge = (m: { name: string; help: string }, pick: (c: { nodesRouted: number; translations: number }) => number): void => {
      new Gauge({
        ...meta(m),
        registers,
        collect() {
          // A gauge without labels always has its one series: 0 while the node dataplane is off.
          this.set(self.nodeCounts ? pick(self.nodeCounts()) : 0);
        },
      });
    };
    nodeGauge(METRICS.nodesRouted, (c) => c.nodesRouted);
    nodeGauge(METRICS.serviceTranslations, (c) => c.translations);
    if (opts.processMetrics) collectDefaultMetrics({ register: registry });
  }

  /** Where the pod gauges read the attachments from, whether VPP is connected, and the node's eth0 mode. */
  bind(records: () => readonly AttachmentRecord[], vppConnected: () => boolean, interfaceMode?: () => InterfaceModeStatus): void {
    this.records = records;
    this.vppState = vppConnected;
    this.modeState = interfaceMode;
  }

  /**
   * Where the node dataplane's gauges read their counts (NodeDataplaneView.counts: no VPP call); undefined
   * (the default): the node dataplane is off and the gauges read 0.
   */
  bindNode(counts: (() => { nodesRouted: number; translations: number }) | undefined): void {
    this.nodeCounts = counts;
  }

  /** Told by the node dataplane after every sync. */
  readonly nodeObserver: NodeSyncObserver = {
    syncDone: (latencySeconds) => {
      if (latencySeconds !== undefined && Number.isFinite(latencySeconds) && latencySeconds >= 0) this.nodeSyncLatency.observe(latencySeconds);
    },
    syncFailed: () => this.nodeSyncFailures.inc(),
  };

  /** VppClient's `observer` option. */
  readonly vppObserver = (message: string, seconds: number, error: string | undefined): void => {
    this.vppLatency.observe({ message }, seconds);
    if (error !== undefined) this.vppErrors.inc({ message, error });
  };

  cniOperation(command: string, ok: boolean, seconds: number): void {
    this.cniDuration.observe({ command, result: ok ? 'ok' : 'error' }, seconds);
  }
}
