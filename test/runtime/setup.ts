/**
 * The real-runtime set-up shared by the containerd test and `npm run bench:runtime`: a private containerd
 * (Debian's 1.6 + runc) whose CNI directories hold what our install step writes (the plugin binary and
 * conflist, cniVersion 1.0.0 by default), a Multus-style meta plugin for secondary networks (runtime
 * handler `vcni-multus`), Debian's bridge + host-local as a reference network (runtime handler
 * `vcni-bridge`), and the agent on the VPP simulator with real kernel taps. Names carry the process id and
 * a random part so parallel test files and runs never share a network, bridge, netns or directory.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { PodsFileSource } from '../../agent/pod-info/pods-file.js';
import { buildConflist, renderConflist, VPP_CAPABILITIES } from '../../deploy/conflist.js';
import { runInstall } from '../../deploy/install.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { kernelTun } from '../../vpp-api/sim/kernel-host.js';
import { Containerd } from './containerd.js';
import { run } from './exec.js';
import { BUSYBOX, buildBusyboxImage } from './images.js';

/** Debian's CNI plugins (containernetworking-plugins). */
export const DEBIAN_CNI_DIR = '/usr/lib/cni';
export const POD_MTU = 1400;
export const MULTUS_HANDLER = 'vcni-multus';
export const BRIDGE_HANDLER = 'vcni-bridge';
/** A handler whose conflist the install step wrote with --cni-version 1.1.0 (which containerd 1.6 refuses). */
export const V110_HANDLER = 'vcni-v110';
export const MEMIF_NETWORK = 'memif-net';
export const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';

/** What the real-runtime test needs on the machine, or the reason it cannot run. */
export function runtimeMissing(root: string): string | undefined {
  const need: [string, string][] = [
    ['/usr/bin/containerd', 'apt-get install containerd'],
    ['/usr/bin/ctr', 'apt-get install containerd'],
    ['/usr/sbin/runc', 'apt-get install runc'],
    [BUSYBOX, 'apt-get install busybox-static'],
    [join(DEBIAN_CNI_DIR, 'host-local'), 'apt-get install containernetworking-plugins'],
    [join(root, 'dist', 'vpp-cni'), 'npm run build:plugin'],
  ];
  const missing = need.filter(([p]) => !existsSync(p));
  return missing.length ? `missing ${missing.map(([p, fix]) => `${p} (${fix})`).join(', ')}` : undefined;
}

export interface RuntimeEnv {
  dir: string;
  /** Network names (unique to this run). */
  net: { vpp: string; memif: string; multus: string; bridge: string; v110: string };
  subnets: { vpp: string; memif: string; bridge: string };
  ipamDir: string;
  bridgeName: string;
  image: string;
  containerd: Containerd;
  sim: VppSimulator;
  agent: Agent;
  /** What the install step printed. */
  installOutput: string[];
  /** Where the Multus-style plugin records the runtimeConfig of each call (`<sandbox id>.<command>.json`). */
  recordDir: string;
  /** The conflist the install step wrote (its text). */
  conflist: string;
  stop(): Promise<string[]>;
}

/** A private /24 under 10.0.0.0/8 that this run alone uses (by pid and a random byte). */
function subnet(base: number): string {
  return `10.${base}.${randomBytes(1)[0]!}.0/24`;
}

