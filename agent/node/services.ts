/**
 * Services + EndpointSlices → the cnat translations VPP should hold (pod-originated Service traffic), as a
 * pure function. One translation per (VIP, port, protocol): VIPs are the ClusterIPs (every family) and the
 * externalIPs; paths are the endpoints of the same family:
 *  - ready endpoints; only when none is ready, the serving-but-terminating ones (kube-proxy's rule);
 *  - the target port per EndpointSlice (the slice port with the Service port's name: named target ports are
 *    resolved by the endpoints controller, per slice);
 *  - internalTrafficPolicy Local: only endpoints on this node;
 *  - never zero paths (VPP aborts on a translation without paths): no backend ⇒ no translation, with a reason;
 *  - at most `maxBackends` paths (sorted, deterministic), with a warning when more were ready.
 * Headless and ExternalName Services are ignored; sessionAffinity ClientIP (cnat has none) gives a warning.
 * NodePort / LoadBalancer traffic from outside stays with kube-proxy in the host.
 */
import { canonicalAddress, familyOf, type Family } from './cidr.js';
import { keyOf, sliceServiceKey, type KubeEndpointSlice, type KubeService } from './kube-objects.js';

export type L4Protocol = 'TCP' | 'UDP' | 'SCTP';

/** IANA protocol numbers (cnat's ip_proto). */
export const IP_PROTO: Readonly<Record<L4Protocol, number>> = { TCP: 6, UDP: 17, SCTP: 132 };

export interface Backend {
  readonly addr: string;
  readonly port: number;
}

export interface TranslationSpec {
  /** `vip|port|proto`: identifies the translation (VPP keys it the same way). */
  readonly key: string;
  /** `namespace/name` of the Service. */
  readonly service: string;
  readonly vip: string;
  readonly family: Family;
  readonly port: number;
  readonly protocol: L4Protocol;
  /** Sorted by address then port; never empty. */
  readonly backends: readonly Backend[];
}

export interface ServiceNote {
  readonly service: string;
  readonly reason: string;
}

export interface DesiredServices {
  /** By key. */
  readonly translations: ReadonlyMap<string, TranslationSpec>;
  /** Services (or Service ports/VIPs) not programmed, with the reason. */
  readonly skipped: readonly ServiceNote[];
  /** Programmed with a caveat (sessionAffinity, truncated backends). */
  readonly warnings: readonly ServiceNote[];
}

export interface ServiceOptions {
  /** This node (internalTrafficPolicy Local). */
  readonly nodeName: string;
  /** Most paths in one translation (default 4096). */
  readonly maxBackends?: number;
}

export const DEFAULT_MAX_BACKENDS = 4096;

export function translationKey(vip: string, port: number, protocol: L4Protocol): string {
  return `${vip}|${port}|${protocol}`;
}

function protocolOf(p: string | null | undefined): L4Protocol | undefined {
  const v = p ?? 'TCP';
  return v === 'TCP' || v === 'UDP' || v === 'SCTP' ? v : undefined;
}

function compareBackends(a: Backend, b: Backend): number {
  return a.addr < b.addr ? -1 : a.addr > b.addr ? 1 : a.port - b.port;
}

/** Groups EndpointSlices by `namespace/service`. */
export function slicesByService(slices: Iterable<KubeEndpointSlice>): Map<string, KubeEndpointSlice[]> {
  const out = new Map<string, KubeEndpointSlice[]>();
  for (const s of slices) {
    const k = sliceServiceKey(s);
    if (k === undefined) continue;
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(s);
  }
  return out;
}

interface Candidate {
  readonly backend: Backend;
  readonly ready: boolean;
  readonly servingTerminating: boolean;
  readonly local: boolean;
}

