/**
 * The host side of the simulator: what VPP would ask the kernel.
 *
 * Handlers keep VPP's own state (interfaces, ids, tags); a SimHost only answers the questions VPP puts to
 * the machine it runs on (does this host interface exist and is it up, does this netns path exist, can a tap
 * be made) and performs the host changes VPP makes: the host half of a tap, and bringing a host interface up
 * before af_packet binds to it. Two implementations ship here:
 *  - noVhostNet(): what real VPP does on a machine without /dev/vhost-net (the capture host): every tap
 *    creation fails with SYSCALL_ERROR_1 (-11) and leaves nothing behind.
 *  - fakeTap(): taps succeed and exist only in the simulator's state.
 * A kernel-backed implementation (a real tun device in the pod netns) can be added behind the same interface.
 */
import { execFile } from 'node:child_process';
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';

/** IFF_UP of linux/if.h. */
const IFF_UP = 0x1;
const IP_TIMEOUT_MS = 10_000;

/**
 * What VPP asks of its host outside of taps: read-only questions it answers with syscalls, plus the one link
 * change af_packet_create_if makes (SIOCSIFFLAGS IFF_UP on a host interface that is down).
 */
export interface HostChecks {
  /** True when a network interface of that name exists in the simulator's own netns (SIOCGIFINDEX). */
  interfaceExists(name: string): boolean;
  /** True when an existing host interface is administratively up (IFF_UP of SIOCGIFFLAGS). */
  interfaceUp(name: string): boolean;
  /** Sets a host interface up (SIOCSIFFLAGS); throws or rejects when the kernel refuses. */
  setInterfaceUp(name: string): void | Promise<void>;
  /** MTU of a host interface, for af_packet in ethernet mode. */
  interfaceMtu(name: string): number;
  /** True when a path exists (a netns file such as /var/run/netns/NAME). */
  pathExists(path: string): boolean;
  /** True when a directory exists and is readable and writable (memif socket directories). */
  directoryAccessible(dir: string): boolean;
}

/** What tap_create_v2/v3 hands to the host once VPP's own checks passed. */
export interface TapHostRequest {
  readonly id: number;
  readonly tun: boolean;
  /** Requested host-side name, undefined when the kernel picks it. */
  readonly hostIfName: string | undefined;
  /** Netns as given: a name (/var/run/netns/NAME), an absolute path, or `pid:N`. Undefined: VPP's own netns. */
  readonly hostNamespace: string | undefined;
  readonly hostBridge: string | undefined;
  readonly hostMacAddr: string | undefined;
  readonly hostIp4Prefix: string | undefined;
  readonly hostIp6Prefix: string | undefined;
  readonly hostIp4Gw: string | undefined;
  readonly hostIp6Gw: string | undefined;
  readonly hostMtu: number | undefined;
  readonly numRxQueues: number;
  readonly numTxQueues: number;
  readonly tapFlags: number;
}

export type TapHostResult =
  | { readonly retval: 0; readonly hostIfName: string; readonly hostMacAddr?: string }
  | { readonly retval: number; readonly error: string };

/** The host half of a tap that exists (for deletion). */
export interface TapHostInfo {
  readonly id: number;
  readonly tun: boolean;
  readonly hostIfName: string;
  readonly hostNamespace: string;
}

export interface SimHost extends HostChecks {
  /** Short name for logs and `sim state`. */
  readonly kind: string;
  /** Creates the host side of a tap/tun. May be async; the simulator serialises requests around it like VPP. */
  createTap(req: TapHostRequest): TapHostResult | Promise<TapHostResult>;
  /** Removes the host side of a tap/tun (never fails, like VPP's tap_delete_if). */
  deleteTap(tap: TapHostInfo): void | Promise<void>;
}

/** `ip link set dev NAME up`: what SIOCSIFFLAGS with IFF_UP does, without a shell. */
function ipLinkUp(name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('ip', ['link', 'set', 'dev', name, 'up'], { timeout: IP_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, _out, stderr) => {
      if (err) reject(new Error(`ip link set dev ${name} up: ${String(stderr).trim() || err.message}`));
      else resolve();
    });
  });
}

/** Host checks answered from this machine (the simulator's own network namespace). */
export const linuxHostChecks: HostChecks = {
  // Every interface directory has an ifindex file; `.`, `..` and stray files such as bonding_masters do not.
  interfaceExists: (name) => name.length > 0 && !name.includes('/') && existsSync(`/sys/class/net/${name}/ifindex`),
  interfaceUp: (name) => {
    try {
      return (Number.parseInt(readFileSync(`/sys/class/net/${name}/flags`, 'utf8').trim(), 16) & IFF_UP) !== 0;
    } catch {
      return false;
    }
  },
  setInterfaceUp: ipLinkUp,
  interfaceMtu: (name) => {
    try {
      return Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim()) || 1500;
    } catch {
      return 1500;
    }
  },
  pathExists: (path) => existsSync(path),
  directoryAccessible: (dir) => {
    try {
      accessSync(dir, constants.R_OK | constants.W_OK);
      return true;
    } catch {
      return false;
    }
  },
};

/**
 * This machine's checks with some replaced. An interface that exists only because an injected interfaceExists
 * says so has no kernel flags to read: unless interfaceUp is injected too, it counts as up (nothing to set).
 */
export function withChecks(injected: Partial<HostChecks>): HostChecks {
  const checks: HostChecks = { ...linuxHostChecks, ...injected };
  if (injected.interfaceExists && !injected.interfaceUp) {
    checks.interfaceUp = (name) => !linuxHostChecks.interfaceExists(name) || linuxHostChecks.interfaceUp(name);
  }
  return checks;
}

/** Real VPP without /dev/vhost-net: `tap_create_if: open '/dev/vhost-net': No such file or directory`. */
export function noVhostNet(checks: Partial<HostChecks> = {}): SimHost {
  return {
    ...withChecks(checks),
    kind: 'no-vhost-net',
    createTap: () => ({ retval: -11, error: "open '/dev/vhost-net': No such file or directory" }),
    deleteTap: () => undefined,
  };
}

/** Taps that always succeed and exist only in the simulator (host name: requested, else tap<id> / tun<id>). */
export function fakeTap(checks: Partial<HostChecks> = {}): SimHost {
  return {
    ...withChecks(checks),
    kind: 'fake-tap',
    createTap: (req) => ({ retval: 0, hostIfName: req.hostIfName ?? `${req.tun ? 'tun' : 'tap'}${req.id}` }),
    deleteTap: () => undefined,
  };
}

/** The default host: fakeTap when /dev/vhost-net exists (taps would work there), otherwise noVhostNet. */
export function defaultHost(): SimHost {
  return existsSync('/dev/vhost-net') ? fakeTap() : noVhostNet();
}

/** Path of the netns file VPP opens for a tap host_namespace (open_netns_fd in tap.c). */
export function netnsPathOf(netns: string): string {
  if (netns.startsWith('pid:')) return `/proc/${Number.parseInt(netns.slice(4), 10)}/ns/net`;
  if (netns.startsWith('/')) return netns;
  return `/var/run/netns/${netns}`;
}
