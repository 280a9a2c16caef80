/**
 * Calico VPP's pod annotations, parsed and validated (a trust boundary: anyone who can create a pod
 * writes them). Every invalid value is an error naming the key, the bad value (cut and escaped) and the
 * accepted form; nothing is silently ignored. Keys and grammar follow Calico VPP so annotated pods move
 * over unchanged.
 *
 * Hostile input is bounded: each value is size-checked before it is parsed, JSON is parsed with a depth
 * limit and refuses repeated keys, every check is linear (or n log n) in the value's length, and values
 * are checked against the wire widths of the VPP fields they are sent in (wire-widths.ts).
 */
import { z } from 'zod';
import { echo } from '../../contract/echo.js';
import { parseStrictJson, StrictJsonError, type StrictJsonValue } from '../../contract/strict-json.js';
import { formatIp4, formatIp6, ipToBytes, isIpAddress } from '../vpp/api.js';
import { specProblems, interfaceSpecSchema, type FeatureGates, type InterfaceLimits, type InterfaceSpecInput } from './interface-spec.js';
import type { SpecTarget } from '../vpp/wire-widths.js';

export const ANNOTATION_PREFIX = 'cni.projectcalico.org/';
export const ANN = {
  extraMemifPorts: `${ANNOTATION_PREFIX}vppExtraMemifPorts`,
  interfacesSpec: `${ANNOTATION_PREFIX}vppInterfacesSpec`,
  extraMemifSpec: `${ANNOTATION_PREFIX}vppExtraMemifSpec`,
  vcl: `${ANNOTATION_PREFIX}vppVcl`,
  allowedSourcePrefixes: `${ANNOTATION_PREFIX}AllowedSourcePrefixes`,
} as const;

export const PORTS_FORM = 'proto:port[-port][,proto:port[-port]...]';
const SPEC_FORM = '{"rx":N,"tx":N,"rxqsz":N,"txqsz":N,"isl3":bool,"rxMode":"polling|interrupt|adaptive|default"}';
const IFSPEC_FORM = `{"<ifname>":${SPEC_FORM}}`;

/** What PBL steers by port: VPP's pbl plugin matches TCP and UDP only (Calico also parses sctp, icmp, icmp6). */
export type PortProto = 'tcp' | 'udp';
/** IANA protocol numbers, as PBL's port ranges carry them. */
export const PROTO_NUMBERS: Record<PortProto, number> = { tcp: 6, udp: 17 };
const NOT_STEERABLE = new Set(['sctp', 'icmp', 'icmp6']);

export interface PortRange {
  proto: PortProto;
  start: number;
  end: number;
}

export interface PodAnnotations {
  /** Ports steered to the PBL memif (vppExtraMemifPorts); undefined when the pod has no PBL memif. */
  memifPorts?: PortRange[];
  /** Per interface name (vppInterfacesSpec). */
  interfacesSpec: Record<string, InterfaceSpecInput>;
  /** Sizing of the PBL memif (vppExtraMemifSpec). */
  memifSpec?: InterfaceSpecInput;
  vcl: boolean;
  /** Extra source prefixes (AllowedSourcePrefixes), canonical "addr/len". */
  allowedSourcePrefixes: string[];
}

export interface AnnotationProblem {
  /** Short key, e.g. `vppExtraMemifPorts`. */
  key: string;
  /** The offending value, cut to ECHO_KEEP characters. */
  value: string;
  message: string;
}

/** Longest annotation value read, in characters (the apiserver allows 256 KiB for all of a pod's annotations). */
export const MAX_ANNOTATION_LENGTH = 64 * 1024;
/** Problems spelled out in an error message; the rest are counted. */
export const MAX_LISTED_PROBLEMS = 10;
/** How much of an offending value a problem keeps. */
const ECHO_KEEP = 256;
/** Multus' list of a pod's secondary networks: it names the pod's other interfaces. */
export const MULTUS_NETWORKS = 'k8s.v1.cni.cncf.io/networks';
/** A Linux interface name as the drivers accept it (IFNAMSIZ - 1 characters). */
const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

export class InvalidAnnotationError extends Error {
  override readonly name = 'InvalidAnnotationError';
  constructor(readonly problems: AnnotationProblem[]) {
    const more = problems.length - MAX_LISTED_PROBLEMS;
    super(
      problems
        .slice(0, MAX_LISTED_PROBLEMS)
        .map((p) => p.message)
        .join('; ') + (more > 0 ? `; and ${more} more problem${more === 1 ? '' : 's'}` : ''),
    );
  }
}

