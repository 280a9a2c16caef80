/**
 * A SimHost whose taps are real kernel devices, made the way VPP's tap_create_if makes them: a tun/tap
 * device is created in the simulator's own netns, moved into the requested netns under the requested
 * host name, given its MTU, MAC (TAP) and addresses, and set up. Failures answer with VPP's retvals:
 * a netns that cannot be opened is SYSCALL_ERROR_2 (-12), a netlink failure (a name already taken in the
 * netns) NETLINK_ERROR (-145). Deleting the tap deletes the device.
 *
 * Unlike VPP, no process holds the device's file descriptor (the device is persistent and has no carrier):
 * good enough for everything the agent configures on the Linux side. Needs root and iproute2.
 */
import { execFile } from 'node:child_process';
import { statfsSync } from 'node:fs';
import { linuxHostChecks, netnsPathOf, type SimHost, type TapHostInfo, type TapHostRequest, type TapHostResult } from './host.js';

const NSFS_MAGIC = 0x6e736673;
const TIMEOUT_MS = 10_000;

function ip(args: string[], netns?: string, input?: string): Promise<void> {
  // A named netns (/var/run/netns/NAME): `ip -n NAME` enters it itself, one process instead of two.
  const named = netns ? /^\/(?:var\/)?run\/netns\/([^/]+)$/.exec(netns)?.[1] : undefined;
  const [cmd, argv] = named ? ['ip', ['-n', named, ...args]] : netns ? ['nsenter', [`--net=${netns}`, '--', 'ip', ...args]] : ['ip', args];
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, argv, { timeout: TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, _out, stderr) => {
      if (err) reject(new Error(`${cmd} ${argv.join(' ')}: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
    if (input !== undefined) p.stdin?.end(input);
  });
}

function isNetns(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC;
  } catch {
    return false;
  }
}

function randomMac(): string {
  const b = Array.from({ length: 6 }, () => Math.floor(Math.random() * 256));
  b[0] = (b[0]! & 0xfe) | 0x02; // locally administered, unicast
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function kernelTun(): SimHost {
  return {
    ...linuxHostChecks,
    kind: 'kernel-tun',
    async createTap(req: TapHostRequest): Promise<TapHostResult> {
      const netns = req.hostNamespace ? netnsPathOf(req.hostNamespace) : undefined;
      if (netns && !isNetns(netns)) return { retval: -12, error: `open_netns_fd '${req.hostNamespace}': No such file or directory` };
      const hostIfName = req.hostIfName ?? `${req.tun ? 'tun' : 'tap'}${req.id}`;
      const multi = Math.max(req.numRxQueues, req.numTxQueues) > 1;
      const hostMac = req.tun ? undefined : req.hostMacAddr && req.hostMacAddr !== '00:00:00:00:00:00' ? req.hostMacAddr : randomMac();
      // VPP makes the device in its own netns and moves it; making it in place (one process) ends the same.
      const batch = [`tuntap add dev ${hostIfName} mode ${req.tun ? 'tun' : 'tap'}${multi ? ' multi_queue' : ''}`];
      if (hostMac) batch.push(`link set dev ${hostIfName} address ${hostMac}`);
      if (req.hostIp4Prefix) batch.push(`address add ${req.hostIp4Prefix} dev ${hostIfName}`);
      if (req.hostIp6Prefix) batch.push(`address add ${req.hostIp6Prefix} dev ${hostIfName}`);
      batch.push(`link set dev ${hostIfName} up`);
      if (req.hostIp4Gw) batch.push(`route add default via ${req.hostIp4Gw} dev ${hostIfName}`);
      if (req.hostIp6Gw) batch.push(`route add default via ${req.hostIp6Gw} dev ${hostIfName}`);
      if (req.hostMtu) batch.push(`link set dev ${hostIfName} mtu ${req.hostMtu}`);
      try {
        await ip(['-batch', '-'], netns, `${batch.join('\n')}\n`);
      } catch (e) {
        // The device may exist half-configured: remove it unless the name belonged to someone else.
        if (!/File exists|Device or resource busy/.test((e as Error).message)) await ip(['link', 'del', 'dev', hostIfName], netns).catch(() => undefined);
        return { retval: -145, error: (e as Error).message };
      }
      return hostMac ? { retval: 0, hostIfName, hostMacAddr: hostMac } : { retval: 0, hostIfName };
    },
    async deleteTap(tap: TapHostInfo): Promise<void> {
      const netns = tap.hostNamespace ? netnsPathOf(tap.hostNamespace) : undefined;
      if (netns && !isNetns(netns)) return; // the netns (and the device with it) is gone
      await ip(['link', 'del', 'dev', tap.hostIfName], netns).catch(() => undefined);
    },
  };
}
