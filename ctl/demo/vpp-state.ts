/**
 * What VPP holds for a pod, read through the binary API as an operator would: interfaces with their
 * owner tags (sw_interface_dump), memif interfaces and their sockets (memif_dump,
 * memif_socket_filename_dump), PBL clients (pbl_client_dump), host routes (ip_route_dump) and, for VCL,
 * the app namespace (`show app ns`: this VPP has no dump message for it). At the end the same reads
 * find anything the demo's pods left behind.
 */
import { VppClient } from '../../vpp-api/client/index.js';
import { af_packet, allModules, cnat, interface_, ip, memif, pbl } from '../../vpp-api/generated/index.js';
import type { SwInterfaceDetails } from '../../vpp-api/generated/interface.js';

/**
 * The agent's tag scheme (agent/pod/tags.ts, agent/pod/node-resources.ts; ctl may not import agent):
 * `vcni:<cid12>:<ifname>:<kind>:<namespace>/<name>`, and the node's shared loopback.
 */
export const TAG_PREFIX = 'vcni:';
export const NODE_LOOPBACK_TAG = 'vcni:node:unnumbered';
/** The node dataplane's objects (agent/node/kinds/*): `vcni:node:<what>`; the shared loopback above is the pods'. */
export const NODE_TAG_PREFIX = 'vcni:node:';
const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
const ROLE_NAMES: Record<number, string> = { [memif.MemifRole.MEMIF_ROLE_API_MASTER]: 'server (master)', [memif.MemifRole.MEMIF_ROLE_API_SLAVE]: 'client (slave)' };
const MODE_NAMES: Record<number, string> = {
  [memif.MemifMode.MEMIF_MODE_API_ETHERNET]: 'ethernet (L2)',
  [memif.MemifMode.MEMIF_MODE_API_IP]: 'ip (L3)',
  [memif.MemifMode.MEMIF_MODE_API_PUNT_INJECT]: 'punt/inject',
};

export function shortId(containerId: string): string {
  return containerId.slice(0, 12);
}

/** A pod as the demo made it: its container id, the addresses IPAM gave it, and its netns path. */
export interface PodScope {
  containerId: string;
  ips: string[];
  netnsPath: string;
}

export interface StateSection {
  title: string;
  lines: string[];
}

function hostPrefix(ipAddr: string): string {
  return `${ipAddr}/${ipAddr.includes(':') ? 128 : 32}`;
}

function flagsText(flags: number): string {
  return `${flags & 1 ? 'admin-up' : 'admin-down'} ${flags & 2 ? 'link-up' : 'link-down'}`;
}

/** `show app ns` prints each namespace's secret: never echo it. */
function maskSecrets(line: string): string {
  return line.replace(/\b\d{8,}\b/g, '<secret>');
}

export class VppView {
  private constructor(private readonly vpp: VppClient) {}

  static async connect(socketPath: string): Promise<VppView> {
    const vpp = new VppClient({ socketPath, clientName: `vpp-cni-demo-${process.pid}`, modules: allModules, reconnect: false, healthCheck: false, requestTimeoutMs: 5000, connectTimeoutMs: 5000 });
    await vpp.connect();
    return new VppView(vpp);
  }

  close(): Promise<void> {
    return this.vpp.close();
  }

  interfaces(): Promise<SwInterfaceDetails[]> {
    return this.vpp.dumpAll(interface_.sw_interface_dump, {});
  }

  /** The tagged interfaces of the agent's scheme now in VPP, as `sw_if_index tag` keys. */
  async vcniTags(): Promise<Set<string>> {
    return new Set((await this.interfaces()).filter((d) => d.tag.startsWith(TAG_PREFIX)).map((d) => `${d.sw_if_index} ${d.tag}`));
  }

  private async appNamespaces(match: (line: string) => boolean): Promise<string[]> {
    let text: string;
    try {
      text = await this.vpp.cli('show app ns');
    } catch {
      return []; // the session layer is not enabled: no app namespaces
    }
    return text
      .replace(/\u001b\[[0-9;]*m/g, '')
      .split('\n')
      .filter((l) => l.trim() && match(l))
      .map((l) => maskSecrets(l.trim()));
  }

  /** `show pbl client`: per client id, its port lines joined ("TCP ports: 4444-20000, UDP ports: ..."). */
  private async pblPortsFromCli(): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    let text: string;
    try {
      text = await this.vpp.cli('show pbl client');
    } catch {
      return out;
    }
    let id: number | undefined;
    for (const line of text.split('\n')) {
      const head = /^\[(\d+)\]\s+pbl-client/.exec(line);
      if (head) {
        id = Number(head[1]);
        continue;
      }
      const ports = /^\s*(\w+ ports):\s*(.*)$/.exec(line);
      if (id !== undefined && ports) {
        const prev = out.get(id);
        const item = `${ports[1]} ${ports[2]!.trim()}`;
        out.set(id, prev ? `${prev}, ${item}` : item);
      }
    }
    return out;
  }

