/** Calico VPP annotations: accepted forms, and every invalid value with its exact error. */
import { ANN, InvalidAnnotationError, parsePodAnnotations } from '../../agent/pod/annotations.js';
import { DEFAULT_FEATURE_GATES, type FeatureGates, type InterfaceLimits } from '../../agent/pod/interface-spec.js';

const limits: InterfaceLimits = { rx: 4, tx: 4, rxqsz: 4096, txqsz: 4096 };
const allOn: FeatureGates = { memifEnabled: true, vclEnabled: true, multinetEnabled: true };

function errorOf(ann: Record<string, string>, gates: FeatureGates = allOn): string {
  try {
    parsePodAnnotations(ann, gates, limits);
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidAnnotationError);
    return (e as Error).message;
  }
  throw new Error('no error');
}

describe('valid annotations', () => {
  test('Calico VPP forms are accepted', () => {
    const a = parsePodAnnotations(
      {
        [ANN.extraMemifPorts]: 'tcp:4444-20000,udp:4444-20000,TCP:80',
        [ANN.interfacesSpec]: '{"eth0": {"rx": 2, "tx": 2, "rxqsz": 1024, "txqsz": 512, "isl3": true, "rxMode": "polling"}, "memif1": {"rx": 1}}',
        [ANN.extraMemifSpec]: '{"rx": 4, "tx": 4, "rxqsz": 2048, "isl3": false}',
        [ANN.vcl]: 'enable',
        [ANN.allowedSourcePrefixes]: '["10.1.0.0/16", "192.0.2.7", "fd00::/64"]',
        'k8s.v1.cni.cncf.io/networks': 'default/memif-net@memif1',
        'unrelated/annotation': 'whatever',
      },
      allOn,
      limits,
    );
    expect(a).toEqual({
      memifPorts: [
        { proto: 'tcp', start: 4444, end: 20000 },
        { proto: 'udp', start: 4444, end: 20000 },
        { proto: 'tcp', start: 80, end: 80 },
      ],
      interfacesSpec: { eth0: { rx: 2, tx: 2, rxqsz: 1024, txqsz: 512, isl3: true, rxMode: 'polling' }, memif1: { rx: 1 } },
      memifSpec: { rx: 4, tx: 4, rxqsz: 2048, isl3: false },
      vcl: true,
      allowedSourcePrefixes: ['10.1.0.0/16', '192.0.2.7/32', 'fd00::/64'],
    });
  });

  test('no annotations: nothing extra', () => {
    expect(parsePodAnnotations({}, DEFAULT_FEATURE_GATES, limits)).toEqual({ interfacesSpec: {}, vcl: false, allowedSourcePrefixes: [] });
  });

  test('vppVcl disable is accepted even when VCL is gated off', () => {
    expect(parsePodAnnotations({ [ANN.vcl]: 'disable' }, DEFAULT_FEATURE_GATES, limits).vcl).toBe(false);
  });
});

const P = 'expected proto:port[-port][,proto:port[-port]...]';
const SPEC = 'expected {"rx":N,"tx":N,"rxqsz":N,"txqsz":N,"isl3":bool,"rxMode":"polling|interrupt|adaptive|default"}';

