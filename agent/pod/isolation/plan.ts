/**
 * The VPP objects that make a VCL pod receive traffic and that keep every pod from sending with someone
 * else's source address, planned as data by pure functions (no VPP, no Linux): what apply.ts creates, what the
 * checkpoint keeps (the plans are the checkpoint slices), and what tests compare with the simulator's state.
 *
 * VCL (per pod, `planVcl`), on top of the pod's eth0 (tun, tap or veth) and its VCL loopback:
 *  - a pod VRF (one id, IPv4 and IPv6 tables) holding the loopback, which carries the pod's host prefixes: the pod
 *    IP is a VPP-local address only in that VRF, and the pod's app namespace is bound to the loopback, so VPP's
 *    session layer scopes every listener of the pod's apps to (pod VRF, pod IP) — two VCL pods can listen on the
 *    same port, and no app accepts traffic for another address;
 *  - in the pod VRF, default routes that look up table 0 (the app's outgoing connections);
 *  - in table 0, the pod's host prefixes look up the pod VRF instead of going to eth0 (traffic for the pod IP
 *    reaches the session layer);
 *  - in the node's punt table, the pod's host prefixes go to eth0: TCP and UDP that no VCL session takes are
 *    punted (set_punt, node-wide), redirected into the punt table (node-wide) and so reach the pod's kernel.
 *    With PBL on the same pod, the PBL clients stay on table 0's entry of the pod IP, in front of the lookup
 *    into the VRF: the listed ports reach the memif, the rest the session layer, then the kernel.
 * Source checks (every pod attachment, `planSourceCheck`): a per-attachment table holding only the pod's host
 * prefixes and its AllowedSourcePrefixes, routed through the pod's interface, and uRPF in loose mode against
 * that table on every interface of the attachment, both families: a source with no route there — anyone
 * else's address — is dropped on input.
 */
import type { TagOwner } from '../tags.js';
import { AFS, NODE_PUNT_TABLE_NAME, tableName } from './tables.js';
import { afOf, canonicalNetwork, hostPrefixOf } from './prefixes.js';
import { ANY, type Af, type AppNamespaceSpec, type RoutePlan, type TablePlan } from '../../vpp/isolation.js';

export { ANY };
export type { Af, RoutePath, RoutePlan, TablePlan } from '../../vpp/isolation.js';

/** A pod interface in VPP: ethernet ones (TAP, veth's af_packet, L2 memif) name the pod address as next hop. */
export interface PodInterfaceRef {
  swIfIndex: number;
  ethernet: boolean;
  /** For step names and errors (`tap`, `af_packet`, `memif`); the sw_if_index when absent. */
  name?: string;
}

// ---- VCL ----

export interface VclPlanInput {
  owner: TagOwner;
  /** The pod's addresses (no length). */
  addresses: readonly string[];
  eth0: PodInterfaceRef;
  /** The pod VRF's id (tables.ts `allocateTableId`), the same in both families. */
  vrfTableId: number;
  /** The node punt table's id. */
  puntTableId: number;
  namespaceId: string;
  sockName: string;
}

export interface VclPlan {
  tables: TablePlan[];
  /** The loopback goes into the pod VRF (both families), then gets the pod's host prefixes. */
  loopback: { tableId: number; addresses: string[] };
  vrfRoutes: RoutePlan[];
  puntRoutes: RoutePlan[];
  /** Table 0's route of each pod prefix, and the route it replaces (put back when VCL is undone). */
  steer: { route: RoutePlan; replaces: RoutePlan }[];
  appNamespace: AppNamespaceSpec;
  /** The table PBL clients of this pod go in: 0 (they interpose on table 0's entry of the pod IP). */
  pblTableId: number;
}

function podRoute(af: Af, tableId: number, address: string, itf: PodInterfaceRef): RoutePlan {
  return { af, tableId, prefix: hostPrefixOf(address), path: { via: 'interface', swIfIndex: itf.swIfIndex, ...(itf.ethernet ? { nh: address } : {}) } };
}

