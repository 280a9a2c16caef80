/**
 * Regression tests for the fuzz campaign's findings on annotations (issue 17, items 1-4 and 11): each
 * input that showed a defect, and what it must give now.
 */
import { echo } from '../../contract/echo.js';
import { parseStrictJson, StrictJsonError } from '../../contract/strict-json.js';
import { toCniError } from '../../agent/cni/cni-error.js';
import { ConfigError, loadConfig } from '../../agent/config.js';
import { ANN, InvalidAnnotationError, MAX_ANNOTATION_LENGTH, parsePodAnnotations } from '../../agent/pod/annotations.js';
import { isPowerOfTwo, type FeatureGates, type InterfaceLimits } from '../../agent/pod/interface-spec.js';
import { wireTable } from '../../agent/vpp/wire-widths.js';
import { CNI_CODES } from '../../contract/types.js';
import * as generated from '../../vpp-api/generated/index.js';

const allOn: FeatureGates = { memifEnabled: true, vclEnabled: true, multinetEnabled: true };
const limits: InterfaceLimits = { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 };
const noLimits: InterfaceLimits = { rx: 0, tx: 0, rxqsz: 0, txqsz: 0 };

function failure(ann: Record<string, string>, lim: InterfaceLimits = limits): InvalidAnnotationError {
  try {
    parsePodAnnotations(ann, allOn, lim);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidAnnotationError);
    return e as InvalidAnnotationError;
  }
  throw new Error('accepted');
}

describe('1. deep nesting', () => {
  test('5000 nested arrays under eth0: code 7 naming the key and the depth, not 999', () => {
    const e = failure({ [ANN.interfacesSpec]: `{"eth0":${'['.repeat(5000)}${']'.repeat(5000)}}` });
    expect(e.message).toMatch(/^vppInterfacesSpec "\{\\"eth0\\":\[\[\[.*…" \(10009 characters\): not valid JSON \(nested deeper than 2 levels at offset 9\); expected /);
    expect(toCniError(e).code).toBe(CNI_CODES.invalidNetworkConfig);
  });

  test('the strict parser refuses depth before recursing: 1,000,000 levels do not reach the stack', () => {
    expect(() => parseStrictJson('['.repeat(1_000_000), { maxLength: 2_000_000, maxDepth: 64 })).toThrow(new StrictJsonError('nested deeper than 64 levels at offset 64', 64));
  });
});

describe('2. port lists', () => {
  test('a 184 KiB list is refused by its length, before any item is read', () => {
    const items = Array.from({ length: 20_000 }, (_, i) => `${i % 2 ? 'udp' : 'tcp'}:${(i % 65535) + 1}`).join(',');
    expect(items.length).toBeGreaterThan(MAX_ANNOTATION_LENGTH);
    const e = failure({ [ANN.extraMemifPorts]: items });
    expect(e.problems).toHaveLength(1);
    expect(e.message).toBe(`vppExtraMemifPorts ${echo(items)}: ${items.length} characters, more than the ${MAX_ANNOTATION_LENGTH} accepted`);
  });

  test('a list just under the limit is checked whole: every overlap is found, the message lists ten', () => {
    const n = Math.floor(MAX_ANNOTATION_LENGTH / 'tcp:1-65535,'.length);
    const e = failure({ [ANN.extraMemifPorts]: Array(n).fill('tcp:1-65535').join(',') });
    expect(e.problems).toHaveLength(n - 1);
    expect(e.message.split('; expected').length - 1).toBe(10);
    expect(e.message).toMatch(new RegExp(`; and ${n - 11} more problems$`));
  });

  test('distinct items in any order are accepted in the order written', () => {
    const a = parsePodAnnotations({ [ANN.extraMemifPorts]: 'udp:9000-9100,tcp:80,udp:53,tcp:81-90,tcp:8080' }, allOn, limits);
    expect(a.memifPorts).toEqual([
      { proto: 'udp', start: 9000, end: 9100 },
      { proto: 'tcp', start: 80, end: 80 },
      { proto: 'udp', start: 53, end: 53 },
      { proto: 'tcp', start: 81, end: 90 },
      { proto: 'tcp', start: 8080, end: 8080 },
    ]);
  });

  test('an item overlapping a range written before a shorter one is still found', () => {
    expect(failure({ [ANN.extraMemifPorts]: 'tcp:1-100,tcp:5,tcp:50' }).message).toBe(
      'vppExtraMemifPorts "tcp:5": overlaps tcp:1-100; expected proto:port[-port][,proto:port[-port]...]; vppExtraMemifPorts "tcp:50": overlaps tcp:1-100; expected proto:port[-port][,proto:port[-port]...]',
    );
  });
});

