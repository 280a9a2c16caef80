/**
 * Addresses and prefixes for the node dataplane: canonical text (the form VPP dumps and `ip route` prints),
 * families and overlap. Invalid input yields undefined, never a throw: callers turn it into a skip reason.
 */
import { isIP } from 'node:net';
import { canonicalIp, formatIp4, formatIp6, ipToBytes } from '../vpp/api.js';

export type Family = 4 | 6;

export interface Cidr {
  readonly family: Family;
  /** Network address (host bits cleared), canonical text. */
  readonly network: string;
  readonly len: number;
  /** `network/len`. */
  readonly text: string;
  readonly bytes: Buffer;
}

export function familyOf(addr: string): Family | undefined {
  const v = isIP(addr);
  return v === 4 ? 4 : v === 6 ? 6 : undefined;
}

/** Canonical address text, or undefined when `addr` is not an IP address. */
export function canonicalAddress(addr: string): string | undefined {
  const f = familyOf(addr);
  // net.isIP accepts only plain dotted quads without leading zeros: already canonical.
  if (f === 4) return addr;
  return f === undefined ? undefined : canonicalIp(addr);
}

function mask(bytes: Buffer, len: number): Buffer {
  const out = Buffer.from(bytes);
  let left = len;
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, left));
    out[i] = out[i]! & ((0xff << (8 - keep)) & 0xff);
    left -= 8;
  }
  return out;
}

/** Parses `addr/len` (host bits are cleared); undefined when malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const addr = text.slice(0, slash);
  const lenText = text.slice(slash + 1);
  const family = familyOf(addr);
  if (family === undefined || !/^\d{1,3}$/.test(lenText)) return undefined;
  const len = Number(lenText);
  if (len > (family === 4 ? 32 : 128)) return undefined;
  const bytes = mask(ipToBytes(addr), len);
  const network = family === 4 ? formatIp4(bytes, 0) : formatIp6(bytes, 0);
  return { family, network, len, text: `${network}/${len}`, bytes };
}

/** A host prefix (/32 or /128) for an address. */
export function hostCidr(addr: string): Cidr | undefined {
  const f = familyOf(addr);
  return f === undefined ? undefined : parseCidr(`${addr}/${f === 4 ? 32 : 128}`);
}

/** True when the two prefixes share any address. */
export function overlaps(a: Cidr, b: Cidr): boolean {
  if (a.family !== b.family) return false;
  let left = Math.min(a.len, b.len);
  for (let i = 0; left > 0; i++, left -= 8) {
    const m = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
    if ((a.bytes[i]! & m) !== (b.bytes[i]! & m)) return false;
  }
  return true;
}

/** True when `addr` lies inside `c`. */
export function containsAddress(c: Cidr, addr: string): boolean {
  const h = hostCidr(addr);
  return h !== undefined && overlaps(c, h) && c.len <= h.len;
}

/** The n-th address of a prefix (0: the network address), as text. */
export function nthAddress(c: Cidr, n: number): string {
  const b = Buffer.from(c.bytes);
  let carry = n;
  for (let i = b.length - 1; i >= 0 && carry > 0; i--) {
    const v = b[i]! + (carry & 0xff);
    b[i] = v & 0xff;
    carry = (carry >>> 8) + (v >> 8);
  }
  return c.family === 4 ? formatIp4(b, 0) : formatIp6(b, 0);
}
