/**
 * The kernel VXLAN device of VPPCNI_CROSS_NODE=vxlan: one device (ours by its alias), and per remote node an
 * FDB entry (VTEP MAC → underlay address) and permanent neighbors (gateway → VTEP MAC); the onlink routes go
 * through HostRoutes. A device of that name that is not ours is refused, never changed. Learning is off:
 * every entry is programmed.
 */
import { z } from 'zod';
import type { HostCmd } from './host-cmd.js';

export const VXLAN_ALIAS = 'vcni:node:vxlan';
export const DEFAULT_VXLAN_DEVICE = 'vcni-vxlan';
export const DEFAULT_VXLAN_VNI = 4097;
export const DEFAULT_VXLAN_PORT = 4789;
/** Outer IPv4 + UDP + VXLAN + inner Ethernet headers. */
export const VXLAN_OVERHEAD = 50;

export interface VxlanDeviceSpec {
  readonly name: string;
  readonly vni: number;
  readonly port: number;
  /** This node's underlay address. */
  readonly local: string;
  /** This node's VTEP MAC (what the other nodes' FDB and neighbors name). */
  readonly mac: string;
  readonly mtu: number;
}

export interface VxlanPeer {
  readonly vtepMac: string;
  readonly underlay: string;
  /** Gateway addresses answered by this peer's VTEP MAC (one per podCIDR). */
  readonly gateways: readonly string[];
}

const linkJson = z.array(
  z.looseObject({
    ifname: z.string(),
    mtu: z.number(),
    address: z.string().optional(),
    ifalias: z.string().optional(),
    flags: z.array(z.string()).optional(),
    linkinfo: z.looseObject({ info_kind: z.string().optional(), info_data: z.looseObject({ id: z.number().optional(), local: z.string().optional(), local6: z.string().optional(), port: z.number().optional() }).optional() }).optional(),
  }),
);
const fdbJson = z.array(z.looseObject({ mac: z.string(), dst: z.string().optional(), state: z.string().optional() }));
const neighJson = z.array(z.looseObject({ dst: z.string(), lladdr: z.string().optional(), state: z.array(z.string()).optional() }));

export class ForeignDeviceError extends Error {
  override readonly name = 'ForeignDeviceError';
}

export interface VxlanState {
  readonly device: VxlanDeviceSpec | undefined;
  readonly fdb: { mac: string; dst: string }[];
  readonly neighbors: { ip: string; mac: string }[];
}

export class VxlanDevice {
  constructor(private readonly cmd: HostCmd) {}

  private async link(name: string): Promise<z.infer<typeof linkJson>[number] | undefined> {
    try {
      const rows = linkJson.parse(await this.cmd.json('ip', ['-d', 'link', 'show', 'dev', name]));
      return rows[0];
    } catch (e) {
      if (/does not exist|Cannot find device/i.test((e as Error).message)) return undefined;
      throw e;
    }
  }

  /** The device as the kernel has it, if it exists and is ours. */
  async read(name: string): Promise<VxlanState> {
    const l = await this.link(name);
    if (!l) return { device: undefined, fdb: [], neighbors: [] };
    if (l.ifalias !== VXLAN_ALIAS) throw new ForeignDeviceError(`link ${name} exists and is not ours (alias ${JSON.stringify(l.ifalias ?? '')})`);
    const d = l.linkinfo?.info_data ?? {};
    const device: VxlanDeviceSpec = { name, vni: d.id ?? 0, port: d.port ?? 0, local: d.local ?? d.local6 ?? '', mac: l.address ?? '', mtu: l.mtu };
    const fdb = fdbJson
      .parse(await this.cmd.json('bridge', ['fdb', 'show', 'dev', name]))
      .filter((e) => e.dst !== undefined)
      .map((e) => ({ mac: e.mac, dst: e.dst! }));
    const neighbors = neighJson
      .parse(await this.cmd.json('ip', ['neigh', 'show', 'dev', name]))
      .filter((n) => n.lladdr !== undefined && (n.state ?? []).includes('PERMANENT'))
      .map((n) => ({ ip: n.dst, mac: n.lladdr! }));
    return { device, fdb, neighbors };
  }