describe('3. limits that limit', () => {
  test.each([
    [4294967296, "rxqsz 4294967296 does not fit VPP's memif_create_v2.ring_size (u32, at most 4294967295)"],
    [6442450944, 'rxqsz 6442450944 is not a power of two'],
  ])('rxqsz %d with no configured limit', (v, msg) => {
    expect(isPowerOfTwo(v)).toBe(v === 2 ** 32);
    expect(failure({ [ANN.extraMemifSpec]: `{"rxqsz":${v}}` }, noLimits).message).toBe(`vppExtraMemifSpec "{\\"rxqsz\\":${v}}": ${msg}`);
  });

  test.each([
    [ANN.extraMemifSpec, '{"rx":256}', `vppExtraMemifSpec "{\\"rx\\":256}": rx 256 does not fit VPP's memif_create_v2.rx_queues (u8, at most 255)`],
    [ANN.interfacesSpec, '{"eth0":{"rx":70000}}', `vppInterfacesSpec "eth0": rx 70000 does not fit VPP's tap_create_v3.num_rx_queues (u16, at most 65535)`],
    [ANN.interfacesSpec, '{"eth0":{"txqsz":65536}}', `vppInterfacesSpec "eth0": txqsz 65536 does not fit VPP's tap_create_v3.tx_ring_sz (u16, at most 65535)`],
  ])('%s %s with no configured limit: code 7 naming the annotation and the VPP field', (key, value, msg) => {
    const e = failure({ [key]: value }, noLimits);
    expect(e.message).toBe(msg);
    expect(toCniError(e)).toEqual({ code: CNI_CODES.invalidNetworkConfig, msg: `invalid pod annotations: ${msg}`, details: '' });
  });

  test('largest values that fit are accepted with no configured limit', () => {
    const a = parsePodAnnotations({ [ANN.extraMemifSpec]: '{"rx":255,"tx":255,"rxqsz":2147483648}', [ANN.interfacesSpec]: '{"eth0":{"rx":65535,"rxqsz":32768,"txqsz":32768}}' }, allOn, noLimits);
    expect(a.memifSpec).toEqual({ rx: 255, tx: 255, rxqsz: 2147483648 });
    expect(a.interfacesSpec.eth0).toEqual({ rx: 65535, rxqsz: 32768, txqsz: 32768 });
  });

  test('default sizes that do not fit the wire are a configuration error at start', () => {
    const env = { NODE_NAME: 'n1', VPPCNI_MAX_POD_IF_SPEC: '{"rx":0,"tx":0,"rxqsz":0,"txqsz":0}', VPPCNI_DEFAULT_POD_IF_SPEC: '{"rx":256}' };
    expect(() => loadConfig(env, [])).toThrow(new ConfigError("VPPCNI_DEFAULT_POD_IF_SPEC: rx 256 does not fit VPP's memif_create_v2.rx_queues (u8, at most 255)"));
  });

  test('every row of the wire table is what the codec really carries: max encodes, max + 1 does not', () => {
    const defs = new Map(Object.values(generated).flatMap((m) => Object.values(m as Record<string, unknown>)).filter((d): d is { name: string; encode: (...a: unknown[]) => void; size: (v: unknown) => number } => typeof d === 'object' && d !== null && 'encode' in d && 'name' in d).map((d) => [d.name, d]));
    const rows = wireTable().flatMap((r) => r.slots);
    expect(rows.length).toBeGreaterThanOrEqual(7);
    for (const s of rows) {
      const [msg, field] = s.where.split('.') as [string, string];
      const def = defs.get(msg)!;
      expect(def).toBeDefined();
      const enc = (v: number): void => {
        const b = Buffer.alloc(def.size({ [field]: v }));
        def.encode(b, 0, 1, 0, 0, { [field]: v });
      };
      expect(() => enc(s.max)).not.toThrow();
      expect(() => enc(s.max + 1)).toThrow(/out of range/);
    }
  });
});

