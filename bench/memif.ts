/**
 * `npm run bench:memif -- [--seconds 5] [--sizes 64,1500]`: frames pushed through the agent's PBL memif on a
 * real VPP, in million packets per second, with the machine's conditions printed next to the figures.
 *
 * The agent's own pod code (PodNetwork) makes a pod with a PBL memif in a fresh network namespace, exactly as
 * for a pod annotated `vppExtraMemifPorts`. A second VPP, started by this script, is the memif client in that
 * namespace (what issue 16 used): its packet generator sends Ethernet/IPv4/UDP frames of each size from the pod
 * IP to a PBL port as fast as it can. The rate is what the agent's VPP counted as received on the memif over
 * `--seconds`; the client's transmit count and the frames it could not put on the ring are printed too.
 *
 * Needs root, VPPCNI_TEST_VPP_SOCKET (the API socket of a VPP this script may change; it removes what it makes)
 * and VPPCNI_BENCH_VPP_BIN (a vpp binary of the same release for the client, its plugins next to it in
 * ../lib/<arch>/vpp_plugins or given by VPPCNI_BENCH_VPP_PLUGINS). Without them it prints
 * `skipped: <reason>` and exits 0.
 */
import { silentLogger } from '../lib/logger.js';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { allModules } from '../vpp-api/generated/index.js';
import * as iface from '../vpp-api/generated/interface.js';
import * as memif from '../vpp-api/generated/memif.js';
import { VppClient } from '../vpp-api/client/index.js';
import { LinuxNetns } from '../agent/linux/netns.js';
import { NodeResources } from '../agent/pod/node-resources.js';
import { PodNetwork } from '../agent/pod/pod-network.js';
import { ANN } from '../agent/pod/annotations.js';
import type { AttachRequest } from '../agent/pod/attachment.js';
import { benchArgs, positiveInt, positiveInts } from './args.js';

const SCRIPT = 'bench:memif';
const args = benchArgs(SCRIPT, process.argv.slice(2), { seconds: '5', sizes: '64,1500' });
const SECONDS = positiveInt(SCRIPT, 'seconds', args.seconds);
const SIZES = positiveInts(SCRIPT, 'sizes', args.sizes);
const ENV = { ...process.env, LC_ALL: 'C' };
const PORT = 4444;

function skip(reason: string): never {
  process.stdout.write(`skipped: ${reason}\n`);
  process.exit(0);
}

function run(cmd: string, argv: string[]): string {
  return execFileSync(cmd, argv, { encoding: 'utf8', env: ENV, timeout: 10_000 });
}

