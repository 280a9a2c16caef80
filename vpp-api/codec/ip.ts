/**
 * String forms of VPP's address types, as VPP's Python client prints them:
 * ip4/ip6 addresses ("10.0.0.1", "fd00::1"), prefixes ("10.0.0.0/24", host bits kept),
 * and MAC addresses ("02:00:00:00:00:01").
 *
 * Wire layouts: ip4_address u8[4]; ip6_address u8[16]; address {u8 af; union[16]} = 17 bytes;
 * prefix {address; u8 len} = 18 bytes; ip4_prefix 5 bytes; ip6_prefix 17 bytes; mac_address u8[6].
 */
import { VppDecodeError, VppEncodeError } from './errors.js';
import type { Cursor } from './types.js';

export const AF_IP4 = 0;
export const AF_IP6 = 1;

function fail(what: string, detail: string): never {
  throw new VppEncodeError(what, '', detail);
}

/** Writes the 4 bytes of a dotted quad at p. Returns false when `s` is not one. */
function writeIp4(b: Buffer, p: number, s: string): boolean {
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i <= s.length; i++) {
    const ch = i < s.length ? s.charCodeAt(i) : 46; /* '.' */
    if (ch === 46) {
      if (digits === 0 || n > 3) return false;
      b[p + n] = part;
      n++;
      part = 0;
      digits = 0;
    } else if (ch >= 48 && ch <= 57) {
      if (digits > 0 && part === 0) return false; // no leading zeros
      part = part * 10 + (ch - 48);
      digits++;
      if (part > 255) return false;
    } else {
      return false;
    }
  }
  return n === 4;
}

function parseHexGroup(g: string): number {
  if (g.length === 0 || g.length > 4) return -1;
  let v = 0;
  for (let i = 0; i < g.length; i++) {
    const ch = g.charCodeAt(i);
    let d: number;
    if (ch >= 48 && ch <= 57) d = ch - 48;
    else if (ch >= 97 && ch <= 102) d = ch - 87;
    else if (ch >= 65 && ch <= 70) d = ch - 55;
    else return -1;
    v = v * 16 + d;
  }
  return v;
}

/** Writes the 16 bytes of an IPv6 address at p (with :: and an optional trailing dotted quad). */
function writeIp6(b: Buffer, p: number, s: string): boolean {
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return false;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const groups: number[] = [];
  const tailGroups: number[] = [];
  const parse = (part: string, out: number[], allowQuad: boolean): boolean => {
    if (part === '') return true;
    const items = part.split(':');
    for (let i = 0; i < items.length; i++) {
      const it = items[i] as string;
      if (allowQuad && i === items.length - 1 && it.includes('.')) {
        const q = Buffer.alloc(4);
        if (!writeIp4(q, 0, it)) return false;
        out.push((q[0]! << 8) | q[1]!, (q[2]! << 8) | q[3]!);
        continue;
      }
      const v = parseHexGroup(it);
      if (v < 0) return false;
      out.push(v);
    }
    return true;
  };
  if (!parse(head, groups, dbl < 0)) return false;
  if (!parse(tail, tailGroups, true)) return false;
  const total = groups.length + tailGroups.length;
  if (dbl >= 0 ? total > 7 : total !== 8) return false;
  const all = groups.concat(new Array<number>(8 - total).fill(0), tailGroups);
  for (let i = 0; i < 8; i++) b.writeUInt16BE(all[i]!, p + 2 * i);
  return true;
}

export function formatIp4(b: Buffer, p: number): string {
  return `${b[p]}.${b[p + 1]}.${b[p + 2]}.${b[p + 3]}`;
}

/** RFC 5952 text: lower case, the longest run (>= 2) of zero groups shortened to ::, leftmost on ties. */
export function formatIp6(b: Buffer, p: number): string {
  let bestStart = -1;
  let bestLen = 0;
  let curStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = b[p + 2 * i] === 0 && b[p + 2 * i + 1] === 0;
    if (zero) {
      if (curStart < 0) curStart = i;
      const len = i - curStart + 1;
      if (len > bestLen) {
        bestLen = len;
        bestStart = curStart;
      }
    } else {
      curStart = -1;
    }
  }
  if (bestLen < 2) bestStart = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    out += b.readUInt16BE(p + 2 * i).toString(16);
    if (i < 7) out += ':';
  }
  return out;
}

// ---- ip4_address / ip6_address ----

export function encIp4Address(b: Buffer, p: number, v: string | undefined): void {
  if (v === undefined) {
    b.fill(0, p, p + 4);
    return;
  }
  if (!writeIp4(b, p, v)) fail('ip4_address', `"${v}" is not an IPv4 address`);
}

export function decIp4Address(b: Buffer, c: Cursor): string {
  if (c.p + 4 > b.length) throw new VppDecodeError('ip4_address', 'truncated');
  const s = formatIp4(b, c.p);
  c.p += 4;
  return s;
}

export function encIp6Address(b: Buffer, p: number, v: string | undefined): void {
  if (v === undefined) {
    b.fill(0, p, p + 16);
    return;
  }
  if (!writeIp6(b, p, v)) fail('ip6_address', `"${v}" is not an IPv6 address`);
}

export function decIp6Address(b: Buffer, c: Cursor): string {
  if (c.p + 16 > b.length) throw new VppDecodeError('ip6_address', 'truncated');
  const s = formatIp6(b, c.p);
  c.p += 16;
  return s;
}

