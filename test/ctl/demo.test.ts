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