export function planVcl(input: VclPlanInput): VclPlan {
  const addresses = [...new Set(input.addresses)];
  const vrf = input.vrfTableId;
  return {
    tables: AFS.map((af) => ({ af, tableId: vrf, name: tableName(input.owner, 'vrf') })),
    loopback: { tableId: vrf, addresses: addresses.map(hostPrefixOf) },
    vrfRoutes: AFS.map((af) => ({ af, tableId: vrf, prefix: af === 4 ? '0.0.0.0/0' : '::/0', path: { via: 'table', tableId: 0 } })),
    puntRoutes: addresses.map((a) => podRoute(afOf(a), input.puntTableId, a, input.eth0)),
    steer: addresses.map((a) => ({
      route: { af: afOf(a), tableId: 0, prefix: hostPrefixOf(a), path: { via: 'table', tableId: vrf } },
      replaces: podRoute(afOf(a), 0, a, input.eth0),
    })),
    appNamespace: { namespaceId: input.namespaceId, sockName: input.sockName, ip4FibId: vrf, ip6FibId: vrf },
    pblTableId: 0,
  };
}

// ---- the node's punt path (once per node, while VCL pods exist) ----

export interface NodePuntPlan {
  tables: TablePlan[];
  /** set_punt L4, port ~0: TCP and UDP to a VPP-local address that no session takes are punted, not refused. */
  l4: { af: Af; protocol: 'tcp' | 'udp' }[];
  /** Punted packets from any interface are looked up in the punt table. */
  redirects: { af: Af; rxSwIfIndex: number; lookupTableId: number }[];
}

export function planNodePunt(puntTableId: number): NodePuntPlan {
  return {
    tables: AFS.map((af) => ({ af, tableId: puntTableId, name: NODE_PUNT_TABLE_NAME })),
    l4: AFS.flatMap((af) => [
      { af, protocol: 'tcp' as const },
      { af, protocol: 'udp' as const },
    ]),
    redirects: AFS.map((af) => ({ af, rxSwIfIndex: ANY, lookupTableId: puntTableId })),
  };
}

// ---- source checks ----

export interface SourceCheckInput {
  owner: TagOwner;
  addresses: readonly string[];
  /** AllowedSourcePrefixes, "addr/len" (host bits are cleared here). */
  allowedPrefixes: readonly string[];
  /** The attachment's interfaces; the table's routes go through the first (eth0, or the memif of a multinet attachment). */
  interfaces: readonly PodInterfaceRef[];
  rpfTableId: number;
}

/** uRPF modes of the plugin's API (urpf_mode). */
export const URPF_MODE = { off: 0, loose: 1, strict: 2 } as const;

export interface UrpfCheck {
  swIfIndex: number;
  /** The interface's name in step names (`tap`, `memif`...). */
  name?: string;
  af: Af;
  /** Always loose: against a table holding only the pod's own prefixes, "any route" means "one of the pod's". */
  mode: 'loose';
  tableId: number;
}

export interface SourceCheckPlan {
  tables: TablePlan[];
  routes: RoutePlan[];
  checks: UrpfCheck[];
}

export function planSourceCheck(input: SourceCheckInput): SourceCheckPlan {
  const first = input.interfaces[0];
  if (!first) throw new Error('a source check needs at least one interface');
  const t = input.rpfTableId;
  const routes: RoutePlan[] = [];
  const seen = new Set<string>();
  for (const a of new Set(input.addresses)) {
    const r = podRoute(afOf(a), t, a, first);
    seen.add(r.prefix);
    routes.push(r);
  }
  for (const p of input.allowedPrefixes) {
    const prefix = canonicalNetwork(p);
    if (seen.has(prefix)) continue;
    seen.add(prefix);
    routes.push({ af: afOf(prefix), tableId: t, prefix, path: { via: 'interface', swIfIndex: first.swIfIndex } });
  }
  return {
    tables: AFS.map((af) => ({ af, tableId: t, name: tableName(input.owner, 'rpf') })),
    routes,
    // Both families on every interface: a family without a pod address has an empty table, and its packets are dropped.
    checks: input.interfaces.flatMap((i) => AFS.map((af) => ({ swIfIndex: i.swIfIndex, ...(i.name ? { name: i.name } : {}), af, mode: 'loose' as const, tableId: t }))),
  };
}