describe('4. nothing accepted silently', () => {
  const networks = 'k8s.v1.cni.cncf.io/networks';
  test.each([
    ['eth1', {}, 'vppInterfacesSpec key "eth1": the pod has no such interface (it has "eth0"; secondary interfaces come from k8s.v1.cni.cncf.io/networks)'],
    ['', {}, 'vppInterfacesSpec key "": not an interface name (1-15 of A-Z a-z 0-9 _ . -); expected {"<ifname>":{"rx":N,"tx":N,"rxqsz":N,"txqsz":N,"isl3":bool,"rxMode":"polling|interrupt|adaptive|default"}}'],
    ['a/b', {}, 'vppInterfacesSpec key "a/b": not an interface name (1-15 of A-Z a-z 0-9 _ . -); expected {"<ifname>":{"rx":N,"tx":N,"rxqsz":N,"txqsz":N,"isl3":bool,"rxMode":"polling|interrupt|adaptive|default"}}'],
    ['abcdefghijklmnopqrst', {}, 'vppInterfacesSpec key "abcdefghijklmnopqrst": not an interface name (1-15 of A-Z a-z 0-9 _ . -); expected {"<ifname>":{"rx":N,"tx":N,"rxqsz":N,"txqsz":N,"isl3":bool,"rxMode":"polling|interrupt|adaptive|default"}}'],
    ['__proto__', {}, 'vppInterfacesSpec key "__proto__": the pod has no such interface (it has "eth0"; secondary interfaces come from k8s.v1.cni.cncf.io/networks)'],
    ['net2', { [networks]: 'a,b@eth7' }, 'vppInterfacesSpec key "net2": the pod has no such interface (it has "eth0", "net1", "eth7"; secondary interfaces come from k8s.v1.cni.cncf.io/networks)'],
  ])('key %j is refused by name', (key, extra, msg) => {
    expect(failure({ ...extra, [ANN.interfacesSpec]: JSON.stringify({ [key]: { rx: 1 } }) }).message).toBe(msg);
  });

  test('interfaces named by the Multus annotation (text and JSON forms) are accepted', () => {
    const spec = JSON.stringify({ net1: { rx: 2 }, eth7: { rx: 1 }, memif1: { rx: 3 } });
    expect(Object.keys(parsePodAnnotations({ [networks]: 'a, ns/b@eth7, c@memif1', [ANN.interfacesSpec]: spec }, allOn, limits).interfacesSpec)).toEqual(['net1', 'eth7', 'memif1']);
    expect(Object.keys(parsePodAnnotations({ [networks]: '[{"name":"a"},{"name":"b","interface":"eth7"},{"name":"c","interface":"memif1"}]', [ANN.interfacesSpec]: spec }, allOn, limits).interfacesSpec)).toEqual(['net1', 'eth7', 'memif1']);
  });

  test('a __proto__ key neither becomes a prototype nor pollutes Object.prototype', () => {
    const raw = '{"eth0":{"rx":1},"__proto__":{"rx":2,"polluted":true}}';
    expect(failure({ [ANN.interfacesSpec]: raw }).problems).toHaveLength(1);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const memifProto = failure({ [ANN.extraMemifSpec]: '{"__proto__":2}' });
    expect(memifProto.message).toMatch(/^vppExtraMemifSpec .*: unknown field\(s\) "__proto__"; expected /);
  });

  test('a repeated JSON key is refused with its name, not last-one-wins', () => {
    expect(failure({ [ANN.interfacesSpec]: '{"eth0":{"rx":1},"eth0":{"rx":2}}' }).message).toMatch(/^vppInterfacesSpec .*: not valid JSON \(duplicate key "eth0" at offset 17\); expected /);
    expect(failure({ [ANN.extraMemifSpec]: '{"rx":1,"rx":2}' }).message).toMatch(/not valid JSON \(duplicate key "rx" at offset 8\)/);
  });

  test.each([
    ['10.0.0.1/8', '10.0.0.0/8'],
    ['fd00::1/64', 'fd00::/64'],
    ['192.168.1.129/25', '192.168.1.128/25'],
  ])('AllowedSourcePrefixes %s: host bits set, refused naming the network', (p, net) => {
    expect(failure({ [ANN.allowedSourcePrefixes]: JSON.stringify([p]) }).message).toBe(`AllowedSourcePrefixes "${p}": host bits set (the prefix is ${net}); expected ["10.0.0.0/8","fd00::/64","192.0.2.1"]`);
  });

  test('prefixes without host bits are kept', () => {
    expect(parsePodAnnotations({ [ANN.allowedSourcePrefixes]: '["10.0.0.0/8","fd00:0::/64","0.0.0.0/0","192.0.2.1/32"]' }, allOn, limits).allowedSourcePrefixes).toEqual([
      '10.0.0.0/8',
      'fd00:0::/64',
      '0.0.0.0/0',
      '192.0.2.1/32',
    ]);
  });
});

describe('11. echoed values', () => {
  test('control characters are escaped and a long value is cut, in the error and in the problem', () => {
    const evil = `yes\n{"level":60,"msg":"forged"}\u001b[2J\u0085\u2028${'x'.repeat(MAX_ANNOTATION_LENGTH - 100)}`;
    const e = failure({ [ANN.vcl]: evil });
    expect(e.message).toBe(`vppVcl ${echo(evil)}: expected enable or disable`);
    expect(e.message.length).toBeLessThan(300);
    expect(e.message).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/);
    expect(e.message).toContain('\\n{\\"level\\":60');
    expect(e.message).toContain(`(${evil.length} characters)`);
    expect(e.problems[0]!.value.length).toBeLessThanOrEqual(256);
  });

  test('echo: short values as JSON strings, long ones cut without splitting a surrogate pair', () => {
    expect(echo('tcp:80')).toBe('"tcp:80"');
    expect(echo('a\u0000b\u007fc\u202ed')).toBe('"a\\u0000b\\u007fc\\u202ed"');
    expect(echo(`${'a'.repeat(63)}😀tail`)).toBe(`"${'a'.repeat(63)}😀…" (68 characters)`);
  });
});
