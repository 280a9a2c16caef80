/**
 * Reads the byte-exact captures from real VPP in ../shared/vpp-golden (one JSON object per line). They live
 * outside the repository (a clone alone has none): the tests that replay them run where they are and
 * say in one line that they are skipped elsewhere, except in CI (CI=true), where missing captures fail.
 * VPPCNI_SHARED_DIR points at another copy of the shared directory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { formatIp4, formatIp6, ipToBytes } from '../../vpp-api/codec/ip.js';
import type { MessageDef } from '../../vpp-api/codec/types.js';

export interface GoldenRecord {
  seq: number;
  dir: 'to_vpp' | 'from_vpp' | string;
  msg_id?: number;
  name?: string;
  name_crc?: string;
  header_hex?: string;
  frame_hex?: string;
  frame_len?: number;
  fields?: Record<string, unknown>;
  note?: string;
  decode_error?: string;
  [k: string]: unknown;
}

export const SHARED_DIR = resolve(process.cwd(), process.env.VPPCNI_SHARED_DIR || join('..', 'shared'));
export const GOLDEN_DIR = join(SHARED_DIR, 'vpp-golden');
export const API_JSON_DIR = join(SHARED_DIR, 'vpp-api');
export const haveGolden = existsSync(GOLDEN_DIR);
export const haveApiJson = existsSync(API_JSON_DIR);
/** CI has the shared directory next to the clone: there, a test needing it never skips. */
export const inCi = !!process.env.CI && process.env.CI !== 'false' && process.env.CI !== '0';

/**
 * `describe` when `dir` exists or in CI (where a missing directory must fail), else `describe.skip` after
 * one line on stderr saying what is missing and how to get the test to run.
 */
export function describeWithShared(file: string, dir: string, what: string): jest.Describe {
  if (existsSync(dir) || inCi) return describe;
  process.stderr.write(`${file}: skipped: ${what} not found at ${dir} (outside the repository; set VPPCNI_SHARED_DIR to the shared directory to run it)\n`);
  return describe.skip;
}

/** Integers beyond 2^53 are quoted before parsing so they survive as exact strings. */
export function parseGoldenLine(line: string): GoldenRecord {
  return JSON.parse(line.replace(/([:[,]\s*)(-?\d{16,})(?=\s*[,\]}])/g, '$1"$2"')) as GoldenRecord;
}

export function readGolden(file: string): GoldenRecord[] {
  return readFileSync(join(GOLDEN_DIR, file), 'utf8')
    .split('\n')
    .filter((l) => l.trim().length > 0)
    .map(parseGoldenLine);
}

export const GOLDEN_FILES = [
  'handshake.jsonl', 'basics.jsonl', 'memif.jsonl', 'routes.jsonl', 'tap.jsonl', 'pbl.jsonl',
  'session.jsonl', 'events.jsonl', 'pipelining.jsonl', 'afpacket.jsonl', 'errors.jsonl',
];

/** Converts decoded values to the capture's JSON form: Buffers as hex, bigints as numbers or exact strings. */
export function toGoldenForm(v: unknown): unknown {
  if (typeof v === 'bigint') return v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER) ? v.toString() : Number(v);
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (Array.isArray(v)) return v.map(toGoldenForm);
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toGoldenForm(x)]));
  return v;
}

/**
 * VPP's Python client prints a `prefix` as a network (host bits cleared) while our decoder keeps every bit
 * (so a decoded message re-encodes to the same bytes): compare fields named `prefix` with host bits cleared.
 */
export function maskPrefixes(v: unknown, key = ''): unknown {
  if (typeof v === 'string' && key === 'prefix' && v.includes('/')) {
    const [addr, lenText] = v.split('/') as [string, string];
    const bytes = ipToBytes(addr);
    let len = Number(lenText);
    for (let i = 0; i < bytes.length; i++) {
      const keep = Math.max(0, Math.min(8, len));
      bytes[i] = bytes[i]! & ((0xff << (8 - keep)) & 0xff);
      len -= 8;
    }
    return `${bytes.length === 4 ? formatIp4(bytes, 0) : formatIp6(bytes, 0)}/${lenText}`;
  }
  if (Array.isArray(v)) return v.map((x) => maskPrefixes(x));
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, maskPrefixes(x, k)]));
  return v;
}

/** The message table of a capture's handshake: name_crc → id as that VPP numbered them. */
export function idsOf(records: GoldenRecord[]): Map<string, number> {
  const reply = records.find((r) => r.name === 'sockclnt_create_reply');
  const table = (reply?.fields?.message_table ?? []) as { index: number; name: string }[];
  return new Map(table.map((e) => [e.name, e.index]));
}

/** A captured message's fields without the header fields the transport fills (id, context, client index). */
export function bodyOf(rec: GoldenRecord, def: MessageDef): Record<string, unknown> {
  const f = { ...(rec.fields ?? {}) };
  delete f._vl_msg_id;
  if (def.contextOffset >= 0) delete f.context;
  if (def.clientIndexOffset >= 0) delete f.client_index;
  return f;
}

/** A decoded message in the captures' form, with prefixes masked as VPP prints them. */
export function decodedForm(def: MessageDef, msg: Buffer): Record<string, unknown> {
  return maskPrefixes(toGoldenForm(def.decode(msg))) as Record<string, unknown>;
}
