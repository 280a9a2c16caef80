/**
 * `npm start`: vpp-cni on this machine with no cluster. Starts the VPP simulator (real kernel taps in the
 * pod namespaces; with `--no-vhost-net` it refuses taps as VPP does on a node without /dev/vhost-net, and
 * the agent's auto mode gives pods veth pairs with af_packet interfaces) or uses `--vpp-socket PATH`, starts the agent with a pods file standing in for the
 * Kubernetes API, creates network namespaces as pods and runs the real plugin binary in them exactly as a
 * container runtime does (ADD, then DEL), showing each pod's CNI result, VPP state and Linux state. With the
 * simulator it also runs the node dataplane, the node's host side in a network namespace of its own: two Nodes
 * and a Service in the pods file, the Service's EndpointSlice written once two pods have addresses, then
 * `vpp-cnictl node` and `vpp-cnictl service` (host link, host-gw route to the second node, VIP → backends);
 * `vpp-cnictl node cleanup` before the agent stops. At the end everything is removed again and the demo
 * checks that nothing is left (the node's VPP objects too). Needs root. On a fresh Debian
 * machine it first installs what is missing (iproute2, util-linux, containernetworking-plugins, iptables, procps) with apt-get,
 * saying so (`--no-install`: stop with the apt-get line instead).
 *
 *   npm start [-- --vpp-socket PATH] [--no-vhost-net] [--keep-logs] [--no-install]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { CNI_CODES } from '../contract/types.js';
import { formatEvent, LogTail } from './demo/agent-log.js';
import { aptInstall, DEMO_NEEDS, missingNeeds, packagesFor, type Runner } from './demo/debian.js';
import { failureOf, runCommand, Service, waitFor } from './demo/exec.js';
import { haveCommand, listNetns, NetnsSet, podLinuxState, setupNodeHost, vethHostEnds, type Netns } from './demo/linux.js';
import { allocatedAddresses, buildPlugin, CNI_PATH, findHostLocal, netconf, pluginBinary, pluginEnv, pluginStale, runPlugin, type NetworkDef, type PluginCall, type PluginOutput } from './demo/plugin.js';
import { clusterDocument, cniArgs, DEMO_CLUSTER_CIDRS, DEMO_NODE, DEMO_PODS, DEMO_SERVICE, DEMO_SERVICE_CIDRS, DEMO_SERVICE_REF, MEMIF_NET, PRIMARY_NET, podsYaml, SECOND_NODE, type DemoAttachment, type DemoPod } from './demo/pods.js';
import { Printer, shellQuote, Steps } from './demo/print.js';
import { cleanupNodeDataplane, readNodeStatus, showNodeDataplane, waitAgentReady, waitForServiceBackends } from './demo/node.js';
import { shortId, VppView } from './demo/vpp-state.js';

const here = dirname(fileURLToPath(import.meta.url));
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
/** Where the scripts are (the repository, or dist/ when built). */
const scriptsRoot = resolve(here, '..');
/** The repository: dist/vpp-cni and `npm run build:plugin` live there. */
const repoRoot = existsSync(join(scriptsRoot, 'package.json')) ? scriptsRoot : resolve(scriptsRoot, '..');
const SIM_MAIN = join(scriptsRoot, `vpp-api/sim/main${ext}`);
const AGENT_MAIN = join(scriptsRoot, `agent/main${ext}`);
const FEATURE_GATES = '{"memifEnabled":true,"vclEnabled":true,"multinetEnabled":true}';
const START_TIMEOUT_MS = 30_000;
/** How long the agent may take to program the Service after the EndpointSlice is written. */
const SERVICE_TIMEOUT_MS = 20_000;
/** The pods whose eth0 addresses become the Service's backends. */
const BACKEND_PODS = ['tun', 'pbl-memif'];

const USAGE = `usage: npm start [-- --vpp-socket PATH] [--no-vhost-net] [--keep-logs] [--no-install]
  --vpp-socket PATH   use this running VPP instead of starting the simulator
  --no-install        do not install missing Debian packages (iproute2, util-linux, containernetworking-plugins, iptables, procps): stop instead
  --no-vhost-net      the simulator refuses taps as VPP does without /dev/vhost-net: pods get veth + af_packet
  --keep-logs         keep the agent and simulator logs after the demo (they are kept anyway on failure)`;

interface Options {
  vppSocket?: string;
  keepLogs: boolean;
  /** Stop instead of installing missing Debian packages. */
  noInstall?: boolean;
  /** Simulate a node without /dev/vhost-net (only with the simulator). */
  noVhostNet?: boolean;
}

class UsageError extends Error {}

/** A child's command line as a user would type it: `npx tsx agent/main.ts ...` rather than node's loader flags. */
function shownCommand(args: readonly string[]): string[] {
  const loader = process.execArgv.length;
  const rest = args.slice(loader).map((a) => (a.startsWith(`${scriptsRoot}/`) ? a.slice(scriptsRoot.length + 1) : a));
  return process.execArgv.some((a) => a.includes('tsx')) ? ['npx', 'tsx', ...rest] : ['node', ...rest];
}

