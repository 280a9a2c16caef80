/**
 * The host link: the one link between VPP and the node's own network stack, made as a veth pair in the
 * agent's netns with a VPP af_packet interface on one end (works where VPP cannot make taps; a tap variant
 * is for later). Ours by the VPP tag and the links' ifalias `vcni:node:hostlink`.
 *
 *   VPP  host-vcni-hl0 (af_packet on vcni-hl0, MAC vppMac)  169.254.100.1/30  [fd00:ffff::1/126]
 *         │ veth
 *   host vcni-hl1 (MAC hostMac)                              169.254.100.2/30  [fd00:ffff::2/126]
 *
 * In VPP: static neighbors for the host side, default routes (IPv4, IPv6) via the host side, the MTU. On the
 * host: forwarding on, rp_filter loose on vcni-hl1; this node's pod CIDRs are routed via VPP's side by the
 * reconciler (HostRoutes). The addresses come from config and must not collide with cluster ranges.
 */
import { z } from 'zod';
import { af_packet as afp, interface_ as iface, ip } from '../../../vpp-api/generated/index.js';
import { AfPacketFlags, AfPacketMode } from '../../../vpp-api/generated/af_packet.js';
import type { CheckProblem, FoundObject, ObjectKind, StepRunner } from '../../objects/kind.js';
import type { HostCmd } from '../../linux/host-cmd.js';
import { addNeighbor, addRoute, adminUp, delNeighbor, delRoute, deleteTolerant, setTag } from '../../pod/vpp-ops.js';
import type { NodeCtx, NodeInventory } from '../context.js';

export const HOST_LINK_TAG = 'vcni:node:hostlink';
/** af_packet_delete of a host interface VPP does not know answers SYSCALL_ERROR_1. */
const AF_PACKET_UNKNOWN = -11;

const side = z.strictObject({ vpp: z.string(), host: z.string(), len: z.number().int().min(1).max(128) });

export const hostLinkSchema = z.strictObject({
  swIfIndex: z.number().int().min(0),
  vppIf: z.string().min(1).max(15),
  hostIf: z.string().min(1).max(15),
  vppMac: z.string(),
  hostMac: z.string(),
  mtu: z.number().int().min(576).max(9216),
  ip4: side.optional(),
  ip6: side.optional(),
});
export type MadeHostLink = z.infer<typeof hostLinkSchema>;
export type HostLinkSpec = Omit<MadeHostLink, 'swIfIndex'>;

export interface HostLinkCtx extends NodeCtx {
  readonly host: HostCmd;
}

function defaultRoutes(m: MadeHostLink): { prefix: string; tableId: number; swIfIndex: number; nh: string }[] {
  const out: { prefix: string; tableId: number; swIfIndex: number; nh: string }[] = [];
  if (m.ip4) out.push({ prefix: '0.0.0.0/0', tableId: 0, swIfIndex: m.swIfIndex, nh: m.ip4.host });
  if (m.ip6) out.push({ prefix: '::/0', tableId: 0, swIfIndex: m.swIfIndex, nh: m.ip6.host });
  return out;
}

function neighbors(m: MadeHostLink): { swIfIndex: number; ip: string; mac: string }[] {
  return [m.ip4, m.ip6].filter((x): x is z.infer<typeof side> => x !== undefined).map((x) => ({ swIfIndex: m.swIfIndex, ip: x.host, mac: m.hostMac }));
}

async function deleteHostLinks(host: HostCmd, vppIf: string): Promise<void> {
  try {
    await host.run('ip', ['link', 'del', 'dev', vppIf]);
  } catch (e) {
    if (!/Cannot find device|does not exist/i.test((e as Error).message)) throw e;
  }
}