// ---- address (17 bytes) ----

export function encAddress(b: Buffer, p: number, v: string | undefined): void {
  b.fill(0, p, p + 17);
  if (v === undefined || v === '') return;
  if (v.includes(':')) {
    b[p] = AF_IP6;
    if (!writeIp6(b, p + 1, v)) fail('address', `"${v}" is not an IP address`);
  } else {
    b[p] = AF_IP4;
    if (!writeIp4(b, p + 1, v)) fail('address', `"${v}" is not an IP address`);
  }
}

export function decAddress(b: Buffer, c: Cursor): string {
  if (c.p + 17 > b.length) throw new VppDecodeError('address', 'truncated');
  const af = b[c.p];
  let s: string;
  if (af === AF_IP4) s = formatIp4(b, c.p + 1);
  else if (af === AF_IP6) s = formatIp6(b, c.p + 1);
  else throw new VppDecodeError('address', `unknown address family ${af}`);
  c.p += 17;
  return s;
}

// ---- prefixes ----

function splitPrefix(v: string, what: string, max: number): [string, number] {
  const slash = v.lastIndexOf('/');
  const addr = slash < 0 ? v : v.slice(0, slash);
  const lenText = slash < 0 ? '' : v.slice(slash + 1);
  const len = slash < 0 ? max : /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= max)) fail(what, `"${v}": prefix length must be 0-${max}`);
  return [addr, len];
}

export function encPrefix(b: Buffer, p: number, v: string | undefined): void {
  if (v === undefined || v === '') {
    b.fill(0, p, p + 18);
    return;
  }
  const isV6 = v.includes(':');
  const [addr, len] = splitPrefix(v, 'prefix', isV6 ? 128 : 32);
  encAddress(b, p, addr);
  b[p + 17] = len;
}

export function decPrefix(b: Buffer, c: Cursor): string {
  if (c.p + 18 > b.length) throw new VppDecodeError('prefix', 'truncated');
  const a = decAddress(b, c);
  const len = b[c.p]!;
  c.p += 1;
  return `${a}/${len}`;
}

export function encIp4Prefix(b: Buffer, p: number, v: string | undefined): void {
  if (v === undefined || v === '') {
    b.fill(0, p, p + 5);
    return;
  }
  const [addr, len] = splitPrefix(v, 'ip4_prefix', 32);
  encIp4Address(b, p, addr);
  b[p + 4] = len;
}

export function decIp4Prefix(b: Buffer, c: Cursor): string {
  const a = decIp4Address(b, c);
  if (c.p + 1 > b.length) throw new VppDecodeError('ip4_prefix', 'truncated');
  return `${a}/${b[c.p++]}`;
}

export function encIp6Prefix(b: Buffer, p: number, v: string | undefined): void {
  if (v === undefined || v === '') {
    b.fill(0, p, p + 17);
    return;
  }
  const [addr, len] = splitPrefix(v, 'ip6_prefix', 128);
  encIp6Address(b, p, addr);
  b[p + 16] = len;
}

export function decIp6Prefix(b: Buffer, c: Cursor): string {
  const a = decIp6Address(b, c);
  if (c.p + 1 > b.length) throw new VppDecodeError('ip6_prefix', 'truncated');
  return `${a}/${b[c.p++]}`;
}

// ---- mac_address ----

const MAC_RE = /^[0-9a-fA-F]{2}([:-]?)[0-9a-fA-F]{2}(\1[0-9a-fA-F]{2}){4}$/;

export function encMacAddress(b: Buffer, p: number, v: string | undefined): void {
  if (v === undefined || v === '') {
    b.fill(0, p, p + 6);
    return;
  }
  if (!MAC_RE.test(v)) fail('mac_address', `"${v}" is not a MAC address (expected xx:xx:xx:xx:xx:xx)`);
  const hex = v.replace(/[:-]/g, '');
  for (let i = 0; i < 6; i++) b[p + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function formatMac(b: Buffer | Uint8Array, p = 0): string {
  return `${HEX[b[p]!]}:${HEX[b[p + 1]!]}:${HEX[b[p + 2]!]}:${HEX[b[p + 3]!]}:${HEX[b[p + 4]!]}:${HEX[b[p + 5]!]}`;
}

export function decMacAddress(b: Buffer, c: Cursor): string {
  if (c.p + 6 > b.length) throw new VppDecodeError('mac_address', 'truncated');
  const s = formatMac(b, c.p);
  c.p += 6;
  return s;
}

// ---- helpers for callers ----

/** True when `s` is a valid IPv4 or IPv6 address in text form. */
export function isIpAddress(s: string): boolean {
  const scratch = Buffer.alloc(16);
  return s.includes(':') ? writeIp6(scratch, 0, s) : writeIp4(scratch, 0, s);
}

/** Parses an address to its bytes (4 or 16), or throws. */
export function ipToBytes(s: string): Buffer {
  const out = Buffer.alloc(s.includes(':') ? 16 : 4);
  const ok = out.length === 16 ? writeIp6(out, 0, s) : writeIp4(out, 0, s);
  if (!ok) fail('address', `"${s}" is not an IP address`);
  return out;
}

/** Canonical text of an address (e.g. "fd00:0::1" -> "fd00::1"). */
export function canonicalIp(s: string): string {
  const b = ipToBytes(s);
  return b.length === 4 ? formatIp4(b, 0) : formatIp6(b, 0);
}
