/**
 * Protocol Buffers wire encoding of the contract's messages, written out from cni-backend.proto so the
 * plugin needs no protobuf runtime (a plugin process starts for every pod: every millisecond of module
 * loading counts). Decoded values have the shape @grpc/proto-loader gives with `defaults: true`:
 * every scalar present ('' / 0), repeated fields as arrays, unset messages as null.
 * A test checks this codec against protobufjs reading cni-backend.proto, both ways.
 */

type Kind = 'string' | 'uint32' | 'int32' | 'message';
/** [field number, name, kind, message schema (for 'message'), repeated] */
type Field = readonly [number, string, Kind, Schema?, boolean?];
export interface Schema {
  readonly name: string;
  readonly fields: readonly Field[];
}

const s = (name: string, fields: readonly Field[]): Schema => ({ name, fields });

export const PodRef = s('PodRef', [[1, 'namespace', 'string'], [2, 'name', 'string'], [3, 'uid', 'string']]);
export const Attachment = s('Attachment', [[1, 'container_id', 'string'], [2, 'if_name', 'string'], [3, 'netns', 'string'], [4, 'pod', 'message', PodRef]]);
export const IpConfig = s('IpConfig', [[1, 'address', 'string'], [2, 'gateway', 'string']]);
export const Route = s('Route', [[1, 'dst', 'string'], [2, 'gw', 'string']]);
export const Interface = s('Interface', [[1, 'name', 'string'], [2, 'mac', 'string'], [3, 'mtu', 'uint32'], [4, 'sandbox', 'string'], [5, 'socket_path', 'string']]);
export const ResultIp = s('ResultIp', [[1, 'address', 'string'], [2, 'gateway', 'string'], [3, 'interface', 'int32']]);
export const Result = s('Result', [[1, 'interfaces', 'message', Interface, true], [2, 'ips', 'message', ResultIp, true], [3, 'routes', 'message', Route, true]]);
export const CniError = s('CniError', [[1, 'code', 'uint32'], [2, 'msg', 'string'], [3, 'details', 'string']]);
export const AddRequest = s('AddRequest', [[1, 'attachment', 'message', Attachment], [2, 'ips', 'message', IpConfig, true], [3, 'routes', 'message', Route, true], [4, 'network_name', 'string']]);
export const AddReply = s('AddReply', [[1, 'result', 'message', Result], [2, 'error', 'message', CniError]]);
export const DelRequest = s('DelRequest', [[1, 'attachment', 'message', Attachment]]);
export const DelReply = s('DelReply', [[1, 'error', 'message', CniError]]);
export const CheckRequest = s('CheckRequest', [[1, 'attachment', 'message', Attachment], [2, 'prev_result', 'message', Result]]);
export const CheckReply = s('CheckReply', [[1, 'error', 'message', CniError]]);
export const GcRequest = s('GcRequest', [[1, 'valid', 'message', Attachment, true], [2, 'network_name', 'string']]);
export const GcReply = s('GcReply', [[1, 'error', 'message', CniError], [2, 'removed', 'uint32']]);
export const StatusRequest = s('StatusRequest', []);
export const StatusReply = s('StatusReply', [[1, 'error', 'message', CniError]]);

/** Request and reply schema of each RPC of vppcni.v1.CniBackend. */
export const METHODS = {
  Add: [AddRequest, AddReply],
  Del: [DelRequest, DelReply],
  Check: [CheckRequest, CheckReply],
  Gc: [GcRequest, GcReply],
  Status: [StatusRequest, StatusReply],
} as const;

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
  finish(): Buffer {
    return Buffer.concat(this.parts, this.len);
  }
}

function writeMessage(w: Writer, schema: Schema, v: Record<string, unknown>): void {
  for (const [num, name, kind, sub, repeated] of schema.fields) {
    const val = v[name];
    if (val === undefined || val === null) continue;
    const items = repeated ? (val as unknown[]) : [val];
    for (const item of items) {
      if (kind === 'string') {
        const str = String(item);
        if (str === '' && !repeated) continue;
        const b = Buffer.from(str, 'utf8');
        w.varint((num << 3) | 2);
        w.varint(b.length);
        w.push(b);
      } else if (kind === 'uint32' || kind === 'int32') {
        const n = Number(item);
        if (n === 0 && !repeated) continue;
        w.varint(num << 3);
        w.varint(kind === 'int32' ? BigInt(Math.trunc(n)) : BigInt(n >>> 0));
      } else {
        const inner = new Writer();
        writeMessage(inner, sub!, item as Record<string, unknown>);
        const b = inner.finish();
        w.varint((num << 3) | 2);
        w.varint(b.length);
        w.push(b);
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
  for (const [, name, kind, , repeated] of schema.fields) o[name] = repeated ? [] : kind === 'string' ? '' : kind === 'message' ? null : 0;
  return o;
}

export function decode(schema: Schema, b: Buffer): Record<string, unknown> {
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
      if (pos.p + len > b.length) throw new WireError(`${schema.name}: field ${num} runs past the end`);
      raw = b.subarray(pos.p, pos.p + len);
      pos.p += len;
    } else if (wt === 1) {
      pos.p += 8;
      continue;
    } else if (wt === 5) {
      pos.p += 4;
      continue;
    } else throw new WireError(`${schema.name}: unsupported wire type ${wt}`);
    if (!f) continue; // unknown field: skipped, as protobuf readers do
    const [, name, kind, sub, repeated] = f;
    let val: unknown;
    if (kind === 'string') {
      if (typeof raw === 'bigint') throw new WireError(`${schema.name}.${name}: expected a string`);
      val = raw.toString('utf8');
    } else if (kind === 'uint32' || kind === 'int32') {
      if (typeof raw !== 'bigint') throw new WireError(`${schema.name}.${name}: expected a number`);
      val = kind === 'int32' ? Number(BigInt.asIntN(32, raw)) : Number(BigInt.asUintN(32, raw));
    } else {
      if (typeof raw === 'bigint') throw new WireError(`${schema.name}.${name}: expected a message`);
      val = decode(sub!, raw);
    }
    if (repeated) (o[name] as unknown[]).push(val);
    else o[name] = val;
  }
  return o;
}
