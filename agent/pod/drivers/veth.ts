/**
 * veth driver: eth0 for nodes where VPP cannot make taps (no /dev/vhost-net). A veth pair is made with
 * one end created directly in the pod netns under the pod's interface name and the other kept in the
 * host netns under a name derived from the attachment (`vcni` + 11 hex digits, stable and unique);
 * VPP reads and writes the host end through an af_packet interface (`host-<name>`, ethernet mode:
 * a veth carries ethernet frames, which af_packet's IP mode would drop).
 *
 * The pod routes everything through a fixed link-local gateway pinned to VPP's MAC (as for a TAP), so it
 * never resolves its next hop; VPP reaches the pod's addresses through the af_packet interface, pinned to
 * the pod's MAC with static neighbors (see pinned.ts: VPP could not resolve them), so neither side ever
 * sends ARP/ND. The pod end is an ethernet device whatever the spec's `isl3` says: `isl3: false` is
 * recorded (shown as L2) and changes nothing.
 *
 * The host end carries the owner tag (and the pod netns) in its ifalias, so a sweep or a rebuild can
 * find and judge it without a record.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as afp from '../../../vpp-api/generated/af_packet.js';
import { AfPacketFlags, AfPacketMode } from '../../../vpp-api/generated/af_packet.js';
import { CommandError, deleteLinkTolerant, isLinkGone } from '../../linux/netns.js';
import { hostPrefix, ipOf, type AttachRequest, type MadeObjects, type MadeRoute, type MadeVeth } from '../attachment.js';
import type { InterfaceSpec, RxMode } from '../interface-spec.js';
import { checkPodLink, configureInterface } from '../linux-side.js';
import { makeTag, shortContainerId, tagOwnedBy } from '../tags.js';
import type { Transaction } from '../transaction.js';
import { addRoute, adminUp, deleteTolerant, delRoute, interfaceByIndex, setRxMode, setTag, setUnnumbered } from '../vpp-ops.js';
import type { CheckProblem, DriverContext } from './context.js';
import { pinNeighbor, randomPodMac } from './pinned.js';

const MAX_IFNAME = 15;
export const VETH_HOST_PREFIX = 'vcni';
const HOST_NAME_RE = /^vcni[0-9a-f]{11}$/;
/** af_packet_delete of a host interface VPP does not know answers SYSCALL_ERROR_1. */
const AF_PACKET_UNKNOWN = -11;
/** TPACKET_V3 rx ring: VPP uses 160 blocks of `frames per block` × 2048-byte frames. */
const RX_BLOCKS = 160;
/** 32 × 2048 bytes: a block holds a 64 KiB GSO packet. */
const RX_MIN_FRAMES_PER_BLOCK = 32;
/** One VPP vector. */
const TX_MAX_FRAMES = 256;

/** The host end's name: `vcni` + 11 hex digits of a hash of (12-character container id, interface name). */
export function vethHostName(containerId: string, ifName: string): string {
  const h = createHash('sha256').update(`${shortContainerId(containerId)}/${ifName}`).digest('hex');
  return `${VETH_HOST_PREFIX}${h.slice(0, 11)}`;
}

/** True for names our veth driver gives host ends. */
export function isVethHostName(name: string): boolean {
  return HOST_NAME_RE.test(name);
}

/**
 * ifalias of a host end: the owner tag, the full container id (the tag holds 12 characters of it, and so
 * does the derivation of the name: two containers sharing them must not take each other's pair), then the
 * pod netns, last (`<tag>,cid=<container id>,netns=<path>`).
 */
export function vethAlias(tag: string, containerId: string, netns: string): string {
  return `${tag},cid=${containerId},netns=${netns}`;
}