function parseOptions(argv: readonly string[]): Options {
  let r;
  try {
    r = parseArgs({
      args: [...argv],
      options: { 'vpp-socket': { type: 'string' }, 'keep-logs': { type: 'boolean' }, 'no-vhost-net': { type: 'boolean' }, 'no-install': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    const err = e as Error & { code?: string };
    const m = /'([^' ]+)/.exec(err.message);
    throw new UsageError(err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && m ? `unknown argument ${m[1]}` : err.message);
  }
  const { values, positionals } = r;
  if (positionals.length > 0) throw new UsageError(`unknown argument ${positionals[0]}`);
  if (values.help) throw new UsageError('');
  const o: Options = { keepLogs: values['keep-logs'] === true };
  if (values['no-vhost-net']) o.noVhostNet = true;
  if (values['no-install']) o.noInstall = true;
  if (values['vpp-socket'] !== undefined) {
    if (!values['vpp-socket']) throw new UsageError('--vpp-socket needs a path');
    o.vppSocket = resolve(values['vpp-socket']);
  }
  if (o.noVhostNet && o.vppSocket) throw new UsageError('--no-vhost-net sets up the simulator; a running VPP (--vpp-socket) has /dev/vhost-net or not by itself');
  return o;
}

class Interrupted extends Error {
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
  }
}

/** One attachment (pod, interface) as the runtime made it. */
interface AttachmentRun {
  att: DemoAttachment;
  call: PluginCall;
  conf: Record<string, unknown>;
  /** The ADD result (success), to be passed as prevResult on DEL as libcni does. */
  result?: Record<string, unknown>;
}

interface PodRun {
  pod: DemoPod;
  uid: string;
  containerId: string;
  ns?: Netns;
  attachments: AttachmentRun[];
  ips: string[];
}

class Demo {
  readonly steps: Steps;
  readonly dir: string;
  readonly netns = new NetnsSet();
  private sim: Service | undefined;
  private agent: Service | undefined;
  private agentLog: LogTail;
  private vpp: VppView | undefined;
  private tagsBefore = new Set<string>();
  private readonly pods: PodRun[] = [];
  private readonly apiSocket: string;
  private readonly cniSocket: string;
  private readonly ipamDir: string;
  private readonly plugin = pluginBinary(repoRoot);
  private readonly confFiles = new Map<string, string>();
  private readonly podsFile: string;
  /** The node's host side (`--node-netns`); undefined with a running VPP (--vpp-socket): the node dataplane is off then. */
  private nodeNs: Netns | undefined;
  /** The node dataplane answered GET /v1/node: it is cleaned up through the agent at the end. */
  private nodeShown = false;
  interrupted: string | undefined;
  readonly started = Date.now();

  private notedSimLinux = false;

  constructor(
    readonly opts: Options,
    readonly p: Printer,
  ) {
    this.steps = new Steps(p);
    this.dir = mkdtempSync(join(tmpdir(), 'vpp-cni-demo-'));
    this.apiSocket = opts.vppSocket ?? join(this.dir, 'api.sock');
    this.cniSocket = join(this.dir, 'cni', 'agent.sock');
    this.ipamDir = join(this.dir, 'ipam');
    this.podsFile = join(this.dir, 'pods.yaml');
    this.agentLog = new LogTail(join(this.dir, 'agent.log'));
  }

  private get simLogPath(): string {
    return join(this.dir, 'vpp-sim.log');
  }

  private get ctlSocket(): string {
    return join(dirname(this.cniSocket), 'ctl.sock');
  }

  private uidOf = (p: DemoPod): string => this.pods.find((r) => r.pod === p)!.uid;

  private checkInterrupted(): void {
    if (this.interrupted) throw new Interrupted(this.interrupted);
  }

  /** Prints what the agent logged since the last call. */
  private showAgentLog(): void {
    for (const e of this.agentLog.readNew()) this.p.line(`   agent │ ${formatEvent(e)}`);
  }

  // ---- start ----

  /**
   * The node's own network stack: a namespace of its own (never this machine's), `lo` up and an uplink on
   * the node network 192.0.2.0/24 where the second node's InternalIP is on-link. The agent's host link,
   * routes and iptables chains go there (--node-netns). Not with a running VPP: its af_packet interfaces
   * open host interfaces in VPP's own namespace, so the node dataplane is off then.
   */
  async startNodeHost(): Promise<void> {
    this.p.header("node host: a network namespace standing for this node's own network stack");
    if (this.opts.vppSocket) {
      this.p.line('   none with a running VPP (--vpp-socket): it opens af_packet host interfaces in its own network namespace,');
      this.p.line("   not in one the demo makes; the agent's node dataplane stays off (no cluster objects in the pods file)");
      return;
    }
    const ns = await this.netns.create('node');
    this.nodeNs = ns;
    this.p.line(`   ${ns.path}   [ip netns add ${ns.name}]`);
    try {
      for (const c of await setupNodeHost(ns, DEMO_NODE.uplink, DEMO_NODE.uplinkPeer, DEMO_NODE.uplinkPrefix)) this.p.command(c, '   $ ');
    } catch (e) {
      this.steps.record('node host namespace', false, (e as Error).message);
      throw e;
    }
    this.steps.record('node host namespace', true, `${ns.name}: ${DEMO_NODE.uplink} ${DEMO_NODE.uplinkPrefix} (${SECOND_NODE.name} at ${SECOND_NODE.internalIp} is on-link)`);
  }