function short(key: string): string {
  return key.startsWith(ANNOTATION_PREFIX) ? key.slice(ANNOTATION_PREFIX.length) : key;
}

function problem(key: string, value: string, message: string): AnnotationProblem {
  return { key, value: value.length > ECHO_KEEP ? value.slice(0, ECHO_KEEP) : value, message };
}

const portLabel = (r: PortRange): string => `${r.proto}:${r.start === r.end ? r.start : `${r.start}-${r.end}`}`;

/**
 * `proto:port[-port],...`. Overlaps are found by sorting (n log n), not by comparing every pair: a
 * 64 KiB list has some 7,000 items.
 */
function parsePorts(raw: string, problems: AnnotationProblem[]): PortRange[] {
  const key = short(ANN.extraMemifPorts);
  const bad = (item: string, why: string): void => {
    problems.push(problem(key, item, `${key} ${echo(item)}: ${why}; expected ${PORTS_FORM}`));
  };
  if (raw.trim() === '') {
    bad(raw, 'empty value');
    return [];
  }
  const accepted: { r: PortRange; item: string; idx: number }[] = [];
  const items = raw.split(',').map((s) => s.trim());
  items.forEach((item, idx) => {
    const m = /^([A-Za-z0-9]{1,16}):(\d{1,10})(?:-(\d{1,10}))?$/.exec(item);
    if (!m) {
      bad(item, item === '' ? 'empty item' : 'not of the form proto:port or proto:start-end');
      return;
    }
    const proto = m[1]!.toLowerCase();
    if (NOT_STEERABLE.has(proto)) {
      bad(item, `protocol "${m[1]}" cannot be steered to the memif: PBL matches tcp and udp ports only`);
      return;
    }
    if (!Object.prototype.hasOwnProperty.call(PROTO_NUMBERS, proto)) {
      bad(item, `unknown protocol "${m[1]}" (tcp or udp)`);
      return;
    }
    const start = Number(m[2]);
    const end = m[3] === undefined ? start : Number(m[3]);
    const outside = [start, end].find((p) => p < 1 || p > 65535);
    if (outside !== undefined) {
      bad(item, `port ${outside} is outside 1-65535`);
      return;
    }
    if (start > end) {
      bad(item, `start ${start} is greater than end ${end}`);
      return;
    }
    accepted.push({ r: { proto: proto as PortProto, start, end }, item, idx });
  });
  // Sweep by (proto, start): an item overlaps an earlier-sorted one iff it starts before the furthest end
  // seen so far; the one written later is named as the bad item.
  const sorted = [...accepted].sort((a, b) => (a.r.proto === b.r.proto ? a.r.start - b.r.start || a.idx - b.idx : a.r.proto < b.r.proto ? -1 : 1));
  const overlapping = new Map<number, { item: string; other: PortRange }>();
  let cover: (typeof accepted)[number] | undefined;
  for (const cur of sorted) {
    if (cover && cover.r.proto === cur.r.proto && cur.r.start <= cover.r.end) {
      const [later, earlier] = cur.idx > cover.idx ? [cur, cover] : [cover, cur];
      if (!overlapping.has(later.idx)) overlapping.set(later.idx, { item: later.item, other: earlier.r });
    }
    if (!cover || cover.r.proto !== cur.r.proto || cur.r.end > cover.r.end) cover = cur;
  }
  for (const [, o] of [...overlapping].sort((a, b) => a[0] - b[0])) bad(o.item, `overlaps ${portLabel(o.other)}`);
  return accepted.filter((a) => !overlapping.has(a.idx)).map((a) => a.r);
}

function parseJson(raw: string, key: string, form: string, maxDepth: number, problems: AnnotationProblem[]): StrictJsonValue | undefined {
  try {
    return parseStrictJson(raw, { maxLength: MAX_ANNOTATION_LENGTH, maxDepth });
  } catch (e) {
    if (!(e instanceof StrictJsonError)) throw e;
    problems.push(problem(key, raw, `${key} ${echo(raw)}: not valid JSON (${e.message}); expected ${form}`));
    return undefined;
  }
}

