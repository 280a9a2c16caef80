/**
 * vpp-cni-agent: the per-node agent.
 *   vpp-cni-agent [--vpp-socket PATH] [--cni-socket PATH] [--pods-file pods.yaml] [...]
 * With --pods-file (or VPPCNI_PODS_FILE) it runs without Kubernetes: the file's pods stand in for the API.
 */
import { loadConfig, ConfigError } from './config.js';
import { createLogger } from './log.js';
import { Agent } from './agent.js';
import { PodsFileSource } from './pods/pods-file.js';
import { EMPTY_POD_SOURCE, type PodSource } from './pods/pod-source.js';

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
  let pods: PodSource = EMPTY_POD_SOURCE;
  if (cfg.podsFile) pods = new PodsFileSource(cfg.podsFile, log.child({ subsystem: 'pods-file' }));
  else log.warn({}, 'no pods file and no Kubernetes source configured: pods get no annotations');
  const agent = new Agent(cfg, log, { pods });
  let stopping = false;
  const stop = (sig: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal: sig }, 'stopping');
    void agent
      .stop()
      .then(() => pods.close())
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
