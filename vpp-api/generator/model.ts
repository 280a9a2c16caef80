/**
 * Stage 2 of the generator: resolve every type reference across files, decide which module owns each
 * definition (imported types are copied into every .api.json that uses them), compute wire sizes,
 * and classify messages from the services (falling back to their header fields, as govpp does).
 */
import type { RawAlias, RawApiFile, RawEnum, RawField, RawMessage, RawStruct } from './parse.js';

export type BaseType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'u64' | 'i64' | 'f64' | 'bool';
export const BASE_SIZES: Record<BaseType, number> = {
  u8: 1, i8: 1, u16: 2, i16: 2, u32: 4, i32: 4, u64: 8, i64: 8, f64: 8, bool: 1,
};

/**
 * Types whose values are handled as strings by the runtime (`codec/ip.ts`), with their wire size.
 * Aliases of them (address_with_prefix -> prefix, ...) resolve to the same entry.
 */
export const SPECIAL_TYPES: Record<string, { size: number; codec: string }> = {
  ip4_address: { size: 4, codec: 'Ip4Address' },
  ip6_address: { size: 16, codec: 'Ip6Address' },
  address: { size: 17, codec: 'Address' },
  prefix: { size: 18, codec: 'Prefix' },
  ip4_prefix: { size: 5, codec: 'Ip4Prefix' },
  ip6_prefix: { size: 17, codec: 'Ip6Prefix' },
  mac_address: { size: 6, codec: 'MacAddress' },
};

export type TypeRef =
  | { k: 'base'; base: BaseType }
  | { k: 'string' }
  | { k: 'special'; name: string }
  | { k: 'enum'; name: string; owner: string; base: BaseType; flags: boolean }
  | { k: 'struct'; name: string; owner: string }
  | { k: 'union'; name: string; owner: string };

export interface FieldModel {
  name: string;
  /** Name as written in the .api (for schema output). */
  apiType: string;
  t: TypeRef;
  /** 'scalar': one value; 'fixed': t[count]; 'vla': t[lengthFrom]; strings: 'fstring' (N bytes) / 'vstring'. */
  shape: 'scalar' | 'fixed' | 'vla' | 'fstring' | 'vstring';
  count: number;
  lengthFrom?: string;
  default?: number | boolean;
  /** Set on count fields: the array field whose length fills them. */
  countOf?: string;
}

export interface StructModel {
  name: string;
  owner: string;
  isUnion: boolean;
  fields: FieldModel[];
  fixedSize: number;
  variable: boolean;
}

export interface EnumModel {
  name: string;
  owner: string;
  base: BaseType;
  flags: boolean;
  members: [string, number][];
}

export interface AliasModel {
  name: string;
  owner: string;
  target: TypeRef;
  /** u8 arrays behind an alias (e.g. a key of N bytes). */
  length?: number;
}

export type MessageKind = 'request' | 'reply' | 'details' | 'event' | 'other';

export interface MessageModel {
  name: string;
  module: string;
  crc: number;
  kind: MessageKind;
  deprecated: boolean;
  /** Fields after the header (message id, and client_index/context when in header position). */
  header: FieldModel[];
  body: FieldModel[];
  fixedSize: number;
  variable: boolean;
  contextOffset: number;
  clientIndexOffset: number;
  retvalOffset: number;
  service?: {
    reply?: string;
    stream?: 'dump' | 'cursor';
    details?: string;
    events: string[];
  };
}

export interface ModuleModel {
  module: string;
  source: string;
  version: string;
  structs: StructModel[];
  enums: EnumModel[];
  aliases: AliasModel[];
  messages: MessageModel[];
}

type Def =
  | { kind: 'struct' | 'union'; raw: RawStruct; files: string[] }
  | { kind: 'enum'; raw: RawEnum; files: string[] }
  | { kind: 'alias'; raw: RawAlias; files: string[] };

