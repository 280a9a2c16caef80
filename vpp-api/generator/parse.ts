/**
 * Stage 1 of the generator: read one `.api.json` (vppapigen's JSON backend) into plain records.
 * Nothing is resolved here; older files without `module`/`enumflags`/`aliases` are accepted.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { z } from 'zod';

export interface RawField {
  type: string;
  name: string;
  /** Fixed element count / string length; 0 for `string s[]`; undefined for a scalar. */
  length?: number;
  lengthFrom?: string;
  default?: number | boolean;
  discriminator?: string;
  case?: string;
}

export interface RawStruct {
  name: string;
  fields: RawField[];
  comment?: string;
}

export interface RawMessage extends RawStruct {
  crc: number;
  options: Record<string, unknown>;
}

export interface RawEnum {
  name: string;
  members: [string, number][];
  enumtype: string;
  flags: boolean;
}

export interface RawAlias {
  name: string;
  type: string;
  length?: number;
}

export interface RawService {
  request: string;
  reply: string | null;
  stream: boolean;
  streamMsg?: string;
  events: string[];
}

export interface RawApiFile {
  module: string;
  /** Path relative to the input root, e.g. `core/interface.api.json`. */
  source: string;
  version: string;
  imports: string[];
  types: RawStruct[];
  unions: RawStruct[];
  enums: RawEnum[];
  aliases: RawAlias[];
  messages: RawMessage[];
  services: RawService[];
}

const fieldTuple = z.array(z.unknown()).min(2);
const fileSchema = z.object({
  module: z.string().optional(),
  types: z.array(z.array(z.unknown())).default([]),
  messages: z.array(z.array(z.unknown())).default([]),
  unions: z.array(z.array(z.unknown())).default([]),
  enums: z.array(z.array(z.unknown())).default([]),
  enumflags: z.array(z.array(z.unknown())).default([]),
  aliases: z.record(z.string(), z.object({ type: z.string(), length: z.number().optional() })).default({}),
  services: z
    .record(
      z.string(),
      z.object({
        reply: z.string(),
        stream: z.boolean().optional(),
        stream_msg: z.string().optional(),
        events: z.array(z.string()).optional(),
      }),
    )
    .default({}),
  options: z.record(z.string(), z.unknown()).default({}),
  imports: z.array(z.string()).default([]),
});

function normalizeDefault(v: unknown, where: string): number | boolean {
  // vppapigen's lexer emits `default=true` as the string "true" (and false as a boolean).
  if (v === 'true') return true;
  if (v === 'false') return false;
  if (typeof v === 'number' || typeof v === 'boolean') return v;
  throw new Error(`${where}: unsupported default ${JSON.stringify(v)}`);
}

function parseField(t: unknown[], where: string): RawField {
  const parsed = fieldTuple.parse(t);
  const [type, name, ...rest] = parsed;
  if (typeof type !== 'string' || typeof name !== 'string') throw new Error(`${where}: bad field ${JSON.stringify(t)}`);
  const f: RawField = { type, name };
  for (const r of rest) {
    if (typeof r === 'number') f.length = r;
    else if (typeof r === 'string') f.lengthFrom = r;
    else if (r && typeof r === 'object') {
      const o = r as Record<string, unknown>;
      if ('default' in o) f.default = normalizeDefault(o.default, `${where}.${name}`);
      if (typeof o.discriminator === 'string') f.discriminator = o.discriminator;
      if (typeof o.case === 'string') f.case = o.case;
    }
  }
  return f;
}

function parseStruct(t: unknown[], where: string): { s: RawStruct; meta: Record<string, unknown> } {
  const [name, ...rest] = t;
  if (typeof name !== 'string') throw new Error(`${where}: unnamed definition`);
  const fields: RawField[] = [];
  let meta: Record<string, unknown> = {};
  for (const r of rest) {
    if (Array.isArray(r)) fields.push(parseField(r, `${where}:${name}`));
    else if (r && typeof r === 'object') meta = r as Record<string, unknown>;
  }
  const s: RawStruct = { name, fields };
  if (typeof meta.comment === 'string') s.comment = meta.comment;
  return { s, meta };
}

function parseEnum(t: unknown[], flags: boolean, where: string): RawEnum {
  const [name, ...rest] = t;
  if (typeof name !== 'string') throw new Error(`${where}: unnamed enum`);
  const members: [string, number][] = [];
  let enumtype = 'u32';
  for (const r of rest) {
    if (Array.isArray(r) && typeof r[0] === 'string' && typeof r[1] === 'number') members.push([r[0], r[1]]);
    else if (r && typeof r === 'object' && typeof (r as { enumtype?: unknown }).enumtype === 'string') {
      enumtype = (r as { enumtype: string }).enumtype;
    }
  }
  return { name, members, enumtype, flags };
}

export function parseApiFile(path: string, source: string): RawApiFile {
  const json: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const d = fileSchema.parse(json);
  const module = d.module ?? basename(path).replace(/\.api\.json$/, '');
  const dedupe = <T extends { name: string }>(xs: T[]): T[] => {
    const seen = new Set<string>();
    return xs.filter((x) => (seen.has(x.name) ? false : (seen.add(x.name), true)));
  };
  const messages: RawMessage[] = d.messages.map((m) => {
    const { s, meta } = parseStruct(m, source);
    const crcText = meta.crc;
    if (typeof crcText !== 'string' || !/^0x[0-9a-f]{1,8}$/i.test(crcText)) throw new Error(`${source}:${s.name}: bad crc`);
    return { ...s, crc: parseInt(crcText, 16) >>> 0, options: (meta.options as Record<string, unknown>) ?? {} };
  });
  const services: RawService[] = Object.entries(d.services).map(([request, sv]) => {
    const svc: RawService = {
      request,
      reply: sv.reply === 'null' ? null : sv.reply,
      stream: sv.stream === true,
      events: sv.events ?? [],
    };
    if (sv.stream_msg) svc.streamMsg = sv.stream_msg;
    return svc;
  });
  const version = typeof d.options.version === 'string' ? d.options.version : '0.0.0';
  return {
    module,
    source,
    version,
    imports: [...new Set(d.imports)],
    types: dedupe(d.types.map((t) => parseStruct(t, source).s)),
    unions: dedupe(d.unions.map((t) => parseStruct(t, source).s)),
    enums: dedupe([
      ...d.enums.map((e) => parseEnum(e, false, source)),
      ...d.enumflags.map((e) => parseEnum(e, true, source)),
    ]),
    aliases: Object.entries(d.aliases).map(([name, a]) => {
      const al: RawAlias = { name, type: a.type };
      if (a.length !== undefined) al.length = a.length;
      return al;
    }),
    messages,
    services,
  };
}
