/**
 * The host side of the simulator: what VPP would ask the kernel.
 *
 * Handlers keep VPP's own state (interfaces, ids, tags); a SimHost only answers the questions VPP puts to
 * the machine it runs on (does this host interface exist, does this netns path exist, can a tap be made)
 * and performs the host half of a tap. Two implementations ship here:
 *  - noVhostNet(): what real VPP does on a machine without /dev/vhost-net (the capture host): every tap
 *    creation fails with SYSCALL_ERROR_1 (-11) and leaves nothing behind.
 *  - fakeTap(): taps succeed and exist only in the simulator's state.
 * A kernel-backed implementation (a real tun device in the pod netns) can be added behind the same interface.
 */
import { accessSync, constants, existsSync, readFileSync } from 'node:fs';

/** Read-only questions about the host; VPP answers them with syscalls. */
export interface HostChecks {
  /** True when a network interface of that name exists in the simulator's own netns (/sys/class/net/<name>). */
  interfaceExists(name: string): boolean;
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

/** Host checks answered from this machine (the simulator's own network namespace). */
export const linuxHostChecks: HostChecks = {
  interfaceExists: (name) => name.length > 0 && !name.includes('/') && existsSync(`/sys/class/net/${name}`),
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

/** Real VPP without /dev/vhost-net: `tap_create_if: open '/dev/vhost-net': No such file or directory`. */
export function noVhostNet(checks: Partial<HostChecks> = {}): SimHost {
  return {
    ...linuxHostChecks,
    ...checks,
    kind: 'no-vhost-net',
    createTap: () => ({ retval: -11, error: "open '/dev/vhost-net': No such file or directory" }),
    deleteTap: () => undefined,
  };
}

/** Taps that always succeed and exist only in the simulator (host name: requested, else tap<id> / tun<id>). */
export function fakeTap(checks: Partial<HostChecks> = {}): SimHost {
  return {
    ...linuxHostChecks,
    ...checks,
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
