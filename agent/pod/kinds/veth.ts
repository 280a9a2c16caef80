/**
 * The veth kind: eth0 for nodes where VPP cannot make taps (no /dev/vhost-net). A veth pair is made with
 * one end created directly in the pod netns under the pod's interface name and the other kept in the
 * host netns under a name derived from the attachment (`vcni` + 11 hex digits, stable and unique);
 * VPP reads and writes the host end through an af_packet interface (`host-<name>`, ethernet mode:
 * a veth carries ethernet frames, which af_packet's IP mode would drop).
 *
 * The pod routes everything through a fixed link-local gateway pinned to VPP's MAC (as for a TAP), so it
 * never resolves its next hop; VPP reaches the pod's addresses through the af_packet interface, pinned to
 * the pod's MAC with static neighbors (see neighbors.ts: VPP could not resolve them), so neither side ever
 * sends ARP/ND. The pod end is an ethernet device whatever the spec's `isl3` says: `isl3: false` is
 * recorded (shown as L2) and changes nothing.
 *
 * The host end carries the owner tag (and the pod netns) in its ifalias, so a sweep or a rebuild can
 * find and judge it without a record.
 */
import { existsSync } from 'node:fs';
import { z } from 'zod';
import { addVethPair, disableAddrGen, hostLink, setAlias, setUp } from '../../linux/links.js';
import { CommandError, deleteLinkTolerant } from '../../linux/netns.js';
import { createAfPacket, deleteAfPacket } from '../../vpp/af-packet.js';
import { adminUp, interfaceByIndex, setMtu, setRxMode, setTag, setUnnumbered } from '../../vpp/interface.js';
import { hostPrefix, ipOf } from '../attachment.js';
import type { InterfaceSpec, RxMode } from '../interface-spec.js';
import { checkPodLink, configureInterface } from '../linux-side.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind } from './kind.js';
import { pinNeighbor, randomPodMac } from './neighbors.js';
import { interfaceSpec, linuxIfName, macAddress, swIfIndex, vppTag, type MadeRoute } from './parts.js';
import { addPodRoute } from './routes.js';
import { isVethHostName, parseVethAlias, vethAlias, vethAliasOwnedBy, vethHostName } from './veth-names.js';

export { isVethHostName, parseVethAlias, vethAlias, vethAliasOwnedBy, vethHostName, VETH_HOST_PREFIX } from './veth-names.js';

/**
 * eth0 as a veth pair: one end in the pod netns (`podIfName`, MAC `podMac`), the other on the host
 * (`hostIfName`, derived from the attachment) where VPP reads and writes it through an af_packet
 * interface (`host-<hostIfName>`, MAC `vppMac`, the pod's next hop). `l2` is what the spec asked
 * (`isl3: false`): shown, and nothing else — the pod end is ethernet and the pod's addresses are pinned
 * to `podMac` either way.
 */
export const madeVethSchema = z.object({
  swIfIndex,
  tag: vppTag,
  hostIfName: z.string().refine(isVethHostName, 'not a veth host end name of ours'),
  podIfName: linuxIfName,
  podMac: macAddress,
  vppMac: macAddress,
  l2: z.boolean(),
  spec: interfaceSpec,
});
export type MadeVeth = z.infer<typeof madeVethSchema>;

export interface VethDesired extends PodDesired {
  spec: InterfaceSpec;
}

const MAX_IFNAME = 15;
/** TPACKET_V3 rx ring: VPP uses 160 blocks of `frames per block` × 2048-byte frames. */
const RX_BLOCKS = 160;
/** 32 × 2048 bytes: a block holds a 64 KiB GSO packet. */
const RX_MIN_FRAMES_PER_BLOCK = 32;
/** One VPP vector. */
const TX_MAX_FRAMES = 256;

/**
 * af_packet ring geometry from the spec's ring sizes (TPACKET_V3, VPP's default frame sizes; rings are
 * locked memory, per pod):
 *  - rx: VPP uses 160 blocks of `frames per block` × 2048-byte frames. A block must hold a whole packet,
 *    and the pod's veth may hand over 64 KiB GSO packets: at least 32 frames per block (VPP's own default,
 *    10 MiB a ring); more when `rxqsz` asks for more than 160 × 32 frames.
 *  - tx: one block of 66 KiB frames (VPP copies a GSO packet into one frame unchecked, so the frame size
 *    stays). VPP fills at most one vector (256 packets) per tx call and kicks the kernel at its end, so
 *    `txqsz` frames, at most 256 (17 MiB; VPP's default of 1024 would lock 69 MiB per pod).
 * Counts are even: a block must be a whole number of 4 KiB pages.
 */
