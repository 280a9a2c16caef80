/**
 * The simulator's message table: which id each message has, as VPP announces it in sockclnt_create_reply.
 *
 * Without explicit ids the layout is VPP's: memclnt messages take 1..28 in declaration order, every other
 * module gets a contiguous block from 29 on (in the order of `allModules`). With `messageIds` (name_crc -> id,
 * e.g. the table of a captured VPP) those ids are used as given, so captured frames can be replayed byte for byte;
 * entries of that map the simulator has no descriptor for are still announced.
 */
import type { ApiModule, MessageDef } from '../codec/types.js';

export interface MessageTableEntry {
  readonly index: number;
  readonly name: string;
}

/**
 * Plugin API range names (`<module>_<crc>`) of the VPP build the bindings were generated from, as printed by
 * `show api plugin` and expected by get_first_msg_id. The crc is not the file's vl_api_version (see the
 * golden README), so it cannot be derived from the .api.json and is kept here as a fact of that build.
 */
export const API_RANGE_NAMES: Readonly<Record<string, string>> = {
  af_packet: 'af_packet_720ee900',
  cnat: 'cnat_1567b74f',
  interface: 'interface_c8a42485',
  ip: 'ip_a092da9f',
  ip_neighbor: 'ip_neighbor_8bbbad7c',
  ip6_nd: 'ip6_nd_deae73c7',
  memif: 'memif_bf42b70a',
  pbl: 'pbl_9f5dfc55',
  session: 'session_af947b64',
  tapv2: 'tapv2_b21cac4e',
  vlib: 'vlib_9a9e84e4',
  vpe: 'vpe_33b45969',
};

export class MessageTable {
  /** Every announced entry (including ids the simulator has no descriptor for). */
  readonly entries: readonly MessageTableEntry[];
  private readonly idByName = new Map<string, number>();
  private readonly defById: (MessageDef | undefined)[] = [];
  private readonly ranges = new Map<string, { first: number; last: number }>();

  /**
   * @param crcOverrides message name -> CRC to announce instead of the bindings' one (a VPP whose definition
   *   of that message differs: version skew). The simulator still handles the message with its own descriptor.
   * @param onlyGivenIds with messageIds: announce exactly that table (a VPP without the plugins of the messages
   *   it lacks) instead of appending the bindings' other messages after its largest id.
   */
  constructor(modules: readonly ApiModule[], messageIds?: ReadonlyMap<string, number>, crcOverrides?: ReadonlyMap<string, number>, onlyGivenIds = false) {
    const entries: MessageTableEntry[] = [];
    const assigned = new Map<string, number>();
    if (messageIds) {
      let max = 0;
      for (const [name, index] of messageIds) {
        if (!Number.isInteger(index) || index <= 0 || index > 0xffff) throw new RangeError(`message id ${index} of ${name} is not a u16 > 0`);
        assigned.set(name, index);
        entries.push({ index, name });
        if (index > max) max = index;
      }
      // Messages the generated bindings know but the given table lacks get ids after the largest one.
      for (const m of onlyGivenIds ? [] : modules) {
        for (const d of m.messages) {
          if (!assigned.has(d.nameCrc)) {
            max++;
            assigned.set(d.nameCrc, max);
            entries.push({ index: max, name: d.nameCrc });
          }
        }
      }
    } else {
      const memclnt = modules.find((m) => m.module === 'memclnt');
      let next = 1;
      for (const d of memclnt?.messages ?? []) {
        assigned.set(d.nameCrc, next);
        entries.push({ index: next++, name: d.nameCrc });
      }
      next = Math.max(next, 29);
      for (const m of modules) {
        if (m.module === 'memclnt') continue;
        for (const d of m.messages) {
          assigned.set(d.nameCrc, next);
          entries.push({ index: next++, name: d.nameCrc });
        }
      }
    }
    if (crcOverrides && crcOverrides.size > 0) {
      const rename = new Map<string, string>();
      for (const m of modules) {
        for (const d of m.messages) {
          const crc = crcOverrides.get(d.name);
          if (crc !== undefined) rename.set(d.nameCrc, `${d.name}_${(crc >>> 0).toString(16).padStart(8, '0')}`);
        }
      }
      for (const name of crcOverrides.keys()) {
        if (![...rename.keys()].some((k) => k.startsWith(`${name}_`))) throw new RangeError(`crcOverrides: no message named ${name}`);
      }
      for (let i = 0; i < entries.length; i++) {
        const to = rename.get(entries[i]!.name);
        if (to !== undefined) entries[i] = { index: entries[i]!.index, name: to };
      }
    }
    this.entries = entries;
    for (const m of modules) {
      for (const d of m.messages) {
        const id = assigned.get(d.nameCrc);
        if (id === undefined) continue; // not announced (onlyGivenIds)
        this.idByName.set(d.name, id);
        this.defById[id] = d;
        const r = this.ranges.get(m.module);
        if (!r) this.ranges.set(m.module, { first: id, last: id });
        else {
          if (id < r.first) r.first = id;
          if (id > r.last) r.last = id;
        }
      }
    }
  }

  /** Id of a message by its name (not name_crc). */
  id(name: string): number | undefined {
    return this.idByName.get(name);
  }

  /** Id of a message the simulator is known to carry; throws for a name the bindings lack (a simulator bug). */
  mustId(name: string): number {
    const id = this.idByName.get(name);
    if (id === undefined) throw new Error(`message ${name} is not in the simulator's table`);
    return id;
  }

  def(id: number): MessageDef | undefined {
    return this.defById[id];
  }

  /** First and last id of a module's block, or undefined. */
  range(module: string): { first: number; last: number } | undefined {
    return this.ranges.get(module);
  }

  /** get_first_msg_id: the range name (`memif_bf42b70a`) to the module's first id. */
  firstIdOfRange(rangeName: string): number | undefined {
    for (const [module, name] of Object.entries(API_RANGE_NAMES)) {
      if (name === rangeName) return this.ranges.get(module)?.first;
    }
    return undefined;
  }

  /** Rows of `show api plugin`, sorted by range name. */
  pluginRanges(): { name: string; first: number; last: number }[] {
    const rows: { name: string; first: number; last: number }[] = [];
    for (const [module, name] of Object.entries(API_RANGE_NAMES)) {
      const r = this.ranges.get(module);
      if (r) rows.push({ name, ...r });
    }
    return rows.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }
}
