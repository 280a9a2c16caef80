/**
 * `npm start` (ctl/demo.ts) run as a process, as a user runs it: simulator, agent, the plugin binary in
 * real network namespaces, then everything removed again. Needs root (network namespaces) and
 * host-local; the demo builds dist/vpp-cni itself when it is missing or stale.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { haveRoot } from '../helpers/netns.js';

const DEMO = join(process.cwd(), 'ctl/demo.ts');
const TIMEOUT_MS = 150_000;
const ready = haveRoot() && existsSync('/usr/lib/cni/host-local');
const d = ready ? describe : describe.skip;
if (!ready) console.warn('demo test skipped: needs root (network namespaces) and /usr/lib/cni/host-local (containernetworking-plugins)');

interface Run {
  code: number | null;
  out: string;
}

/** Runs the demo in its own process group; on timeout the whole group is killed (the demo's children too). */
function demo(args: string[] = [], opts: { uid?: number; gid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['--import', 'tsx', DEMO, ...args], { cwd: process.cwd(), detached: true, stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      try {
        process.kill(-p.pid!, 'SIGKILL');
      } catch {
        // gone
      }
    }, TIMEOUT_MS);
    p.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The demo netns left by the run whose output is `out` (named `vcni-demo-<pid>-<n>`; other runs may be going on at once). */
function demoNetns(out: string): string[] {
  return execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 })
    .split('\n')
    .map((l) => l.trim().split(/\s+/)[0] ?? '')
    .filter((n) => n.startsWith('vcni-demo-') && out.includes(n));
}

/** The node dataplane section and its cleanup, as both runs (taps, veth) show them. */
function expectNodeSection(out: string): void {
  expect(out).toContain('$ vpp-cnictl node\n');
  expect(out).toContain('node demo-node: cross-node host-gw, Services on');
  expect(out).toMatch(/^ {7}VPP {3}host-vcni-hl0 +admin-up link-up +1500 +169\.254\.100\.1\/30/m);
  expect(out).toMatch(/^ {7}host {2}vcni-hl1 +UP +1500 +169\.254\.100\.2\/30/m);
  expect(out).toMatch(/^ {7}demo-node-2 +10\.253\.0\.0\/24 +192\.0\.2\.2 +- +present$/m);
  expect(out).toMatch(/ok {5}host link: VPP end and host end: vcni-hl0 <-> vcni-hl1\n/);
  expect(out).toMatch(/ok {5}route to demo-node-2 10\.253\.0\.0\/24 via 192\.0\.2\.2 in vcni-demo-\d+-node: present\n/);
  // the backends are the eth0 addresses the plugin gave the pods tun and pbl-memif
  const ipOf = (pod: string): string => new RegExp(`ok {5}ADD default/${pod} eth0: (10\\.251\\.0\\.\\d+)`).exec(out)?.[1] ?? `no address of ${pod}`;
  const backends = [ipOf('tun'), ipOf('pbl-memif')].map((a) => `${a}:8080`);
  expect(out).toContain(`ok     Service default/demo-web programmed in VPP: 10.96.0.80:80 -> ${backends.join(', ')} within `);
  expect(out).toContain('$ vpp-cnictl service default/demo-web\n');
  expect(out).toMatch(/10\.96\.0\.80:80\/TCP {2}VPP translation \d+, 2 backend\(s\)\n/);
  for (const b of backends) expect(out).toContain(`\n         -> ${b}\n`);
  // cleaned up through the agent, then checked in VPP
  expect(out).toContain('$ vpp-cnictl node cleanup\n');
  expect(out).toContain('removed cnat translation 10.96.0.80:80');
  expect(out).toMatch(/removed host link host-vcni-hl0 \(sw_if_index \d+, vcni:node:hostlink\)/);
  expect(out).toMatch(/ok {5}vpp-cnictl node cleanup: \d+ object\(s\) removed/);
  expect(out).toMatch(/ok {5}ip netns del vcni-demo-\d+-node\n/);
  expect(out).toMatch(/ok {5}VPP: no node dataplane object left/);
}