export const hostLinkKind: ObjectKind<HostLinkCtx, HostLinkSpec, MadeHostLink, NodeInventory> = {
  name: 'hostLink',
  schema: hostLinkSchema,

  async create(ctx: HostLinkCtx, tx: StepRunner, d: HostLinkSpec): Promise<MadeHostLink> {
    const h = ctx.host;
    await tx.step(
      'host link veth pair',
      async () => {
        await h.run('ip', ['link', 'add', d.vppIf, 'mtu', String(d.mtu), 'type', 'veth', 'peer', 'name', d.hostIf, 'mtu', String(d.mtu)]);
        for (const [name, extra] of [[d.vppIf, []], [d.hostIf, ['address', d.hostMac]]] as const) {
          await h.run('ip', ['link', 'set', 'dev', name, 'alias', HOST_LINK_TAG, ...extra, 'up']);
        }
      },
      () => deleteHostLinks(h, d.vppIf),
    );
    await tx.step('host link host side', async () => {
      if (d.ip4) await h.run('ip', ['addr', 'replace', `${d.ip4.host}/${d.ip4.len}`, 'dev', d.hostIf]);
      if (d.ip6) await h.run('ip', ['-6', 'addr', 'replace', `${d.ip6.host}/${d.ip6.len}`, 'dev', d.hostIf, 'nodad']);
      const sysctls = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', `net.ipv4.conf.${d.hostIf}.rp_filter=2`];
      await h.run('sysctl', ['-q', '-w', ...sysctls]);
    });
    const swIfIndex = await tx.step(
      'host link af_packet_create_v3',
      async () =>
        (
          await ctx.vpp.request(afp.af_packet_create_v3, {
            mode: AfPacketMode.AF_PACKET_API_MODE_ETHERNET,
            hw_addr: d.vppMac,
            use_random_hw_addr: false,
            host_if_name: d.vppIf,
            rx_frame_size: 2048,
            tx_frame_size: 67584,
            rx_frames_per_block: 64,
            tx_frames_per_block: 32,
            flags: AfPacketFlags.AF_PACKET_API_FLAG_QDISC_BYPASS | AfPacketFlags.AF_PACKET_API_FLAG_CKSUM_GSO,
            num_rx_queues: 1,
            num_tx_queues: 1,
          })
        ).sw_if_index,
      () => deleteTolerant(() => ctx.vpp.request(afp.af_packet_delete, { host_if_name: d.vppIf }), [AF_PACKET_UNKNOWN]),
    );
    const made: MadeHostLink = { swIfIndex, ...d };
    await tx.step('host link tag', () => setTag(ctx.vpp, swIfIndex, HOST_LINK_TAG));
    await tx.step('host link mtu', async () => {
      await ctx.vpp.request(iface.sw_interface_set_mtu, { sw_if_index: swIfIndex, mtu: [d.mtu, 0, 0, 0] });
    });
    await tx.step('host link admin up', () => adminUp(ctx.vpp, swIfIndex));
    await tx.step('host link addresses', async () => {
      for (const x of [d.ip4, d.ip6]) if (x) await ctx.vpp.request(iface.sw_interface_add_del_address, { sw_if_index: swIfIndex, is_add: true, prefix: `${x.vpp}/${x.len}` });
      if (d.ip6) await ctx.vpp.request(ip.sw_interface_ip6_enable_disable, { sw_if_index: swIfIndex, enable: true });
    });
    for (const n of neighbors(made)) await tx.step(`host link neighbor ${n.ip}`, () => addNeighbor(ctx.vpp, n), () => delNeighbor(ctx.vpp, n));
    for (const r of defaultRoutes(made)) await tx.step(`VPP default route ${r.prefix} via ${r.nh}`, () => addRoute(ctx.vpp, r), () => delRoute(ctx.vpp, r));
    return made;
  },

  async delete(ctx: HostLinkCtx, m: MadeHostLink): Promise<void> {
    for (const r of defaultRoutes(m)) await delRoute(ctx.vpp, r);
    for (const n of neighbors(m)) await delNeighbor(ctx.vpp, n);
    await deleteTolerant(() => ctx.vpp.request(afp.af_packet_delete, { host_if_name: m.vppIf }), [AF_PACKET_UNKNOWN]);
    await deleteHostLinks(ctx.host, m.vppIf);
  },

  async check(ctx: HostLinkCtx, m: MadeHostLink): Promise<CheckProblem[]> {
    const ifs = await ctx.vpp.dumpAll(iface.sw_interface_dump, { sw_if_index: m.swIfIndex });
    const d = ifs.find((i) => i.sw_if_index === m.swIfIndex);
    const out: CheckProblem[] = [];
    if (!d || d.tag !== HOST_LINK_TAG) out.push({ object: `host link ${m.vppIf} (sw_if_index ${m.swIfIndex})`, problem: d ? `tag is ${JSON.stringify(d.tag)}` : 'missing in VPP' });
    else if (d.mtu[0] !== m.mtu) out.push({ object: `host link ${m.vppIf}`, problem: `VPP MTU ${d.mtu[0]}, expected ${m.mtu}` });
    return out;
  },

  verify(_ctx: HostLinkCtx, m: MadeHostLink, inv: NodeInventory): CheckProblem[] {
    const d = inv.vppInterfaces?.find((i) => i.swIfIndex === m.swIfIndex);
    if (!d || d.tag !== HOST_LINK_TAG) return [{ object: `host link ${m.vppIf} (sw_if_index ${m.swIfIndex})`, problem: d ? `tag is ${JSON.stringify(d.tag)}` : 'missing in VPP' }];
    return [];
  },

  owned(inv: NodeInventory): FoundObject<MadeHostLink>[] {
    return (inv.vppInterfaces ?? [])
      .filter((i) => i.tag === HOST_LINK_TAG)
      .map((i) => ({
        owner: undefined,
        // Enough for delete: the af_packet's host interface (`host-<name>`) and its veth.
        made: { swIfIndex: i.swIfIndex, vppIf: i.name.replace(/^host-/, ''), hostIf: '', vppMac: '', hostMac: '', mtu: 1500 },
        describe: `host link ${i.name} (sw_if_index ${i.swIfIndex}, ${HOST_LINK_TAG})`,
      }));
  },
};