export function afPacketRings(spec: InterfaceSpec): { rxFramesPerBlock: number; txFramesPerBlock: number } {
  const even = (n: number): number => Math.max(2, Math.ceil(n / 2) * 2);
  return { rxFramesPerBlock: even(Math.max(RX_MIN_FRAMES_PER_BLOCK, Math.ceil(spec.rxqsz / RX_BLOCKS))), txFramesPerBlock: even(Math.min(spec.txqsz, TX_MAX_FRAMES)) };
}

/** af_packet has no adaptive rx mode (VPP refuses it); interrupt is its own default. */
export function afPacketRxMode(mode: RxMode): RxMode {
  return mode === 'adaptive' ? 'interrupt' : mode;
}

/** False when the host kernel runs without IPv6 (ipv6.disable=1): `addrgenmode` would be refused. */
function hostHasIpv6(): boolean {
  return existsSync('/proc/sys/net/ipv6');
}

export const vethKind: PodInterfaceKind<'veth', VethDesired, MadeVeth> = {
  name: 'veth',
  schema: madeVethSchema,
  async create(ctx, tx, { req, spec, shared }) {
    if (req.ifName.length > MAX_IFNAME || !/^[A-Za-z0-9_.-]+$/.test(req.ifName)) {
      throw new Error(`interface name "${req.ifName}" is not a valid Linux interface name (at most ${MAX_IFNAME} characters)`);
    }
    const loop = await tx.step('node loopback', () => ctx.node.unnumberedLoopback());
    const hostIfName = vethHostName(req.containerId, req.ifName);
    const tag = ctx.attachment.owner.mark('veth');
    const podMac = randomPodMac();
    const l2 = !spec.isl3;
    const batch = [
      // As many queues on each end as the spec gives VPP (the pod's stack spreads its flows over them).
      addVethPair({ name: hostIfName, peerName: req.ifName, peerNetns: req.netns, peerMac: podMac, mtu: ctx.cfg.mtu, rxQueues: spec.rx, txQueues: spec.tx }),
      setAlias(hostIfName, vethAlias(tag, req.containerId, req.netns)),
      // The host end is VPP's wire: no IPv6 link-local address, so no router solicitations or DAD from the
      // host stack. Netlink (NET_ADMIN), not a sysctl: /proc/sys is read-only in the agent's container.
      ...(hostHasIpv6() ? [disableAddrGen(hostIfName)] : []),
      setUp(hostIfName),
    ];
    await tx.step(
      'veth create',
      async () => {
        try {
          await ctx.netns.hostIpBatch(batch);
        } catch (e) {
          if (!(e instanceof CommandError && /File exists/.test(e.stderr))) throw e;
          // The derived name is this attachment's: a host end left by an earlier attempt (agent killed
          // mid-ADD, VPP restarted under a live pod) is replaced. A name someone else holds is not touched.
          // A link of that name without an alias is ours too: the kernel takes no alias with `link add`, so
          // an `ip -batch` cut short between its first two lines leaves exactly that.
          const old = await hostLink(ctx.netns, hostIfName);
          const mine = old && (old.alias === '' || vethAliasOwnedBy(old.alias, req.containerId, req.ifName));
          if (!mine) {
            throw new Error(`cannot make the veth pair ${hostIfName}/${req.ifName}: ${old ? `host interface ${hostIfName} exists and is not this attachment's (alias "${old.alias}")` : `${req.ifName} already exists in ${req.netns}`}`);
          }
          ctx.log.info({ step: 'veth create', hostIfName }, 'replacing the host end left by an earlier attempt');
          await deleteLinkTolerant(ctx.netns, undefined, hostIfName);
          await ctx.netns.hostIpBatch(batch);
        }
      },
      () => deleteLinkTolerant(ctx.netns, undefined, hostIfName),
    );
    const rings = afPacketRings(spec);
    const sw = await tx.step(
      'af_packet create',
      () => createAfPacket(ctx.vpp, { hostIfName, rxFramesPerBlock: rings.rxFramesPerBlock, txFramesPerBlock: rings.txFramesPerBlock, rxQueues: spec.rx, txQueues: spec.tx }),
      () => deleteAfPacket(ctx.vpp, hostIfName),
    );
    await tx.step('af_packet tag', () => setTag(ctx.vpp, sw, tag));
    // VPP gives an af_packet interface MTU 9000 whatever the veth's (seen on a real VPP): without this it
    // would send the pod frames its veth end drops.
    await tx.step('af_packet mtu', () => setMtu(ctx.vpp, sw, ctx.cfg.mtu));
    await tx.step('af_packet unnumbered', () => setUnnumbered(ctx.vpp, sw, loop));
    await tx.step('af_packet admin up', () => adminUp(ctx.vpp, sw));
    await tx.step('af_packet rx mode', () => setRxMode(ctx.vpp, sw, afPacketRxMode(spec.rxMode)));
    const vppMac = await tx.step('af_packet mac', async () => {
      const d = await interfaceByIndex(ctx.vpp, sw);
      if (!d) throw new Error(`af_packet sw_if_index ${sw} vanished`);
      return d.mac;
    });
    await tx.step('pod netns: configure ' + req.ifName, () =>
      configureInterface(ctx.netns, req.netns, { ifName: req.ifName, ips: req.ips, routes: req.routes, l2: { peerMac: vppMac } }),
    );
    for (const a of req.ips) {
      const ip = ipOf(a.address);
      await pinNeighbor(ctx, tx, shared, `neighbor ${ip} on af_packet`, { swIfIndex: sw, ip, mac: podMac });
      const route: MadeRoute = { prefix: hostPrefix(ip), tableId: 0, swIfIndex: sw, nh: ip };
      await addPodRoute(ctx, tx, shared, route, 'af_packet');
    }
    return { swIfIndex: sw, tag, hostIfName, podIfName: req.ifName, podMac, vppMac, l2, spec };
  },
  /** Removes the af_packet interface, then the pair (its pod end goes with it). Idempotent. Routes and neighbors go first (their kinds). */
  async delete(ctx, v) {
    await deleteAfPacket(ctx.vpp, v.hostIfName);
    await deleteLinkTolerant(ctx.netns, undefined, v.hostIfName);
  },
  async check(ctx, v) {
    const out: CheckProblem[] = [];
    const d = await interfaceByIndex(ctx.vpp, v.swIfIndex);
    if (!d) out.push({ object: `af_packet sw_if_index ${v.swIfIndex}`, problem: 'missing in VPP' });
    else {
      if (d.tag !== v.tag) out.push({ object: `af_packet ${d.name}`, problem: `tag is "${d.tag}", expected "${v.tag}"` });
      if (d.name !== `host-${v.hostIfName}`) out.push({ object: `af_packet sw_if_index ${v.swIfIndex}`, problem: `is ${d.name}, expected host-${v.hostIfName}` });
      if (!d.adminUp) out.push({ object: `af_packet ${d.name}`, problem: 'admin down' });
      if (d.mtu[0] !== ctx.cfg.mtu) out.push({ object: `af_packet ${d.name}`, problem: `VPP MTU ${d.mtu[0]}, expected the pod MTU ${ctx.cfg.mtu}` });
    }
    const host = await hostLink(ctx.netns, v.hostIfName);
    if (!host) out.push({ object: `host interface ${v.hostIfName}`, problem: 'missing' });
    else if (!host.up) out.push({ object: `host interface ${v.hostIfName}`, problem: 'link down' });
    out.push(...(await checkPodLink(ctx.netns, ctx.attachment.netns, v.podIfName, ctx.attachment.ips, v.podMac)));
    return out;
  },
  verify(_ctx, v, inv) {
    const out: CheckProblem[] = [];
    const what = `af_packet sw_if_index ${v.swIfIndex}`;
    const i = inv.interfaces.get(v.swIfIndex);
    if (!i) out.push({ object: what, problem: 'missing' });
    else if (i.tag !== v.tag) out.push({ object: what, problem: `has tag "${i.tag}", expected "${v.tag}"` });
    const a = inv.afPackets.get(v.swIfIndex);
    if (!a) out.push({ object: what, problem: 'not an af_packet' });
    else if (a.hostIfName !== v.hostIfName) out.push({ object: what, problem: `is on host interface ${a.hostIfName}, expected ${v.hostIfName}` });
    const host = inv.hostVeths.get(v.hostIfName);
    if (!host) out.push({ object: `veth host end ${v.hostIfName}`, problem: 'missing' });
    else if (host.tag !== v.tag) out.push({ object: `veth host end ${v.hostIfName}`, problem: `has alias "${host.alias}", expected tag "${v.tag}"` });
    return out;
  },
  /**
   * af_packets tagged by us as a pod's veth, on a host end whose alias is ours. The pod-side MAC is the
   * one the pod's addresses are pinned to; the spec is not in VPP's dumps (defaults shown).
   */
  owned(inv) {
    const out = [];
    for (const i of inv.interfaces.values()) {
      const a = inv.afPackets.get(i.swIfIndex);
      if (i.owner?.kind !== 'veth' || !a) continue;
      const host = inv.hostVeths.get(a.hostIfName);
      if (!host?.owner || parseVethAlias(host.alias)?.tag !== i.tag) continue;
      const podMac = inv.neighbors.find((n) => n.swIfIndex === i.swIfIndex)?.mac ?? '00:00:00:00:00:00';
      const made: MadeVeth = {
        swIfIndex: i.swIfIndex,
        tag: i.tag,
        hostIfName: a.hostIfName,
        podIfName: i.owner.ifName,
        podMac,
        vppMac: i.mac,
        l2: false,
        spec: { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024, isl3: true, rxMode: 'interrupt' },
      };
      out.push({ owner: `${i.owner.cid}:${i.owner.ifName}`, made, describe: `af_packet ${i.name} on ${a.hostIfName} (${i.tag})` });
    }
    return out;
  },
};
