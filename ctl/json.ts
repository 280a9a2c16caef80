/**
 * JSON ↔ message values for the CLI, using VPP's own field names (as in the .api.json and VPP's Python
 * client). Input accepts enums as numbers or member names (flags as "A|B"), u64 as numbers or decimal
 * strings, byte arrays as hex strings, and addresses, prefixes and MACs as strings. Output prints
 * bigints as numbers when exact (else strings) and byte arrays as hex.
 */
import type { ApiModule, FieldSchema, MessageDef, TypeSchema } from '../vpp-api/codec/types.js';

export class JsonInputError extends Error {
  override readonly name = 'JsonInputError';
}

export class TypeRegistry {
  private readonly types = new Map<string, TypeSchema>();

  constructor(modules: readonly ApiModule[]) {
    for (const m of modules) for (const t of m.types) this.types.set(t.name, t);
  }

  get(name: string): TypeSchema | undefined {
    return this.types.get(name);
  }

  /** Converts user JSON for `def` into the value its encoder takes. */
  messageFromJson(def: MessageDef, json: unknown): unknown {
    return this.structFromJson(def.fields, json, def.name);
  }

  private structFromJson(fields: readonly FieldSchema[], json: unknown, where: string): Record<string, unknown> {
    if (json === undefined || json === null) return {};
    if (typeof json !== 'object' || Array.isArray(json)) throw new JsonInputError(`${where}: expected a JSON object`);
    const out: Record<string, unknown> = {};
    const byName = new Map(fields.map((f) => [f.name, f]));
    for (const [k, v] of Object.entries(json as Record<string, unknown>)) {
      const f = byName.get(k);
      if (!f) {
        throw new JsonInputError(`${where}: unknown field "${k}" (fields: ${fields.map((x) => x.name).join(', ') || 'none'})`);
      }
      out[k] = this.fieldFromJson(f, v, `${where}.${k}`);
    }
    return out;
  }

  private fieldFromJson(f: FieldSchema, v: unknown, where: string): unknown {
    const isArray = f.kind !== 'string' && f.kind !== 'bytes' && (f.lengthFrom !== undefined || (f.length !== undefined && f.length > 0));
    if (isArray) {
      if (!Array.isArray(v)) throw new JsonInputError(`${where}: expected an array`);
      return v.map((x, i) => this.valueFromJson(f, x, `${where}[${i}]`));
    }
    return this.valueFromJson(f, v, where);
  }

  private valueFromJson(f: FieldSchema, v: unknown, where: string): unknown {
    switch (f.kind) {
      case 'string':
      case 'special':
        if (typeof v !== 'string') throw new JsonInputError(`${where}: expected a string`);
        return v;
      case 'bytes':
        if (typeof v === 'string') {
          const hex = v.replace(/^0x/, '').replace(/[:\s]/g, '');
          if (!/^([0-9a-fA-F]{2})*$/.test(hex)) throw new JsonInputError(`${where}: expected hex bytes`);
          return Buffer.from(hex, 'hex');
        }
        if (Array.isArray(v) && v.every((x) => Number.isInteger(x) && x >= 0 && x < 256)) return Buffer.from(v as number[]);
        throw new JsonInputError(`${where}: expected hex bytes or an array of byte values`);
      case 'enum':
      case 'enumflag':
        return this.enumFromJson(f, v, where);
      case 'struct':
      case 'union': {
        const t = this.types.get(f.type);
        if (!t?.fields) throw new JsonInputError(`${where}: unknown type ${f.type}`);
        return this.structFromJson(t.fields, v, where);
      }
      case 'scalar':
        if (f.type === 'bool') {
          if (typeof v === 'boolean') return v;
          if (v === 0 || v === 1) return v === 1;
          throw new JsonInputError(`${where}: expected true or false`);
        }
        if (f.type === 'u64' || f.type === 'i64') {
          if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
          if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
          throw new JsonInputError(`${where}: expected an integer (number or decimal string)`);
        }
        if (typeof v !== 'number') throw new JsonInputError(`${where}: expected a number`);
        return v;
    }
  }

  private enumFromJson(f: FieldSchema, v: unknown, where: string): number {
    if (typeof v === 'number' && Number.isInteger(v)) return v;
    const t = this.types.get(f.type);
    const members = t?.members ?? {};
    if (typeof v !== 'string') throw new JsonInputError(`${where}: expected a number or one of ${Object.keys(members).join(', ')}`);
    const parts = f.kind === 'enumflag' ? v.split('|').map((s) => s.trim()) : [v];
    let out = 0;
    for (const p of parts) {
      const n = members[p];
      if (n === undefined) throw new JsonInputError(`${where}: "${p}" is not a member of ${f.type} (${Object.keys(members).join(', ')})`);
      out |= n;
    }
    return out >>> 0;
  }
}

/** Decoded values → plain JSON values. */
export function toJson(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= -BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(toJson);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]));
  return v;
}
