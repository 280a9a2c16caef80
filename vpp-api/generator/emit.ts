/**
 * Stage 3 of the generator: print one TypeScript module per API file from the model.
 * Every encoder/decoder is written out field by field (no per-field closures, no reflection).
 */
import type { FieldSchema, TypeSchema } from '../codec/types.js';
import {
  BASE_SIZES,
  SPECIAL_TYPES,
  type AliasModel,
  type BaseType,
  type EnumModel,
  type FieldModel,
  type MessageModel,
  type ModuleModel,
  type StructModel,
  type TypeRef,
} from './model.js';

export const GENERATOR_VERSION = '1.0.0';

const RESERVED = new Set(['interface', 'default', 'class', 'function', 'package', 'private', 'public', 'enum']);

export function moduleIdent(module: string): string {
  return RESERVED.has(module) ? `${module}_` : module;
}

export function pascal(name: string): string {
  return name
    .split('_')
    .filter((s) => s.length > 0)
    .map((s) => s[0]!.toUpperCase() + s.slice(1))
    .join('');
}

const READ: Record<BaseType, string> = {
  u8: 'rU8', i8: 'rI8', u16: 'rU16', i16: 'rI16', u32: 'rU32', i32: 'rI32',
  u64: 'rU64', i64: 'rI64', f64: 'rF64', bool: 'rBool',
};
const WRITE: Record<BaseType, string> = {
  u8: 'writeUInt8', i8: 'writeInt8', u16: 'writeUInt16BE', i16: 'writeInt16BE', u32: 'writeUInt32BE',
  i32: 'writeInt32BE', u64: 'writeBigUInt64BE', i64: 'writeBigInt64BE', f64: 'writeDoubleLE', bool: '',
};

/** Reads of a scalar at a constant offset (the message's fixed size was checked first). */
const DIRECT_READ: Record<BaseType, (o: number) => string> = {
  u8: (o) => `b[${o}]!`,
  i8: (o) => `b.readInt8(${o})`,
  u16: (o) => `b.readUInt16BE(${o})`,
  i16: (o) => `b.readInt16BE(${o})`,
  u32: (o) => `b.readUInt32BE(${o})`,
  i32: (o) => `b.readInt32BE(${o})`,
  u64: (o) => `b.readBigUInt64BE(${o})`,
  i64: (o) => `b.readBigInt64BE(${o})`,
  f64: (o) => `b.readDoubleLE(${o})`,
  bool: (o) => `b[${o}] !== 0`,
};

class ModuleEmitter {
  private readonly usedModules = new Set<string>();
  private readonly usedPrim = new Set<string>();
  private usesIp = false;

  constructor(
    private readonly m: ModuleModel,
    private readonly vppVersion: string,
  ) {}

  private ref(owner: string): string {
    if (owner === this.m.module) return '';
    this.usedModules.add(owner);
    return `m_${owner}.`;
  }

  private prim(name: string): string {
    this.usedPrim.add(name);
    return name;
  }

  private elemSize(t: TypeRef): number {
    switch (t.k) {
      case 'base':
      case 'enum':
        return BASE_SIZES[t.base];
      case 'special':
        return SPECIAL_TYPES[t.name]!.size;
      case 'string':
        throw new Error('string element');
      default:
        return this.structSize(t.name);
    }
  }

  sizes = new Map<string, { fixed: number; variable: boolean }>();
  registerSizes(all: ModuleModel[]): void {
    for (const mod of all) for (const s of mod.structs) this.sizes.set(s.name, { fixed: s.fixedSize, variable: s.variable });
  }
  private structSize(name: string): number {
    const s = this.sizes.get(name);
    if (!s) throw new Error(`size of ${name} unknown`);
    return s.fixed;
  }
  private structVariable(name: string): boolean {
    return this.sizes.get(name)?.variable ?? false;
  }

  // ---- TypeScript types ----

  private tsType(t: TypeRef, input: boolean): string {
    switch (t.k) {
      case 'base':
        if (t.base === 'u64' || t.base === 'i64') return input ? 'bigint | number' : 'bigint';
        return t.base === 'bool' ? 'boolean' : 'number';
      case 'string':
      case 'special':
        return 'string';
      case 'enum':
        // Numbers, not the member union: VPP ORs some plain enums together (if_status_flags) and may send
        // values newer than this build. The const objects give the names.
        return 'number';
      default:
        return `${this.ref(t.owner)}${pascal(t.name)}${input ? 'In' : ''}`;
    }
  }