  async startVpp(): Promise<void> {
    this.p.header(this.opts.vppSocket ? 'VPP' : 'VPP simulator');
    if (this.opts.vppSocket) {
      this.p.line(`   using the running VPP at ${this.apiSocket} (no simulator)`);
    } else {
      const host = this.opts.noVhostNet ? 'no-vhost-net' : 'kernel-tun';
      const args = [...process.execArgv, SIM_MAIN, '--socket', this.apiSocket, '--host', host, ...(this.nodeNs ? ['--host-netns', this.nodeNs.name] : [])];
      this.p.command(shownCommand(args));
      this.p.line(`   log: ${this.simLogPath}`);
      this.sim = Service.start({ name: 'simulator', command: process.execPath, args, cwd: scriptsRoot, logFile: this.simLogPath });
      const ok = await waitFor(() => (existsSync(this.apiSocket) ? true : !this.sim!.running ? false : undefined), START_TIMEOUT_MS, () => !!this.interrupted);
      this.checkInterrupted();
      if (!ok) {
        const why = this.sim.running ? `no socket after ${START_TIMEOUT_MS / 1000} s` : this.sim.exitDescription;
        for (const l of LogTail.lastLines(this.simLogPath, 5)) this.p.line(`   sim │ ${l}`);
        this.steps.record('simulator started', false, why);
        throw new Error(`the VPP simulator did not start (${why}); its log: ${this.simLogPath}`);
      }
      this.steps.record('simulator started', true, `pid ${this.sim.pid}, socket ${this.apiSocket}, ${this.opts.noVhostNet ? 'no /dev/vhost-net: taps refused with -11 as real VPP does' : 'kernel taps'}`);
    }
    try {
      this.vpp = await VppView.connect(this.apiSocket);
    } catch (e) {
      this.steps.record('connected to VPP', false, (e as Error).message);
      throw new Error(`cannot talk to VPP at ${this.apiSocket}: ${(e as Error).message}`);
    }
    this.tagsBefore = await this.vpp.vcniTags();
    this.steps.record('connected to VPP', true, `${this.tagsBefore.size} interfaces tagged vcni: before the demo`);
  }

  async startAgent(): Promise<void> {
    this.p.header('vpp-cni agent');
    const podsFile = this.podsFile;
    for (const pod of DEMO_PODS) {
      this.pods.push({ pod, uid: randomUUID(), containerId: randomBytes(32).toString('hex'), attachments: [], ips: [] });
    }
    const yaml = podsYaml(DEMO_PODS, this.uidOf, this.nodeNs ? clusterDocument() : undefined);
    writeFileSync(podsFile, yaml);
    this.p.line(`   ${podsFile} (the pods the agent reads instead of the Kubernetes API${this.nodeNs ? '; the last document lists the cluster objects: Nodes, a Service, its EndpointSlices' : ''}):`);
    this.p.block(yaml, '   │ ');
    const flags = [
      '--vpp-socket', this.apiSocket,
      '--cni-socket', this.cniSocket,
      '--pods-file', podsFile,
      '--state-dir', join(dirname(podsFile), 'state'),
      '--feature-gates', FEATURE_GATES,
      '--metrics-port', '0',
      '--health-port', '0',
      '--log-level', 'info',
      '--pod-interface-mode', 'auto',
      ...(this.nodeNs
        ? ['--node-netns', this.nodeNs.name, '--cross-node', 'host-gw', '--cluster-cidrs', DEMO_CLUSTER_CIDRS.join(','), '--service-cidrs', DEMO_SERVICE_CIDRS]
        : []),
    ];
    const args = [...process.execArgv, AGENT_MAIN, ...flags];
    this.p.line();
    this.p.command(shownCommand(args));
    this.p.line(`   full agent log (JSON lines): ${this.agentLog.path}; summarised below as "agent │"`);
    this.agent = Service.start({ name: 'agent', command: process.execPath, args, cwd: scriptsRoot, logFile: this.agentLog.path, env: { ...process.env, NODE_NAME: 'demo-node' } });
    let lastWarn = '';
    const ready = await waitFor(
      () => {
        for (const e of this.agentLog.readNew()) {
          this.p.line(`   agent │ ${formatEvent(e)}`);
          if (e.level === 'warn' || e.level === 'error' || e.raw !== undefined) lastWarn = e.raw ?? `${e.msg}${e.fields.err ? `: ${String(e.fields.err)}` : ''}`;
          if (e.msg === 'connected to VPP') return true;
        }
        return this.agent!.running ? undefined : false;
      },
      START_TIMEOUT_MS,
      () => !!this.interrupted,
      100,
    );
    this.checkInterrupted();
    if (!ready || !existsSync(this.cniSocket)) {
      const why = !this.agent.running ? this.agent.exitDescription : `not connected to VPP after ${START_TIMEOUT_MS / 1000} s`;
      this.steps.record('agent started', false, `${why}${lastWarn ? ` (${lastWarn})` : ''}`);
      throw new Error(`the agent did not start: ${why}; its log: ${this.agentLog.path}`);
    }
    const notReady = await waitAgentReady(this.ctlSocket, START_TIMEOUT_MS, () => !!this.interrupted);
    this.checkInterrupted();
    if (notReady) {
      this.showAgentLog();
      this.steps.record('agent started', false, `not ready for CNI calls after ${START_TIMEOUT_MS / 1000} s: ${notReady}`);
      throw new Error(`the agent is not ready: ${notReady}; its log: ${this.agentLog.path}`);
    }
    // with the node dataplane, what it made before the agent became ready (host link, chains, cnat)
    if (this.nodeNs) this.showAgentLog();
    this.steps.record('agent started', true, `pid ${this.agent.pid}, CNI socket ${this.cniSocket}`);

    this.p.sub('network configurations (what a runtime reads from /etc/cni/net.d and writes to the plugin)');
    const netDir = join(this.dir, 'net.d');
    mkdirSync(netDir);
    for (const [i, net] of [PRIMARY_NET, MEMIF_NET].entries()) {
      const file = join(netDir, `${10 + i * 10}-${net.name}.conf`);
      const conf = netconf(net, this.cniSocket, this.ipamDir);
      writeFileSync(file, `${JSON.stringify(conf, null, 2)}\n`);
      this.confFiles.set(net.name, file);
      this.p.line(`   ${file}:`);
      this.p.json(conf, '   │ ');
    }
  }

