/**
 * Pod annotations (in-process): Calico VPP's five keys and Multus' networks list, from valid seeds,
 * mutated, plus random values. Every input must parse or throw InvalidAnnotationError, whose CNI error is
 * code 7, with a bounded message free of raw control characters and stack frames; nothing may reach
 * Object.prototype.
 */
import { toCniError } from '../../agent/cni/cni-error.js';
import { ANN, InvalidAnnotationError, MULTUS_NETWORKS, parsePodAnnotations } from '../../agent/pod/annotations.js';
import type { FeatureGates, InterfaceLimits } from '../../agent/pod/interface-spec.js';
import { CNI_CODES } from '../../contract/types.js';
import { mutate, RAW_CONTROL, STACK_RE, type Outcome, type Rng, type Surface } from '../lib.js';

const SEEDS: Record<string, string[]> = {
  [ANN.extraMemifPorts]: ['tcp:4444-20000,udp:4444-20000', 'tcp:80', 'TCP:80,udp:53,tcp:1000-2000', 'sctp:1', 'tcp:1-65535'],
  [ANN.interfacesSpec]: ['{"eth0":{"rx":2,"tx":2,"rxqsz":1024,"txqsz":1024,"isl3":true,"rxMode":"polling"}}', '{"eth0":{"isl3":false},"memif1":{"rx":1}}', '{"net1":{"rxMode":"adaptive"}}'],
  [ANN.extraMemifSpec]: ['{"rx":4,"tx":4,"rxqsz":2048,"isl3":false}', '{"rxqsz":4294967296}', '{"rx":256}'],
  [ANN.vcl]: ['enable', 'disable'],
  [ANN.allowedSourcePrefixes]: ['["10.0.0.0/8","fd00::/64","192.0.2.1"]', '["10.0.0.1/8"]', '[]'],
  [MULTUS_NETWORKS]: ['a,ns/b@eth7,c@memif1', '[{"name":"a","interface":"net5"}]'],
};
const TOKENS = ['{', '}', '[', ']', ',', ':', '"', '"eth0"', '"memif1"', '"rx"', '"rxqsz"', '"isl3"', 'true', 'null', '-', '/', '::', 'tcp:', 'udp:', '@', '"__proto__"', '\\u0000', '1e999', '.', ' '];
const GATES: FeatureGates[] = [
  { memifEnabled: true, vclEnabled: true, multinetEnabled: true },
  { memifEnabled: false, vclEnabled: false, multinetEnabled: false },
];
const LIMITS: InterfaceLimits[] = [
  { rx: 16, tx: 16, rxqsz: 16384, txqsz: 16384 },
  { rx: 0, tx: 0, rxqsz: 0, txqsz: 0 },
];

function check(ann: Record<string, string>, gates: FeatureGates, limits: InterfaceLimits): Outcome {
  try {
    const a = parsePodAnnotations(ann, gates, limits);
    if (Object.getPrototypeOf(a.interfacesSpec) !== null) return { failure: 'unexpected', detail: 'interfacesSpec has a prototype' };
  } catch (e) {
    if (!(e instanceof InvalidAnnotationError)) return { failure: 'crash', detail: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    const c = toCniError(e);
    if (c.code === CNI_CODES.internal) return { failure: 'code999', detail: c.msg.slice(0, 500) };
    if (c.code !== CNI_CODES.invalidNetworkConfig) return { failure: 'unexpected', detail: `code ${c.code}` };
    if (STACK_RE.test(e.message)) return { failure: 'stack', detail: e.message.slice(0, 500) };
    if (RAW_CONTROL.test(e.message) || e.message.length > 16 * 1024) return { failure: 'unexpected', detail: `message ${e.message.length} characters or with raw control characters: ${JSON.stringify(e.message.slice(0, 300))}` };
  }
  if ((Object.prototype as Record<string, unknown>)['rx'] !== undefined) return { failure: 'unexpected', detail: 'Object.prototype polluted' };
  return undefined;
}

export function annotationsSurface(): Surface {
  return {
    name: 'annotations',
    level: 'in-process',
    target: 100_000,
    boundMs: 100,
    one(rng: Rng) {
      const ann: Record<string, string> = {};
      const keys = Object.keys(SEEDS);
      const n = 1 + rng.int(keys.length);
      for (let k = 0; k < n; k++) {
        const key = rng.pick(keys);
        const seed = rng.pick(SEEDS[key]!);
        ann[key] = rng.chance(0.1) ? seed : mutate(rng, seed, TOKENS, rng.chance(0.05) ? 300 * 1024 : 4096);
      }
      const gates = rng.pick(GATES);
      const limits = rng.pick(LIMITS);
      return { input: JSON.stringify({ ann, gates, limits }), run: () => check(ann, gates, limits) };
    },
  };
}
