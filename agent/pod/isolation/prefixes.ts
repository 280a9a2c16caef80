/** Address and prefix helpers of the isolation plans (canonical text, masking, host prefixes). */
import { isIP } from 'node:net';
import type { Af } from '../../vpp/isolation.js';

export function afOf(address: string): Af {
  return address.includes(':') ? 6 : 4;
}

export function hostLen(af: Af): number {
  return af === 4 ? 32 : 128;
}

/** The 16-bit groups of an IPv6 address (an embedded IPv4 tail counts as two). */
function ip6Groups(address: string): number[] {
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const part = (s: string | undefined): number[] => {
    if (!s) return [];
    const out: number[] = [];
    for (const g of s.split(':')) {
      if (g.includes('.')) {
        const b = g.split('.').map(Number);
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else out.push(parseInt(g, 16));
    }
    return out;
  };
  const h = part(head);
  const t = part(tail);
  return tail === undefined ? h : [...h, ...new Array<number>(8 - h.length - t.length).fill(0), ...t];
}

function toBytes(address: string): Buffer {
  if (isIP(address) === 4) return Buffer.from(address.split('.').map(Number));
  const b = Buffer.alloc(16);
  ip6Groups(address).forEach((g, i) => b.writeUInt16BE(g, i * 2));
  return b;
}

function fromBytes(af: Af, b: Buffer): string {
  if (af === 4) return [...b].join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // The WHATWG URL parser writes IPv6 in RFC 5952's canonical form.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

/** "10.1.2.3/8" → "10.0.0.0/8"; "fd00::5" → "fd00::5/128" (a bare address is a host prefix). */
export function canonicalNetwork(prefix: string): string {
  const [addr, lenText, extra] = prefix.split('/');
  if (!addr || extra !== undefined || isIP(addr) === 0) throw new Error(`not an IP prefix: ${prefix}`);
  const af = afOf(addr);
  const len = lenText === undefined ? hostLen(af) : Number(lenText);
  if (!Number.isInteger(len) || len < 0 || len > hostLen(af)) throw new Error(`not an IP prefix: ${prefix}`);
  const b = toBytes(addr);
  for (let i = 0; i < b.length; i++) {
    const keep = Math.max(0, Math.min(8, len - i * 8));
    b[i] = b[i]! & ((0xff << (8 - keep)) & 0xff);
  }
  return `${fromBytes(af, b)}/${len}`;
}

/** The host prefix of an address in canonical text. */
export function hostPrefixOf(address: string): string {
  return canonicalNetwork(address);
}
