/**
 * `npm run bench:pod -- [--pods N]`: agent-side ADD and DEL time per pod kind against the simulator
 * (a separate process, with real kernel taps in real network namespaces), p50/p99, and the number of
 * VPP API calls per ADD; eth0 as a tun (VPP tap) and as a veth pair + af_packet (interface mode veth),
 * side by side. Excludes IPAM and process start (that is bench:cni). Needs root.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { allModules } from '../vpp-api/generated/index.js';
import { VppClient } from '../vpp-api/client/index.js';
import { LinuxNetns } from '../agent/linux/netns.js';
import { NodeResources } from '../agent/pod/node-resources.js';
import { PodNetwork } from '../agent/pod/pod-network.js';
import { ANN } from '../agent/pod/annotations.js';
import type { AttachRequest } from '../agent/pod/attachment.js';
import { benchArgs, positiveInt } from './args.js';
import { silentLogger } from '../lib/logger.js';

const PODS = positiveInt('bench:pod', 'pods', benchArgs('bench:pod', process.argv.slice(2), { pods: '100' }).pods);

type Mode = 'tun' | 'veth';
const PBL = { [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000' };
const ALL = { [ANN.extraMemifPorts]: 'tcp:8080', [ANN.vcl]: 'enable' };
const KINDS: [string, Record<string, string>, string, Mode][] = [
  ['tun', {}, 'eth0', 'tun'],
  ['tun + PBL memif', PBL, 'eth0', 'tun'],
  ['multinet memif', {}, 'memif1', 'tun'],
  ['tun + VCL', { [ANN.vcl]: 'enable' }, 'eth0', 'tun'],
  ['tun + PBL memif + VCL', ALL, 'eth0', 'tun'],
  ['tap (L2)', { [ANN.interfacesSpec]: '{"eth0":{"isl3":false}}' }, 'eth0', 'tun'],
  ['veth', {}, 'eth0', 'veth'],
  ['veth + PBL memif', PBL, 'eth0', 'veth'],
  ['veth + PBL memif + VCL', ALL, 'eth0', 'veth'],
];

function pct(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('needs root (network namespaces)');
  const dir = mkdtempSync(join(tmpdir(), 'vcni-bench-pod-'));
  const socket = join(dir, 'api.sock');
  const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
  const simMain = new URL(`../vpp-api/sim/main${ext}`, import.meta.url).pathname;
  const sim = spawn(process.execPath, [...process.execArgv, simMain, '--socket', socket, '--host', 'kernel-tun'], { stdio: ['ignore', 'ignore', 'inherit'] });
  const namespaces: string[] = [];
  try {
    const deadline = Date.now() + 15_000;
    while (!existsSync(socket)) {
      if (Date.now() > deadline || sim.exitCode !== null) throw new Error('simulator did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
    let calls = 0;
    const vpp = new VppClient({ socketPath: socket, modules: allModules, healthCheck: false, observer: () => void calls++ });
    await vpp.connect();
    const node = new NodeResources(vpp);
    await node.unnumberedLoopback();
    await node.sessionEnabled();
    const log = silentLogger;
    const cfg = { gates: { memifEnabled: true, vclEnabled: true, multinetEnabled: true }, defaults: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 }, limits: { rx: 16, tx: 16, rxqsz: 16384, txqsz: 16384 }, mtu: 1450 };
    const networks: Record<Mode, PodNetwork> = {
      tun: new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: 'tun' }, log }),
      veth: new PodNetwork({ vpp, netns: new LinuxNetns(), node, cfg: { ...cfg, interfaceMode: 'veth' }, log }),
    };
    for (let i = 0; i < PODS; i++) {
      const name = `vcb-${process.pid}-${i}`;
      execFileSync('ip', ['netns', 'add', name]);
      namespaces.push(name);
    }
    console.log(`bench:pod — ${PODS} pods per kind, simulator in its own process with kernel taps, node ${process.version}`);
    console.log('kind                     ADD p50   ADD p99   DEL p50   DEL p99   VPP calls/ADD');
    let n = 0;
    for (const [kind, annotations, ifName, mode] of KINDS) {
      const net = networks[mode];
      const add: number[] = [];
      const del: number[] = [];
      let callsPerAdd = 0;
      for (let i = 0; i < PODS; i++) {
        n++;
        const req: AttachRequest = {
          containerId: `b${String(n).padStart(11, '0')}${'f'.repeat(52)}`,
          ifName,
          netns: `/var/run/netns/${namespaces[i]}`,
          pod: { namespace: 'bench', name: `p${n}` },
          ips: [{ address: `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}/16` }],
          routes: [{ dst: '0.0.0.0/0' }],
          annotations,
        };
        const c0 = calls;
        let t = process.hrtime.bigint();
        const rec = await net.add(req);
        add.push(Number(process.hrtime.bigint() - t) / 1e6);
        callsPerAdd = calls - c0;
        t = process.hrtime.bigint();
        await net.del(rec);
        del.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
      const f = (x: number): string => `${x.toFixed(2)} ms`.padStart(9);
      console.log(`${kind.padEnd(24)} ${f(pct(add, 0.5))} ${f(pct(add, 0.99))} ${f(pct(del, 0.5))} ${f(pct(del, 0.99))}   ${callsPerAdd}`);
    }
    await vpp.close();
  } finally {
    for (const ns of namespaces) execFileSync('ip', ['netns', 'del', ns]);
    sim.kill('SIGTERM');
    await new Promise((r) => (sim.exitCode !== null ? r(undefined) : sim.once('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench:pod: ${(e as Error).message}`);
  process.exitCode = 1;
});
