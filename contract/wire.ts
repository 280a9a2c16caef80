/**
 * Protocol Buffers wire encoding of the contract's messages, driven by the tables generated from
 * cni-backend.proto (contract/generated/cni-backend.ts), so the plugin needs no protobuf runtime (a plugin
 * process starts for every pod: every millisecond of module loading counts) and the agent's server parses
 * exactly what the plugin writes. Decoded values have the shape @grpc/proto-loader gives with
 * `defaults: true`: single scalars present ('' / 0), `optional` scalars absent (undefined) when unset,
 * repeated fields as arrays, maps as objects, unset messages as null.
 * A test checks this codec against protobufjs reading cni-backend.proto, both ways.
 */

export type Kind = 'string' | 'uint32' | 'int32' | 'message';
export type Label = 'single' | 'optional' | 'repeated' | 'map';
/** [field number, name, kind, label, message schema (kind 'message')]; a 'map' is map<string, string>. */
export type Field = readonly [number, string, Kind, Label, Schema?];
export interface Schema {
  readonly name: string;
  readonly fields: readonly Field[];
}

export class WireError extends Error {
  override readonly name = 'WireError';
}

// ---- encoding ----

class Writer {
  private parts: Buffer[] = [];
  private len = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.len += b.length;
  }
  varint(v: number | bigint): void {
    let x = BigInt.asUintN(64, BigInt(v));
    const bytes: number[] = [];
    do {
      let byte = Number(x & 0x7fn);
      x >>= 7n;
      if (x !== 0n) byte |= 0x80;
      bytes.push(byte);
    } while (x !== 0n);
    this.push(Buffer.from(bytes));
  }
  bytes(num: number, b: Buffer): void {
    this.varint((num << 3) | 2);
    this.varint(b.length);
    this.push(b);
  }
  finish(): Buffer {
    return Buffer.concat(this.parts, this.len);
  }
}

function writeMessage(w: Writer, schema: Schema, v: Record<string, unknown>): void {
  for (const [num, name, kind, label, sub] of schema.fields) {
    const val = v[name];
    if (val === undefined || val === null) continue;
    if (label === 'map') {
      for (const [k, x] of Object.entries(val as Record<string, unknown>)) {
        const entry = new Writer();
        entry.bytes(1, Buffer.from(k, 'utf8'));
        entry.bytes(2, Buffer.from(String(x), 'utf8'));
        w.bytes(num, entry.finish());
      }
      continue;
    }
    const items = label === 'repeated' ? (val as unknown[]) : [val];
    // proto3: a single scalar equal to its default is not written; an `optional` one is (presence)
    const skipDefault = label === 'single';
    for (const item of items) {
      if (kind === 'string') {
        const str = String(item);
        if (str === '' && skipDefault) continue;
        w.bytes(num, Buffer.from(str, 'utf8'));
      } else if (kind === 'uint32' || kind === 'int32') {
        const n = Number(item);
        if (n === 0 && skipDefault) continue;
        w.varint(num << 3);
        w.varint(kind === 'int32' ? BigInt(Math.trunc(n)) : BigInt(n >>> 0));
      } else {
        const inner = new Writer();
        writeMessage(inner, sub!, item as Record<string, unknown>);
        w.bytes(num, inner.finish());
      }
    }
  }
}

export function encode(schema: Schema, v: object): Buffer {
  const w = new Writer();
  writeMessage(w, schema, v as Record<string, unknown>);
  return w.finish();
}

// ---- decoding ----

function readVarint(b: Buffer, pos: { p: number }): bigint {
  let result = 0n;
  let shift = 0n;
  for (let i = 0; i < 10; i++) {
    if (pos.p >= b.length) throw new WireError('truncated varint');
    const byte = b[pos.p++]!;
    result |= BigInt(byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result;
    shift += 7n;
  }
  throw new WireError('varint too long');
}

function defaults(schema: Schema): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const [, name, kind, label] of schema.fields) {
    if (label === 'optional') continue;
    o[name] = label === 'repeated' ? [] : label === 'map' ? {} : kind === 'string' ? '' : kind === 'message' ? null : 0;
  }
  return o;
}

/** One map entry (key 1, value 2; either may be left out, meaning ""). */
function decodeEntry(where: string, b: Buffer): [string, string] {
  const e = decodeFields(MAP_ENTRY, b, where);
  return [e['key'] as string, e['value'] as string];
}
const MAP_ENTRY: Schema = {
  name: 'map entry',
  fields: [
    [1, 'key', 'string', 'single'],
    [2, 'value', 'string', 'single'],
  ],
};

function decodeFields(schema: Schema, b: Buffer, where: string): Record<string, unknown> {
  const o = defaults(schema);
  const pos = { p: 0 };
  while (pos.p < b.length) {
    const key = Number(readVarint(b, pos));
    const num = key >>> 3;
    const wt = key & 7;
    const f = schema.fields.find((x) => x[0] === num);
    let raw: Buffer | bigint;
    if (wt === 0) raw = readVarint(b, pos);
    else if (wt === 2) {
      const len = Number(readVarint(b, pos));
      if (pos.p + len > b.length) throw new WireError(`${where}: field ${num} runs past the end`);
      raw = b.subarray(pos.p, pos.p + len);
      pos.p += len;
    } else if (wt === 1 || wt === 5) {
      pos.p += wt === 1 ? 8 : 4;
      if (pos.p > b.length) throw new WireError(`${where}: field ${num} runs past the end`);
      continue;
    } else throw new WireError(`${where}: unsupported wire type ${wt}`);
    if (!f) continue; // unknown field: skipped, as protobuf readers do
    const [, name, kind, label, sub] = f;
    const path = `${where}.${name}`;
    if (label === 'map') {
      if (typeof raw === 'bigint') throw new WireError(`${path}: expected a map entry`);
      const [k, v] = decodeEntry(path, raw);
      // defineProperty: a key such as "__proto__" stays a plain own property
      Object.defineProperty(o[name], k, { value: v, enumerable: true, writable: true, configurable: true });
      continue;
    }
    let val: unknown;
    if (kind === 'string') {
      if (typeof raw === 'bigint') throw new WireError(`${path}: expected a string`);
      val = raw.toString('utf8');
    } else if (kind === 'uint32' || kind === 'int32') {
      if (typeof raw !== 'bigint') throw new WireError(`${path}: expected a number`);
      val = kind === 'int32' ? Number(BigInt.asIntN(32, raw)) : Number(BigInt.asUintN(32, raw));
    } else {
      if (typeof raw === 'bigint') throw new WireError(`${path}: expected a message`);
      val = decodeFields(sub!, raw, path);
    }
    if (label === 'repeated') (o[name] as unknown[]).push(val);
    else o[name] = val;
  }
  return o;
}

/** Decodes one message; a WireError names the field (`AddRequest.attachment.pod: ...`). */
export function decode(schema: Schema, b: Buffer): Record<string, unknown> {
  return decodeFields(schema, b, schema.name);
}