describe('invalid annotations, each with its exact error', () => {
  test.each([
    [{ [ANN.extraMemifPorts]: 'tcp:70000' }, `vppExtraMemifPorts "tcp:70000": port 70000 is outside 1-65535; ${P}`],
    [{ [ANN.extraMemifPorts]: 'tcp:0-10' }, `vppExtraMemifPorts "tcp:0-10": port 0 is outside 1-65535; ${P}`],
    [{ [ANN.extraMemifPorts]: 'tcp:2000-1000' }, `vppExtraMemifPorts "tcp:2000-1000": start 2000 is greater than end 1000; ${P}`],
    [{ [ANN.extraMemifPorts]: 'icmp:1' }, `vppExtraMemifPorts "icmp:1": protocol "icmp" cannot be steered to the memif: PBL matches tcp and udp ports only; ${P}`],
    [{ [ANN.extraMemifPorts]: 'sctp:80' }, `vppExtraMemifPorts "sctp:80": protocol "sctp" cannot be steered to the memif: PBL matches tcp and udp ports only; ${P}`],
    [{ [ANN.extraMemifPorts]: 'quic:443' }, `vppExtraMemifPorts "quic:443": unknown protocol "quic" (tcp or udp); ${P}`],
    [{ [ANN.extraMemifPorts]: 'tcp:1000-2000,tcp:1500' }, `vppExtraMemifPorts "tcp:1500": overlaps tcp:1000-2000; ${P}`],
    [{ [ANN.extraMemifPorts]: 'tcp' }, `vppExtraMemifPorts "tcp": not of the form proto:port or proto:start-end; ${P}`],
    [{ [ANN.extraMemifPorts]: 'tcp:80,' }, `vppExtraMemifPorts "": empty item; ${P}`],
    [{ [ANN.extraMemifPorts]: '' }, `vppExtraMemifPorts "": empty value; ${P}`],
    [{ [ANN.interfacesSpec]: '{"eth0": {"rx": 8}}' }, 'vppInterfacesSpec "eth0": rx 8 is above the maximum of 4 queues'],
    [{ [ANN.interfacesSpec]: '{"eth0": {"rxqsz": 1000}}' }, 'vppInterfacesSpec "eth0": rxqsz 1000 is not a power of two'],
    [{ [ANN.interfacesSpec]: '{"eth0": {"txqsz": 8192}}' }, 'vppInterfacesSpec "eth0": txqsz 8192 is above the maximum ring size of 4096'],
    [{ [ANN.interfacesSpec]: '{"eth0": {"tx": 0}}' }, 'vppInterfacesSpec "eth0": tx 0 must be at least 1'],
    [{ [ANN.interfacesSpec]: '{"eth0": {"rxMode": "turbo"}}' }, 'vppInterfacesSpec "eth0": rxMode "turbo" is not one of polling, interrupt, adaptive, default'],
    [{ [ANN.interfacesSpec]: '{"eth0": {"queues": 2}}' }, `vppInterfacesSpec "eth0": unknown field(s) "queues"; ${SPEC}`],
    [{ [ANN.interfacesSpec]: '{"eth0": {"rx": "2"}}' }, `vppInterfacesSpec "eth0": field "rx": Invalid input: expected number, received string; ${SPEC}`],
    [{ [ANN.interfacesSpec]: '[1]' }, 'vppInterfacesSpec "[1]": not a JSON object; expected {"<ifname>":{"rx":N,"tx":N,"rxqsz":N,"txqsz":N,"isl3":bool,"rxMode":"polling|interrupt|adaptive|default"}}'],
    [{ [ANN.extraMemifSpec]: '{"rx": 2, "rxqsz": 3}' }, 'vppExtraMemifSpec "{\\"rx\\": 2, \\"rxqsz\\": 3}": rxqsz 3 is not a power of two'],
    [{ [ANN.vcl]: 'yes' }, 'vppVcl "yes": expected enable or disable'],
    [{ [ANN.allowedSourcePrefixes]: '["10.0.0.0/33"]' }, 'AllowedSourcePrefixes "10.0.0.0/33": not an IP prefix or address; expected ["10.0.0.0/8","fd00::/64","192.0.2.1"]'],
    [{ [ANN.allowedSourcePrefixes]: '"10.0.0.0/8"' }, 'AllowedSourcePrefixes "\\"10.0.0.0/8\\"": not a JSON array of strings; expected ["10.0.0.0/8","fd00::/64","192.0.2.1"]'],
  ])('%j', (ann, message) => {
    expect(errorOf(ann)).toBe(message);
  });

  test('bad JSON names the key and the parser error', () => {
    expect(errorOf({ [ANN.interfacesSpec]: '{eth0' })).toMatch(/^vppInterfacesSpec "\{eth0": not valid JSON \(.+\); expected \{"<ifname>":/);
  });

  test('every problem is reported, not just the first', () => {
    const msg = errorOf({ [ANN.extraMemifPorts]: 'tcp:70000,udp:5-1', [ANN.vcl]: 'on' });
    expect(msg.split('; expected').length).toBeGreaterThan(2);
    expect(msg).toContain('port 70000 is outside 1-65535');
    expect(msg).toContain('start 5 is greater than end 1');
    expect(msg).toContain('vppVcl "on": expected enable or disable');
  });
});

describe('feature gates', () => {
  test('memif ports on a node with memif gated off', () => {
    expect(errorOf({ [ANN.extraMemifPorts]: 'tcp:80' }, { ...allOn, memifEnabled: false })).toBe(
      'vppExtraMemifPorts "tcp:80": memif is disabled on this node (feature gate memifEnabled is false)',
    );
  });
  test('VCL on a node with VCL gated off', () => {
    expect(errorOf({ [ANN.vcl]: 'enable' }, DEFAULT_FEATURE_GATES)).toBe('vppVcl "enable": VCL is disabled on this node (feature gate vclEnabled is false)');
  });
});