export async function startRuntimeEnv(root: string, opts: { agentLogLevel?: string } = {}): Promise<RuntimeEnv> {
  const tag = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `vcni-rt-${tag}-`));
  const net = { vpp: `vcni-rt-${tag}`, memif: `vcni-rt-${tag}-memif`, multus: `vcni-rt-${tag}-multus`, bridge: `vcni-rt-${tag}-br`, v110: `vcni-rt-${tag}-v110` };
  const subnets = { vpp: subnet(231), memif: subnet(232), bridge: subnet(233) };
  const bridgeName = `vcbr${tag}`.slice(0, 15);
  const ipamDir = join(dir, 'ipam');
  const cniBin = join(dir, 'cni-bin');
  const confDir = join(dir, 'net.d');
  const multusDir = join(dir, 'net.d-multus');
  const bridgeDir = join(dir, 'net.d-bridge');
  const v110Dir = join(dir, 'net.d-v110');
  const networksDir = join(dir, 'networks');
  const recordDir = join(dir, 'runtime-config');
  const cniSocket = join(dir, 'agent', 'agent.sock');
  const image = `vpp-cni-test/busybox:${tag}`;
  for (const d of [cniBin, confDir, multusDir, bridgeDir, v110Dir, networksDir, recordDir, ipamDir]) mkdirSync(d, { recursive: true });

  let sim: VppSimulator | undefined;
  let agent: Agent | undefined;
  let pods: PodsFileSource | undefined;
  let containerd: Containerd | undefined;
  const stop = async (): Promise<string[]> => {
    const problems = containerd ? await containerd.stop() : [];
    try {
      await agent?.stop();
      await pods?.close();
      await sim?.stop();
    } catch (e) {
      problems.push(`stop agent/simulator: ${(e as Error).message}`);
    }
    const br = await run('ip', ['link', 'del', bridgeName], { timeoutMs: 10_000 }).catch(() => undefined);
    if (br && br.code !== 0 && !/Cannot find device/.test(br.stderr)) problems.push(`ip link del ${bridgeName}: ${br.stderr.trim()}`);
    rmSync(dir, { recursive: true, force: true });
    return problems;
  };

  try {
    // 1. The CNI bin dir: Debian's loopback (containerd runs it), host-local and bridge, then our install step.
    for (const p of ['loopback', 'host-local', 'bridge']) symlinkSync(join(DEBIAN_CNI_DIR, p), join(cniBin, p));
    const ipam = { type: 'host-local', ranges: [[{ subnet: subnets.vpp }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir };
    const installOutput: string[] = [];
    const install = async (extra: string[], out: string[]): Promise<void> => {
      const args = ['--bin-src', join(root, 'dist', 'vpp-cni'), '--cni-bin-dir', cniBin, '--agent-socket', cniSocket, '--mtu', String(POD_MTU), '--ipam-json', JSON.stringify(ipam), ...extra];
      const code = await runInstall(args, {}, { out: (l) => out.push(l), err: (l) => out.push(l) });
      if (code !== 0) throw new Error(`install step ${extra.join(' ')} failed (exit ${code}): ${out.join('; ')}`);
    };
    await install(['--cni-conf-dir', confDir, '--network-name', net.vpp], installOutput);
    // The former default, for the runtime to refuse (the issue's failure, kept as a regression check).
    await install(['--cni-conf-dir', v110Dir, '--network-name', net.v110, '--cni-version', '1.1.0'], []);
    const conflistPath = join(confDir, '10-vpp-cni.conflist');
    const conflist = readFileSync(conflistPath, 'utf8');

    // 2. A Multus-style meta plugin: the cluster network is our conflist, memif-net a secondary network.
    buildSync({
      entryPoints: [join(root, 'test', 'runtime', 'multus-lite.ts')],
      bundle: true,
      platform: 'node',
      format: 'cjs',
      target: 'node20',
      outfile: join(cniBin, 'vcni-multus-lite'),
      banner: { js: `#!${process.execPath}` },
      logLevel: 'silent',
    });
    chmodSync(join(cniBin, 'vcni-multus-lite'), 0o755);
    const memifList = buildConflist({
      cniVersion: '1.0.0',
      networkName: net.memif,
      agentSocket: cniSocket,
      timeoutSeconds: 30,
      ipam: { type: 'host-local', ranges: [[{ subnet: subnets.memif }]], dataDir: ipamDir },
      alsoPortmap: false,
    });
    writeFileSync(join(networksDir, `${MEMIF_NETWORK}.conflist`), renderConflist(memifList));
    writeFileSync(
      join(multusDir, '10-multus.conflist'),
      JSON.stringify({ cniVersion: '1.0.0', name: net.multus, plugins: [{ type: 'vcni-multus-lite', capabilities: { ...VPP_CAPABILITIES }, clusterNetwork: conflistPath, networksDir, recordDir }] }, null, 2),
    );
    // 3. The reference: Debian's bridge + host-local on the same runtime.
    writeFileSync(
      join(bridgeDir, '10-bridge.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: net.bridge,
        plugins: [{ type: 'bridge', bridge: bridgeName, isGateway: true, ipMasq: false, mtu: POD_MTU, ipam: { type: 'host-local', ranges: [[{ subnet: subnets.bridge }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: ipamDir } }],
      }),
    );

    // 4. VPP simulator and agent. The pods file lists no pod: a pod's annotations can only come from the runtime.
    const podsFile = join(dir, 'pods.yaml');
    writeFileSync(podsFile, '[]\n');
    sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host: kernelTun() });
    const cfg = loadConfig({}, [
      '--vpp-socket', sim.socketPath,
      '--cni-socket', cniSocket,
      '--metrics-port', '0',
      '--health-port', '0',
      '--feature-gates', '{"memifEnabled":true,"vclEnabled":false,"multinetEnabled":true}',
      '--pod-mtu', String(POD_MTU),
      '--state-dir', join(dir, 'state'),
      '--pods-file', podsFile,
    ]);
    const log = createLogger(opts.agentLogLevel ?? 'silent', 'rt');
    pods = new PodsFileSource(podsFile, log);
    agent = new Agent(cfg, log, { pods });
    await agent.start();
    await agent.ready();

    // 5. containerd with the three runtime handlers, and the image.
    containerd = await Containerd.start({
      dir: join(dir, 'containerd'),
      cniBinDir: cniBin,
      confDir,
      handlers: { [MULTUS_HANDLER]: multusDir, [BRIDGE_HANDLER]: bridgeDir, [V110_HANDLER]: v110Dir },
      sandboxImage: image,
      networkNames: Object.values(net),
    });
    const imageDir = join(dir, 'image');
    mkdirSync(imageDir);
    await containerd.importImage(await buildBusyboxImage(imageDir, image));
    return { dir, net, subnets, ipamDir, bridgeName, image, containerd, sim, agent, installOutput, recordDir, conflist, stop };
  } catch (e) {
    const problems = await stop();
    if (problems.length) (e as Error).message += ` (cleanup: ${problems.join('; ')})`;
    throw e;
  }
}