  // ---- pods ----

  private printCall(call: PluginCall, net: NetworkDef, withPrev: boolean): void {
    const env = pluginEnv(call);
    const assigns = Object.entries(env).map(([k, v]) => `${k}=${shellQuote(v)}`);
    this.p.line(`   $ ${assigns.slice(0, 4).join(' ')} \\`);
    this.p.line(`       ${assigns.slice(4).join(' ')} \\`);
    this.p.line(`       ${this.plugin} < ${this.confFiles.get(net.name)}${withPrev ? '   # + prevResult: the ADD result' : ''}`);
  }

  private printOutput(out: PluginOutput): void {
    if (out.json) this.p.json(out.json, '   │ ');
    else if (out.raw.trim()) this.p.block(out.raw, '   │ ');
    for (const l of out.stderr.trim().split('\n').filter(Boolean)) this.p.line(`   stderr │ ${l}`);
    this.p.line(`   exit status ${out.code ?? `none (${out.problem ?? 'killed'})`}`);
    this.showAgentLog();
  }

  async addPods(): Promise<void> {
    this.p.header('pods: the plugin ADDs, as a container runtime runs it');
    this.p.line(`   CNI_PATH=${CNI_PATH} is where the plugin finds host-local, its IPAM delegate.`);
    for (const run of this.pods) {
      this.checkInterrupted();
      await this.addPod(run);
    }
  }

  private async addPod(run: PodRun): Promise<void> {
    const { pod } = run;
    this.p.sub(`pod default/${pod.name}: ${pod.title}`);
    this.p.line(`   ${pod.about}`);
    const ann = Object.entries(pod.annotations);
    this.p.line(`   annotations: ${ann.length ? ann.map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join(', ') : '(none)'}`);
    run.ns = await this.netns.create();
    this.p.line(`   network namespace (the pod sandbox): ${run.ns.path}   [ip netns add ${run.ns.name}]`);
    for (const att of pod.attachments) {
      this.checkInterrupted();
      const call: PluginCall = { command: 'ADD', containerId: run.containerId, netns: run.ns.path, ifName: att.ifName, cniArgs: cniArgs(pod, run.uid, run.containerId) };
      const conf = netconf(att.net, this.cniSocket, this.ipamDir);
      const a: AttachmentRun = { att, call, conf };
      run.attachments.push(a);
      this.p.line();
      this.p.line(`   ADD ${att.ifName} on network ${att.net.name}:`);
      this.printCall(call, att.net, false);
      const out = await runPlugin(this.plugin, call, conf);
      this.printOutput(out);
      this.judgeAdd(run, a, out);
    }
    await this.showPodState(run);
  }

