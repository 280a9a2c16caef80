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
import type { VppApi } from '../vpp/api.js';
import { setCnatFeature, setSnatAddresses, setSnatExcluded, setSnatInterface, setSnatPolicyK8s } from '../vpp/cnat.js';

export interface CnatSetup {
  readonly snatIp4: string | undefined;
  readonly snatIp6: string | undefined;
  readonly excludePrefixes: readonly string[];
  readonly podInterfaces: readonly number[];
  readonly hostInterfaces: readonly number[];
}

export class CnatConfigurator {
  private applied: CnatSetup | undefined;

  constructor(private readonly vpp: Pick<VppApi, 'request'>) {}

  /** What was applied last (undefined: nothing known to be applied). */
  get current(): CnatSetup | undefined {
    return this.applied;
  }

  /**
   * Takes `setup` as applied without a call (agent restart with the same VPP: the node checkpoint says it was
   * applied and the host link, made after it, verified): the next apply sends only the difference.
   */
  assume(setup: CnatSetup): void {
    this.applied = { ...setup, excludePrefixes: [...setup.excludePrefixes], podInterfaces: [...setup.podInterfaces], hostInterfaces: [...setup.hostInterfaces] };
  }

  /** After a VPP restart everything is gone: the next apply starts from nothing. */
  forget(): void {
    this.applied = undefined;
  }

  async apply(want: CnatSetup): Promise<void> {
    const prev = this.applied;
    this.applied = undefined; // only what completed counts as applied
    if (!prev || prev.snatIp4 !== want.snatIp4 || prev.snatIp6 !== want.snatIp6) {
      await setSnatAddresses(this.vpp, want.snatIp4, want.snatIp6);
      await setSnatPolicyK8s(this.vpp);
    }
    const before = new Set(prev?.excludePrefixes ?? []);
    const after = new Set(want.excludePrefixes);
    for (const p of before) if (!after.has(p)) await setSnatExcluded(this.vpp, p, false);
    for (const p of after) if (!before.has(p)) await setSnatExcluded(this.vpp, p, true);
    for (const [table, was, now] of [
      ['pod', prev?.podInterfaces ?? [], want.podInterfaces],
      ['host', prev?.hostInterfaces ?? [], want.hostInterfaces],
    ] as const) {
      const w = new Set(was);
      const n = new Set(now);
      for (const i of w) {
        if (n.has(i)) continue;
        await setSnatInterface(this.vpp, i, table, false);
      }
      for (const i of n) {
        if (w.has(i)) continue;
        await setSnatInterface(this.vpp, i, table, true);
      }
    }
    const hadFeature = new Set([...(prev?.podInterfaces ?? []), ...(prev?.hostInterfaces ?? [])]);
    const wantFeature = new Set([...want.podInterfaces, ...want.hostInterfaces]);
    for (const i of hadFeature) if (!wantFeature.has(i)) await setCnatFeature(this.vpp, i, false);
    for (const i of wantFeature) if (!hadFeature.has(i)) await setCnatFeature(this.vpp, i, true);
    this.applied = { ...want, excludePrefixes: [...want.excludePrefixes], podInterfaces: [...want.podInterfaces], hostInterfaces: [...want.hostInterfaces] };
  }
}