function isObject(v: StrictJsonValue | undefined): v is { [k: string]: StrictJsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkSpec(v: StrictJsonValue, key: string, label: string, raw: string, target: SpecTarget, limits: InterfaceLimits, problems: AnnotationProblem[]): InterfaceSpecInput | undefined {
  const r = interfaceSpecSchema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? ` field ${echo(issue.path.join('.'))}` : '';
    const unknown = issue.code === 'unrecognized_keys' ? issue.keys : [];
    const why = unknown.length
      ? `unknown field(s) ${unknown
          .slice(0, 5)
          .map((k) => echo(k, 32))
          .join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''}`
      : `${where.trim() || 'value'}: ${issue.message}`;
    problems.push(problem(key, raw, `${key} ${label}: ${why}; expected ${SPEC_FORM}`));
    return undefined;
  }
  const errs = specProblems(r.data, limits, target);
  for (const e of errs) problems.push(problem(key, raw, `${key} ${label}: ${e}`));
  return errs.length === 0 ? r.data : undefined;
}

/**
 * The interface names a pod has: `primary` (eth0) and those of its Multus secondary networks
 * (`ns/name@ifname` items or JSON objects with `interface`; Multus names the others net1, net2, … by
 * position). A networks annotation that cannot be read names none.
 */
export function podInterfaceNames(annotations: Readonly<Record<string, string>>, primary = 'eth0'): Set<string> {
  const out = new Set([primary]);
  const raw = annotations[MULTUS_NETWORKS];
  if (raw === undefined || raw.length > MAX_ANNOTATION_LENGTH) return out;
  const t = raw.trim();
  if (t.startsWith('[')) {
    let v: StrictJsonValue;
    try {
      v = parseStrictJson(t, { maxLength: MAX_ANNOTATION_LENGTH, maxDepth: 8 });
    } catch {
      return out;
    }
    if (!Array.isArray(v)) return out;
    v.forEach((n, i) => {
      const itf = isObject(n) ? n['interface'] : undefined;
      out.add(typeof itf === 'string' && itf !== '' ? itf : `net${i + 1}`);
    });
    return out;
  }
  if (t === '') return out;
  t.split(',').forEach((item, i) => {
    const at = item.lastIndexOf('@');
    out.add(at >= 0 ? item.slice(at + 1).trim() : `net${i + 1}`);
  });
  return out;
}

export interface ParseOptions {
  /** The pod's main interface (default eth0). */
  primaryIfName?: string;
}