  private fieldType(f: FieldModel, input: boolean): string {
    if (f.shape === 'fstring' || f.shape === 'vstring') return 'string';
    if ((f.shape === 'fixed' || f.shape === 'vla') && f.t.k === 'base' && f.t.base === 'u8') return input ? 'Uint8Array' : 'Buffer';
    const el = this.tsType(f.t, input);
    if (f.shape === 'fixed' || f.shape === 'vla') return el.includes('|') ? `(${el})[]` : `${el}[]`;
    return el;
  }

  private iface(name: string, fields: FieldModel[], input: boolean): string {
    const lines = fields.map((f) => {
      const note = f.countOf ? ` /** filled from ${f.countOf}.length */` : '';
      return `  ${f.name}${input ? '?' : ''}: ${this.fieldType(f, input)};${note}`;
    });
    if (lines.length === 0) return `// eslint-disable-next-line @typescript-eslint/no-empty-object-type\nexport interface ${name} {}`;
    return `export interface ${name} {\n${lines.join('\n')}\n}`;
  }

  // ---- encoding ----

  private encScalar(t: TypeRef, x: string, what: string, dflt?: number | boolean): string[] {
    const d = dflt === undefined ? '' : ` ?? ${typeof dflt === 'boolean' ? String(dflt) : dflt}`;
    switch (t.k) {
      case 'base': {
        if (t.base === 'bool') return [`b[p] = (${x}${d}) ? 1 : 0;`, 'p += 1;'];
        if (t.base === 'u64' || t.base === 'i64') {
          const val = dflt === undefined ? x : `${x} ?? ${dflt}`;
          return [`p = b.${WRITE[t.base]}(${this.prim('toBigInt')}(${val}, '${what}'), p);`];
        }
        return [`p = b.${WRITE[t.base]}(${x}${d || ' ?? 0'}, p);`];
      }
      case 'enum':
        return [`p = b.${WRITE[t.base]}(${x}${d || ' ?? 0'}, p);`];
      case 'special':
        this.usesIp = true;
        return [`ip.enc${SPECIAL_TYPES[t.name]!.codec}(b, p, ${x});`, `p += ${SPECIAL_TYPES[t.name]!.size};`];
      case 'struct':
      case 'union':
        return [`p = ${this.ref(t.owner)}enc${pascal(t.name)}(b, p, ${x});`];
      case 'string':
        throw new Error('string scalar');
    }
  }

  private encField(f: FieldModel, obj: string, owner: string): string[] {
    const x = `${obj}?.${f.name}`;
    const what = `${owner}.${f.name}`;
    if (f.countOf) {
      const t = f.t.k === 'base' ? f.t.base : 'u32';
      return [`p = b.${WRITE[t as BaseType]}(${obj}?.${f.countOf}?.length ?? 0, p);`];
    }
    switch (f.shape) {
      case 'scalar':
        return this.encScalar(f.t, x, what, f.default);
      case 'fstring':
        return [`${this.prim('encFixedString')}(b, p, ${f.count}, ${x}, '${owner}', '${f.name}');`, `p += ${f.count};`];
      case 'vstring':
        return [`p = ${this.prim('encVarString')}(b, p, ${x});`];
      case 'fixed': {
        if (f.t.k === 'base' && f.t.base === 'u8') {
          return [`${this.prim('encBytes')}(b, p, ${f.count}, ${x}, '${owner}', '${f.name}');`, `p += ${f.count};`];
        }
        return [
          `if (${x} && ${x}.length > ${f.count}) throw new VppEncodeError('${owner}', '${f.name}', \`\${${x}.length} elements given, array holds ${f.count}\`);`,
          `for (let i = 0; i < ${f.count}; i++) {`,
          ...this.encScalar(f.t, `${x}?.[i]`, what).map((l) => `  ${l}`),
          '}',
        ];
      }
      case 'vla': {
        if (f.t.k === 'base' && f.t.base === 'u8') return [`if (${x}) {`, `  b.set(${x}, p);`, `  p += ${x}.length;`, '}'];
        return [`if (${x}) {`, `  for (const e of ${x}) {`, ...this.encScalar(f.t, 'e', what).map((l) => `    ${l}`), '  }', '}'];
      }
    }
  }

