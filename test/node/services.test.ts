/** Services + EndpointSlices → cnat translations (agent/node/services.ts). */
import { desiredServices, translationKey, type TranslationSpec } from '../../agent/node/services.js';
import { endpointSliceSchema, parseKube, serviceSchema, type KubeEndpointSlice, type KubeService } from '../../agent/node/kube-objects.js';

const NODE = 'node-a';

function svc(name: string, spec: Record<string, unknown>, ns = 'default'): KubeService {
  const r = parseKube(serviceSchema, 'Service', { metadata: { name, namespace: ns }, spec });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

interface Ep {
  ip: string | string[];
  ready?: boolean | null;
  serving?: boolean | null;
  terminating?: boolean | null;
  node?: string;
}

function slice(service: string, name: string, addressType: 'IPv4' | 'IPv6', ports: { name?: string; port?: number | null; protocol?: string }[], eps: Ep[], ns = 'default'): KubeEndpointSlice {
  const r = parseKube(endpointSliceSchema, 'EndpointSlice', {
    metadata: { name, namespace: ns, labels: { 'kubernetes.io/service-name': service } },
    addressType,
    ports,
    endpoints: eps.map((e) => ({
      addresses: Array.isArray(e.ip) ? e.ip : [e.ip],
      conditions: { ...(e.ready !== undefined ? { ready: e.ready } : {}), ...(e.serving !== undefined ? { serving: e.serving } : {}), ...(e.terminating !== undefined ? { terminating: e.terminating } : {}) },
      ...(e.node ? { nodeName: e.node } : {}),
    })),
  });
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const backendsOf = (t: TranslationSpec | undefined): string[] => (t ? t.backends.map((b) => `${b.addr}:${b.port}`) : []);

test('one translation per ClusterIP × port × protocol with the ready endpoints, target port from the slice', () => {
  const s = svc('dns', { clusterIP: '10.96.0.10', clusterIPs: ['10.96.0.10'], ports: [{ name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 }, { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 5353 }] });
  const sl = slice('dns', 'dns-1', 'IPv4', [{ name: 'dns', port: 53, protocol: 'UDP' }, { name: 'dns-tcp', port: 5353, protocol: 'TCP' }], [
    { ip: '10.244.2.7', ready: true },
    { ip: '10.244.1.5', ready: true },
    { ip: '10.244.3.3', ready: false },
  ]);
  const d = desiredServices([s], [sl], { nodeName: NODE });
  expect([...d.translations.keys()].sort()).toEqual([translationKey('10.96.0.10', 53, 'TCP'), translationKey('10.96.0.10', 53, 'UDP')]);
  expect(backendsOf(d.translations.get('10.96.0.10|53|UDP'))).toEqual(['10.244.1.5:53', '10.244.2.7:53']);
  expect(backendsOf(d.translations.get('10.96.0.10|53|TCP'))).toEqual(['10.244.1.5:5353', '10.244.2.7:5353']);
  expect(d.skipped).toEqual([]);
  expect(d.warnings).toEqual([]);
});

test('unset ready counts as ready; serving-but-terminating only when no endpoint is ready', () => {
  const s = svc('web', { clusterIP: '10.96.1.1', ports: [{ port: 80 }] });
  const mixed = slice('web', 'w1', 'IPv4', [{ port: 8080 }], [{ ip: '10.244.1.1' }, { ip: '10.244.1.2', ready: false, serving: true, terminating: true }]);
  expect(backendsOf(desiredServices([s], [mixed], { nodeName: NODE }).translations.get('10.96.1.1|80|TCP'))).toEqual(['10.244.1.1:8080']);
  const onlyTerminating = slice('web', 'w1', 'IPv4', [{ port: 8080 }], [
    { ip: '10.244.1.2', ready: false, serving: true, terminating: true },
    { ip: '10.244.1.3', ready: false, serving: false, terminating: true },
    { ip: '10.244.1.4', ready: false, serving: false },
  ]);
  expect(backendsOf(desiredServices([s], [onlyTerminating], { nodeName: NODE }).translations.get('10.96.1.1|80|TCP'))).toEqual(['10.244.1.2:8080']);
});

test('never a translation with 0 paths: a Service without ready endpoints has none, with a reason', () => {
  const s = svc('empty', { clusterIP: '10.96.2.2', ports: [{ port: 80 }] });
  const none = desiredServices([s], [], { nodeName: NODE });
  expect(none.translations.size).toBe(0);
  expect(none.skipped).toEqual([{ service: 'default/empty', reason: '10.96.2.2:80/TCP: no ready endpoint' }]);
  const notReady = desiredServices([s], [slice('empty', 'e1', 'IPv4', [{ port: 80 }], [{ ip: '10.244.1.9', ready: false, serving: false }])], { nodeName: NODE });
  expect(notReady.translations.size).toBe(0);
  for (const t of [...none.translations.values(), ...notReady.translations.values()]) expect(t.backends.length).toBeGreaterThan(0);
});

test('named target ports resolved per EndpointSlice; a slice without the port is left out with a warning, none at all is a skip', () => {
  const s = svc('api', { clusterIP: '10.96.3.3', ports: [{ name: 'http', port: 80, targetPort: 'web' }] });
  const a = slice('api', 'a', 'IPv4', [{ name: 'http', port: 8080 }], [{ ip: '10.244.1.1' }]);
  const b = slice('api', 'b', 'IPv4', [{ name: 'http', port: 9090 }], [{ ip: '10.244.2.1' }]);
  const unresolved = slice('api', 'c', 'IPv4', [{ name: 'http', port: null }], [{ ip: '10.244.3.1' }]);
  const d = desiredServices([s], [a, b, unresolved], { nodeName: NODE });
  expect(backendsOf(d.translations.get('10.96.3.3|80|TCP'))).toEqual(['10.244.1.1:8080', '10.244.2.1:9090']);
  expect(d.warnings).toEqual([{ service: 'default/api', reason: '10.96.3.3:80/TCP: 1 endpoints without a resolved target port left out' }]);
  const only = desiredServices([s], [unresolved], { nodeName: NODE });
  expect(only.translations.size).toBe(0);
  expect(only.skipped[0]!.reason).toMatch(/target port of port "http" not resolved/);
});

test('internalTrafficPolicy Local keeps only this node\'s endpoints; none local means no translation', () => {
  const s = svc('loc', { clusterIP: '10.96.4.4', internalTrafficPolicy: 'Local', ports: [{ port: 80 }] });
  const sl = slice('loc', 'l', 'IPv4', [{ port: 80 }], [{ ip: '10.244.1.1', node: NODE }, { ip: '10.244.2.1', node: 'node-b' }]);
  expect(backendsOf(desiredServices([s], [sl], { nodeName: NODE }).translations.get('10.96.4.4|80|TCP'))).toEqual(['10.244.1.1:80']);
  const other = desiredServices([s], [sl], { nodeName: 'node-c' });
  expect(other.translations.size).toBe(0);
  expect(other.skipped[0]!.reason).toMatch(/Local and no ready endpoint on this node/);
});

test('headless and ExternalName Services are ignored; sessionAffinity ClientIP gives one warning per Service', () => {
  const d = desiredServices(
    [
      svc('headless', { clusterIP: 'None', ports: [{ port: 80 }] }),
      svc('ext', { type: 'ExternalName', externalName: 'example.org' }),
      svc('sticky', { clusterIP: '10.96.5.5', sessionAffinity: 'ClientIP', ports: [{ port: 80 }, { port: 81 }] }),
    ],
    [slice('sticky', 's', 'IPv4', [{ port: 80 }, { port: 81 }], [{ ip: '10.244.1.1' }]), slice('headless', 'h', 'IPv4', [{ port: 80 }], [{ ip: '10.244.1.2' }])],
    { nodeName: NODE },
  );
  expect([...d.translations.keys()].sort()).toEqual(['10.96.5.5|80|TCP', '10.96.5.5|81|TCP']);
  expect(d.skipped.map((s) => s.service).sort()).toEqual(['default/ext', 'default/headless']);
  expect(d.warnings.filter((w) => w.reason.includes('sessionAffinity'))).toHaveLength(1);
});

test('SCTP, externalIPs, IPv6-only and dual-stack Services: each family gets its own endpoints', () => {
  const dual = svc('dual', { clusterIP: '10.96.6.6', clusterIPs: ['10.96.6.6', 'fd00:96::6'], externalIPs: ['192.0.2.10'], ports: [{ port: 9000, protocol: 'SCTP' }] });
  const v6 = svc('v6', { clusterIP: 'fd00:96::7', clusterIPs: ['FD00:96:0:0::7'], ports: [{ port: 53, protocol: 'UDP' }] });
  const d = desiredServices(
    [dual, v6],
    [
      slice('dual', 'd4', 'IPv4', [{ port: 9000, protocol: 'SCTP' }], [{ ip: '10.244.1.1' }]),
      slice('dual', 'd6', 'IPv6', [{ port: 9000, protocol: 'SCTP' }], [{ ip: 'fd00:244:1::1' }]),
      slice('v6', 'v', 'IPv6', [{ port: 53, protocol: 'UDP' }], [{ ip: 'fd00:244:2:0::2' }]),
    ],
    { nodeName: NODE },
  );
  expect(backendsOf(d.translations.get('10.96.6.6|9000|SCTP'))).toEqual(['10.244.1.1:9000']);
  expect(backendsOf(d.translations.get('192.0.2.10|9000|SCTP'))).toEqual(['10.244.1.1:9000']);
  expect(backendsOf(d.translations.get('fd00:96::6|9000|SCTP'))).toEqual(['fd00:244:1::1:9000']);
  expect(backendsOf(d.translations.get('fd00:96::7|53|UDP'))).toEqual(['fd00:244:2::2:53']);
  expect(d.translations.get('fd00:96::7|53|UDP')!.family).toBe(6);
});

test('an externalIP already used by another Service is refused for the later one (sorted by name), not half-programmed', () => {
  const a = svc('a', { clusterIP: '10.96.7.1', externalIPs: ['192.0.2.1'], ports: [{ port: 80 }] });
  const b = svc('b', { clusterIP: '10.96.7.2', externalIPs: ['192.0.2.1', 'not-an-ip'], ports: [{ port: 80 }] });
  const eps = [slice('a', 'a', 'IPv4', [{ port: 80 }], [{ ip: '10.244.1.1' }]), slice('b', 'b', 'IPv4', [{ port: 80 }], [{ ip: '10.244.1.2' }])];
  const d = desiredServices([b, a], eps, { nodeName: NODE });
  expect(d.translations.get('192.0.2.1|80|TCP')!.service).toBe('default/a');
  expect(d.translations.get('10.96.7.2|80|TCP')!.service).toBe('default/b');
  expect(d.skipped.map((s) => s.reason).sort()).toEqual(['192.0.2.1:80/TCP: already used by Service default/a', 'VIP not-an-ip is not an IP address']);
});

test('10,000 endpoints: capped to maxBackends with a warning, deterministic', () => {
  const s = svc('big', { clusterIP: '10.96.8.8', ports: [{ port: 80 }] });
  const eps: Ep[] = [];
  for (let i = 0; i < 10_000; i++) eps.push({ ip: `10.${100 + (i >> 16)}.${(i >> 8) & 0xff}.${i & 0xff}` });
  const slices = [];
  for (let i = 0; i < 10_000; i += 100) slices.push(slice('big', `big-${i}`, 'IPv4', [{ port: 8080 }], eps.slice(i, i + 100)));
  const d = desiredServices([s], slices.reverse(), { nodeName: NODE });
  const t = d.translations.get('10.96.8.8|80|TCP')!;
  expect(t.backends).toHaveLength(4096);
  expect(d.warnings[0]!.reason).toMatch(/10000 ready endpoints, programming the first 4096/);
  const again = desiredServices([s], slices.reverse(), { nodeName: NODE });
  expect(again.translations.get('10.96.8.8|80|TCP')!.backends).toEqual(t.backends);
  const all = desiredServices([s], slices, { nodeName: NODE, maxBackends: 10_000 });
  expect(all.translations.get('10.96.8.8|80|TCP')!.backends).toHaveLength(10_000);
});

test('a flapping EndpointSlice: the desired state follows each version, and is empty (not 0 paths) when nothing is ready', () => {
  const s = svc('flap', { clusterIP: '10.96.9.9', ports: [{ port: 80 }] });
  for (let i = 0; i < 50; i++) {
    const ready = i % 2 === 0;
    const d = desiredServices([s], [slice('flap', 'f', 'IPv4', [{ port: 80 }], [{ ip: '10.244.1.1', ready }, { ip: '10.244.1.2', ready: i % 3 === 0 }])], { nodeName: NODE });
    const want = [...(ready ? ['10.244.1.1:80'] : []), ...(i % 3 === 0 ? ['10.244.1.2:80'] : [])];
    expect(backendsOf(d.translations.get('10.96.9.9|80|TCP'))).toEqual(want);
    expect(d.translations.has('10.96.9.9|80|TCP')).toBe(want.length > 0);
  }
});

test('zod refuses malformed objects with a message naming them', () => {
  const bad = parseKube(serviceSchema, 'Service', { metadata: { name: 'x', namespace: 'ns' }, spec: { ports: [{ port: 'eighty' }] } });
  expect(bad.ok).toBe(false);
  if (!bad.ok) expect(bad.error).toMatch(/^Service ns\/x: spec\.ports\.0\.port: /);
  const badSlice = parseKube(endpointSliceSchema, 'EndpointSlice', { metadata: { name: 's', namespace: 'ns' }, addressType: 'IPv4', endpoints: [{ addresses: 'x' }] });
  expect(badSlice.ok).toBe(false);
});
