/**
 * Nodes → the host routes to other nodes' pod CIDRs, as a pure function (VPPCNI_CROSS_NODE):
 *  - host-gw: per remote podCIDR, `podCIDR via <remote InternalIP of the same family>` (one L2/L3 segment);
 *  - vxlan: one kernel VXLAN device; per remote node an FDB entry (its VTEP MAC → its underlay InternalIP), a
 *    neighbor (gateway = first address of each podCIDR → VTEP MAC) and `podCIDR via gateway dev vxlan onlink`.
 *    The VTEP MAC is derived from the node's underlay address, so no annotation has to be published;
 *  - none: nothing (the underlay or the cloud routes pod CIDRs).
 * Skips, each with a reason: a Node without podCIDRs, without an InternalIP (of the needed family), an invalid
 * podCIDR, a podCIDR overlapping the host link or this node's podCIDRs, and podCIDRs of two remote nodes that
 * overlap (both are skipped: neither can be trusted).
 */
import { createHash } from 'node:crypto';
import { canonicalAddress, familyOf, nthAddress, overlaps, parseCidr, type Cidr, type Family } from './cidr.js';
import type { KubeNode } from './kube-objects.js';

export type CrossNodeMode = 'host-gw' | 'vxlan' | 'none';
export const CROSS_NODE_MODES: readonly CrossNodeMode[] = ['host-gw', 'vxlan', 'none'];

export interface NodeRouteSpec {
  /** `node|podCIDR`. */
  readonly key: string;
  readonly node: string;
  readonly podCidr: string;
  readonly family: Family;
  /** host-gw: the remote InternalIP; vxlan: the gateway address inside the podCIDR (onlink on the device). */
  readonly via: string;
  /** vxlan only. */
  readonly vxlan?: { readonly vtepMac: string; readonly underlay: string };
}

export interface NodeNote {
  readonly node: string;
  readonly reason: string;
}

export interface DesiredNodeRoutes {
  readonly routes: ReadonlyMap<string, NodeRouteSpec>;
  readonly skipped: readonly NodeNote[];
  /** This node's podCIDRs (valid ones), routed to VPP through the host link. */
  readonly ownPodCidrs: readonly Cidr[];
  /** This node's underlay address for vxlan (undefined: none usable). */
  readonly ownUnderlay: string | undefined;
}

export interface NodeRouteOptions {
  readonly selfName: string;
  readonly mode: CrossNodeMode;
  /** Prefixes of the host link (both ends): a podCIDR overlapping one is refused. */
  readonly hostLinkPrefixes: readonly string[];
}

export function podCidrsOf(n: KubeNode): string[] {
  const list = n.spec?.podCIDRs && n.spec.podCIDRs.length > 0 ? n.spec.podCIDRs : n.spec?.podCIDR ? [n.spec.podCIDR] : [];
  return [...new Set(list)];
}

/** InternalIP addresses by family (the first of each family). */
export function internalIpsOf(n: KubeNode): Map<Family, string> {
  const out = new Map<Family, string>();
  for (const a of n.status?.addresses ?? []) {
    if (a.type !== 'InternalIP') continue;
    const c = canonicalAddress(a.address);
    if (c === undefined) continue;
    const f = familyOf(c)!;
    if (!out.has(f)) out.set(f, c);
  }
  return out;
}

/** The VXLAN underlay of a node: its IPv4 InternalIP, else its IPv6 one. */
export function underlayOf(n: KubeNode): string | undefined {
  const ips = internalIpsOf(n);
  return ips.get(4) ?? ips.get(6);
}

