/** Address and prefix helpers of the isolation plans (canonical text, masking, host prefixes). */
import { isIP } from 'node:net';
import { encIp6Address, formatIp4, formatIp6 } from '../../../vpp-api/codec/ip.js';
import type { Af } from './tables.js';

export function afOf(address: string): Af {
  return address.includes(':') ? 6 : 4;
}

export function hostLen(af: Af): number {
  return af === 4 ? 32 : 128;
}

function toBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  const b = Buffer.alloc(16);
  encIp6Address(b, 0, address);
  return b;
}

/** "10.1.2.3/8" → "10.0.0.0/8"; "fd00::5" → "fd00::5/128" (a bare address is a host prefix). */
export function canonicalNetwork(prefix: string): string {
  const [addr, lenText] = prefix.split('/');
  if (!addr || isIP(addr) === 0) throw new Error(`not an IP prefix: ${prefix}`);
  const af = afOf(addr);
  const len = lenText === undefined ? hostLen(af) : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > hostLen(af)) throw new Error(`not an IP prefix: ${prefix}`);
  const b = toBytes(addr);
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${af === 4 ? formatIp4(b, 0) : formatIp6(b, 0)}/${len}`;
}

/** The host prefix of an address in canonical text. */
export function hostPrefixOf(address: string): string {
  return canonicalNetwork(address);
}
