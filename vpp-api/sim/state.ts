/**
 * Everything a simulated VPP instance knows: interfaces, FIB tables, memif sockets, pbl clients, the session
 * layer and event registrations. Handlers read and change it; `restart` replaces it with a fresh instance.
 * Allocation follows vppinfra (see index-pool.ts) so indexes come out as VPP hands them out.
 */
import { randomBytes } from 'node:crypto';
import { formatMac } from '../codec/ip.js';
import { CnatState } from './cnat-state.js';
import { IndexPool, VppRandom } from './index-pool.js';
import { broadcastBytes, contains, formatBytes, maskBytes, parsePrefix, type Af } from './ip-prefix.js';

export const ZERO_MAC = '00:00:00:00:00:00';
/** Default L3 MTU of an ethernet-class interface (ETHERNET_MAX_PACKET_BYTES). */
export const ETHERNET_DEFAULT_MTU = 9000;

export type InterfaceDevice =
  | { readonly kind: 'local' }
  | { readonly kind: 'loopback'; readonly instance: number }
  | MemifDevice
  | TapDevice
  | AfPacketDevice;

export interface MemifDevice {
  readonly kind: 'memif';
  readonly devInstance: number;
  readonly socketId: number;
  readonly id: number;
  /** 0 master, 1 slave (memif_role). */
  readonly role: number;
  /** 0 ethernet, 1 ip (memif_mode). */
  readonly mode: number;
  readonly ringSize: number;
  readonly bufferSize: number;
  readonly rxQueues: number;
  readonly txQueues: number;
  readonly secret: string;
  readonly zeroCopy: boolean;
}

export interface TapDevice {
  readonly kind: 'tap';
  readonly devInstance: number;
  readonly id: number;
  readonly tun: boolean;
  readonly hostIfName: string;
  readonly hostNamespace: string;
  readonly hostBridge: string;
  readonly hostMacAddr: string;
  readonly hostIp4Prefix: string;
  readonly hostIp6Prefix: string;
  readonly hostMtu: number;
  readonly rxRingSize: number;
  readonly txRingSize: number;
  readonly tapFlags: number;
  readonly rxQueues: number;
  readonly txQueues: number;
}

/** One PACKET_RX_RING / PACKET_TX_RING request (struct tpacket_req), the same for every queue of a direction. */
export interface PacketRing {
  readonly blockSize: number;
  readonly blockNr: number;
  readonly frameSize: number;
  readonly frameNr: number;
}

export interface AfPacketDevice {
  readonly kind: 'af_packet';
  readonly devInstance: number;
  readonly hostIfName: string;
  /** 1 ethernet, 2 ip (af_packet_mode). */
  readonly mode: number;
  /** af_packet_flags as the create left them (FANOUT, 4, added with more than one rx queue). */
  readonly flags: number;
  /** TPACKET_V2 or TPACKET_V3 (2 or 3). */
  readonly tpacketVersion: number;
  readonly rxQueues: number;
  readonly txQueues: number;
  /** Ring of each rx queue; null without rx queues. */
  readonly rxRing: PacketRing | null;
  /** Ring of each tx queue; null without tx queues. */
  readonly txRing: PacketRing | null;
}

/** vnet_hw_if_rx_mode values (the API's rx_mode enum has the same numbers). */
export const RxMode = {
  UNKNOWN: 0,
  POLLING: 1,
  INTERRUPT: 2,
  ADAPTIVE: 3,
  DEFAULT: 4,
} as const;

/** An ip-neighbor entry (ip_neighbor_t), kept on its interface. */
export interface SimNeighbor {
  readonly af: Af;
  /** Canonical address text. */
  readonly ip: string;
  mac: string;
  /** IP_NEIGHBOR_FLAG_STATIC; otherwise the entry is dynamic. */
  isStatic: boolean;
  /** IP_NEIGHBOR_FLAG_NO_FIB_ENTRY, fixed when the entry is made. */
  readonly noFibEntry: boolean;
  /** The neighbor adjacency its adj-fib holds (~0 in replies when there is none). */
  readonly adjIndex: number | undefined;
  /** performance.now() of the last refresh (ipn_time_last_updated). */
  updatedAt: number;
}

