/**
 * What the cnat plugin of a simulated VPP holds: translations (a pool: ids are pool indexes), the source-NAT
 * addresses and policy, excluded prefixes, the per-interface policy tables, the interfaces with the cnat
 * feature arcs, and sessions. The behaviour mirrors the captured build (../shared/vpp-golden/cnat.jsonl):
 *  - an update of an existing VIP (address + port + protocol) keeps its id and its first lb_type and replaces
 *    the paths; the request's translation.id is ignored;
 *  - every snat call answers FEATURE_DISABLED until an address entry with USE_AS_DEFAULT exists;
 *  - an excluded prefix is a set member (adding twice then deleting once removes it);
 *  - session purge removes every session and every translation;
 *  - a translation with no paths aborts VPP (the handler asks the simulator to abort).
 */
import { IndexPool } from './index-pool.js';

export interface CnatEp {
  /** Canonical address text. */
  readonly addr: string;
  readonly swIfIndex: number;
  /** 0 ip4, 1 ip6 (ip_address_family). */
  readonly ifAf: number;
  readonly port: number;
}

export interface CnatPath {
  readonly dst: CnatEp;
  readonly src: CnatEp;
  readonly flags: number;
}

export interface CnatTranslationState {
  readonly id: number;
  readonly vip: CnatEp;
  readonly ipProto: number;
  /** The lb_type of the first update (later updates keep it). */
  readonly lbType: number;
  flags: number;
  paths: CnatPath[];
}

export interface CnatSnatEntry {
  readonly fwdFibIndex: number;
  readonly retFibIndex: number;
  readonly ip4: string;
  readonly ip6: string;
  readonly swIfIndex: number;
  readonly flags: number;
}

export interface CnatSessionState {
  readonly ipProto: number;
  /** Client and VIP addresses. */
  readonly addr: readonly [string, string];
  /** Client and VIP ports (real values; the wire carries them byte-swapped). */
  readonly port: readonly [number, number];
  readonly tsIndex: number;
  /** The backend the session was sent to. */
  readonly backend: CnatEp;
}

/** cnat_snat_policy_table of the API. */
export const CnatPolicyTable = { INCLUDE_V4: 0, INCLUDE_V6: 1, POD: 2, HOST: 3 } as const;

/** Highest accepted cnat_set_snat_policy value: the API's 0..3 and VPP's internal DNAT_ONLY (4) pass. */
export const CNAT_MAX_SNAT_POLICY = 4;

/** cnat_snat_policy_flags USE_AS_DEFAULT. */
export const CNAT_SNAT_USE_AS_DEFAULT = 4;

/** Path flag every path reads back with (VPP's internal CNAT_TRK_ACTIVE). */
export const CNAT_TRK_ACTIVE = 4;

export function vipKey(addr: string, port: number, ipProto: number): string {
  return `${addr}|${port}|${ipProto}`;
}

export class CnatState {
  readonly translationPool = new IndexPool();
  readonly translations = new Map<number, CnatTranslationState>();
  private readonly byVip = new Map<string, number>();
  /** Address entries by forwarding fib index, in the order they were made. */
  readonly snatEntries = new Map<number, CnatSnatEntry>();
  snatPolicy = 0;
  /** Excluded prefixes in insertion order (canonical network/len text); an ever-used flag for the CLI. */
  readonly excludePrefixes: string[] = [];
  excludeTableUsed = false;
  /** sw_if_index sets per cnat_snat_policy_table, in insertion order. */
  readonly policyInterfaces: [Set<number>, Set<number>, Set<number>, Set<number>] = [new Set(), new Set(), new Set(), new Set()];
  /** Interfaces with the cnat feature arcs enabled. */
  readonly featureInterfaces = new Set<number>();
  /** Sessions, oldest first. */
  readonly sessions: CnatSessionState[] = [];
  /** Timestamp pool of sessions: the captured build handed out 1 then 2 on a fresh instance. */
  private nextTsIndex = 1;

  /** The entry whose addresses are the default (an entry made with USE_AS_DEFAULT). */
  get defaultSnat(): CnatSnatEntry | undefined {
    for (const e of this.snatEntries.values()) if ((e.flags & CNAT_SNAT_USE_AS_DEFAULT) !== 0) return e;
    return undefined;
  }

  findByVip(addr: string, port: number, ipProto: number): CnatTranslationState | undefined {
    const id = this.byVip.get(vipKey(addr, port, ipProto));
    return id === undefined ? undefined : this.translations.get(id);
  }

  /** Creates or updates the translation of a VIP; returns its id. */
  upsert(vip: CnatEp, ipProto: number, lbType: number, flags: number, paths: CnatPath[]): number {
    const existing = this.findByVip(vip.addr, vip.port, ipProto);
    if (existing) {
      existing.paths = paths;
      existing.flags = flags;
      return existing.id;
    }
    const id = this.translationPool.alloc();
    this.translations.set(id, { id, vip, ipProto, lbType, flags, paths });
    this.byVip.set(vipKey(vip.addr, vip.port, ipProto), id);
    return id;
  }

  delete(id: number): boolean {
    const t = this.translations.get(id);
    if (!t) return false;
    this.translations.delete(id);
    this.byVip.delete(vipKey(t.vip.addr, t.vip.port, t.ipProto));
    this.translationPool.release(id);
    return true;
  }

  /** Translations in pool order. */
  translationList(): CnatTranslationState[] {
    return this.translationPool.indexes().map((i) => this.translations.get(i)!);
  }

  /** An interface was deleted: it leaves the feature and policy sets. */
  forgetInterface(swIfIndex: number): void {
    this.featureInterfaces.delete(swIfIndex);
    for (const set of this.policyInterfaces) set.delete(swIfIndex);
  }

  /** cnat_session_purge: sessions and translations go. */
  purge(): void {
    this.sessions.length = 0;
    for (const id of this.translationPool.indexes()) this.delete(id);
  }

  /**
   * A packet from a client to a VIP arriving on an interface with the cnat feature (what writing a datagram
   * on the host link does on a real VPP): a session to one of the translation's backends. Returns the session,
   * or undefined when no translation matches.
   */
  traffic(p: { ipProto: number; src: string; srcPort: number; dst: string; dstPort: number }): CnatSessionState | undefined {
    const t = this.findByVip(p.dst, p.dstPort, p.ipProto);
    if (!t || t.paths.length === 0) return undefined;
    const tsIndex = this.nextTsIndex++;
    const backend = t.paths[(p.srcPort + tsIndex) % t.paths.length]!.dst;
    const s: CnatSessionState = { ipProto: p.ipProto, addr: [p.src, p.dst], port: [p.srcPort, p.dstPort], tsIndex, backend };
    this.sessions.push(s);
    return s;
  }
}

/** The u16 VPP writes for a session port: host byte order on the wire (cnat_5tuple_encode's double swap). */
export function swap16(port: number): number {
  return ((port & 0xff) << 8) | ((port >> 8) & 0xff);
}
