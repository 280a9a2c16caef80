/**
 * How large a message from VPP can be, per message id, so the transport can tell a stream that went out of
 * step (a length no VPP sends) from a slow one. A message whose layout has no variable part is exactly its
 * fixed size (a real VPP sends exactly that for every such message: see shared/vpp-golden); one with a
 * variable array or string is capped at `maxVariableSize`; an id absent from VPP's own message table can
 * only come from a stream out of step.
 */
import type { ApiModule, FieldSchema, MessageDef, TypeSchema } from '../codec/types.js';
import type { FrameLimit } from '../transport/frame-reader.js';

/** Default cap of a message with a variable part (the largest real one is the handshake table, ~60 KB). */
export const DEFAULT_MAX_VARIABLE_MESSAGE = 8 * 1024 * 1024;

function typeIndex(modules: readonly ApiModule[]): Map<string, TypeSchema> {
  const types = new Map<string, TypeSchema>();
  for (const m of modules) for (const t of m.types) if (!types.has(t.name)) types.set(t.name, t);
  return types;
}

function isVariable(fields: readonly FieldSchema[], types: ReadonlyMap<string, TypeSchema>, seen: Set<string>): boolean {
  for (const f of fields) {
    if (f.lengthFrom !== undefined) return true;
    if (f.kind === 'string' && !f.length) return true;
    if (f.kind === 'struct' || f.kind === 'union') {
      const t = types.get(f.type);
      // A type we cannot see might be variable: be lenient rather than drop a good connection.
      if (!t) return true;
      if (seen.has(t.name)) continue;
      seen.add(t.name);
      if (t.fields && isVariable(t.fields, types, seen)) return true;
    }
  }
  return false;
}

/** The largest encoding of each message, or undefined when it has a variable part. */
export function fixedSizes(defs: Iterable<MessageDef>, modules: readonly ApiModule[]): Map<string, number | undefined> {
  const types = typeIndex(modules);
  const out = new Map<string, number | undefined>();
  for (const d of defs) out.set(d.nameCrc, isVariable(d.fields, types, new Set()) ? undefined : d.fixedSize);
  return out;
}

/** Builds the transport's per-id frame limit from VPP's message table. */
export function frameLimits(sizes: ReadonlyMap<string, number | undefined>, maxVariableSize: number): (table: ReadonlyMap<string, number>) => FrameLimit {
  return (table) => {
    const byId: (number | undefined)[] = [];
    for (const [nameCrc, id] of table) byId[id] = sizes.has(nameCrc) ? (sizes.get(nameCrc) ?? maxVariableSize) : maxVariableSize;
    return (id) => byId[id] ?? "which is not in VPP's message table";
  };
}