/** Per address family limit of neighbors (ip_neighbor_db[af].ipndb_limit's default). */
export const NEIGHBOR_LIMIT = 50000;

export function neighborKey(af: Af, ip: string): string {
  return `${af}|${ip}`;
}

export interface IfAddress {
  readonly af: Af;
  /** Canonical address text. */
  readonly address: string;
  readonly len: number;
}

export interface SimInterface {
  readonly swIfIndex: number;
  readonly device: InterfaceDevice;
  readonly name: string;
  /** interface_dev_type of sw_interface_details. */
  readonly devType: string;
  l2Address: string;
  adminUp: boolean;
  linkUp: boolean;
  /** Hardware MTU (link_mtu). */
  linkMtu: number;
  /** Per-protocol software MTU: L3, IP4, IP6, MPLS. */
  mtu: [number, number, number, number];
  tag: string;
  ip4Table: number;
  ip6Table: number;
  addresses: IfAddress[];
  /** sw_if_index whose addresses this interface borrows (ip unnumbered). */
  unnumberedOf: number | undefined;
  readonly txQueues: number;
  /** Mode of each registered rx queue, by queue id (empty: no rx queues, like loopbacks and local0). */
  rxModes: number[];
  /** ip-neighbor entries on this interface, in the order they were made. */
  readonly neighbors: Map<string, SimNeighbor>;
  /** IPv6 on by sw_interface_ip6_enable_disable (an IPv6 address enables it too): `ip6Locks` > 0. */
  ip6Enabled: boolean;
  /** As VPP: every enable takes a lock (also one answered VALUE_EXIST), every disable drops one. */
  ip6Locks: number;
}

export interface SimPath {
  readonly swIfIndex: number;
  readonly tableId: number;
  readonly rpfId: number;
  readonly weight: number;
  readonly preference: number;
  readonly type: number;
  readonly flags: number;
  /** fib_path_nh_proto: 0 ip4, 1 ip6. */
  readonly proto: number;
  /** Next hop address text ('' when none). */
  readonly nh: string;
}

export interface SimRoute {
  /** Canonical network text. */
  readonly prefix: string;
  paths: SimPath[];
  readonly statsIndex: number;
}

export interface SimTable {
  readonly af: Af;
  readonly tableId: number;
  name: string;
  readonly routes: Map<string, SimRoute>;
}

export interface MemifSocket {
  readonly socketId: number;
  readonly filename: string;
  refCnt: number;
  isListener: boolean;
  /** memif id -> sw_if_index of the interfaces on this socket. */
  readonly memifIds: Map<number, number>;
}

export interface PblClientState {
  readonly id: number;
  readonly addr: string;
  readonly flags: number;
  readonly tableId: number;
  /** Merged, sorted inclusive port ranges. */
  readonly tcpPorts: readonly (readonly [number, number])[];
  readonly udpPorts: readonly (readonly [number, number])[];
}

export interface AppNamespace {
  readonly index: number;
  readonly nsId: string;
  secret: bigint;
  swIfIndex: number;
  ip4FibId: number;
  ip6FibId: number;
  sockName: string | undefined;
}

export interface EventRegistration {
  readonly clientIndex: number;
  readonly pid: number;
}

/** Event bits of VPP's link_state_process (interface_api.c enum api_events). */
export const IfEvent = {
  LINK_UP: 1 << 1,
  LINK_DOWN: 1 << 2,
  ADMIN_UP: 1 << 3,
  ADMIN_DOWN: 1 << 4,
  ADD: 1 << 5,
  DEL: 1 << 6,
} as const;

export interface PendingEvent {
  readonly swIfIndex: number;
  readonly flags: number;
  readonly deleted: boolean;
}

export interface CreateInterfaceArgs {
  readonly device: InterfaceDevice;
  readonly name: string;
  readonly devType: string;
  readonly l2Address?: string;
  readonly linkMtu: number;
  readonly linkUp?: boolean;
  readonly txQueues?: number;
}