  private judgeAdd(run: PodRun, a: AttachmentRun, out: PluginOutput): void {
    const name = `ADD default/${run.pod.name} ${a.att.ifName}`;
    const want = run.pod.expectError;
    if (want) {
      const code = out.json?.code;
      const msg = String(out.json?.msg ?? '');
      const ok = out.code !== 0 && code === want.code && msg.includes(want.msg);
      this.steps.record(`${name} fails with CNI code ${want.code} (expected)`, ok, ok ? undefined : `exit ${out.code}, ${out.problem ?? `code ${String(code)}: ${msg}`}`);
      return;
    }
    if (out.code !== 0 || !out.json || out.json.code !== undefined) {
      this.steps.record(name, false, out.problem ?? (out.json ? `CNI error ${String(out.json.code)}: ${String(out.json.msg)}` : `exit status ${out.code}`));
      return;
    }
    a.result = out.json;
    const ips = Array.isArray(out.json.ips) ? (out.json.ips as { address?: string }[]).map((i) => String(i.address ?? '').split('/')[0]!).filter(Boolean) : [];
    run.ips.push(...ips);
    const problems = run.pod.checkResult?.(out.json, a.att.ifName) ?? [];
    if (ips.length === 0) problems.push('the result has no IP address');
    const socket = (out.json.interfaces as { name?: string; socketPath?: string }[] | undefined)?.find((i) => i.socketPath);
    this.steps.record(name, problems.length === 0, problems.length ? problems.join('; ') : `${ips.join(', ')}${socket ? `, memif socket ${socket.socketPath} in the pod` : ''}`);
  }

  private async showPodState(run: PodRun): Promise<void> {
    this.p.line();
    this.p.line(`   VPP state of the pod (container ${shortId(run.containerId)}…):`);
    try {
      const sections = await this.vpp!.podState({ containerId: run.containerId, ips: run.ips, netnsPath: run.ns!.path });
      for (const s of sections) {
        this.p.line(`     ${s.title}`);
        this.p.block(s.lines.join('\n'), '       ', '(none)');
      }
    } catch (e) {
      this.steps.record(`VPP state of default/${run.pod.name}`, false, (e as Error).message);
    }
    this.p.line();
    this.p.line('   Linux state inside the pod:');
    for (const c of await podLinuxState(run.ns!)) {
      this.p.command(c.argv, '     $ ');
      this.p.block(c.output, '       ', '(nothing)');
      if (!c.ok) this.steps.record(`${c.argv.slice(4).join(' ')} in ${run.ns!.name}`, false, c.output);
    }
    if (this.sim && !this.opts.noVhostNet && !this.notedSimLinux && run.ips.length) {
      this.notedSimLinux = true;
      this.p.line('     note: the simulator makes real kernel taps but holds no file descriptor on them, so they have no');
      this.p.line('     carrier (DOWN, linkdown), and it does not listen on memif and VCL sockets (ss -xl shows none); VPP does both.');
    }
  }

