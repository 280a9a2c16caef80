/**
 * Primitive encoders and decoders used by the generated code.
 * Integers are big-endian; f64 is host order (little-endian on x86/arm64), as VPP does not swap it.
 */
import { VppDecodeError, VppEncodeError } from './errors.js';
import type { Cursor } from './types.js';

/** Throws when fewer than `n` bytes remain. */
export function need(b: Buffer, c: Cursor, n: number, what: string): void {
  if (c.p + n > b.length) {
    throw new VppDecodeError(what, `needs ${n} bytes at offset ${c.p}, message has ${b.length}`);
  }
}

export function toBigInt(v: bigint | number | undefined, what: string): bigint {
  if (v === undefined) return 0n;
  if (typeof v === 'bigint') return v;
  if (!Number.isSafeInteger(v)) throw new VppEncodeError(what, '', `${v} is not an integer`);
  return BigInt(v);
}

/** Fixed-length string: at most n-1 bytes, NUL padded. */
export function encFixedString(b: Buffer, p: number, n: number, v: string | undefined, msg: string, field: string): void {
  if (v === undefined || v.length === 0) {
    b.fill(0, p, p + n);
    return;
  }
  const len = Buffer.byteLength(v, 'utf8');
  if (len >= n) throw new VppEncodeError(msg, field, `string of ${len} bytes does not fit (at most ${n - 1})`);
  b.write(v, p, len, 'utf8');
  b.fill(0, p + len, p + n);
}

export function decFixedString(b: Buffer, c: Cursor, n: number, what: string): string {
  need(b, c, n, what);
  const start = c.p;
  let end = b.indexOf(0, start);
  if (end < 0 || end > start + n) end = start + n;
  c.p = start + n;
  return b.toString('utf8', start, end);
}

/** Size on the wire of a variable `string s[]`: u32 length + bytes. */
export function varStringSize(v: string | undefined): number {
  return 4 + (v ? Buffer.byteLength(v, 'utf8') : 0);
}

/** Writes a variable string at p; returns the offset after it. The buffer must have room (see varStringSize). */
export function encVarString(b: Buffer, p: number, v: string | undefined): number {
  if (!v) {
    b.writeUInt32BE(0, p);
    return p + 4;
  }
  const n = b.write(v, p + 4, 'utf8');
  b.writeUInt32BE(n, p);
  return p + 4 + n;
}

export function decVarString(b: Buffer, c: Cursor, what: string): string {
  need(b, c, 4, what);
  const n = b.readUInt32BE(c.p);
  c.p += 4;
  need(b, c, n, what);
  const s = b.toString('utf8', c.p, c.p + n);
  c.p += n;
  return s;
}

/** Fixed u8 array: shorter input is zero-filled, longer input is an error. */
export function encBytes(b: Buffer, p: number, n: number, v: Uint8Array | undefined, msg: string, field: string): void {
  if (!v) {
    b.fill(0, p, p + n);
    return;
  }
  if (v.length > n) throw new VppEncodeError(msg, field, `${v.length} bytes given, field holds ${n}`);
  b.set(v, p);
  if (v.length < n) b.fill(0, p + v.length, p + n);
}

export function decBytes(b: Buffer, c: Cursor, n: number, what: string): Buffer {
  need(b, c, n, what);
  const out = Buffer.allocUnsafe(n);
  b.copy(out, 0, c.p, c.p + n);
  c.p += n;
  return out;
}

/** Bytes of a variable string after its u32 length. */
export function varStringBytes(v: string | undefined): number {
  return v ? Buffer.byteLength(v, 'utf8') : 0;
}

// Readers used by the generated decoders: read at the cursor and advance it.
export function rU8(b: Buffer, c: Cursor): number {
  const v = b.readUInt8(c.p);
  c.p += 1;
  return v;
}
export function rI8(b: Buffer, c: Cursor): number {
  const v = b.readInt8(c.p);
  c.p += 1;
  return v;
}
export function rBool(b: Buffer, c: Cursor): boolean {
  return b.readUInt8(c.p++) !== 0;
}
export function rU16(b: Buffer, c: Cursor): number {
  const v = b.readUInt16BE(c.p);
  c.p += 2;
  return v;
}
export function rI16(b: Buffer, c: Cursor): number {
  const v = b.readInt16BE(c.p);
  c.p += 2;
  return v;
}
export function rU32(b: Buffer, c: Cursor): number {
  const v = b.readUInt32BE(c.p);
  c.p += 4;
  return v;
}
export function rI32(b: Buffer, c: Cursor): number {
  const v = b.readInt32BE(c.p);
  c.p += 4;
  return v;
}
export function rU64(b: Buffer, c: Cursor): bigint {
  const v = b.readBigUInt64BE(c.p);
  c.p += 8;
  return v;
}
export function rI64(b: Buffer, c: Cursor): bigint {
  const v = b.readBigInt64BE(c.p);
  c.p += 8;
  return v;
}
/** f64 is sent in host order (VPP does not byte-swap it): little-endian on the platforms VPP runs on. */
export function rF64(b: Buffer, c: Cursor): number {
  const v = b.readDoubleLE(c.p);
  c.p += 8;
  return v;
}