d('npm start', () => {
  test(
    'runs every example pod through the plugin, shows the failing one, and leaves nothing behind',
    async () => {
      const r = await demo();
      if (r.code !== 0) console.error(r.out);
      expect(r.code).toBe(0);
      const out = r.out;
      for (const pod of ['tun', 'pbl-memif', 'multinet', 'vcl', 'bad-ports']) expect(out).toContain(`-- pod default/${pod}:`);
      // the PBL memif pod: its socket as the pod sees it, its tagged memif in VPP, its PBL ports
      expect(out).toContain('"socketPath": "@vpp/memif-eth0"');
      expect(out).toMatch(/tag vcni:[0-9a-f]{12}:eth0:memif:default\/pbl-memif/);
      expect(out).toContain('TCP ports 4444-20000, UDP ports 4444-20000');
      // the multinet memif on its own network
      expect(out).toContain('CNI_IFNAME=memif1');
      expect(out).toContain('"socketPath": "@memif1"');
      expect(out).toContain('"address": "10.252.0.');
      // VCL: the app namespace, its secret not printed
      expect(out).toMatch(/vcni-[0-9a-f]{12}-eth0 abstract:vpp\/session,netns_name=\/var\/run\/netns\/vcni-demo-/);
      expect(out).not.toMatch(/Secret.*\n.*\b\d{8,}\b.*vcni-/);
      // the failing pod: the error shown, the demo went on
      expect(out).toContain('vppExtraMemifPorts \\"tcp:70000\\": port 70000 is outside 1-65535');
      expect(out).toContain('vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535');
      expect(out).toContain('"code": 7');
      expect(out).toMatch(/ok {5}ADD default\/bad-ports eth0 fails with CNI code 7 \(expected\)/);
      // Linux state read inside the namespaces
      expect(out).toMatch(/\$ ip netns exec vcni-demo-\d+-1 ip -br addr\n\s+lo/);
      expect(out).toMatch(/eth0\s+\S+\s+10\.251\.0\.\d+\/32/);
      // the node dataplane: the node's host in its own netns, the host link both ends, the route to the
      // second node, the Service with the eth0 addresses of two pods as backends
      expect(out).toMatch(/ok {5}node host namespace: vcni-demo-\d+-node: uplink0 192\.0\.2\.1\/24/);
      expect(out).toMatch(/--host kernel-tun --host-netns vcni-demo-\d+-node\n/);
      expect(out).toMatch(/--node-netns vcni-demo-\d+-node --cross-node host-gw --cluster-cidrs 10\.251\.0\.0\/24,10\.252\.0\.0\/24,10\.253\.0\.0\/24 --service-cidrs 10\.96\.0\.0\/12\n/);
      expectNodeSection(out);
      // teardown and its checks
      expect(out).toMatch(/ok {5}DEL default\/multinet memif1/);
      expect(out).toMatch(/ok {5}VPP: no object of the demo pods left/);
      expect(out).toMatch(/ok {5}host-local: no address held/);
      expect(out).toContain('exit status 0');
      expect(out).not.toMatch(/FAILED|\n\s+at .+:\d+:\d+\)?\n/); // no failed step, no stack trace
      expect(demoNetns(out)).toEqual([]);
      // the simulator and the agent are gone
      const pids = [...out.matchAll(/(?:simulator|agent) started: pid (\d+)/g)].map((m) => Number(m[1]));
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(alive(pid)).toBe(false);
      const dir = /working directory: (\S+)/.exec(out)?.[1];
      expect(dir && existsSync(dir)).toBe(false);
    },
    TIMEOUT_MS + 10_000,
  );

  test(
    '--no-vhost-net: the simulator refuses taps as VPP does without /dev/vhost-net; auto mode gives every pod a veth eth0',
    async () => {
      const r = await demo(['--no-vhost-net']);
      if (r.code !== 0) console.error(r.out);
      expect(r.code).toBe(0);
      const out = r.out;
      expect(out).toContain('--host no-vhost-net');
      expect(out).toContain('--pod-interface-mode auto');
      expect(out).toContain('no /dev/vhost-net: taps refused with -11 as real VPP does');
      // the switch is said once, by the first pod
      expect(out.match(/VPP cannot make taps on this node: pod eth0 interfaces are veth pairs with an af_packet interface from now on/g)).toHaveLength(1);
      for (const pod of ['tun', 'pbl-memif', 'multinet', 'vcl']) {
        expect(out).toMatch(new RegExp(`ok {5}ADD default/${pod} eth0: 10\\.251\\.0\\.\\d+`));
        expect(out).toMatch(new RegExp(`pod network added {2}\\(pod default/${pod}, ifname eth0, kind veth`));
        expect(out).toMatch(new RegExp(`host-vcni[0-9a-f]{11} admin-up link-up {2}tag vcni:[0-9a-f]{12}:eth0:veth:default/${pod}\\n`));
      }
      expect(out).toMatch(/host interface vcni[0-9a-f]{11}, VPP MAC 02:fe:[0-9a-f:]{11} \(the pod's next hop\)/);
      expect(out).toMatch(/10\.251\.0\.\d+\/32 \(table 0\) → \[\d+\] host-vcni[0-9a-f]{11} via 10\.251\.0\.\d+/);
      expect(out).toContain('default via 169.254.1.1 dev eth0');
      expect(out).toContain('"socketPath": "@vpp/memif-eth0"');
      expect(out).toContain('"socketPath": "@memif1"');
      expect(out).toMatch(/ok {5}ADD default\/bad-ports eth0 fails with CNI code 7 \(expected\)/);
      expect(out).toMatch(/ok {5}VPP: no object of the demo pods left/);
      expect(out).toMatch(/ok {5}host: no veth host end of the demo pods/);
      expectNodeSection(out);
      expect(out).not.toMatch(/FAILED|\n\s+at .+:\d+:\d+\)?\n/);
      expect(demoNetns(out)).toEqual([]);
    },
    TIMEOUT_MS + 10_000,
  );

  test('--no-vhost-net with --vpp-socket: usage error', async () => {
    const r = await demo(['--no-vhost-net', '--vpp-socket', '/nonexistent.sock']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('demo: --no-vhost-net sets up the simulator');
  }, 30_000);

  test('without root: one clear line and exit 1, before starting anything', async () => {
    const r = await demo([], { uid: 65534, gid: 65534 });
    expect(r.code).toBe(1);
    expect(r.out.trim()).toBe('demo: network namespaces need root: run it as root (e.g. `sudo npm start`)');
  }, 30_000);

  test('an unknown argument: usage and exit 2', async () => {
    const r = await demo(['--nope']);
    expect(r.code).toBe(2);
    expect(r.out).toContain('demo: unknown argument --nope');
    expect(r.out).toContain('usage: npm start');
  }, 30_000);
});