/** The tag, container id and netns an ifalias carries (undefined when it is not one of ours). */
export function parseVethAlias(alias: string): { tag: string; cid?: string; netns?: string } | undefined {
  if (!alias.startsWith('vcni:')) return undefined;
  const n = alias.indexOf(',netns=');
  const head = n < 0 ? alias : alias.slice(0, n);
  const c = head.indexOf(',cid=');
  const out: { tag: string; cid?: string; netns?: string } = { tag: c < 0 ? head : head.slice(0, c) };
  if (c >= 0) out.cid = head.slice(c + ',cid='.length);
  if (n >= 0) out.netns = alias.slice(n + ',netns='.length);
  return out;
}

/**
 * True when an ifalias names the attachment (container, interface): its tag's owner, and its full container
 * id when it carries one — equal, or starting with a record's 12-character id (a record rebuilt from tags).
 */
export function vethAliasOwnedBy(alias: string, containerId: string, ifName: string): boolean {
  const a = parseVethAlias(alias);
  if (!a || !tagOwnedBy(a.tag, containerId, ifName)) return false;
  return a.cid === undefined || a.cid === containerId || (containerId.length < a.cid.length && a.cid.startsWith(containerId));
}

/** A locally administered unicast MAC for the pod end (known before the pair exists: no read back). */
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

/** The ifalias of a host link, undefined when there is no such link. */
async function hostLinkAlias(ctx: DriverContext, name: string): Promise<{ alias: string; up: boolean } | undefined> {
  try {
    const links = (await ctx.netns.hostIpJson(['link', 'show', 'dev', name])) as { ifalias?: string; flags?: string[] }[];
    const l = links[0];
    return l ? { alias: l.ifalias ?? '', up: (l.flags ?? []).includes('UP') } : undefined;
  } catch (e) {
    if (isLinkGone(e)) return undefined;
    throw e;
  }
}