  /**
   * The Service gets backends: the pods file is written again with an EndpointSlice whose ready endpoints
   * are the eth0 addresses of two pods, as the API server would list it once they run; then the agent's
   * view of the Service is polled (GET /v1/services/<ns>/<name>, bounded) until VPP holds the translation.
   */
  async addServiceBackends(): Promise<void> {
    if (!this.nodeNs || !this.agent?.running) return;
    this.p.header(`Service ${DEMO_SERVICE_REF}: its EndpointSlice lists the pods`);
    const ips = BACKEND_PODS.map((n) => this.pods.find((r) => r.pod.name === n)?.ips.find((a) => !a.includes(':')));
    if (ips.some((a) => a === undefined)) {
      this.steps.record(`EndpointSlice of ${DEMO_SERVICE_REF}`, false, `no eth0 address for pod(s) ${BACKEND_PODS.filter((_, i) => ips[i] === undefined).join(', ')} (their ADD failed)`);
      return;
    }
    const backends = ips as string[];
    const cluster = clusterDocument(backends);
    writeFileSync(this.podsFile, podsYaml(DEMO_PODS, this.uidOf, cluster));
    this.p.line(`   ${this.podsFile} written again; its cluster document now has the EndpointSlice (the pods are the same):`);
    this.p.block(stringify({ endpointSlices: cluster.endpointSlices }), '   │ ');
    const want = backends.map((a) => `${a}:${DEMO_SERVICE.targetPort}`);
    const t0 = Date.now();
    try {
      await waitForServiceBackends(this.ctlSocket, DEMO_SERVICE_REF, want, SERVICE_TIMEOUT_MS, () => !!this.interrupted);
      this.showAgentLog();
      this.steps.record(`Service ${DEMO_SERVICE_REF} programmed in VPP`, true, `${DEMO_SERVICE.clusterIp}:${DEMO_SERVICE.port} -> ${want.join(', ')} within ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    } catch (e) {
      this.showAgentLog();
      this.checkInterrupted();
      this.steps.record(`Service ${DEMO_SERVICE_REF} programmed in VPP`, false, (e as Error).message);
    }
  }

  /**
   * The node dataplane as `vpp-cnictl node` shows it, when the agent runs one (its ctl socket answers
   * GET /v1/node with 200; ctl.sock next to the CNI socket, the agent's default), then each of `services`.
   * With the demo's node host, the host link and the route to the second node are checked as steps too.
   */
  async showNode(services: readonly string[] = []): Promise<void> {
    if (!this.agent?.running) return;
    this.nodeShown = await showNodeDataplane(this.p, this.steps, this.ctlSocket, services);
    if (!this.nodeShown || !this.nodeNs) return;
    try {
      const s = await readNodeStatus(this.ctlSocket);
      const hl = s.hostLink;
      this.steps.record('host link: VPP end and host end', !!hl?.vpp && !!hl.host, hl ? `${hl.vppIf} <-> ${hl.hostIf}${!hl.vpp ? ', VPP end missing' : ''}${!hl.host ? ', host end missing' : ''}` : 'none');
      const r = s.routes.find((x) => x.node === SECOND_NODE.name);
      const ok = r?.present === true && r.podCidr === SECOND_NODE.podCidr && r.via === SECOND_NODE.internalIp;
      this.steps.record(`route to ${SECOND_NODE.name} ${SECOND_NODE.podCidr} via ${SECOND_NODE.internalIp} in ${this.nodeNs.name}`, ok, ok ? 'present' : r ? `${r.podCidr} via ${r.via}, ${r.present ? 'present' : 'MISSING'}` : 'not wanted by the agent');
    } catch (e) {
      this.steps.record('vpp-cnictl node', false, (e as Error).message);
    }
  }

  /**
   * `vpp-cnictl node cleanup` before the agent stops: the host link (af_packet and veth), the routes, the
   * chains and the Service translations go through the agent, which made them; then the node namespace.
   */
  async cleanupNode(): Promise<void> {
    if (!this.nodeNs) return;
    this.p.header('node dataplane: removed through the agent, then the node host namespace');
    if (this.nodeShown && this.agent?.running) {
      try {
        const r = await cleanupNodeDataplane(this.p, this.ctlSocket);
        this.showAgentLog();
        this.steps.record('vpp-cnictl node cleanup', r.errors.length === 0, r.errors.length ? r.errors.join('; ') : `${r.removed.length} object(s) removed`);
      } catch (e) {
        this.steps.record('vpp-cnictl node cleanup', false, (e as Error).message);
      }
    } else {
      this.p.line('   the agent is not running or its node dataplane did not answer: nothing to ask it to clean up');
    }
    const err = await this.netns.delete(this.nodeNs.name);
    this.steps.record(`ip netns del ${this.nodeNs.name}`, !err, err);
  }

  // ---- teardown ----

  async deletePods(): Promise<void> {
    const todo = this.pods.filter((r) => r.ns || r.attachments.length);
    if (todo.length === 0) return;
    this.p.header('pods: the plugin DELs, then the namespaces go');
    const agentUp = this.agent?.running ?? false;
    if (!agentUp) this.p.line('   the agent is not running: DEL would only reach IPAM; skipping to namespace removal');
    for (const run of [...todo].reverse()) {
      if (agentUp) {
        for (const a of [...run.attachments].reverse()) {
          const call: PluginCall = { ...a.call, command: 'DEL' };
          const conf = a.result ? { ...a.conf, prevResult: a.result } : a.conf;
          this.p.line();
          this.p.line(`   DEL default/${run.pod.name} ${a.att.ifName}${a.result ? '' : ' (its ADD failed: runtimes DEL anyway)'}:`);
          this.printCall(call, a.att.net, !!a.result);
          const out = await runPlugin(this.plugin, call, conf);
          this.printOutput(out);
          this.steps.record(`DEL default/${run.pod.name} ${a.att.ifName}`, out.code === 0, out.code === 0 ? undefined : (out.problem ?? String(out.json?.msg ?? `exit status ${out.code}`)));
        }
      }
      if (run.ns) {
        const err = await this.netns.delete(run.ns.name);
        this.steps.record(`ip netns del ${run.ns.name}`, !err, err);
      }
    }
  }

  /** Reads VPP for anything the demo's pods left; must run while VPP (and, for the simulator, it) is up. */
  async checkVpp(): Promise<void> {
    if (!this.vpp) return;
    try {
      const { left, kept } = await this.vpp.leftovers(
        this.tagsBefore,
        this.pods.map((r) => r.containerId),
        this.pods.flatMap((r) => r.ips),
        `/var/run/netns/${this.netns.prefix}`,
      );
      for (const k of kept) this.p.line(`   kept   ${k}`);
      for (const l of left) this.p.line(`   LEFT   ${l}`);
      this.steps.record('VPP: no object of the demo pods left (tags vcni:<container>, memif sockets, PBL clients, routes, app namespaces)', left.length === 0, left.length ? `${left.length} left` : undefined);
    } catch (e) {
      this.steps.record('VPP: no object of the demo pods left', false, `cannot read VPP: ${(e as Error).message}`);
    }
    if (this.nodeNs) {
      try {
        // the simulator is the demo's own: every translation in it is the demo's
        const left = await this.vpp.nodeLeftovers(this.sim ? 'all' : [DEMO_SERVICE.clusterIp]);
        for (const l of left) this.p.line(`   LEFT   ${l}`);
        this.steps.record('VPP: no node dataplane object left (interfaces tagged vcni:node:, cnat translations)', left.length === 0, left.length ? `${left.length} left` : undefined);
      } catch (e) {
        this.steps.record('VPP: no node dataplane object left', false, `cannot read VPP: ${(e as Error).message}`);
      }
    }
    await this.vpp.close().catch(() => undefined);
    this.vpp = undefined;
  }

  async stopServices(): Promise<void> {
    for (const s of [this.agent, this.sim]) {
      if (!s) continue;
      const how = await s.stop();
      if (how === 'not running') this.steps.record(`${s.name} ran until the end`, false, `it had ended before (${s.exitDescription})`);
      else this.steps.record(`${s.name} stopped`, how === 'stopped', how === 'killed' ? 'did not stop on SIGTERM within 10 s: killed' : undefined);
    }
  }

  /** The checks that need the files (IPAM) and the kernel (netns) after everything stopped. */
  async checkHost(): Promise<void> {
    const held = allocatedAddresses(this.ipamDir);
    this.steps.record(`host-local: no address held in ${this.ipamDir}`, held.length === 0, held.length ? `still held: ${held.join(', ')}` : undefined);
    try {
      const ours = (await listNetns()).filter((n) => n.startsWith(this.netns.prefix));
      this.steps.record(`ip netns list: no ${this.netns.prefix}* namespace`, ours.length === 0, ours.length ? ours.join(', ') : undefined);
    } catch (e) {
      this.steps.record('ip netns list', false, (e as Error).message);
    }
    try {
      const ends = await vethHostEnds(this.pods.map((p) => p.containerId));
      this.steps.record('host: no veth host end of the demo pods', ends.length === 0, ends.length ? ends.join(', ') : undefined);
    } catch (e) {
      this.steps.record('ip link show', false, (e as Error).message);
    }
  }

  /** Removes the tmp dir (keeping the logs when asked or when something failed). */
  removeDir(keepLogs: boolean): void {
    if (keepLogs) {
      for (const [what, src] of [['agent', this.agentLog.path], ['simulator', this.simLogPath]] as const) {
        if (!existsSync(src)) continue;
        const dst = join(tmpdir(), `vpp-cni-demo-${process.pid}-${what === 'agent' ? 'agent' : 'vpp-sim'}.log`);
        copyFileSync(src, dst);
        this.p.line(`   ${what} log kept: ${dst}`);
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
    this.steps.record(`temporary directory ${this.dir} removed`, !existsSync(this.dir));
  }

  /** Everything after a run, successful or not: DEL, netns, checks, stop, remove. Never throws. */
  async teardown(): Promise<void> {
    const guard = async (what: string, f: () => Promise<void> | void): Promise<void> => {
      try {
        await f();
      } catch (e) {
        this.steps.record(what, false, (e as Error).message);
      }
    };
    await guard('DEL of the pods', () => this.deletePods());
    await guard('node dataplane cleanup', () => this.cleanupNode());
    // a namespace still here (DEL failed before its removal) goes now
    await guard('remaining namespaces', async () => {
      for (const n of this.netns.names) {
        const err = await this.netns.delete(n);
        this.steps.record(`ip netns del ${n}`, !err, err);
      }
    });
    this.p.header('is anything left?');
    await guard('VPP leftovers', () => this.checkVpp());
    await guard('stopping the agent and the simulator', () => this.stopServices());
    await guard('host leftovers', () => this.checkHost());
  }

  /** Second Ctrl-C, or the process ending with children alive: kill and remove now, synchronously. */
  forceCleanup(): void {
    this.agent?.killNow();
    this.sim?.killNow();
    this.netns.deleteAllNow();
    try {
      rmSync(this.dir, { recursive: true, force: true });
    } catch {
      // nothing more to do
    }
  }
}

async function preflight(p: Printer, opts: Options): Promise<string | undefined> {
  p.header('prerequisites');
  const run: Runner = (cmd, args, o) => runCommand(cmd, args, o);
  const missing = await missingNeeds(DEMO_NEEDS, run);
  if (missing.length) {
    const pkgs = packagesFor(missing);
    const hint = `apt-get install ${pkgs.join(' ')}`;
    p.line(`   missing: ${missing.map((m) => m.what).join('; ')}`);
    if (opts.noInstall) return `missing ${missing.map((m) => m.what).join(', ')}: ${hint} (or run without --no-install)`;
    if (!(await haveCommand('apt-get', ['--version']))) return `missing ${missing.map((m) => m.what).join(', ')} and no apt-get to install ${pkgs.join(' ')} with`;
    p.line(`   installing from Debian: ${pkgs.join(' ')} (apt-get update, then apt-get install; --no-install to refuse)`);
    const r = await aptInstall(pkgs, run);
    for (const c of r.commands) p.line(`   │ ${c}`);
    if (!r.ok) return `${r.error ?? 'apt-get failed'}; install them yourself: ${hint}`;
    const still = await missingNeeds(DEMO_NEEDS, run);
    if (still.length) return `still missing after apt-get: ${still.map((m) => m.what).join(', ')}`;
    p.line(`   installed ${pkgs.join(' ')}`);
  }
  const hostLocal = findHostLocal();
  if (!hostLocal) return `host-local (the IPAM plugin) is not in ${CNI_PATH}: apt-get install containernetworking-plugins`;
  p.line(`   IPAM delegate: ${hostLocal}`);
  if (opts.vppSocket && !existsSync(opts.vppSocket)) return `no VPP API socket at ${opts.vppSocket} (is VPP running? its startup.conf sets the path under socksvr)`;
  const stale = pluginStale(repoRoot);
  if (stale) {
    p.line(`   building the plugin: ${stale}; running npm run build:plugin`);
    const r = await buildPlugin(repoRoot);
    const lines = `${r.stdout}\n${r.stderr}`
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split('\n')
      .filter((l) => l.trim() && !/^\s*>|^npm warn/.test(l));
    const failed = r.code !== 0 || !!pluginStale(repoRoot);
    p.block((failed ? lines : lines.filter((l) => l.startsWith('build:plugin'))).join('\n'), '   │ ', '(no output)');
    if (failed) return `npm run build:plugin failed: ${failureOf(r)}`;
  }
  p.line(`   plugin: ${pluginBinary(repoRoot)}${stale ? ' (just built)' : ' (up to date with cni-plugin/)'}`);
  return undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  let opts: Options;
  try {
    opts = parseOptions(argv);
  } catch (e) {
    if (e instanceof UsageError && e.message) console.error(`demo: ${e.message}`);
    console.error(USAGE);
    return e instanceof UsageError && !e.message ? 0 : 2;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    console.error('demo: network namespaces need root: run it as root (e.g. `sudo npm start`)');
    return 1;
  }
  const p = new Printer();
  p.line('vpp-cni demo: VPP pod interfaces for local network namespaces, with no cluster');
  const problem = await preflight(p, opts);
  if (problem) {
    console.error(`demo: ${problem}`);
    return 1;
  }

  const demo = new Demo(opts, p);
  const onSignal = (sig: NodeJS.Signals): void => {
    if (demo.interrupted) {
      process.stdout.write(`\n${sig} again: killing the agent and the simulator, deleting the namespaces now\n`);
      demo.forceCleanup();
      process.exit(130);
    }
    demo.interrupted = sig;
    process.stdout.write(`\n${sig}: stopping after the current step, then cleaning up (${sig} again to force)\n`);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => demo.forceCleanup());
  p.line(`   working directory: ${demo.dir} (removed at the end)`);

  let stopped: string | undefined;
  try {
    await demo.startNodeHost();
    await demo.startVpp();
    await demo.startAgent();
    await demo.addPods();
    await demo.addServiceBackends();
    await demo.showNode([DEMO_SERVICE_REF]);
  } catch (e) {
    stopped = e instanceof Interrupted ? e.message : (e as Error).message;
    p.line();
    p.line(`demo stopped: ${stopped}`);
    if (!(e instanceof Interrupted)) demo.steps.record('demo ran to the end', false, stopped);
  } finally {
    await demo.teardown();
  }
  const failed = demo.steps.failed;
  demo.removeDir(opts.keepLogs || failed.length > 0);

  demo.p.header('summary');
  const adds = demo.steps.all.filter((s) => s.name.startsWith('ADD '));
  const dels = demo.steps.all.filter((s) => s.name.startsWith('DEL '));
  demo.p.line(`   ${DEMO_PODS.length} pods; ${adds.length} ADDs (${adds.filter((s) => s.ok).length} as expected), ${dels.length} DELs (${dels.filter((s) => s.ok).length} ok)`);
  const all = demo.steps.failed;
  if (all.length) {
    demo.p.line(`   ${all.length} step(s) did not go as expected:`);
    for (const f of all) demo.p.line(`     - ${f.name}${f.detail ? `: ${f.detail}` : ''}`);
  } else if (demo.interrupted) {
    demo.p.line(`   interrupted by ${demo.interrupted}; everything the demo made was removed`);
  } else {
    demo.p.line(`   every step went as expected (the invalid annotation failed with CNI code ${CNI_CODES.invalidNetworkConfig}, as it should); nothing left behind`);
  }
  const secs = ((Date.now() - demo.started) / 1000).toFixed(1);
  const code = demo.interrupted ? 130 : all.length ? 1 : 0;
  demo.p.line(`   done in ${secs} s, exit status ${code}`);
  return code;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`demo: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