  // ---- decoding ----

  private decExpr(t: TypeRef, what: string, c: string): string {
    switch (t.k) {
      case 'base':
        return `${this.prim(READ[t.base])}(b, ${c})`;
      case 'enum':
        return `${this.prim(READ[t.base])}(b, ${c})`;
      case 'special':
        this.usesIp = true;
        return `ip.dec${SPECIAL_TYPES[t.name]!.codec}(b, ${c})`;
      case 'struct':
      case 'union':
        return `${this.ref(t.owner)}dec${pascal(t.name)}(b, ${c})`;
      case 'string':
        throw new Error(`${what}: string element`);
    }
  }

  private decField(f: FieldModel, owner: string, c: string, local: (n: string) => string): string[] {
    const what = `${owner}.${f.name}`;
    const v = local(f.name);
    switch (f.shape) {
      case 'scalar':
        return [`const ${v} = ${this.decExpr(f.t, what, c)};`];
      case 'fstring':
        return [`const ${v} = ${this.prim('decFixedString')}(b, ${c}, ${f.count}, '${what}');`];
      case 'vstring':
        return [`const ${v} = ${this.prim('decVarString')}(b, ${c}, '${what}');`];
      case 'fixed':
      case 'vla': {
        const n = f.shape === 'fixed' ? String(f.count) : local(f.lengthFrom!);
        if (f.t.k === 'base' && f.t.base === 'u8') return [`const ${v} = ${this.prim('decBytes')}(b, ${c}, ${n}, '${what}');`];
        const lines: string[] = [];
        if (f.shape === 'vla') lines.push(`${this.prim('need')}(b, ${c}, ${n} * ${this.elemSize(f.t)}, '${what}');`);
        lines.push(
          `const ${v}: ${this.fieldType(f, false)} = new Array(${n});`,
          `for (let i = 0; i < ${n}; i++) ${v}[i] = ${this.decExpr(f.t, what, c)};`,
        );
        return lines;
      }
    }
  }

  // ---- sizes ----

  private varExtra(f: FieldModel | undefined, obj: string): string {
    if (!f) return '';
    const x = `${obj}?.${f.name}`;
    if (f.shape === 'vstring') return ` + ${this.prim('varStringBytes')}(${x})`;
    if (f.shape === 'vla') {
      const e = f.t.k === 'base' && f.t.base === 'u8' ? 1 : this.elemSize(f.t);
      return ` + (${x}?.length ?? 0)${e === 1 ? '' : ` * ${e}`}`;
    }
    if (f.shape === 'scalar' && (f.t.k === 'struct' || f.t.k === 'union') && this.structVariable(f.t.name)) {
      return ` + ${this.ref(f.t.owner)}size${pascal(f.t.name)}(${x}) - ${this.structSize(f.t.name)}`;
    }
    return '';
  }

  // ---- schema ----

  private fieldSchema(f: FieldModel): FieldSchema {
    let type: string;
    let kind: FieldSchema['kind'];
    switch (f.t.k) {
      case 'base':
        type = f.t.base;
        kind = f.t.base === 'u8' && (f.shape === 'fixed' || f.shape === 'vla') ? 'bytes' : 'scalar';
        break;
      case 'string':
        type = 'string';
        kind = 'string';
        break;
      case 'special':
        type = f.t.name;
        kind = 'special';
        break;
      case 'enum':
        type = f.t.name;
        kind = f.t.flags ? 'enumflag' : 'enum';
        break;
      default:
        type = f.t.name;
        kind = f.t.k;
    }
    const s: { -readonly [K in keyof FieldSchema]: FieldSchema[K] } = { name: f.name, type, kind };
    if (f.shape === 'fixed' || f.shape === 'fstring') s.length = f.count;
    if (f.shape === 'vstring') s.length = 0;
    if (f.lengthFrom) s.lengthFrom = f.lengthFrom;
    if (f.default !== undefined) s.default = f.default;
    return s;
  }

  // ---- definitions ----

  private emitEnum(e: EnumModel): string {
    const n = pascal(e.name);
    const members = e.members.map(([k, v]) => `  ${k}: ${v},`).join('\n');
    const type = e.flags ? `export type ${n} = number;` : `export type ${n} = (typeof ${n})[keyof typeof ${n}];`;
    return `/** ${e.flags ? 'enumflag' : 'enum'} ${e.name} : ${e.base} */\nexport const ${n} = {\n${members}\n} as const;\n${type}`;
  }