export function tableKey(af: Af, tableId: number): string {
  return `${af}:${tableId}`;
}

export function defaultTableName(af: Af, tableId: number): string {
  return `ipv${af}-VRF:${tableId}`;
}

/** A random locally administered MAC as VPP makes them (02:fe + 4 random bytes). */
export function randomMac(): string {
  const b = Buffer.alloc(6);
  b[0] = 0x02;
  b[1] = 0xfe;
  randomBytes(4).copy(b, 2);
  return formatMac(b, 0);
}

export class SimState {
  readonly interfaces = new Map<number, SimInterface>();
  readonly swIfIndexPool = new IndexPool();
  readonly loopbackInstances = new Set<number>();
  readonly tapIds = new Set<number>();
  readonly tapDevPool = new IndexPool();
  readonly afPacketDevPool = new IndexPool();
  readonly tables = new Map<string, SimTable>();
  readonly memifSockets = new Map<number, MemifSocket>();
  readonly memifDevPool = new IndexPool();
  readonly memifRandom = new VppRandom();
  readonly pblPool = new IndexPool();
  readonly pblClients = new Map<number, PblClientState>();
  /**
   * PBL's FIB clones: original client id -> the id of its clone (same pool). The clone lives while a route
   * of the client's table covers its address (handlers/pbl.ts `syncPblClones`).
   */
  readonly pblClones = new Map<number, number>();
  sessionEnabled = false;
  sapiEnabled = false;
  readonly appnsPool = new IndexPool();
  readonly appns = new Map<number, AppNamespace>();
  /** Punt (set_punt, ip punt redirects) and the uRPF plugin's per-interface configs. */
  readonly punt = new PuntState();
  readonly eventRegPool = new IndexPool();
  readonly eventRegs = new Map<number, EventRegistration>();
  /** Neighbor adjacencies (adj_pool indexes: the stats_index of ip_neighbor_add_del_reply). */
  readonly adjPool = new IndexPool();
  /** The cnat plugin's translations, snat configuration and sessions. */
  readonly cnat = new CnatState();
  private readonly pendingEvents = new Map<number, number>();
  private nextStatsIndex = 8;

  constructor(
    readonly vpePid: number,
    readonly runtimeDir: string,
  ) {
    this.createInterface({ device: { kind: 'local' }, name: 'local0', devType: 'local', linkMtu: 0 });
    this.pendingEvents.clear();
    for (const af of [4, 6] as const) {
      this.tables.set(tableKey(af, 0), { af, tableId: 0, name: defaultTableName(af, 0), routes: new Map() });
    }
    this.memifSockets.set(0, { socketId: 0, filename: `${runtimeDir}/memif.sock`, refCnt: 0, isListener: false, memifIds: new Map() });
  }

  // ---- interfaces ----

  get(swIfIndex: number): SimInterface | undefined {
    return this.interfaces.get(swIfIndex);
  }

  /** Interfaces in sw_if_index order (pool_foreach order). */
  interfaceList(): SimInterface[] {
    return this.swIfIndexPool.indexes().map((i) => this.interfaces.get(i)!);
  }

  createInterface(a: CreateInterfaceArgs): SimInterface {
    const swIfIndex = this.swIfIndexPool.alloc();
    const itf: SimInterface = {
      swIfIndex,
      device: a.device,
      name: a.name,
      devType: a.devType,
      l2Address: a.l2Address ?? ZERO_MAC,
      adminUp: false,
      linkUp: false,
      linkMtu: a.linkMtu,
      mtu: [a.linkMtu, 0, 0, 0],
      tag: '',
      ip4Table: 0,
      ip6Table: 0,
      addresses: [],
      unnumberedOf: undefined,
      txQueues: a.txQueues ?? 1,
      rxModes: initialRxModes(a.device),
      neighbors: new Map(),
      ip6Enabled: false,
      ip6Locks: 0,
    };
    this.interfaces.set(swIfIndex, itf);
    this.markEvent(swIfIndex, IfEvent.ADD);
    if (a.linkUp) this.setLink(itf, true);
    return itf;
  }

