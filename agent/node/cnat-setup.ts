/**
 * VPP's cnat configuration around the Service translations, as Calico VPP makes it (reference sheet §3):
 *  - cnat_set_snat_addresses_v2: the node's addresses, sw_if_index ~0, flags NO_CLIENT | USE_AS_DEFAULT
 *    (until an entry with USE_AS_DEFAULT exists, every snat call answers FEATURE_DISABLED);
 *  - cnat_set_snat_policy K8S: no SNAT toward HOST interfaces, SNAT when a pod reaches itself through its
 *    Service (hairpin), SNAT of translated flows between non-POD interfaces;
 *  - excluded prefixes (cluster pod CIDRs, service CIDRs, node addresses): no SNAT toward them;
 *  - POD table: pod interfaces; HOST table: the host link;
 *  - feature_cnat_enable_disable on every one of those interfaces.
 * `apply` is idempotent and diffs excluded prefixes and interfaces against what it applied before (an excluded
 * prefix is a set member in VPP: one delete removes it).
 */
import { cnat } from '../../vpp-api/generated/index.js';
import type { VppApi } from '../pod/vpp-ops.js';

export interface CnatSetup {
  readonly snatIp4: string | undefined;
  readonly snatIp6: string | undefined;
  readonly excludePrefixes: readonly string[];
  readonly podInterfaces: readonly number[];
  readonly hostInterfaces: readonly number[];
}

const POD = cnat.CnatSnatPolicyTable.CNAT_POLICY_POD;
const HOST = cnat.CnatSnatPolicyTable.CNAT_POLICY_HOST;

export class CnatConfigurator {
  private applied: CnatSetup | undefined;

  constructor(private readonly vpp: Pick<VppApi, 'request'>) {}

  /** After a VPP restart everything is gone: the next apply starts from nothing. */
  forget(): void {
    this.applied = undefined;
  }

  async apply(want: CnatSetup): Promise<void> {
    const prev = this.applied;
    this.applied = undefined; // only what completed counts as applied
    if (!prev || prev.snatIp4 !== want.snatIp4 || prev.snatIp6 !== want.snatIp6) {
      await this.vpp.request(cnat.cnat_set_snat_addresses_v2, {
        snat_ip4: want.snatIp4 ?? '0.0.0.0',
        snat_ip6: want.snatIp6 ?? '::',
        sw_if_index: 0xffffffff,
        flags: cnat.CnatSnatPolicyFlags.CNAT_SNAT_POLICY_F_NO_CLIENT | cnat.CnatSnatPolicyFlags.CNAT_SNAT_POLICY_F_USE_AS_DEFAULT,
      });
      await this.vpp.request(cnat.cnat_set_snat_policy, { policy: cnat.CnatSnatPolicies.CNAT_POLICY_K8S });
    }
    const before = new Set(prev?.excludePrefixes ?? []);
    const after = new Set(want.excludePrefixes);
    for (const p of before) if (!after.has(p)) await this.vpp.request(cnat.cnat_snat_policy_add_del_exclude_pfx, { is_add: 0, prefix: p });
    for (const p of after) if (!before.has(p)) await this.vpp.request(cnat.cnat_snat_policy_add_del_exclude_pfx, { is_add: 1, prefix: p });
    for (const [table, was, now] of [
      [POD, prev?.podInterfaces ?? [], want.podInterfaces],
      [HOST, prev?.hostInterfaces ?? [], want.hostInterfaces],
    ] as const) {
      const w = new Set(was);
      const n = new Set(now);
      for (const i of w) {
        if (n.has(i)) continue;
        await this.vpp.request(cnat.cnat_snat_policy_add_del_if, { sw_if_index: i, is_add: 0, table });
      }
      for (const i of n) {
        if (w.has(i)) continue;
        await this.vpp.request(cnat.cnat_snat_policy_add_del_if, { sw_if_index: i, is_add: 1, table });
      }
    }
    const hadFeature = new Set([...(prev?.podInterfaces ?? []), ...(prev?.hostInterfaces ?? [])]);
    const wantFeature = new Set([...want.podInterfaces, ...want.hostInterfaces]);
    for (const i of hadFeature) if (!wantFeature.has(i)) await this.vpp.request(cnat.feature_cnat_enable_disable, { sw_if_index: i, enable_disable: false });
    for (const i of wantFeature) if (!hadFeature.has(i)) await this.vpp.request(cnat.feature_cnat_enable_disable, { sw_if_index: i, enable_disable: true });
    this.applied = { ...want, excludePrefixes: [...want.excludePrefixes], podInterfaces: [...want.podInterfaces], hostInterfaces: [...want.hostInterfaces] };
  }
}