  private emitAlias(a: AliasModel): string {
    const t = a.length !== undefined ? (a.target.k === 'base' && a.target.base === 'u8' ? 'Buffer' : `${this.tsType(a.target, false)}[]`) : this.tsType(a.target, false);
    return `/** alias ${a.name} */\nexport type ${pascal(a.name)} = ${t};`;
  }

  private emitStruct(s: StructModel): string {
    const n = pascal(s.name);
    const out: string[] = [];
    out.push(`/** ${s.isUnion ? 'union' : 'type'} ${s.name}: ${s.fixedSize}${s.variable ? '+' : ''} bytes */`);
    out.push(this.iface(n, s.fields, false));
    out.push(this.iface(`${n}In`, s.fields, true));
    // encoder
    const enc: string[] = [];
    if (s.isUnion) {
      // The largest arm given wins: decoded values carry every arm, and the largest one holds all the bytes.
      const arms = [...s.fields].sort((a, b) => this.elemSize(b.t) * (b.count || 1) - this.elemSize(a.t) * (a.count || 1));
      enc.push(`export function enc${n}(b: Buffer, p0: number, v: ${n}In | undefined): number {`);
      enc.push(`  b.fill(0, p0, p0 + ${s.fixedSize});`);
      arms.forEach((f, i) => {
        enc.push(`  ${i === 0 ? '' : 'else '}if (v?.${f.name} !== undefined) {`);
        enc.push('    let p = p0;');
        for (const l of this.encField(f, 'v', s.name)) enc.push(`    ${l}`);
        enc.push('    void p;');
        enc.push('  }');
      });
      enc.push(`  return p0 + ${s.fixedSize};`);
      enc.push('}');
    } else {
      enc.push(`export function enc${n}(b: Buffer, p: number, v: ${n}In | undefined): number {`);
      for (const f of s.fields) for (const l of this.encField(f, 'v', s.name)) enc.push(`  ${l}`);
      enc.push('  return p;');
      enc.push('}');
    }
    out.push(enc.join('\n'));
    // decoder
    const dec: string[] = [];
    dec.push(`export function dec${n}(b: Buffer, c: Cursor): ${n} {`);
    if (s.isUnion) {
      dec.push(`  ${this.prim('need')}(b, c, ${s.fixedSize}, '${s.name}');`);
      dec.push('  const p0 = c.p;');
      s.fields.forEach((f, i) => {
        dec.push(`  const c${i}: Cursor = { p: p0 };`);
        for (const l of this.decField(f, s.name, `c${i}`, (x) => `f_${x}`)) dec.push(`  ${l}`);
      });
      dec.push(`  c.p = p0 + ${s.fixedSize};`);
    } else {
      for (const f of s.fields) for (const l of this.decField(f, s.name, 'c', (x) => `f_${x}`)) dec.push(`  ${l}`);
    }
    dec.push(`  return { ${s.fields.map((f) => `${f.name}: f_${f.name}`).join(', ')} };`);
    dec.push('}');
    out.push(dec.join('\n'));
    if (s.variable) {
      out.push(
        `export function size${n}(v: ${n}In | undefined): number {\n  return ${s.fixedSize}${this.varExtra(s.fields[s.fields.length - 1], 'v')};\n}`,
      );
    }
    return out.join('\n');
  }