  deleteInterface(itf: SimInterface): void {
    this.setAdmin(itf, false);
    this.setLink(itf, false);
    // The interface's remaining neighbors (the static ones admin down kept) go with it.
    for (const n of [...itf.neighbors.values()]) this.destroyNeighbor(itf, n);
    this.markEvent(itf.swIfIndex, IfEvent.DEL);
    this.cnat.forgetInterface(itf.swIfIndex);
    for (const other of this.interfaces.values()) {
      if (other.unnumberedOf === itf.swIfIndex) other.unnumberedOf = undefined;
    }
    this.interfaces.delete(itf.swIfIndex);
    this.swIfIndexPool.release(itf.swIfIndex);
  }

  setAdmin(itf: SimInterface, up: boolean): void {
    if (itf.adminUp === up) return;
    itf.adminUp = up;
    this.markEvent(itf.swIfIndex, up ? IfEvent.ADMIN_UP : IfEvent.ADMIN_DOWN);
    // ip_neighbor_interface_admin_change: admin down flushes the dynamic neighbors (both families).
    if (!up) this.flushDynamicNeighbors(itf);
    // A loopback's link follows its admin state (loopback_set_admin_up_down).
    if (itf.device.kind === 'loopback') this.setLink(itf, up);
  }

  setLink(itf: SimInterface, up: boolean): void {
    if (itf.linkUp === up) return;
    itf.linkUp = up;
    this.markEvent(itf.swIfIndex, up ? IfEvent.LINK_UP : IfEvent.LINK_DOWN);
    // memif registers its rx queues when it connects (set to the default mode, polling) and unregisters
    // them all when it disconnects; the link follows the connection.
    if (itf.device.kind === 'memif') itf.rxModes = up ? new Array<number>(itf.device.rxQueues).fill(RxMode.POLLING) : [];
  }

  findByName(name: string): SimInterface | undefined {
    for (const itf of this.interfaces.values()) if (itf.name === name) return itf;
    return undefined;
  }

  /** Addresses that apply to an interface (its own, or those of the interface it is unnumbered to). */
  effectiveAddresses(itf: SimInterface): IfAddress[] {
    if (itf.unnumberedOf !== undefined) {
      const donor = this.interfaces.get(itf.unnumberedOf);
      return donor ? donor.addresses : [];
    }
    return itf.addresses;
  }

  // ---- ip neighbors ----

  /** Neighbors of one family on all interfaces (ipndb_n_elts). */
  neighborCount(af: Af): number {
    let n = 0;
    for (const itf of this.interfaces.values()) for (const nb of itf.neighbors.values()) if (nb.af === af) n++;
    return n;
  }

  /** ip_neighbor_destroy: the entry, its adj-fib and the adjacency that held go. */
  destroyNeighbor(itf: SimInterface, n: SimNeighbor): void {
    itf.neighbors.delete(neighborKey(n.af, n.ip));
    if (n.adjIndex !== undefined) this.adjPool.release(n.adjIndex);
  }

  /** ip_neighbor_flush for both families: the dynamic entries of an interface. */
  flushDynamicNeighbors(itf: SimInterface): void {
    for (const n of [...itf.neighbors.values()]) if (!n.isStatic) this.destroyNeighbor(itf, n);
  }

  /** ip_neighbor_add_del_interface_address_v4/v6 on delete: dynamic entries covered by the address go. */
  flushNeighborsCoveredBy(itf: SimInterface, a: IfAddress): void {
    const net = parsePrefix(a.address).bytes;
    for (const n of [...itf.neighbors.values()]) {
      if (n.isStatic || n.af !== a.af) continue;
      if (contains(net, a.len, parsePrefix(n.ip).bytes)) this.destroyNeighbor(itf, n);
    }
  }

  // ---- events ----

  markEvent(swIfIndex: number, bit: number): void {
    this.pendingEvents.set(swIfIndex, (this.pendingEvents.get(swIfIndex) ?? 0) | bit);
  }

  get hasPendingEvents(): boolean {
    return this.pendingEvents.size > 0;
  }

