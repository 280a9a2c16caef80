/**
 * Calico VPP's pod annotations, parsed and validated (a trust boundary: anyone who can create a pod
 * writes them). Every invalid value is an error naming the key, the bad value and the accepted form;
 * nothing is silently ignored. Keys and grammar follow Calico VPP so annotated pods move over unchanged.
 */
import { z } from 'zod';
import { isIpAddress } from '../vpp/api.js';
import { specProblems, interfaceSpecSchema, type FeatureGates, type InterfaceLimits, type InterfaceSpecInput } from './interface-spec.js';

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
  value: string;
  message: string;
}

export class InvalidAnnotationError extends Error {
  override readonly name = 'InvalidAnnotationError';
  constructor(readonly problems: AnnotationProblem[]) {
    super(problems.map((p) => p.message).join('; '));
  }
}

function short(key: string): string {
  return key.startsWith(ANNOTATION_PREFIX) ? key.slice(ANNOTATION_PREFIX.length) : key;
}

function parsePorts(raw: string, problems: AnnotationProblem[]): PortRange[] {
  const key = short(ANN.extraMemifPorts);
  const bad = (item: string, why: string): void => {
    problems.push({ key, value: item, message: `${key} "${item}": ${why}; expected ${PORTS_FORM}` });
  };
  const out: PortRange[] = [];
  const items = raw.split(',').map((s) => s.trim());
  if (raw.trim() === '') {
    bad(raw, 'empty value');
    return out;
  }
  for (const item of items) {
    const m = /^([A-Za-z0-9]+):(\d+)(?:-(\d+))?$/.exec(item);
    if (!m) {
      bad(item, item === '' ? 'empty item' : 'not of the form proto:port or proto:start-end');
      continue;
    }
    const proto = m[1]!.toLowerCase();
    if (NOT_STEERABLE.has(proto)) {
      bad(item, `protocol "${m[1]}" cannot be steered to the memif: PBL matches tcp and udp ports only`);
      continue;
    }
    if (!(proto in PROTO_NUMBERS)) {
      bad(item, `unknown protocol "${m[1]}" (tcp or udp)`);
      continue;
    }
    const start = Number(m[2]);
    const end = m[3] === undefined ? start : Number(m[3]);
    const outside = [start, end].find((p) => p < 1 || p > 65535);
    if (outside !== undefined) {
      bad(item, `port ${outside} is outside 1-65535`);
      continue;
    }
    if (start > end) {
      bad(item, `start ${start} is greater than end ${end}`);
      continue;
    }
    const r: PortRange = { proto: proto as PortProto, start, end };
    const clash = out.find((o) => o.proto === r.proto && o.start <= r.end && r.start <= o.end);
    if (clash) {
      bad(item, `overlaps ${clash.proto}:${clash.start === clash.end ? clash.start : `${clash.start}-${clash.end}`}`);
      continue;
    }
    out.push(r);
  }
  return out;
}

function parseJson(raw: string, key: string, form: string, problems: AnnotationProblem[]): unknown {
  try {
    return JSON.parse(raw) as unknown;
  } catch (e) {
    problems.push({ key, value: raw, message: `${key} ${JSON.stringify(raw)}: not valid JSON (${(e as Error).message}); expected ${form}` });
    return undefined;
  }
}

function checkSpec(v: unknown, key: string, label: string, raw: string, limits: InterfaceLimits, problems: AnnotationProblem[]): InterfaceSpecInput | undefined {
  const r = interfaceSpecSchema.safeParse(v);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length ? ` field "${issue.path.join('.')}"` : '';
    const why = issue.code === 'unrecognized_keys' ? `unknown field(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}` : `${where.trim() || 'value'}: ${issue.message}`;
    problems.push({ key, value: raw, message: `${key} ${label}: ${why}; expected ${SPEC_FORM}` });
    return undefined;
  }
  const errs = specProblems(r.data, limits);
  for (const e of errs) problems.push({ key, value: raw, message: `${key} ${label}: ${e}` });
  return errs.length === 0 ? r.data : undefined;
}

/** Parses a pod's annotations. Throws InvalidAnnotationError listing every problem. */
export function parsePodAnnotations(annotations: Readonly<Record<string, string>>, gates: FeatureGates, limits: InterfaceLimits): PodAnnotations {
  const problems: AnnotationProblem[] = [];
  const out: PodAnnotations = { interfacesSpec: {}, vcl: false, allowedSourcePrefixes: [] };

  const ports = annotations[ANN.extraMemifPorts];
  if (ports !== undefined) {
    const key = short(ANN.extraMemifPorts);
    if (!gates.memifEnabled) {
      problems.push({ key, value: ports, message: `${key} "${ports}": memif is disabled on this node (feature gate memifEnabled is false)` });
    } else {
      out.memifPorts = parsePorts(ports, problems);
    }
  }

  const ifSpec = annotations[ANN.interfacesSpec];
  if (ifSpec !== undefined) {
    const key = short(ANN.interfacesSpec);
    const v = parseJson(ifSpec, key, IFSPEC_FORM, problems);
    if (v !== undefined) {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) {
        problems.push({ key, value: ifSpec, message: `${key} ${JSON.stringify(ifSpec)}: not a JSON object; expected ${IFSPEC_FORM}` });
      } else {
        for (const [ifname, spec] of Object.entries(v as Record<string, unknown>)) {
          const s = checkSpec(spec, key, `"${ifname}"`, JSON.stringify(spec), limits, problems);
          if (s) out.interfacesSpec[ifname] = s;
        }
      }
    }
  }

  const memifSpec = annotations[ANN.extraMemifSpec];
  if (memifSpec !== undefined) {
    const key = short(ANN.extraMemifSpec);
    const v = parseJson(memifSpec, key, SPEC_FORM, problems);
    if (v !== undefined) {
      const s = checkSpec(v, key, JSON.stringify(memifSpec), memifSpec, limits, problems);
      if (s) out.memifSpec = s;
    }
  }

  const vcl = annotations[ANN.vcl];
  if (vcl !== undefined) {
    const key = short(ANN.vcl);
    if (vcl !== 'enable' && vcl !== 'disable') {
      problems.push({ key, value: vcl, message: `${key} "${vcl}": expected enable or disable` });
    } else if (vcl === 'enable' && !gates.vclEnabled) {
      problems.push({ key, value: vcl, message: `${key} "${vcl}": VCL is disabled on this node (feature gate vclEnabled is false)` });
    } else {
      out.vcl = vcl === 'enable';
    }
  }

  const asp = annotations[ANN.allowedSourcePrefixes];
  if (asp !== undefined) {
    const key = short(ANN.allowedSourcePrefixes);
    const form = '["10.0.0.0/8","fd00::/64","192.0.2.1"]';
    const v = parseJson(asp, key, form, problems);
    if (v !== undefined) {
      const arr = z.array(z.string()).safeParse(v);
      if (!arr.success) problems.push({ key, value: asp, message: `${key} ${JSON.stringify(asp)}: not a JSON array of strings; expected ${form}` });
      else {
        for (const p of arr.data) {
          const canon = canonicalPrefix(p);
          if (!canon) problems.push({ key, value: p, message: `${key} "${p}": not an IP prefix or address; expected ${form}` });
          else out.allowedSourcePrefixes.push(canon);
        }
      }
    }
  }

  if (problems.length > 0) throw new InvalidAnnotationError(problems);
  return out;
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
