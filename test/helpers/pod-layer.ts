/**
 * What the pod-layer tests share: a simulator with a chosen host (kernel taps, or a node without
 * vhost-net), a client on it, and the node-wide objects made before any pod (so that snapshots taken
 * by the tests compare pod state only); and VPP's table 0 and neighbors as comparable text.
 */
import { join } from 'node:path';
import { allModules } from '../../vpp-api/generated/index.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as ipn from '../../vpp-api/generated/ip_neighbor.js';
import { VppClient } from '../../vpp-api/client/index.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import type { SimHost } from '../../vpp-api/sim/host.js';
import { NodeResources } from '../../agent/pod/node-resources.js';

export interface PodLayerSim {
  sim: VppSimulator;
  vpp: VppClient;
  node: NodeResources;
}

export async function startPodLayerSim(dir: string, host: SimHost): Promise<PodLayerSim> {
  const sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock'), host });
  const vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 3000 });
  await vpp.connect();
  const node = new NodeResources(vpp);
  await node.unnumberedLoopback();
  await node.sessionEnabled();
  return { sim, vpp, node };
}

/** Table 0 routes, IPv4 and IPv6: `prefix -> sw_if_index[,…]`, sorted. */
export async function routeTable(vpp: VppClient): Promise<string[]> {
  const routes: string[] = [];
  for (const is_ip6 of [false, true]) {
    for (const r of await vpp.dumpAll(ip.ip_route_dump, { table: { table_id: 0, is_ip6 } })) {
      routes.push(`${r.route.prefix} -> ${r.route.paths.map((p) => p.sw_if_index).join(',')}`);
    }
  }
  return routes.sort();
}

/** Every neighbor VPP holds, per interface and family: `sw_if_index ip mac`, sorted. */
export async function neighborTable(vpp: VppClient): Promise<string[]> {
  const out: string[] = [];
  for (const i of await vpp.dumpAll(iface.sw_interface_dump, {})) {
    for (const af of [0, 1]) {
      for (const n of await vpp.dumpAll(ipn.ip_neighbor_dump, { sw_if_index: i.sw_if_index, af })) out.push(`${n.neighbor.sw_if_index} ${n.neighbor.ip_address} ${n.neighbor.mac_address}`);
    }
  }
  return out.sort();
}