/** Parses a pod's annotations. Throws InvalidAnnotationError listing every problem. */
export function parsePodAnnotations(annotations: Readonly<Record<string, string>>, gates: FeatureGates, limits: InterfaceLimits, opts: ParseOptions = {}): PodAnnotations {
  const problems: AnnotationProblem[] = [];
  const out: PodAnnotations = { interfacesSpec: Object.create(null) as Record<string, InterfaceSpecInput>, vcl: false, allowedSourcePrefixes: [] };
  // Own keys only: a key named like an Object.prototype member is not an annotation.
  const get = (k: string): string | undefined => {
    if (!Object.prototype.hasOwnProperty.call(annotations, k)) return undefined;
    const v = annotations[k]!;
    if (v.length <= MAX_ANNOTATION_LENGTH) return v;
    problems.push(problem(short(k), v, `${short(k)} ${echo(v)}: ${v.length} characters, more than the ${MAX_ANNOTATION_LENGTH} accepted`));
    return undefined;
  };

  const ports = get(ANN.extraMemifPorts);
  if (ports !== undefined) {
    const key = short(ANN.extraMemifPorts);
    if (!gates.memifEnabled) {
      problems.push(problem(key, ports, `${key} ${echo(ports)}: memif is disabled on this node (feature gate memifEnabled is false)`));
    } else {
      out.memifPorts = parsePorts(ports, problems);
    }
  }

  const ifSpec = get(ANN.interfacesSpec);
  if (ifSpec !== undefined) {
    const key = short(ANN.interfacesSpec);
    const v = parseJson(ifSpec, key, IFSPEC_FORM, 2, problems);
    if (v !== undefined) {
      if (!isObject(v)) {
        problems.push(problem(key, ifSpec, `${key} ${echo(ifSpec)}: not a JSON object; expected ${IFSPEC_FORM}`));
      } else {
        const names = podInterfaceNames(annotations, opts.primaryIfName);
        const listed = [...names].slice(0, 8).map((n) => echo(n, 16));
        const known = listed.join(', ') + (names.size > listed.length ? ` and ${names.size - listed.length} more` : '');
        for (const ifname of Object.keys(v)) {
          const label = echo(ifname, 32);
          if (!IFNAME.test(ifname) || ifname === '.' || ifname === '..') {
            problems.push(problem(key, ifname, `${key} key ${label}: not an interface name (1-15 of A-Z a-z 0-9 _ . -); expected ${IFSPEC_FORM}`));
            continue;
          }
          if (!names.has(ifname)) {
            problems.push(problem(key, ifname, `${key} key ${label}: the pod has no such interface (it has ${known}; secondary interfaces come from ${MULTUS_NETWORKS})`));
            continue;
          }
          const s = checkSpec(v[ifname]!, key, label, ifSpec, ifname.startsWith('memif') ? 'memif' : 'main', limits, problems);
          if (s) out.interfacesSpec[ifname] = s;
        }
      }
    }
  }

  const memifSpec = get(ANN.extraMemifSpec);
  if (memifSpec !== undefined) {
    const key = short(ANN.extraMemifSpec);
    const v = parseJson(memifSpec, key, SPEC_FORM, 1, problems);
    if (v !== undefined) {
      const s = checkSpec(v, key, echo(memifSpec), memifSpec, 'memif', limits, problems);
      if (s) out.memifSpec = s;
    }
  }

  const vcl = get(ANN.vcl);
  if (vcl !== undefined) {
    const key = short(ANN.vcl);
    if (vcl !== 'enable' && vcl !== 'disable') {
      problems.push(problem(key, vcl, `${key} ${echo(vcl)}: expected enable or disable`));
    } else if (vcl === 'enable' && !gates.vclEnabled) {
      problems.push(problem(key, vcl, `${key} "${vcl}": VCL is disabled on this node (feature gate vclEnabled is false)`));
    } else {
      out.vcl = vcl === 'enable';
    }
  }

  const asp = get(ANN.allowedSourcePrefixes);
  if (asp !== undefined) {
    const key = short(ANN.allowedSourcePrefixes);
    const form = '["10.0.0.0/8","fd00::/64","192.0.2.1"]';
    const v = parseJson(asp, key, form, 1, problems);
    if (v !== undefined) {
      const arr = z.array(z.string()).safeParse(v);
      if (!arr.success) problems.push(problem(key, asp, `${key} ${echo(asp)}: not a JSON array of strings; expected ${form}`));
      else {
        for (const p of arr.data) {
          const canon = canonicalPrefix(p);
          if (!canon) problems.push(problem(key, p, `${key} ${echo(p)}: not an IP prefix or address; expected ${form}`));
          else {
            const net = networkIfHostBits(canon);
            if (net) problems.push(problem(key, p, `${key} ${echo(p)}: host bits set (the prefix is ${net}); expected ${form}`));
            else out.allowedSourcePrefixes.push(canon);
          }
        }
      }
    }
  }

  if (problems.length > 0) throw new InvalidAnnotationError(problems);
  return out;
}

/** For "addr/len" with host bits set, the network (host bits cleared); undefined when there are none. */
function networkIfHostBits(prefix: string): string | undefined {
  const [addr, len] = prefix.split('/') as [string, string];
  const b = ipToBytes(addr);
  const bits = Number(len);
  let set = false;
  for (let i = 0; i < b.length; i++) {
    const mask = (0xff << (8 - Math.max(0, Math.min(8, bits - i * 8)))) & 0xff;
    if ((b[i]! & ~mask) !== 0) set = true;
    b[i]! &= mask;
  }
  return set ? `${b.length === 4 ? formatIp4(b, 0) : formatIp6(b, 0)}/${bits}` : undefined;
}

/** "10.0.0.0/8" or a bare address (a host prefix); undefined when invalid. */
export function canonicalPrefix(s: string): string | undefined {
  const [addr, len, extra] = s.trim().split('/');
  if (extra !== undefined || !addr || !isIpAddress(addr)) return undefined;
  const max = addr.includes(':') ? 128 : 32;
  if (len === undefined) return `${addr}/${max}`;
  if (!/^\d{1,3}$/.test(len) || Number(len) > max) return undefined;
  return `${addr}/${Number(len)}`;
}