/** A locally administered unicast MAC derived from a node's underlay address (the same on every node). */
export function vtepMacFor(underlay: string): string {
  const h = createHash('sha256').update(`vpp-cni vtep ${underlay}`).digest();
  const b = [0x0e, h[0]!, h[1]!, h[2]!, h[3]!, h[4]!];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

export function desiredNodeRoutes(nodes: Iterable<KubeNode>, opts: NodeRouteOptions): DesiredNodeRoutes {
  const skipped: NodeNote[] = [];
  const routes = new Map<string, NodeRouteSpec>();
  const hostLink = opts.hostLinkPrefixes.map((p) => parseCidr(p)).filter((c): c is Cidr => c !== undefined);
  const all = [...nodes].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
  const self = all.find((n) => n.metadata.name === opts.selfName);
  const ownPodCidrs = self ? podCidrsOf(self).map(parseCidr).filter((c): c is Cidr => c !== undefined) : [];
  const ownUnderlay = self ? underlayOf(self) : undefined;

  // Valid podCIDRs of every remote node first, so overlaps between them can be found.
  const remote: { node: KubeNode; cidrs: Cidr[] }[] = [];
  for (const n of all) {
    const name = n.metadata.name;
    if (name === opts.selfName || n.metadata.deletionTimestamp) continue;
    const texts = podCidrsOf(n);
    if (texts.length === 0) {
      skipped.push({ node: name, reason: 'no podCIDRs in its spec' });
      continue;
    }
    if (internalIpsOf(n).size === 0) {
      skipped.push({ node: name, reason: 'no InternalIP in its status' });
      continue;
    }
    const cidrs: Cidr[] = [];
    for (const t of texts) {
      const c = parseCidr(t);
      if (!c) skipped.push({ node: name, reason: `podCIDR ${t} is not a prefix` });
      else if (hostLink.some((h) => overlaps(h, c))) skipped.push({ node: name, reason: `podCIDR ${c.text} overlaps the host link` });
      else if (ownPodCidrs.some((o) => overlaps(o, c))) skipped.push({ node: name, reason: `podCIDR ${c.text} overlaps this node's podCIDR` });
      else cidrs.push(c);
    }
    remote.push({ node: n, cidrs });
  }
  const overlapping = new Set<string>();
  for (let i = 0; i < remote.length; i++) {
    for (let j = i + 1; j < remote.length; j++) {
      for (const a of remote[i]!.cidrs) {
        for (const b of remote[j]!.cidrs) {
          if (!overlaps(a, b)) continue;
          const ni = remote[i]!.node.metadata.name;
          const nj = remote[j]!.node.metadata.name;
          overlapping.add(`${ni}|${a.text}`);
          overlapping.add(`${nj}|${b.text}`);
          skipped.push({ node: ni, reason: `podCIDR ${a.text} overlaps ${b.text} of node ${nj}` });
          skipped.push({ node: nj, reason: `podCIDR ${b.text} overlaps ${a.text} of node ${ni}` });
        }
      }
    }
  }
  if (opts.mode === 'none') return { routes, skipped, ownPodCidrs, ownUnderlay };

  for (const { node, cidrs } of remote) {
    const name = node.metadata.name;
    const ips = internalIpsOf(node);
    const underlay = underlayOf(node);
    for (const c of cidrs) {
      if (overlapping.has(`${name}|${c.text}`)) continue;
      const key = `${name}|${c.text}`;
      if (opts.mode === 'host-gw') {
        const via = ips.get(c.family);
        if (!via) {
          skipped.push({ node: name, reason: `no IPv${c.family} InternalIP for podCIDR ${c.text}` });
          continue;
        }
        routes.set(key, { key, node: name, podCidr: c.text, family: c.family, via });
      } else {
        if (!underlay || !ownUnderlay || familyOf(underlay) !== familyOf(ownUnderlay)) {
          skipped.push({ node: name, reason: `no InternalIP of this node's underlay family (IPv${ownUnderlay ? familyOf(ownUnderlay) : '?'}) for vxlan` });
          continue;
        }
        routes.set(key, { key, node: name, podCidr: c.text, family: c.family, via: nthAddress(c, 0), vxlan: { vtepMac: vtepMacFor(underlay), underlay } });
      }
    }
  }
  return { routes, skipped, ownPodCidrs, ownUnderlay };
}