  private emitMessage(m: MessageModel): string {
    const n = pascal(m.name);
    const out: string[] = [];
    out.push(this.iface(n, m.body, false));
    out.push(this.iface(`${n}In`, m.body, true));
    const nameCrc = `${m.name}_${m.crc.toString(16).padStart(8, '0')}`;
    let defType = `MessageDef<${n}In, ${n}>`;
    const extra: string[] = [];
    const svc = m.service;
    if (svc) {
      const replyT = (r: string): string => pascal(r);
      if (svc.stream === 'dump' && svc.details) {
        defType = `DumpDef<${n}In, ${n}, ${replyT(svc.details)}>`;
        extra.push(`stream: 'dump'`, `details: ${svc.details}`);
      } else if (svc.stream === 'cursor' && svc.details && svc.reply) {
        defType = `CursorDef<${n}In, ${n}, ${replyT(svc.reply)}, ${replyT(svc.details)}>`;
        extra.push(`stream: 'cursor'`, `reply: ${svc.reply}`, `details: ${svc.details}`);
      } else if (svc.reply && svc.events.length > 0) {
        defType = `EventsDef<${n}In, ${n}, ${replyT(svc.reply)}>`;
        extra.push(`reply: ${svc.reply}`, `events: [${svc.events.join(', ')}]`);
      } else if (svc.reply) {
        defType = `RequestDef<${n}In, ${n}, ${replyT(svc.reply)}>`;
        extra.push(`reply: ${svc.reply}`);
      }
    }
    const kind = defType.startsWith('MessageDef') ? `'${m.kind}'` : `'request' as const`;
    const last = m.body[m.body.length - 1];
    const headerSize = 2 + m.header.reduce((s, h) => s + BASE_SIZES[(h.t as { base: BaseType }).base], 0);
    const enc: string[] = [];
    enc.push('  encode(b, p, msgId, clientIndex, context, v) {');
    enc.push('    p = b.writeUInt16BE(msgId, p);');
    for (const h of m.header) enc.push(`    p = b.writeUInt32BE(${h.name === 'context' ? 'context' : 'clientIndex'}, p);`);
    if (m.header.length === 0) enc.push('    void clientIndex;\n    void context;');
    else if (!m.header.some((h) => h.name === 'context')) enc.push('    void context;');
    else if (!m.header.some((h) => h.name === 'client_index')) enc.push('    void clientIndex;');
    for (const f of m.body) for (const l of this.encField(f, 'v', m.name)) enc.push(`    ${l}`);
    enc.push('    void p;');
    enc.push('  },');
    const dec: string[] = [];
    dec.push(`  decode(b): ${n} {`);
    dec.push(`    if (b.length < ${m.fixedSize}) throw new VppDecodeError('${m.name}', \`\${b.length} bytes, the fixed part needs ${m.fixedSize}\`);`);
    const flat = m.body.every((f) => f.shape === 'scalar' && (f.t.k === 'base' || f.t.k === 'enum'));
    if (flat) {
      // All fixed scalars (most replies): read at constant offsets, no cursor object.
      let off = headerSize;
      for (const f of m.body) {
        const base = (f.t as { base: BaseType }).base;
        dec.push(`    const f_${f.name} = ${DIRECT_READ[base](off)};`);
        off += BASE_SIZES[base];
      }
    } else if (m.body.length > 0) {
      dec.push(`    const c: Cursor = { p: ${headerSize} };`);
      for (const f of m.body) for (const l of this.decField(f, m.name, 'c', (x) => `f_${x}`)) dec.push(`    ${l}`);
    }
    dec.push(`    return { ${m.body.map((f) => `${f.name}: f_${f.name}`).join(', ')} };`);
    dec.push('  },');
    const sizeLine = m.variable ? `  size(v) {\n    return ${m.fixedSize}${this.varExtra(last, 'v')};\n  },` : `  size: () => ${m.fixedSize},`;
    out.push(
      [
        `export const ${m.name}: ${defType} = {`,
        `  name: '${m.name}',`,
        `  crc: 0x${m.crc.toString(16).padStart(8, '0')},`,
        `  nameCrc: '${nameCrc}',`,
        `  module: '${m.module}',`,
        `  kind: ${kind},`,
        `  contextOffset: ${m.contextOffset},`,
        `  clientIndexOffset: ${m.clientIndexOffset},`,
        `  retvalOffset: ${m.retvalOffset},`,
        `  fixedSize: ${m.fixedSize},`,
        `  deprecated: ${m.deprecated},`,
        `  fields: ${JSON.stringify(m.body.map((f) => this.fieldSchema(f)))},`,
        ...extra.map((e) => `  ${e},`),
        sizeLine,
        ...enc,
        ...dec,
        '};',
      ].join('\n'),
    );
    return out.join('\n');
  }

  private typeSchemas(): TypeSchema[] {
    const out: TypeSchema[] = [];
    for (const e of this.m.enums) {
      out.push({ name: e.name, kind: e.flags ? 'enumflag' : 'enum', members: Object.fromEntries(e.members), size: BASE_SIZES[e.base] });
    }
    for (const s of this.m.structs) {
      out.push({ name: s.name, kind: s.isUnion ? 'union' : 'struct', fields: s.fields.map((f) => this.fieldSchema(f)), size: s.fixedSize });
    }
    return out;
  }

