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
 * host: forwarding on, rp_filter loose and arp_announce 2 (VPP takes ARP only from its subnet) on vcni-hl1; this node's pod CIDRs are routed via VPP's side by the
 * reconciler (HostRoutes). The addresses come from config and must not collide with cluster ranges.
 */
import { z } from 'zod';
import type { CheckProblem, FoundObject, ObjectKind, StepRunner } from '../../objects/kind.js';
import type { HostCmd } from '../../linux/host-cmd.js';
import { createAfPacket, deleteAfPacket } from '../../vpp/af-packet.js';
import { addAddress, adminUp, interfaceByIndex, setMtu, setTag } from '../../vpp/interface.js';
import { addRoute, addStaticNeighbor, delRoute, delStaticNeighbor, enableIp6 } from '../../vpp/ip.js';
import type { NodeCtx, NodeInventory } from '../context.js';

export const HOST_LINK_TAG = 'vcni:node:hostlink';

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
      const sysctls = ['net.ipv4.ip_forward=1', 'net.ipv6.conf.all.forwarding=1', `net.ipv4.conf.${d.hostIf}.rp_filter=2`, `net.ipv4.conf.${d.hostIf}.arp_announce=2`];
      await h.run('sysctl', ['-q', '-w', ...sysctls]);
    });
    const swIfIndex = await tx.step(
      'host link af_packet_create_v3',
      () => createAfPacket(ctx.vpp, { hostIfName: d.vppIf, mac: d.vppMac, rxFrameSize: 2048, txFrameSize: 67584, rxFramesPerBlock: 64, txFramesPerBlock: 32, rxQueues: 1, txQueues: 1 }),
      () => deleteAfPacket(ctx.vpp, d.vppIf),
    );
    const made: MadeHostLink = { swIfIndex, ...d };
    await tx.step('host link tag', () => setTag(ctx.vpp, swIfIndex, HOST_LINK_TAG));
    await tx.step('host link mtu', () => setMtu(ctx.vpp, swIfIndex, d.mtu));
    await tx.step('host link admin up', () => adminUp(ctx.vpp, swIfIndex));
    await tx.step('host link addresses', async () => {
      for (const x of [d.ip4, d.ip6]) if (x) await addAddress(ctx.vpp, swIfIndex, `${x.vpp}/${x.len}`);
      if (d.ip6) await enableIp6(ctx.vpp, swIfIndex);
    });
    for (const n of neighbors(made)) await tx.step(`host link neighbor ${n.ip}`, () => addStaticNeighbor(ctx.vpp, n), () => delStaticNeighbor(ctx.vpp, n));
    for (const r of defaultRoutes(made)) await tx.step(`VPP default route ${r.prefix} via ${r.nh}`, () => addRoute(ctx.vpp, r), () => delRoute(ctx.vpp, r));
    return made;
  },

  async delete(ctx: HostLinkCtx, m: MadeHostLink): Promise<void> {
    for (const r of defaultRoutes(m)) await delRoute(ctx.vpp, r);
    for (const n of neighbors(m)) await delStaticNeighbor(ctx.vpp, n);
    await deleteAfPacket(ctx.vpp, m.vppIf);
    await deleteHostLinks(ctx.host, m.vppIf);
  },

  async check(ctx: HostLinkCtx, m: MadeHostLink): Promise<CheckProblem[]> {
    const d = await interfaceByIndex(ctx.vpp, m.swIfIndex);
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
