/**
 * The pod-cnat kind: with Services translated in VPP (VPPCNI_SERVICES on and the node dataplane running), the
 * pod's eth0 (tap or veth's af_packet) joins cnat's K8S POD table (`cnat_snat_policy_add_del_if`) and gets the
 * cnat feature (`feature_cnat_enable_disable`), so that its Service traffic is translated and SNATed as the K8S
 * policy says; DEL takes both away before the interface goes. Off (no slice) when Services are not in VPP.
 * Ours by the interface's owner tag: `owned` lists the tagged interfaces `show cnat snat-policy` names in the POD
 * table (VPP has no dump of that table). The cnat feature cannot be read back by the API: verify and check look
 * at the POD table.
 */
import { z } from 'zod';
import { listSnatPolicyInterfaces, removeSnatInterface, disableCnatFeature, setCnatFeature, setSnatInterface } from '../../vpp/cnat.js';
import { interfaceByIndex } from '../../vpp/interface.js';
import type { CheckProblem } from './context.js';
import type { PodDesired, PodInterfaceKind } from './kind.js';
import { swIfIndex } from './parts.js';

const madePodCnatSchema = z.array(z.strictObject({ swIfIndex }));
export type MadePodCnat = z.infer<typeof madePodCnatSchema>;

/** eth0's interfaces in VPP: a tap, or a veth's af_packet (memifs stay out of cnat). */
const ETH0 = new Set(['tap', 'af_packet']);

export const podCnatKind: PodInterfaceKind<'cnat', PodDesired, MadePodCnat> = {
  name: 'cnat',
  schema: madePodCnatSchema,
  select: (_req, ctx) => (ctx.cfg.servicesInVpp ? {} : undefined),

  async create(ctx, tx, d) {
    const out: MadePodCnat = [];
    for (const i of (d.interfaces ?? []).filter((x) => x.name !== undefined && ETH0.has(x.name))) {
      const sw = i.swIfIndex;
      await tx.step(`cnat POD table (${i.name} ${sw})`, () => setSnatInterface(ctx.vpp, sw, 'pod', true), () => removeSnatInterface(ctx.vpp, sw, 'pod'));
      await tx.step(`cnat feature (${i.name} ${sw})`, () => setCnatFeature(ctx.vpp, sw, true), () => disableCnatFeature(ctx.vpp, sw));
      out.push({ swIfIndex: sw });
    }
    return out;
  },

  async delete(ctx, made) {
    const failures: string[] = [];
    for (const m of made) {
      try {
        await disableCnatFeature(ctx.vpp, m.swIfIndex);
        await removeSnatInterface(ctx.vpp, m.swIfIndex, 'pod');
      } catch (e) {
        failures.push(`cnat on sw_if_index ${m.swIfIndex}: ${(e as Error).message}`);
      }
    }
    if (failures.length > 0) throw new Error(failures.join('; '));
  },

  async check(ctx, made) {
    if (made.length === 0) return [];
    const tables = await listSnatPolicyInterfaces(ctx.vpp);
    const out: CheckProblem[] = [];
    for (const m of made) {
      const itf = await interfaceByIndex(ctx.vpp, m.swIfIndex);
      if (!itf) out.push({ object: `cnat POD table entry ${m.swIfIndex}`, problem: 'interface missing in VPP' });
      else if (!tables?.pod.includes(itf.name)) out.push({ object: `cnat POD table entry ${itf.name}`, problem: 'not in the POD table' });
    }
    return out;
  },

  verify(_ctx, made, inv) {
    return made
      .filter((m) => !inv.cnatPodInterfaces?.has(m.swIfIndex))
      .map((m) => ({ object: `cnat POD table entry sw_if_index ${m.swIfIndex}`, problem: inv.cnatPodInterfaces ? 'not in the POD table' : 'cnat POD table not readable' }));
  },

  owned(inv) {
    const byOwner = new Map<string, MadePodCnat>();
    for (const sw of inv.cnatPodInterfaces ?? []) {
      const o = inv.interfaces.get(sw)?.owner;
      if (!o) continue;
      const k = `${o.cid}:${o.ifName}`;
      byOwner.set(k, [...(byOwner.get(k) ?? []), { swIfIndex: sw }]);
    }
    return [...byOwner].map(([owner, made]) => ({ owner, made, describe: `cnat POD table entries ${made.map((m) => m.swIfIndex).join(', ')}` }));
  },
};