/** The backends of one Service port in one family, or a reason why there are none. */
export function backendsFor(
  svcPort: { name?: string | null | undefined; protocol?: string | null | undefined },
  family: Family,
  slices: readonly KubeEndpointSlice[],
  localOnly: boolean,
  nodeName: string,
): { backends: Backend[]; unresolved: number } | { reason: string } {
  const wantName = svcPort.name ?? '';
  const protocol = protocolOf(svcPort.protocol);
  const cands: Candidate[] = [];
  let unresolved = 0;
  for (const slice of slices) {
    if (slice.addressType !== (family === 4 ? 'IPv4' : 'IPv6')) continue;
    const sp = (slice.ports ?? []).find((p) => (p.name ?? '') === wantName && protocolOf(p.protocol) === protocol);
    const endpoints = slice.endpoints ?? [];
    if (!sp || sp.port === null || sp.port === undefined || sp.port < 1 || sp.port > 65535) {
      // The slice has no resolved port for this Service port (e.g. a named targetPort no pod declares).
      unresolved += endpoints.length;
      continue;
    }
    for (const ep of endpoints) {
      const c = ep.conditions ?? {};
      // discovery/v1: an unset ready/serving means ready/serving; unset terminating means not terminating.
      const terminating = c.terminating === true;
      const ready = c.ready !== false && !terminating;
      const serving = c.serving ?? c.ready ?? true;
      for (const a of ep.addresses) {
        const addr = canonicalAddress(a);
        if (addr === undefined || familyOf(addr) !== family) continue;
        cands.push({ backend: { addr, port: sp.port }, ready, servingTerminating: serving !== false && terminating, local: ep.nodeName === nodeName });
      }
    }
  }
  const scoped = localOnly ? cands.filter((c) => c.local) : cands;
  let chosen = scoped.filter((c) => c.ready);
  if (chosen.length === 0) chosen = scoped.filter((c) => c.servingTerminating);
  if (chosen.length === 0) {
    if (cands.length === 0 && unresolved > 0) return { reason: `target port of port "${wantName}" not resolved in any EndpointSlice (${unresolved} endpoints)` };
    if (localOnly && cands.length > 0) return { reason: 'internalTrafficPolicy Local and no ready endpoint on this node' };
    return { reason: 'no ready endpoint' };
  }
  const seen = new Set<string>();
  const backends: Backend[] = [];
  for (const c of chosen) {
    const k = `${c.backend.addr}|${c.backend.port}`;
    if (seen.has(k)) continue;
    seen.add(k);
    backends.push(c.backend);
  }
  backends.sort(compareBackends);
  return { backends, unresolved };
}

/** The VIPs of a Service: ClusterIPs then externalIPs (canonical, deduplicated), or a reason to ignore it. */
export function vipsOf(svc: KubeService): { vips: string[]; invalid: string[] } | { ignore: string } {
  const spec = svc.spec ?? {};
  if (spec.type === 'ExternalName') return { ignore: 'ExternalName Service (no VIP)' };
  const cluster = spec.clusterIPs && spec.clusterIPs.length > 0 ? spec.clusterIPs : spec.clusterIP ? [spec.clusterIP] : [];
  if (cluster.length === 0 || cluster[0] === 'None') return { ignore: 'headless Service (no ClusterIP)' };
  const vips: string[] = [];
  const invalid: string[] = [];
  for (const ip of [...cluster, ...(spec.externalIPs ?? [])]) {
    const c = canonicalAddress(ip);
    if (c === undefined) invalid.push(ip);
    else if (!vips.includes(c)) vips.push(c);
  }
  return { vips, invalid };
}

/** One Service's translations, skips and warnings (VIP conflicts between Services are resolved by `mergeServices`). */
export interface ServiceResult {
  readonly service: string;
  readonly translations: readonly TranslationSpec[];
  readonly skipped: readonly ServiceNote[];
  readonly warnings: readonly ServiceNote[];
}