  /** Creates the device or brings an existing one of ours to `spec` (re-created when VNI/port/local differ). */
  async ensure(spec: VxlanDeviceSpec): Promise<'created' | 'updated' | 'unchanged'> {
    const cur = (await this.read(spec.name)).device;
    if (cur && (cur.vni !== spec.vni || cur.port !== spec.port || cur.local !== spec.local)) {
      await this.cmd.run('ip', ['link', 'del', 'dev', spec.name]);
    } else if (cur) {
      if (cur.mac === spec.mac && cur.mtu === spec.mtu) return 'unchanged';
      await this.cmd.run('ip', ['link', 'set', 'dev', spec.name, 'address', spec.mac, 'mtu', String(spec.mtu)]);
      return 'updated';
    }
    await this.cmd.run('ip', ['link', 'add', spec.name, 'type', 'vxlan', 'id', String(spec.vni), 'local', spec.local, 'dstport', String(spec.port), 'nolearning']);
    try {
      await this.cmd.run('ip', ['link', 'set', 'dev', spec.name, 'alias', VXLAN_ALIAS, 'address', spec.mac, 'mtu', String(spec.mtu), 'up']);
    } catch (e) {
      // Not half-made: a device we could not finish goes.
      await this.cmd.run('ip', ['link', 'del', 'dev', spec.name]).catch(() => undefined);
      throw e;
    }
    return cur ? 'updated' : 'created';
  }

  /** Makes the FDB and permanent neighbors of the device exactly those of `peers`. */
  async syncPeers(name: string, peers: readonly VxlanPeer[]): Promise<{ added: number; removed: number }> {
    const cur = await this.read(name);
    if (!cur.device) throw new Error(`vxlan device ${name} does not exist`);
    let added = 0;
    let removed = 0;
    const wantFdb = new Map(peers.map((p) => [p.vtepMac, p.underlay]));
    const wantNeigh = new Map(peers.flatMap((p) => p.gateways.map((g) => [g, p.vtepMac] as const)));
    for (const e of cur.fdb) {
      if (wantFdb.get(e.mac) === e.dst) continue;
      await this.cmd.run('bridge', ['fdb', 'del', e.mac, 'dev', name, 'dst', e.dst, 'self']).catch(() => undefined);
      removed++;
    }
    for (const n of cur.neighbors) {
      if (wantNeigh.get(n.ip) === n.mac) continue;
      await this.cmd.run('ip', ['neigh', 'del', n.ip, 'dev', name]).catch(() => undefined);
      removed++;
    }
    const haveFdb = new Set(cur.fdb.map((e) => `${e.mac}|${e.dst}`));
    for (const [mac, dst] of wantFdb) {
      if (haveFdb.has(`${mac}|${dst}`)) continue;
      await this.cmd.run('bridge', ['fdb', 'replace', mac, 'dev', name, 'dst', dst, 'self', 'permanent']);
      added++;
    }
    const haveNeigh = new Set(cur.neighbors.map((n) => `${n.ip}|${n.mac}`));
    for (const [ip, mac] of wantNeigh) {
      if (haveNeigh.has(`${ip}|${mac}`)) continue;
      await this.cmd.run('ip', ['neigh', 'replace', ip, 'lladdr', mac, 'dev', name, 'nud', 'permanent']);
      added++;
    }
    return { added, removed };
  }

  /** Deletes the device if it exists and is ours (its FDB, neighbors and routes go with it). */
  async remove(name: string): Promise<boolean> {
    const l = await this.link(name);
    if (!l) return false;
    if (l.ifalias !== VXLAN_ALIAS) throw new ForeignDeviceError(`link ${name} exists and is not ours (alias ${JSON.stringify(l.ifalias ?? '')})`);
    await this.cmd.run('ip', ['link', 'del', 'dev', name]);
    return true;
  }
}