  async podState(pod: PodScope): Promise<StateSection[]> {
    const cid = shortId(pod.containerId);
    const all = await this.interfaces();
    const names = new Map(all.map((d) => [d.sw_if_index, d.interface_name]));
    const mine = all.filter((d) => d.tag.startsWith(`${TAG_PREFIX}${cid}:`));
    const ifLines = mine.map((d) => `[${d.sw_if_index}] ${d.interface_name.padEnd(12)} ${flagsText(d.flags)}  tag ${d.tag}`);
    const sections: StateSection[] = [{ title: `interfaces tagged ${TAG_PREFIX}${cid}:… (sw_interface_dump)`, lines: ifLines }];

    const swSet = new Set(mine.map((d) => d.sw_if_index));
    const memifs = (await this.vpp.dumpAll(memif.memif_dump, {})).filter((m) => swSet.has(m.sw_if_index));
    const sockets = await this.vpp.dumpAll(memif.memif_socket_filename_dump, {});
    const sockIds = new Set(memifs.map((m) => m.socket_id));
    const memifLines = memifs.map(
      (m) => `[${m.sw_if_index}] ${m.if_name || names.get(m.sw_if_index) || '?'}  role ${ROLE_NAMES[m.role] ?? m.role}, mode ${MODE_NAMES[m.mode] ?? m.mode}, socket ${m.socket_id}, ${
          m.ring_size <= 1 && m.buffer_size === 0 ? 'no client connected yet (ring and buffer sizes show once one is)' : `ring ${m.ring_size}, buffer ${m.buffer_size}`
        }`,
    );
    for (const s of sockets.filter((x) => sockIds.has(x.socket_id) || x.socket_filename.includes(`netns_name=${pod.netnsPath}`))) {
      memifLines.push(`socket ${s.socket_id}: ${s.socket_filename}`);
    }
    if (memifLines.length) sections.push({ title: 'memif interfaces and sockets (memif_dump, memif_socket_filename_dump)', lines: memifLines });

    const afPackets = (await this.vpp.dumpAll(af_packet.af_packet_dump, {})).filter((a) => swSet.has(a.sw_if_index));
    if (afPackets.length) {
      const macs = new Map(mine.map((d) => [d.sw_if_index, d.l2_address]));
      sections.push({
        title: 'af_packet interfaces on the host end of the pod\'s veth (af_packet_dump)',
        lines: afPackets.map((a) => `[${a.sw_if_index}] ${names.get(a.sw_if_index) ?? '?'}  host interface ${a.host_if_name}, VPP MAC ${macs.get(a.sw_if_index) ?? '?'} (the pod's next hop)`),
      });
    }

    const ips = new Set(pod.ips);
    const clients = (await this.vpp.dumpAll(pbl.pbl_client_dump, {})).filter((c) => ips.has(c.client.addr));
    if (clients.length) {
      // pbl_client_details leave paths and port ranges zeroed (as VPP's pbl plugin does): the ports come from the CLI
      const cliPorts = await this.pblPortsFromCli();
      sections.push({
        title: 'PBL clients on the pod address (pbl_client_dump; ports from show pbl client)',
        lines: clients.map((c) => {
          const fromDump = c.client.port_ranges.map((r) => `${PROTO_NAMES[r.iproto] ?? `proto ${r.iproto}`} ${r.start === r.end ? r.start : `${r.start}-${r.end}`}`).join(', ');
          return `id ${c.client.id}  ${c.client.addr}  ${fromDump || cliPorts.get(c.client.id) || 'ports: (none)'}`;
        }),
      });
    }

    const routeLines: string[] = [];
    for (const v6 of [false, true]) {
      const want = new Set(pod.ips.filter((a) => a.includes(':') === v6).map(hostPrefix));
      if (want.size === 0) continue;
      for (const r of await this.vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: v6 } })) {
        if (!want.has(r.route.prefix)) continue;
        const via = r.route.paths.map((p) => {
          const nh = v6 ? p.nh.address.ip6 : p.nh.address.ip4;
          const nhText = nh && nh !== '0.0.0.0' && nh !== '::' ? ` via ${nh}` : '';
          return `[${p.sw_if_index}] ${names.get(p.sw_if_index) ?? '?'}${nhText}`;
        });
        routeLines.push(`${r.route.prefix} (table ${r.route.table_id}) → ${via.join(', ')}`);
      }
    }
    sections.push({ title: 'routes to the pod address (ip_route_dump, table 0)', lines: routeLines });

    if (mine.some((d) => d.tag.split(':')[3] === 'vcl')) {
      const ns = await this.appNamespaces((l) => l.includes(`vcni-${cid}-`) || /\bId\b/.test(l));
      sections.push({ title: 'VCL app namespace (show app ns; secret masked)', lines: ns });
    }
    return sections;
  }

  /**
   * What the demo's pods left in VPP: interfaces tagged `vcni:` that were not there before the demo
   * (the node loopback is expected to stay), memif sockets in the demo's namespaces, PBL clients and
   * host routes of the demo's addresses, app namespaces of the demo's containers.
   */
  async leftovers(before: Set<string>, containerIds: string[], ips: string[], netnsPrefix: string): Promise<{ left: string[]; kept: string[] }> {
    const left: string[] = [];
    const kept: string[] = [];
    const cids = containerIds.map(shortId);
    for (const d of await this.interfaces()) {
      if (!d.tag.startsWith(TAG_PREFIX)) continue;
      const line = `interface [${d.sw_if_index}] ${d.interface_name} tagged ${d.tag}`;
      if (d.tag === NODE_LOOPBACK_TAG) kept.push(`${line} (the node's shared loopback, made once per node)`);
      else if (before.has(`${d.sw_if_index} ${d.tag}`) && !cids.some((c) => d.tag.startsWith(`${TAG_PREFIX}${c}:`))) kept.push(`${line} (was there before the demo)`);
      else left.push(line);
    }
    for (const s of await this.vpp.dumpAll(memif.memif_socket_filename_dump, {})) {
      if (s.socket_filename.includes(`netns_name=${netnsPrefix}`)) left.push(`memif socket ${s.socket_id}: ${s.socket_filename}`);
    }
    const ipSet = new Set(ips);
    for (const c of await this.vpp.dumpAll(pbl.pbl_client_dump, {})) {
      if (ipSet.has(c.client.addr)) left.push(`pbl client ${c.client.id} on ${c.client.addr}`);
    }
    for (const v6 of [false, true]) {
      const want = new Set(ips.filter((a) => a.includes(':') === v6).map(hostPrefix));
      if (want.size === 0) continue;
      for (const r of await this.vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6: v6 } })) {
        if (want.has(r.route.prefix)) left.push(`route ${r.route.prefix} in table 0`);
      }
    }
    for (const l of await this.appNamespaces((x) => cids.some((c) => x.includes(`vcni-${c}-`)))) left.push(`app namespace: ${l}`);
    return { left, kept };
  }

  /**
   * What the node dataplane left in VPP: interfaces tagged `vcni:node:` (but the pods' shared loopback) and
   * cnat translations: every one when `vips` is 'all' (the demo's own simulator), else those to `vips`.
   */
  async nodeLeftovers(vips: readonly string[] | 'all'): Promise<string[]> {
    const left: string[] = [];
    for (const d of await this.interfaces()) {
      if (d.tag.startsWith(NODE_TAG_PREFIX) && d.tag !== NODE_LOOPBACK_TAG) left.push(`interface [${d.sw_if_index}] ${d.interface_name} tagged ${d.tag}`);
    }
    for (const t of await this.vpp.dumpAll(cnat.cnat_translation_dump, {})) {
      const tr = t.translation;
      if (vips !== 'all' && !vips.includes(tr.vip.addr)) continue;
      left.push(`cnat translation ${tr.id}: ${tr.vip.addr}:${tr.vip.port}/${PROTO_NAMES[tr.ip_proto] ?? tr.ip_proto} -> ${tr.paths.map((x) => `${x.dst_ep.addr}:${x.dst_ep.port}`).join(', ') || 'no backend'}`);
    }
    return left;
  }
}