/** The translations of one Service from its EndpointSlices. */
export function desiredForService(svc: KubeService, svcSlices: readonly KubeEndpointSlice[], opts: ServiceOptions): ServiceResult {
  const maxBackends = opts.maxBackends ?? DEFAULT_MAX_BACKENDS;
  const name = keyOf(svc);
  const translations: TranslationSpec[] = [];
  const skipped: ServiceNote[] = [];
  const warnings: ServiceNote[] = [];
  const v = vipsOf(svc);
  if ('ignore' in v) return { service: name, translations, skipped: [{ service: name, reason: v.ignore }], warnings };
  for (const bad of v.invalid) skipped.push({ service: name, reason: `VIP ${bad} is not an IP address` });
  if (svc.spec?.sessionAffinity === 'ClientIP') warnings.push({ service: name, reason: 'sessionAffinity ClientIP is not supported by VPP cnat: connections are balanced without affinity' });
  const localOnly = svc.spec?.internalTrafficPolicy === 'Local';
  for (const port of svc.spec?.ports ?? []) {
    const protocol = protocolOf(port.protocol);
    const portName = port.name ? `port "${port.name}" (${port.port})` : `port ${port.port}`;
    if (!protocol) {
      skipped.push({ service: name, reason: `${portName}: protocol ${port.protocol} not supported` });
      continue;
    }
    const perFamily = new Map<Family, ReturnType<typeof backendsFor>>();
    for (const vip of v.vips) {
      const family = familyOf(vip)!;
      let b = perFamily.get(family);
      if (!b) perFamily.set(family, (b = backendsFor(port, family, svcSlices, localOnly, opts.nodeName)));
      const where = `${vip}:${port.port}/${protocol}`;
      if ('reason' in b) {
        skipped.push({ service: name, reason: `${where}: ${b.reason}` });
        continue;
      }
      let backends = b.backends;
      if (backends.length > maxBackends) {
        warnings.push({ service: name, reason: `${where}: ${backends.length} ready endpoints, programming the first ${maxBackends} (sorted by address)` });
        backends = backends.slice(0, maxBackends);
      }
      if (b.unresolved > 0) warnings.push({ service: name, reason: `${where}: ${b.unresolved} endpoints without a resolved target port left out` });
      translations.push({ key: translationKey(vip, port.port, protocol), service: name, vip, family, port: port.port, protocol, backends });
    }
  }
  return { service: name, translations, skipped, warnings };
}

/**
 * Merges per-Service results: sorted by Service so that a VIP:port claimed twice (through externalIPs)
 * goes to the same Service every time; the later one gets a skip.
 */
export function mergeServices(results: Iterable<ServiceResult>): DesiredServices {
  const translations = new Map<string, TranslationSpec>();
  const skipped: ServiceNote[] = [];
  const warnings: ServiceNote[] = [];
  const sorted = [...results].sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0));
  for (const r of sorted) {
    skipped.push(...r.skipped);
    warnings.push(...r.warnings);
    for (const t of r.translations) {
      const taken = translations.get(t.key);
      if (taken) {
        skipped.push({ service: r.service, reason: `${t.vip}:${t.port}/${t.protocol}: already used by Service ${taken.service}` });
        continue;
      }
      translations.set(t.key, t);
    }
  }
  return { translations, skipped, warnings };
}

export function desiredServices(services: Iterable<KubeService>, slices: Iterable<KubeEndpointSlice>, opts: ServiceOptions): DesiredServices {
  const bySvc = slicesByService(slices);
  return mergeServices([...services].map((svc) => desiredForService(svc, bySvc.get(keyOf(svc)) ?? [], opts)));
}

/** True when two translation specs would program the same thing in VPP. */
export function sameTranslation(a: TranslationSpec, b: TranslationSpec): boolean {
  if (a.key !== b.key || a.backends.length !== b.backends.length) return false;
  for (let i = 0; i < a.backends.length; i++) {
    if (a.backends[i]!.addr !== b.backends[i]!.addr || a.backends[i]!.port !== b.backends[i]!.port) return false;
  }
  return true;
}
