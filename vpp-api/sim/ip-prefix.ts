/** Address and prefix arithmetic for the simulator's FIB and interface addresses. */
import { formatIp4, formatIp6, ipToBytes } from '../codec/ip.js';

export type Af = 4 | 6;

export interface ParsedPrefix {
  readonly af: Af;
  /** Address bytes as given (host bits kept). */
  readonly bytes: Buffer;
  readonly len: number;
}

/** Parses "a.b.c.d/len" or "x::y/len" (the codec's string form). */
export function parsePrefix(text: string): ParsedPrefix {
  const slash = text.lastIndexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const bytes = ipToBytes(addr);
  const max = bytes.length * 8;
  const len = slash < 0 ? max : Number(text.slice(slash + 1));
  return { af: bytes.length === 4 ? 4 : 6, bytes, len: Math.max(0, Math.min(max, len)) };
}

export function formatBytes(bytes: Buffer): string {
  return bytes.length === 4 ? formatIp4(bytes, 0) : formatIp6(bytes, 0);
}

/** The network of `bytes/len` (host bits cleared), as a new buffer. */
export function maskBytes(bytes: Buffer, len: number): Buffer {
  const out = Buffer.from(bytes);
  let left = len;
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, left));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
    left -= 8;
  }
  return out;
}

/** Broadcast address of `bytes/len` (host bits set). */
export function broadcastBytes(bytes: Buffer, len: number): Buffer {
  const out = Buffer.from(bytes);
  let left = len;
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, left));
    out[i] = out[i]! | (~(0xff << (8 - keep)) & 0xff);
    left -= 8;
  }
  return out;
}

/** True when `address` lies inside `net/len` (both byte buffers of the same family). */
export function contains(net: Buffer, len: number, address: Buffer): boolean {
  if (net.length !== address.length) return false;
  return maskBytes(net, len).equals(maskBytes(address, len));
}

/** Orders canonical prefixes by family, length, then address bytes (a stable dump order). */
export function comparePrefixes(a: string, b: string): number {
  const pa = parsePrefix(a);
  const pb = parsePrefix(b);
  if (pa.af !== pb.af) return pa.af - pb.af;
  if (pa.len !== pb.len) return pa.len - pb.len;
  return Buffer.compare(pa.bytes, pb.bytes);
}
