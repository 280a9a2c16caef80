/**
 * vpp-cni-agent: the per-node agent.
 *   vpp-cni-agent [--vpp-socket PATH] [--cni-socket PATH] [--pods-file pods.yaml] [...]
 * With --pods-file (or VPPCNI_PODS_FILE) it runs without Kubernetes: the file's pods stand in for the API.
 * Otherwise it watches this node's pods (NODE_NAME) through KUBECONFIG or the in-cluster config.
 */
import { Registry } from 'prom-client';
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './log.js';
import { Agent, type AgentDeps } from './agent.js';
import { PodsFileError, PodsFileSource } from './pod-info/pods-file.js';
import type { PodSource } from './pod-info/source.js';
// The Kubernetes access (agent/kube: node:https and zod, no client library) is loaded only when the agent talks to Kubernetes.
import type { KubeEventRecorder } from './kube/events.js';
import { AgentMetrics } from './observability/metrics.js';
import { StaticCluster } from './node/static-cluster.js';
import type { ClusterSource } from './node/dataplane.js';

async function main(): Promise<void> {
  let cfg;
  try {
    cfg = loadConfig(process.env, process.argv.slice(2));
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`vpp-cni-agent: invalid configuration: ${e.message}\n`);
      process.exit(2);
    }
    throw e;
  }
  const log = createLogger(cfg.logLevel, cfg.nodeName);
  const metrics = new AgentMetrics(new Registry(), { processMetrics: true });
  let pods: PodSource;
  let deps: AgentDeps;
  let events: KubeEventRecorder | undefined;
  let closeCluster: (() => Promise<void>) | undefined;
  if (cfg.podsFile) {
    let file: PodsFileSource;
    try {
      file = new PodsFileSource(cfg.podsFile, log.child({ subsystem: 'pods-file' }));
    } catch (e) {
      if (e instanceof PodsFileError) {
        process.stderr.write(`vpp-cni-agent: invalid configuration: ${e.message}\n`);
        process.exit(2);
      }
      throw e;
    }
    pods = file;
    deps = { pods, metrics };
    // auto: the node dataplane runs when the file lists cluster objects (nodes, services, endpointSlices).
    if (cfg.node.enabled === 'on' || (cfg.node.enabled === 'auto' && file.cluster() !== undefined)) {
      if (cfg.nodeName === '') {
        process.stderr.write('vpp-cni-agent: invalid configuration: NODE_NAME: required when the pods file lists cluster objects (which Node is this one); or VPPCNI_NODE_DATAPLANE=off\n');
        process.exit(2);
      }
      const cluster = new StaticCluster(log.child({ subsystem: 'node' }), file.cluster());
      const off = file.onClusterChange((c) => cluster.set(c));
      closeCluster = () => Promise.resolve(off());
      deps.cluster = cluster;
    }
  } else {
    const { KubeConfigError, loadKubeConfig } = await import('./kube/client.js');
    const { KubePodSource } = await import('./kube/pod-source.js');
    const { KubeEventRecorder } = await import('./kube/events.js');
    let kc;
    try {
      kc = loadKubeConfig(cfg.kubeconfig);
    } catch (e) {
      if (e instanceof KubeConfigError) {
        process.stderr.write(`vpp-cni-agent: invalid configuration: ${e.message}\n`);
        process.exit(2);
      }
      throw e;
    }
    const kube = new KubePodSource({ kc, nodeName: cfg.nodeName, log: log.child({ subsystem: 'pods' }), onWatchRestart: (reason) => metrics.watchRestarts.inc({ reason }) });
    events = new KubeEventRecorder({ kc, nodeName: cfg.nodeName, log: log.child({ subsystem: 'events' }), onOutcome: (reason, outcome) => metrics.events.inc({ reason, outcome }) });
    pods = kube;
    let cluster: ClusterSource | undefined;
    let clusterNotReady: () => string | undefined = () => undefined;
    if (cfg.node.enabled !== 'off') {
      // Nodes, and with Services on, Services and EndpointSlices (RBAC: list and watch of those three).
      const { NodeDataplaneSource } = await import('./kube/node-dataplane-source.js');
      const src = new NodeDataplaneSource({ kc, log: log.child({ subsystem: 'node-informers' }), services: cfg.node.services });
      cluster = {
        nodes: () => src.nodes.list(),
        services: () => src.services?.list() ?? [],
        slices: () => src.slices?.list() ?? [],
        onChange: (l) => src.onChange(l),
        waitForSync: (ms) => src.waitForSync(ms),
      };
      clusterNotReady = () => src.notReady();
      closeCluster = () => src.close();
      src.start();
    }
    deps = { pods, metrics, events, podWatch: kube, podsNotReady: () => kube.notReady() ?? clusterNotReady(), ...(cluster ? { cluster } : {}) };
    kube.start();
  }
  const agent = new Agent(cfg, log, deps);
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    void agent
      .stop()
      .then(() => Promise.all([pods.close(), events?.close(), closeCluster?.()]))
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await agent.start();
  log.info({ cniSocket: cfg.cniSocket, vppSocket: cfg.vppApiSocket }, 'vpp-cni agent started');
}

main().catch((e: unknown) => {
  process.stderr.write(`vpp-cni-agent: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