async function until(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`${SCRIPT}: timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `<name> packets N` (or `<name> N`) of `show interface <if>`: 0 when VPP shows none (nothing counted yet). */
function counter(show: string, name: string): number {
  const m = new RegExp(`(?:^|\\s)${name}\\s+(?:packets\\s+)?(\\d+)`).exec(show);
  return m ? Number(m[1]) : 0;
}

/** Packets the client VPP's error counters attribute to memif nodes (e.g. no free tx slots). */
function memifErrors(showErrors: string): number {
  let n = 0;
  for (const line of showErrors.split('\n')) {
    const m = /^\s*(\d+)\s+memif/.exec(line);
    if (m) n += Number(m[1]);
  }
  return n;
}

function meminfo(): string {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const get = (k: string): string => new RegExp(`^${k}:\\s+(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '?';
  return `HugePages_Total ${get('HugePages_Total')}, HugePages_Free ${get('HugePages_Free')}, Hugepagesize ${get('Hugepagesize')}`;
}

/** Worker threads of a VPP: `show threads` lines other than the main one. */
async function workers(vpp: VppClient): Promise<string> {
  const lines = (await vpp.cli('show threads'))
    .split('\n')
    .slice(1)
    .filter((l) => /\S/.test(l));
  return lines.length <= 1 ? 'none (main thread only)' : `${lines.length - 1}: ${lines.slice(1).map((l) => l.trim().replace(/\s+/g, ' ')).join('; ')}`;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) skip('needs root (network namespaces)');
  const socket = process.env['VPPCNI_TEST_VPP_SOCKET'] ?? '';
  if (socket === '' || !existsSync(socket)) skip('no real VPP: set VPPCNI_TEST_VPP_SOCKET to its API socket');
  const bin = process.env['VPPCNI_BENCH_VPP_BIN'] ?? '';
  if (bin === '' || !existsSync(bin)) skip('no client VPP: set VPPCNI_BENCH_VPP_BIN to a vpp binary of the same release');
  const plugins = process.env['VPPCNI_BENCH_VPP_PLUGINS'] ?? join(dirname(bin), '..', 'lib', 'x86_64-linux-gnu', 'vpp_plugins');
  if (!existsSync(join(plugins, 'memif_plugin.so'))) skip(`no memif_plugin.so in ${plugins} (set VPPCNI_BENCH_VPP_PLUGINS)`);

  const tag = `vcnibench${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  const netnsName = tag;
  const cleanups: (() => Promise<void> | void)[] = [() => rmSync(dir, { recursive: true, force: true })];
  let client: ChildProcess | undefined;
  const vpp = new VppClient({ socketPath: socket, clientName: `${tag}-agent`, modules: allModules, reconnect: false, healthCheck: false, requestTimeoutMs: 10_000 });
  try {
    await vpp.connect();
    cleanups.push(() => vpp.close());
    run('ip', ['netns', 'add', netnsName]);
    cleanups.push(() => void run('ip', ['netns', 'del', netnsName]));

    // The pod, made by the agent's code: eth0 (tun, or veth without /dev/vhost-net) and the PBL memif.
    const node = new NodeResources(vpp);
    await node.unnumberedLoopback();
    const log = silentLogger;
    const net = new PodNetwork({
      vpp,
      netns: new LinuxNetns(),
      node,
      log,
      cfg: { gates: { memifEnabled: true, vclEnabled: false, multinetEnabled: false }, defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 }, limits: { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 }, mtu: 1500, interfaceMode: 'auto' },
    });
    const req: AttachRequest = {
      containerId: `${tag}${'0'.repeat(64)}`.slice(0, 64),
      ifName: 'eth0',
      netns: `/var/run/netns/${netnsName}`,
      pod: { namespace: 'bench', name: 'memif' },
      ips: [{ address: '198.19.0.2/32', gateway: '198.19.0.1' }],
      routes: [{ dst: '0.0.0.0/0' }],
      annotations: { [ANN.extraMemifPorts]: `udp:${PORT}` },
    };
    const rec = await net.add(req);
    cleanups.push(() => net.del(rec));
    const m = rec.objects.memif;
    if (!m) throw new Error(`${SCRIPT}: the pod got no memif`);
    const serverIf = (await vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: m.swIfIndex }))[0]!;
    const serverName = serverIf.interface_name;
    const serverMac = serverIf.l2_address;

    // The client VPP: memif plugin only, 4 KiB pages, its main thread unpinned, its API socket in our temp dir.
    const api = join(dir, 'api.sock');
    writeFileSync(
      join(dir, 'startup.conf'),
      [
        `unix { nodaemon cli-listen ${join(dir, 'cli.sock')} runtime-dir ${dir} }`,
        `api-segment { prefix ${tag} }`,
        `socksvr { socket-name ${api} }`,
        `statseg { socket-name ${join(dir, 'stats.sock')} }`,
        'buffers { buffers-per-numa 16384 page-size 4k }',
        'memory { main-heap-size 256M main-heap-page-size 4k }',
        `plugins { path ${plugins} plugin default { disable } plugin memif_plugin.so { enable } }`,
        '',
      ].join('\n'),
    );
    client = spawn(bin, ['-c', join(dir, 'startup.conf')], { stdio: ['ignore', 'ignore', 'pipe'], env: ENV });
    let clientErr = '';
    client.stderr?.on('data', (b: Buffer) => void (clientErr = (clientErr + b.toString()).slice(-2000)));
    const proc = client;
    cleanups.push(async () => {
      if (proc.exitCode !== null) return;
      const gone = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill('SIGTERM');
      const t = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await gone;
      clearTimeout(t);
    });
    await until(async () => existsSync(api) || proc.exitCode !== null, 20_000, 'the client VPP API socket');
    if (proc.exitCode !== null) throw new Error(`${SCRIPT}: the client VPP exited (${proc.exitCode}): ${clientErr}`);
    const cv = new VppClient({ socketPath: api, clientName: `${tag}-client`, modules: allModules, reconnect: false, healthCheck: false, requestTimeoutMs: 10_000 });
    await cv.connect();
    cleanups.push(() => cv.close());
    const ccli = async (cmd: string): Promise<string> => {
      const out = await cv.cli(cmd);
      if (/unknown input|error|failed/i.test(out)) throw new Error(`${SCRIPT}: client VPP "${cmd}": ${out.trim()}`);
      return out;
    };
    await ccli(`create memif socket id 1 filename ${m.socketFilename}`);
    await ccli('create interface memif id 0 socket-id 1 slave rx-queues 1 tx-queues 1');
    await ccli('set interface state memif1/0 up');
    await until(async () => (await vpp.dumpAll(memif.memif_dump, {})).some((d) => d.sw_if_index === m.swIfIndex && (d.flags & 2) !== 0), 10_000, 'the memif to connect');

    const agentVersion = (await vpp.cli('show version')).trim();
    process.stdout.write(
      [
        `${SCRIPT}: frames into the agent's PBL memif (${serverName}, ${rec.kind} eth0) from a second VPP's packet generator`,
        `date ${new Date().toISOString()}; VPP ${agentVersion}`,
        `machine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at start`,
        `hugepages: ${meminfo()}`,
        `agent's VPP workers: ${await workers(vpp)}; client VPP workers: ${await workers(cv)}`,
        `memif rx placement: ${(await vpp.cli('show interface rx-placement')).trim().replace(/\s+/g, ' ')}`,
        '',
        'size (bytes) | Mpps received by the agent VPP | Gb/s | client tx counter Mpps | client memif errors /s',
        '---|---|---|---|---',
      ].join('\n') + '\n',
    );
    const src = req.ips[0]!.address.split('/')[0]!;
    for (const size of SIZES) {
      const name = `s${size}`;
      await ccli(
        `packet-generator new { name ${name} limit -1 size ${size}-${size} node memif1/0-output tx-interface memif1/0 ` +
          `data { IP4: 02:fe:00:00:be:01 -> ${serverMac} UDP: ${src} -> 198.19.0.1 UDP: ${PORT} -> ${PORT} incrementing 16 } }`,
      );
      try {
        await ccli(`packet-generator enable-stream ${name}`);
        await new Promise((r) => setTimeout(r, 1000)); // past the start
        const a0 = await vpp.cli(`show interface ${serverName}`);
        await cv.cli('clear errors');
        const c0 = await cv.cli('show interface memif1/0');
        const t0 = process.hrtime.bigint();
        await new Promise((r) => setTimeout(r, SECONDS * 1000));
        const a1 = await vpp.cli(`show interface ${serverName}`);
        const c1 = await cv.cli('show interface memif1/0');
        const secs = Number(process.hrtime.bigint() - t0) / 1e9;
        const rx = (counter(a1, 'rx') - counter(a0, 'rx')) / secs;
        const tx = (counter(c1, 'tx') - counter(c0, 'tx')) / secs;
        const txErr = memifErrors(await cv.cli('show errors')) / secs;
        process.stdout.write(`${size} | ${(rx / 1e6).toFixed(3)} | ${((rx * size * 8) / 1e9).toFixed(2)} | ${(tx / 1e6).toFixed(3)} | ${Math.round(txErr)}\n`);
      } finally {
        await cv.cli(`packet-generator disable-stream ${name}`);
        await cv.cli(`packet-generator delete ${name}`);
      }
    }
    process.stdout.write(`load average ${loadavg().map((l) => l.toFixed(2)).join(' ')} at end; ${SECONDS} s per size\n`);
  } finally {
    for (const c of cleanups.reverse()) {
      try {
        await c();
      } catch (e) {
        process.stderr.write(`${SCRIPT}: cleanup: ${(e as Error).message}\n`);
      }
    }
  }
}

await main();