function importModule(imp: string): string {
  const base = imp.split('/').pop() ?? imp;
  return base.replace(/\.api$/, '');
}

export function buildModel(files: RawApiFile[]): ModuleModel[] {
  const byModule = new Map(files.map((f) => [f.module, f]));
  const closure = new Map<string, Set<string>>();
  const importsOf = (m: string): Set<string> => {
    const hit = closure.get(m);
    if (hit) return hit;
    const out = new Set<string>();
    closure.set(m, out);
    for (const imp of byModule.get(m)?.imports ?? []) {
      const im = importModule(imp);
      if (im === m || !byModule.has(im)) continue;
      out.add(im);
      for (const x of importsOf(im)) out.add(x);
    }
    return out;
  };

  const defs = new Map<string, Def>();
  const add = (name: string, mk: () => Def, file: string): void => {
    const d = defs.get(name);
    if (d) d.files.push(file);
    else defs.set(name, mk());
  };
  for (const f of files) {
    for (const t of f.types) add(t.name, () => ({ kind: 'struct', raw: t, files: [f.module] }), f.module);
    for (const u of f.unions) add(u.name, () => ({ kind: 'union', raw: u, files: [f.module] }), f.module);
    for (const e of f.enums) add(e.name, () => ({ kind: 'enum', raw: e, files: [f.module] }), f.module);
    for (const a of f.aliases) add(a.name, () => ({ kind: 'alias', raw: a, files: [f.module] }), f.module);
  }
  // The owner is the file that holds the definition without importing another file that holds it.
  const owner = new Map<string, string>();
  for (const [name, d] of defs) {
    const cands = d.files.filter((m) => ![...importsOf(m)].some((im) => d.files.includes(im)));
    owner.set(name, [...cands].sort()[0] ?? d.files[0]!);
  }

  const resolveName = (apiType: string, where: string): TypeRef => {
    if (apiType in BASE_SIZES) return { k: 'base', base: apiType as BaseType };
    if (apiType === 'string') return { k: 'string' };
    const m = /^vl_api_(.+)_t$/.exec(apiType);
    if (!m) throw new Error(`${where}: unknown type ${apiType}`);
    let name = m[1]!;
    // Follow aliases that point at another named type.
    for (let guard = 0; guard < 8; guard++) {
      if (SPECIAL_TYPES[name]) return { k: 'special', name };
      const d = defs.get(name);
      if (!d) throw new Error(`${where}: unresolved type ${apiType}`);
      if (d.kind === 'alias') {
        const a = d.raw;
        if (a.length !== undefined || a.type in BASE_SIZES) return resolveAliasBase(name, where);
        const mm = /^vl_api_(.+)_t$/.exec(a.type);
        if (!mm) throw new Error(`${where}: alias ${name} -> ${a.type}`);
        name = mm[1]!;
        continue;
      }
      if (d.kind === 'enum') {
        return { k: 'enum', name, owner: owner.get(name)!, base: d.raw.enumtype as BaseType, flags: d.raw.flags };
      }
      return { k: d.kind, name, owner: owner.get(name)! };
    }
    throw new Error(`${where}: alias loop at ${apiType}`);
  };
  const resolveAliasBase = (name: string, where: string): TypeRef => {
    const d = defs.get(name);
    if (!d || d.kind !== 'alias') throw new Error(`${where}: ${name} is not an alias`);
    return resolveName(d.raw.type, where);
  };
  const aliasLength = (apiType: string): number | undefined => {
    const m = /^vl_api_(.+)_t$/.exec(apiType);
    if (!m || SPECIAL_TYPES[m[1]!]) return undefined;
    const d = defs.get(m[1]!);
    return d?.kind === 'alias' ? d.raw.length : undefined;
  };

  const structCache = new Map<string, StructModel>();
  const fieldModel = (f: RawField, where: string): FieldModel => {
    const t = resolveName(f.type, `${where}.${f.name}`);
    const fm: FieldModel = { name: f.name, apiType: f.type, t, shape: 'scalar', count: 0 };
    if (f.default !== undefined) fm.default = f.default;
    const aLen = aliasLength(f.type);
    if (t.k === 'string') {
      fm.shape = f.length ? 'fstring' : 'vstring';
      fm.count = f.length ?? 0;
    } else if (f.lengthFrom !== undefined) {
      fm.shape = 'vla';
      fm.lengthFrom = f.lengthFrom;
      if (aLen !== undefined) throw new Error(`${where}.${f.name}: variable array of an array alias`);
    } else if (f.length !== undefined && f.length > 0) {
      if (aLen !== undefined) throw new Error(`${where}.${f.name}: array of an array alias`);
      fm.shape = 'fixed';
      fm.count = f.length;
    } else if (aLen !== undefined) {
      fm.shape = 'fixed';
      fm.count = aLen;
    } else if (f.length === 0) {
      throw new Error(`${where}.${f.name}: legacy [0] array without a length field`);
    }
    return fm;
  };
  const elemSize = (t: TypeRef, where: string): { size: number; variable: boolean } => {
    switch (t.k) {
      case 'base':
        return { size: BASE_SIZES[t.base], variable: false };
      case 'special':
        return { size: SPECIAL_TYPES[t.name]!.size, variable: false };
      case 'enum':
        return { size: BASE_SIZES[t.base], variable: false };
      case 'string':
        throw new Error(`${where}: string element`);
      default: {
        const s = structModel(t.name, where);
        return { size: s.fixedSize, variable: s.variable };
      }
    }
  };
  const layout = (fields: FieldModel[], where: string, isUnion: boolean): { fixedSize: number; variable: boolean } => {
    let size = 0;
    let variable = false;
    fields.forEach((f, i) => {
      let fs: number;
      let fv = false;
      if (f.shape === 'vstring') {
        fs = 4;
        fv = true;
      } else if (f.shape === 'fstring') {
        fs = f.count;
      } else {
        const e = elemSize(f.t, `${where}.${f.name}`);
        if (f.shape === 'vla') {
          if (e.variable) throw new Error(`${where}.${f.name}: variable array of variable-size elements`);
          fs = 0;
          fv = true;
          const cf = fields.find((x) => x.name === f.lengthFrom);
          if (!cf) throw new Error(`${where}.${f.name}: length field ${f.lengthFrom} not found`);
          cf.countOf = f.name;
        } else {
          fs = e.size * (f.shape === 'fixed' ? f.count : 1);
          fv = e.variable;
        }
      }
      if (fv && i !== fields.length - 1 && !isUnion) throw new Error(`${where}.${f.name}: variable part is not last`);
      if (isUnion) size = Math.max(size, fs);
      else size += fs;
      variable = variable || fv;
    });
    if (isUnion && variable) throw new Error(`${where}: variable-size union`);
    return { fixedSize: size, variable };
  };
  function structModel(name: string, where: string): StructModel {
    const hit = structCache.get(name);
    if (hit) return hit;
    const d = defs.get(name);
    if (!d || (d.kind !== 'struct' && d.kind !== 'union')) throw new Error(`${where}: ${name} is not a struct or union`);
    const fields = d.raw.fields.map((f) => fieldModel(f, name));
    const s: StructModel = { name, owner: owner.get(name)!, isUnion: d.kind === 'union', fields, fixedSize: 0, variable: false };
    structCache.set(name, s);
    Object.assign(s, layout(fields, name, s.isUnion));
    return s;
  }

  const result: ModuleModel[] = [];
  for (const f of files) {
    const mod: ModuleModel = {
      module: f.module,
      source: f.source,
      version: f.version,
      structs: [],
      enums: [],
      aliases: [],
      messages: [],
    };
    for (const [name, d] of defs) {
      if (owner.get(name) !== f.module) continue;
      if (d.kind === 'enum') {
        mod.enums.push({ name, owner: f.module, base: d.raw.enumtype as BaseType, flags: d.raw.flags, members: d.raw.members });
      } else if (d.kind === 'alias') {
        if (SPECIAL_TYPES[name]) continue;
        const am: AliasModel = { name, owner: f.module, target: resolveName(`vl_api_${name}_t`, name) };
        if (d.raw.length !== undefined) am.length = d.raw.length;
        mod.aliases.push(am);
      } else if (!SPECIAL_TYPES[name]) {
        mod.structs.push(structModel(name, f.source));
      }
    }
    mod.messages = f.messages.map((m) => messageModel(m, f));
    result.push(mod);
  }
  return result;

  function messageModel(m: RawMessage, f: RawApiFile): MessageModel {
    const where = `${f.source}:${m.name}`;
    const all = m.fields.map((x) => fieldModel(x, where));
    if (all[0]?.name !== '_vl_msg_id') throw new Error(`${where}: first field is not _vl_msg_id`);
    const rest = all.slice(1);
    const header: FieldModel[] = [];
    while (header.length < 2 && rest.length > 0 && (rest[0]!.name === 'client_index' || rest[0]!.name === 'context')) {
      header.push(rest.shift()!);
    }
    const { fixedSize, variable } = layout(all, where, false);
    const offsetOf = (name: string, list: FieldModel[]): number => {
      let off = 0;
      for (const x of list) {
        if (x.name === name) return off;
        if (x.shape === 'vla' || x.shape === 'vstring') return -1;
        off += x.shape === 'fstring' ? x.count : elemSize(x.t, where).size * (x.shape === 'fixed' ? x.count : 1);
      }
      return -1;
    };
    const retvalField = all.find((x) => x.name === 'retval');
    const svcs = new Map(f.services.map((s) => [s.request, s]));
    let kind: MessageKind;
    const asRequest = svcs.get(m.name);
    const isReplyOf = f.services.find((s) => s.reply === m.name);
    if (asRequest) kind = 'request';
    else if (f.services.some((s) => s.streamMsg === m.name) || (isReplyOf?.stream && !isReplyOf.streamMsg)) kind = 'details';
    else if (isReplyOf) kind = 'reply';
    else if (f.services.some((s) => s.events.includes(m.name))) kind = 'event';
    else {
      const h1 = all[1]?.name;
      const h2 = all[2]?.name;
      if (h1 === 'client_index' && h2 === 'context') kind = 'request';
      else if (h1 === 'context') kind = retvalField ? 'reply' : 'details';
      else if (h1 === 'client_index') kind = 'event';
      else kind = 'other';
    }
    const mm: MessageModel = {
      name: m.name,
      module: f.module,
      crc: m.crc,
      kind,
      deprecated: 'deprecated' in m.options,
      header,
      body: rest,
      fixedSize,
      variable,
      contextOffset: header.some((h) => h.name === 'context') ? offsetOf('context', all) : -1,
      clientIndexOffset: header.some((h) => h.name === 'client_index') ? offsetOf('client_index', all) : -1,
      retvalOffset: retvalField && retvalField.t.k === 'base' && retvalField.t.base === 'i32' ? offsetOf('retval', all) : -1,
    };
    if (asRequest) {
      const svc: NonNullable<MessageModel['service']> = { events: asRequest.events };
      if (asRequest.stream && asRequest.streamMsg) {
        svc.stream = 'cursor';
        svc.details = asRequest.streamMsg;
        if (asRequest.reply) svc.reply = asRequest.reply;
      } else if (asRequest.stream && asRequest.reply) {
        svc.stream = 'dump';
        svc.details = asRequest.reply;
      } else if (asRequest.reply) {
        svc.reply = asRequest.reply;
      }
      mm.service = svc;
    }
    return mm;
  }
}