  /** Pending events in sw_if_index order, as link_state_process sends them; clears the list. */
  takeEvents(): PendingEvent[] {
    if (this.pendingEvents.size === 0) return [];
    const out: PendingEvent[] = [];
    for (const [swIfIndex, bits] of [...this.pendingEvents].sort((a, b) => a[0] - b[0])) {
      out.push({
        swIfIndex,
        flags: (bits & IfEvent.ADMIN_UP ? 1 : 0) | (bits & IfEvent.LINK_UP ? 2 : 0),
        deleted: (bits & IfEvent.DEL) !== 0,
      });
    }
    this.pendingEvents.clear();
    return out;
  }

  /** want_interface_events registrations in pool order. */
  eventRegistrations(): EventRegistration[] {
    return this.eventRegPool.indexes().map((i) => this.eventRegs.get(i)!);
  }

  findEventRegistration(clientIndex: number): number | undefined {
    for (const [i, r] of this.eventRegs) if (r.clientIndex === clientIndex) return i;
    return undefined;
  }

  /** The reaper of want_interface_events: a client's registration dies with its connection. */
  reapClient(clientIndex: number): void {
    const i = this.findEventRegistration(clientIndex);
    if (i !== undefined) {
      this.eventRegs.delete(i);
      this.eventRegPool.release(i);
    }
  }

  // ---- FIB ----

  table(af: Af, tableId: number): SimTable | undefined {
    return this.tables.get(tableKey(af, tableId));
  }

  allocStatsIndex(): number {
    return this.nextStatsIndex++;
  }

  /** Routes of a table as VPP's fib walk shows them: special, connected and local entries plus API routes. */
  routesOf(table: SimTable): SimRoute[] {
    const out: SimRoute[] = [];
    const drop = (prefix: string, proto: number): SimRoute => ({
      prefix,
      statsIndex: 0,
      paths: [{ swIfIndex: 0xffffffff, tableId: 0, rpfId: 0, weight: 1, preference: 0, type: 2, flags: 0, proto, nh: '' }],
    });
    if (table.af === 4) {
      out.push(drop('0.0.0.0/0', 0), drop('0.0.0.0/32', 0), drop('224.0.0.0/4', 0), drop('240.0.0.0/4', 0), drop('255.255.255.255/32', 0));
    } else {
      out.push(drop('::/0', 1));
      out.push({
        prefix: 'fe80::/10',
        statsIndex: 0,
        paths: [{ swIfIndex: 0xffffffff, tableId: 0, rpfId: 0, weight: 1, preference: 0, type: 0, flags: 0, proto: 1, nh: '' }],
      });
    }
    for (const itf of this.interfaceList()) {
      if ((table.af === 4 ? itf.ip4Table : itf.ip6Table) !== table.tableId) continue;
      for (const a of itf.addresses) {
        if (a.af !== table.af) continue;
        out.push(...connectedRoutes(itf.swIfIndex, a));
      }
      // Adj-fibs: a neighbor's host route (link-local IPv6 neighbors live in the link-local table instead).
      for (const n of itf.neighbors.values()) {
        if (n.af !== table.af || n.noFibEntry || (n.af === 6 && /^fe[89ab]/i.test(n.ip))) continue;
        const max = n.af === 4 ? 32 : 128;
        out.push({
          prefix: `${n.ip}/${max}`,
          statsIndex: 0,
          paths: [{ swIfIndex: itf.swIfIndex, tableId: 0, rpfId: 0, weight: 1, preference: 0, type: 0, flags: 0, proto: n.af === 4 ? 0 : 1, nh: n.ip }],
        });
      }
    }
    // An API route for a prefix of a special or connected entry (0.0.0.0/0, ::/0) takes its place.
    const filtered = out.filter((r) => !table.routes.has(r.prefix));
    for (const r of table.routes.values()) filtered.push(r);
    return filtered;
  }
}

/** Rx queues an interface has once created: tap registers its queues at creation (polling), af_packet too but
 * switches each to interrupt (af_packet_set_rx_queues); memif only when connected; loopbacks and local0 have
 * none. */