  emit(): string {
    const body: string[] = [];
    for (const e of this.m.enums) body.push(this.emitEnum(e));
    for (const a of this.m.aliases) body.push(this.emitAlias(a));
    for (const s of this.m.structs) body.push(this.emitStruct(s));
    // Replies, details and events first: request descriptors refer to them.
    const order = [...this.m.messages].sort((a, b) => Number(a.kind === 'request') - Number(b.kind === 'request'));
    for (const m of order) body.push(this.emitMessage(m));
    body.push(`/** Every message of this module, in the order of the .api file. */\nexport const messages: readonly MessageDef[] = [${this.m.messages.map((m) => m.name).join(', ')}];`);
    body.push(`export const types: readonly TypeSchema[] = ${JSON.stringify(this.typeSchemas())};`);
    body.push(
      `export const api: ApiModule = { module: '${this.m.module}', source: '${this.m.source}', version: '${this.m.version}', messages, types };`,
    );

    const counts = `${this.m.enums.length} enums, ${this.m.aliases.length} aliases, ${this.m.structs.length} types, ${this.m.messages.length} messages`;
    const head: string[] = [
      `// Code generated by vpp-api/generator ${GENERATOR_VERSION}. DO NOT EDIT.`,
      `// Source: ${this.m.source} (module ${this.m.module}, API version ${this.m.version})`,
      `// VPP: ${this.vppVersion}`,
      `// Contents: ${counts}.`,
      '/* eslint-disable */',
    ];
    // Cursor only where a decoder uses it: a module with no types or messages has none.
    const usesCursor = body.some((b) => /\bCursor\b/.test(b));
    const typeImports = ['ApiModule', ...(usesCursor ? ['Cursor'] : []), 'CursorDef', 'DumpDef', 'EventsDef', 'MessageDef', 'RequestDef', 'TypeSchema'];
    head.push(`import type { ${typeImports.join(', ')} } from '../codec/types.js';`);
    head.push(`import { VppDecodeError, VppEncodeError } from '../codec/errors.js';`);
    if (this.usedPrim.size > 0) head.push(`import { ${[...this.usedPrim].sort().join(', ')} } from '../codec/prim.js';`);
    if (this.usesIp) head.push(`import * as ip from '../codec/ip.js';`);
    for (const mod of [...this.usedModules].sort()) head.push(`import * as m_${mod} from './${mod}.js';`);
    head.push('', 'void VppDecodeError;', 'void VppEncodeError;');
    head.push(
      `export type { ${typeImports.filter((t) => t !== 'Cursor' && t !== 'TypeSchema' && t !== 'ApiModule').join(', ')} };`,
    );
    return `${head.join('\n')}\n\n${body.join('\n\n')}\n`;
  }
}

export function emitModule(m: ModuleModel, all: ModuleModel[], vppVersion: string): string {
  const e = new ModuleEmitter(m, vppVersion);
  e.registerSizes(all);
  return e.emit();
}

export function emitIndex(mods: ModuleModel[], vppVersion: string): string {
  const sorted = [...mods].sort((a, b) => a.module.localeCompare(b.module));
  const lines = [
    `// Code generated by vpp-api/generator ${GENERATOR_VERSION}. DO NOT EDIT.`,
    `// VPP: ${vppVersion}`,
    `import type { ApiModule } from '../codec/types.js';`,
    ...sorted.map((m) => `import { api as ${moduleIdent(m.module)}Api } from './${m.module}.js';`),
    '',
    ...sorted.map((m) => `export * as ${moduleIdent(m.module)} from './${m.module}.js';`),
    '',
    `/** The VPP build these bindings were generated from. */`,
    `export const VPP_VERSION = '${vppVersion}';`,
    `export const GENERATOR_VERSION = '${GENERATOR_VERSION}';`,
    '',
    `/** Every generated module, for clients and simulators that want all messages. */`,
    `export const allModules: readonly ApiModule[] = [${sorted.map((m) => `${moduleIdent(m.module)}Api`).join(', ')}];`,
    '',
  ];
  return lines.join('\n');
}
