/**
 * CRC compatibility between the generated bindings and the message table of the VPP we talk to.
 * A message is compatible when VPP has its exact `name_crc`; incompatible when VPP has the name with
 * another CRC (version skew); missing when VPP does not have the name at all (plugin not loaded).
 */
import type { MessageDef } from '../codec/types.js';
import type { IncompatibleMessage } from './errors.js';

export interface CompatReport {
  compatible: string[];
  incompatible: IncompatibleMessage[];
  missing: IncompatibleMessage[];
}

/** Groups table keys by message name (`name_crc` → name). */
export function indexByName(table: ReadonlyMap<string, number>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of table.keys()) {
    const m = /^(.*)_([0-9a-f]{8})$/.exec(key);
    const name = m ? m[1]! : key;
    const list = out.get(name);
    if (list) list.push(key);
    else out.set(name, [key]);
  }
  return out;
}

export function checkCompatibility(table: ReadonlyMap<string, number>, defs: Iterable<MessageDef>): CompatReport {
  const byName = indexByName(table);
  const report: CompatReport = { compatible: [], incompatible: [], missing: [] };
  for (const d of defs) {
    if (table.has(d.nameCrc)) report.compatible.push(d.name);
    else {
      const found = byName.get(d.name) ?? [];
      const entry = { name: d.name, expected: d.nameCrc, found };
      if (found.length > 0) report.incompatible.push(entry);
      else report.missing.push(entry);
    }
  }
  // A message known in several encodings (a caller's older one beside the bindings') is compatible when one matches.
  const ok = new Set(report.compatible);
  const firstOfName = (x: IncompatibleMessage, i: number, all: IncompatibleMessage[]): boolean => all.findIndex((y) => y.name === x.name) === i;
  report.incompatible = report.incompatible.filter((x, i, all) => !ok.has(x.name) && firstOfName(x, i, all));
  report.missing = report.missing.filter(firstOfName);
  return report;
}