function initialRxModes(device: InterfaceDevice): number[] {
  switch (device.kind) {
    case 'tap':
      return new Array<number>(device.rxQueues).fill(RxMode.POLLING);
    case 'af_packet':
      return new Array<number>(device.rxQueues).fill(RxMode.INTERRUPT);
    default:
      return [];
  }
}

function connectedRoutes(swIfIndex: number, a: IfAddress): SimRoute[] {
  const bytes = parsePrefix(`${a.address}/${a.len}`).bytes;
  const max = a.af === 4 ? 32 : 128;
  const proto = a.af === 4 ? 0 : 1;
  const path = (type: number, sw: number, nh: string): SimRoute['paths'] => [
    { swIfIndex: sw, tableId: 0, rpfId: 0, weight: 1, preference: 0, type, flags: 0, proto, nh },
  ];
  const out: SimRoute[] = [];
  if (a.len < max) out.push({ prefix: `${formatBytes(maskBytes(bytes, a.len))}/${a.len}`, statsIndex: 0, paths: path(0, swIfIndex, '') });
  out.push({ prefix: `${a.address}/${max}`, statsIndex: 0, paths: path(1, swIfIndex, a.address) });
  if (a.af === 4 && a.len < 31) {
    out.push({ prefix: `${formatBytes(maskBytes(bytes, a.len))}/32`, statsIndex: 0, paths: path(2, 0xffffffff, '') });
    out.push({ prefix: `${formatBytes(broadcastBytes(bytes, a.len))}/32`, statsIndex: 0, paths: path(2, 0xffffffff, '') });
  }
  return out;
}

/**
 * ip4/ip6_add_del_interface_address's conflict check: an address may share a prefix only with other
 * addresses of the same interface and the same length; anything else overlapping in the table is in use.
 */
export function addressConflicts(state: SimState, itf: SimInterface, af: Af, address: string, len: number): boolean {
  const newBytes = parsePrefix(address).bytes;
  const tableId = af === 4 ? itf.ip4Table : itf.ip6Table;
  for (const other of state.interfaces.values()) {
    if ((af === 4 ? other.ip4Table : other.ip6Table) !== tableId) continue;
    for (const a of other.addresses) {
      if (a.af !== af) continue;
      const b = parsePrefix(a.address).bytes;
      if (!contains(b, a.len, newBytes) && !contains(newBytes, len, b)) continue;
      if (other.swIfIndex === itf.swIfIndex && a.len === len && a.address !== address) continue;
      return true;
    }
  }
  return false;
}


// ---- punt and uRPF ----

/** Protocols set_punt accepts for L4 punting (punt_l4_add_del). */
export type PuntL4Protocol = 'tcp' | 'udp';

/** One uRPF configuration: urpf_cfgs[af][dir][sw_if_index] in the plugin. */
export interface UrpfConfig {
  /** urpf_mode_t: 0 off, 1 loose, 2 strict. */
  readonly mode: number;
  /** The table checked: the one given (custom) or, without one, the interface's table at the time. */
  readonly tableId: number;
  readonly custom: boolean;
  /**
   * The interface the check is switched on for (undefined while off). The plugin has no interface-delete hook:
   * its config outlives the interface while the feature on the arc goes with it, so a later interface with the
   * same sw_if_index shows the old config, and an update with the same mode and table changes nothing.
   */
  readonly enabledOn: SimInterface | undefined;
}

export interface PuntRedirect {
  readonly af: Af;
  /** The rx interface; ~0 ("from any") is kept as 0, as VPP does. */
  readonly rxSwIfIndex: number;
  readonly paths: readonly SimPath[];
}

export class PuntState {
  /** "Unknown port" punting of TCP/UDP (set_punt with port ~0), as "af/proto". */
  readonly unknownL4 = new Set<string>();
  /** UDP destination ports registered for punting (set_punt with a port), as "af/port". */
  readonly udpPorts = new Set<string>();
  /** IP punt redirects by "af/rx". */
  readonly redirects = new Map<string, PuntRedirect>();
  /** uRPF configs by "af/dir/sw_if_index" (dir rx or tx). */
  readonly urpf = new Map<string, UrpfConfig>();
}