export async function createVeth(ctx: DriverContext, tx: Transaction, req: AttachRequest, spec: InterfaceSpec, made: MadeObjects): Promise<MadeVeth> {
  if (req.ifName.length > MAX_IFNAME || !/^[A-Za-z0-9_.-]+$/.test(req.ifName)) {
    throw new Error(`interface name "${req.ifName}" is not a valid Linux interface name (at most ${MAX_IFNAME} characters)`);
  }
  const loop = await tx.step('node loopback', () => ctx.node.unnumberedLoopback());
  const hostIfName = vethHostName(req.containerId, req.ifName);
  const tag = makeTag({ containerId: req.containerId, ifName: req.ifName, podNamespace: req.pod.namespace, podName: req.pod.name }, 'veth');
  const podMac = randomPodMac();
  const l2 = !spec.isl3;
  const mtu = String(ctx.cfg.mtu);
  const alias = vethAlias(tag, req.containerId, req.netns);
  const queues = ['numtxqueues', String(spec.tx), 'numrxqueues', String(spec.rx)];
  const batch = [
    // As many queues on each end as the spec gives VPP (the pod's stack spreads its flows over them).
    ['link', 'add', hostIfName, 'mtu', mtu, ...queues, 'type', 'veth', 'peer', 'name', req.ifName, 'mtu', mtu, ...queues, 'address', podMac, 'netns', req.netns],
    ['link', 'set', 'dev', hostIfName, 'alias', alias],
    // The host end is VPP's wire: no IPv6 link-local address, so no router solicitations or DAD from the
    // host stack. Netlink (NET_ADMIN), not a sysctl: /proc/sys is read-only in the agent's container.
    ...(hostHasIpv6() ? [['link', 'set', 'dev', hostIfName, 'addrgenmode', 'none']] : []),
    ['link', 'set', 'dev', hostIfName, 'up'],
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
        const old = await hostLinkAlias(ctx, hostIfName);
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
  const swIfIndex = await tx.step(
    'af_packet create',
    async () => {
      const r = await ctx.vpp.request(afp.af_packet_create_v3, {
        mode: AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
        hw_addr: '00:00:00:00:00:00',
        use_random_hw_addr: true,
        host_if_name: hostIfName,
        rx_frame_size: 0,
        tx_frame_size: 0,
        rx_frames_per_block: rings.rxFramesPerBlock,
        tx_frames_per_block: rings.txFramesPerBlock,
        // As VPP's own defaults for v1/v2: qdisc bypass, and the virtio-net header so packets the pod
        // sends with partial checksums (veth offloads) are completed instead of forwarded broken.
        flags: AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO,
        num_rx_queues: spec.rx,
        num_tx_queues: spec.tx,
      });
      return r.sw_if_index;
    },
    () => deleteTolerant(() => ctx.vpp.request(afp.af_packet_delete, { host_if_name: hostIfName }), [AF_PACKET_UNKNOWN]),
  );
  const veth: MadeVeth = { swIfIndex, tag, hostIfName, podIfName: req.ifName, podMac, vppMac: '', l2, spec };
  made.veth = veth;
  await tx.step('af_packet tag', () => setTag(ctx.vpp, swIfIndex, tag));
  await tx.step('af_packet unnumbered', () => setUnnumbered(ctx.vpp, swIfIndex, loop));
  await tx.step('af_packet admin up', () => adminUp(ctx.vpp, swIfIndex));
  await tx.step('af_packet rx mode', () => setRxMode(ctx.vpp, swIfIndex, afPacketRxMode(spec.rxMode)));
  veth.vppMac = await tx.step('af_packet mac', async () => {
    const d = await interfaceByIndex(ctx.vpp, swIfIndex);
    if (!d) throw new Error(`af_packet sw_if_index ${swIfIndex} vanished`);
    return d.l2_address;
  });
  await tx.step('pod netns: configure ' + req.ifName, () =>
    configureInterface(ctx.netns, req.netns, { ifName: req.ifName, ips: req.ips, routes: req.routes, l2: { peerMac: veth.vppMac } }),
  );
  for (const a of req.ips) {
    const ip = ipOf(a.address);
    await pinNeighbor(ctx, tx, made, `neighbor ${ip} on af_packet`, { swIfIndex, ip, mac: podMac });
    const route: MadeRoute = { prefix: hostPrefix(ip), tableId: 0, swIfIndex, nh: ip };
    await tx.step(`route ${route.prefix} via af_packet`, () => addRoute(ctx.vpp, route), () => delRoute(ctx.vpp, route));
    made.routes.push(route);
  }
  return veth;
}

/** Removes the af_packet interface, then the pair (its pod end goes with it). Idempotent. Routes and neighbors go first (caller). */
export async function deleteVeth(ctx: DriverContext, v: MadeVeth): Promise<void> {
  await deleteTolerant(() => ctx.vpp.request(afp.af_packet_delete, { host_if_name: v.hostIfName }), [AF_PACKET_UNKNOWN]);
  await deleteLinkTolerant(ctx.netns, undefined, v.hostIfName);
}

export async function checkVeth(ctx: DriverContext, netns: string, v: MadeVeth, ips: string[]): Promise<CheckProblem[]> {
  const out: CheckProblem[] = [];
  const d = await interfaceByIndex(ctx.vpp, v.swIfIndex);
  if (!d) out.push({ object: `af_packet sw_if_index ${v.swIfIndex}`, problem: 'missing in VPP' });
  else {
    if (d.tag !== v.tag) out.push({ object: `af_packet ${d.interface_name}`, problem: `tag is "${d.tag}", expected "${v.tag}"` });
    if (d.interface_name !== `host-${v.hostIfName}`) out.push({ object: `af_packet sw_if_index ${v.swIfIndex}`, problem: `is ${d.interface_name}, expected host-${v.hostIfName}` });
    if ((d.flags & 1) === 0) out.push({ object: `af_packet ${d.interface_name}`, problem: 'admin down' });
  }
  const host = await hostLinkAlias(ctx, v.hostIfName);
  if (!host) out.push({ object: `host interface ${v.hostIfName}`, problem: 'missing' });
  else if (!host.up) out.push({ object: `host interface ${v.hostIfName}`, problem: 'link down' });
  out.push(...(await checkPodLink(ctx.netns, netns, v.podIfName, ips, v.podMac)));
  return out;
}
