/**
 * The contract's codec (contract/wire.ts with the generated tables) against protobufjs reading
 * cni-backend.proto: every message has a table with the same fields (number, name, kind, label), every
 * message encodes to bytes protobufjs decodes to the same value, and the other way round.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import * as gen from '../../contract/generated/cni-backend.js';
import * as wire from '../../contract/wire.js';

const PROTO = readFileSync(join(process.cwd(), 'contract', 'cni-backend.proto'), 'utf8');
const root = protobuf.parse(PROTO, { keepCase: true }).root;
const T = (n: string): protobuf.Type => root.lookupType(`vppcni.v1.${n}`);
const toObject = (t: protobuf.Type, m: protobuf.Message): Record<string, unknown> =>
  t.toObject(m, { defaults: true, arrays: true, objects: true, oneofs: false, longs: Number, enums: String }) as Record<string, unknown>;
const tables = gen as unknown as Record<string, wire.Schema | undefined>;

const attachment = { container_id: 'abc123', if_name: 'eth0', netns: '/var/run/netns/x', pod: { namespace: 'default', name: 'web', uid: 'u-1' } };
const interfaces = [
  { name: 'eth0', mtu: 1450, sandbox: '/var/run/netns/x' },
  { name: 'memif-eth0', mac: '', mtu: 0, sandbox: '/var/run/netns/x', socket_path: '@vpp/memif-eth0' },
];
const samples: [wire.Schema, object][] = [
  [gen.AddRequest, { attachment, ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1' }, { address: 'fd00::5/64' }], routes: [{ dst: '0.0.0.0/0' }], network_name: 'net', annotations: null }],
  [gen.AddRequest, { attachment, ips: [], routes: [], network_name: '', annotations: { entries: { 'cni.projectcalico.org/vppExtraMemifPorts': 'tcp:4444', empty: '', 'ü': 'é\n' } } }],
  [gen.AddRequest, { attachment: null, ips: [], routes: [], network_name: '', annotations: { entries: {} } }],
  [gen.AddReply, { interfaces, error: null }],
  [gen.AddReply, { interfaces: [], error: { code: 7, msg: 'invalid pod annotations: vppExtraMemifPorts "tcp:70000"', details: 'é ü' } }],
  [gen.DelRequest, { attachment }],
  [gen.DelReply, { error: null }],
  [gen.CheckRequest, { attachment }],
  [gen.CheckReply, { error: { code: 100, msg: 'x', details: '' } }],
  [gen.GcRequest, { valid: [attachment, { ...attachment, container_id: 'def', pod: null }], network_name: '' }],
  [gen.GcReply, { error: null, removed: 4_000_000_000 }],
  [gen.StatusRequest, {}],
  [gen.StatusReply, { error: { code: 51, msg: 'degraded', details: '' } }],
];

function describeField(f: protobuf.Field): string {
  const label = f instanceof protobuf.MapField ? `map<${f.keyType}, ${f.type}>` : f.repeated ? 'repeated' : f.options?.['proto3_optional'] ? 'optional' : 'single';
  return `${f.id} ${f.name} ${f.type} ${label}`;
}

function describeOurs([num, name, kind, label, sub]: wire.Field): string {
  return `${num} ${name} ${kind === 'message' ? sub!.name : kind} ${label === 'map' ? 'map<string, string>' : label}`;
}

describe('contract wire codec', () => {
  test('every message of the proto has a table with the same fields: number, name, kind, label', () => {
    const ns = root.lookup('vppcni.v1') as protobuf.Namespace;
    const types = ns.nestedArray.filter((x): x is protobuf.Type => x instanceof protobuf.Type);
    expect(types.length).toBeGreaterThan(10);
    for (const t of types) {
      const table = tables[t.name];
      expect({ type: t.name, found: table !== undefined }).toEqual({ type: t.name, found: true });
      expect({ type: t.name, fields: table!.fields.map(describeOurs) }).toEqual({ type: t.name, fields: t.fieldsArray.map(describeField) });
    }
  });

  test('the rpcs have the request and reply tables of the proto service', () => {
    const svc = root.lookupService('vppcni.v1.CniBackend');
    expect(Object.entries(gen.METHODS).map(([m, [req, rep]]) => `${m} ${req.name} ${rep.name}`)).toEqual(
      svc.methodsArray.map((m) => `${m.name} ${m.requestType} ${m.responseType}`),
    );
    expect(gen.SERVICE).toBe('vppcni.v1.CniBackend');
  });

  test.each(samples.map(([s, v], i) => [`${s.name} #${i}`, s, v] as const))('%s: ours → protobufjs and protobufjs → ours', (_n, schema, value) => {
    const t = T(schema.name);
    const bytes = wire.encode(schema, value);
    expect(toObject(t, t.decode(bytes))).toEqual(wire.decode(schema, bytes));
    const theirs = Buffer.from(t.encode(t.fromObject(value)).finish());
    expect(wire.decode(schema, theirs)).toEqual(toObject(t, t.decode(theirs)));
    expect(wire.decode(schema, theirs)).toEqual(wire.decode(schema, bytes));
  });

  test('optional scalars: absent stays absent, "" / 0 set is kept (presence)', () => {
    const d = wire.decode(gen.Interface, wire.encode(gen.Interface, { name: 'a', sandbox: '', mac: '', mtu: 0 }));
    expect(d).toEqual({ name: 'a', sandbox: '', mac: '', mtu: 0 });
    const none = wire.decode(gen.Interface, wire.encode(gen.Interface, { name: 'a', sandbox: '' }));
    expect(Object.keys(none).sort()).toEqual(['name', 'sandbox']);
  });

  test('an unset annotations message and an empty one differ on the wire', () => {
    const base = { attachment, ips: [], routes: [], network_name: '' };
    expect(wire.decode(gen.AddRequest, wire.encode(gen.AddRequest, { ...base, annotations: null }))['annotations']).toBeNull();
    expect(wire.decode(gen.AddRequest, wire.encode(gen.AddRequest, { ...base, annotations: { entries: {} } }))['annotations']).toEqual({ entries: {} });
  });

  test('a map key "__proto__" is an own property, not a prototype change', () => {
    const bytes = Buffer.from(T('Annotations').encode(T('Annotations').fromObject({ entries: { x: '1' } })).finish());
    // hand-written entry with key "__proto__"
    const key = Buffer.from('__proto__');
    const entry = Buffer.concat([Buffer.from([0x0a, key.length]), key, Buffer.from([0x12, 1, 0x41])]);
    const d = wire.decode(gen.Annotations, Buffer.concat([bytes, Buffer.from([0x0a, entry.length]), entry]));
    const entries = d['entries'] as Record<string, string>;
    expect(Object.getPrototypeOf(entries)).toBe(Object.prototype);
    expect(Object.keys(entries)).toEqual(['x', '__proto__']);
  });

  test('truncated or malformed input is an error naming the field, not a wrong value', () => {
    const bytes = wire.encode(gen.AddReply, { interfaces, error: null });
    expect(() => wire.decode(gen.AddReply, bytes.subarray(0, bytes.length - 3))).toThrow(wire.WireError);
    // AddRequest.attachment (field 1, length-delimited) whose container_id (field 1) is a varint
    expect(() => wire.decode(gen.AddRequest, Buffer.from([0x0a, 0x02, 0x08, 0x01]))).toThrow('AddRequest.attachment.container_id: expected a string');
    expect(() => wire.decode(gen.AddRequest, Buffer.from([0x0b]))).toThrow('AddRequest: unsupported wire type 3');
    expect(() => wire.decode(gen.AddRequest, Buffer.from([0x0d, 0x00]))).toThrow('runs past the end');
  });
});
