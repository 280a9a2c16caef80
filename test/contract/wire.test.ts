/**
 * The plugin's hand-written wire codec (contract/wire.ts) against protobufjs reading cni-backend.proto:
 * every message encodes to bytes protobufjs decodes to the same value, and the other way round; the
 * embedded proto text equals the .proto file.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { CNI_BACKEND_PROTO } from '../../contract/proto.js';
import * as wire from '../../contract/wire.js';

const root = protobuf.parse(CNI_BACKEND_PROTO, { keepCase: true }).root;
const T = (n: string): protobuf.Type => root.lookupType(`vppcni.v1.${n}`);
const toObject = (t: protobuf.Type, m: protobuf.Message): Record<string, unknown> =>
  t.toObject(m, { defaults: true, arrays: true, longs: Number, enums: String }) as Record<string, unknown>;

const attachment = { container_id: 'abc123', if_name: 'eth0', netns: '/var/run/netns/x', pod: { namespace: 'default', name: 'web', uid: 'u-1' } };
const result = {
  interfaces: [
    { name: 'eth0', mac: '', mtu: 1450, sandbox: '/var/run/netns/x', socket_path: '' },
    { name: 'memif-eth0', mac: '', mtu: 0, sandbox: '/var/run/netns/x', socket_path: '@vpp/memif-eth0' },
  ],
  ips: [
    { address: '10.0.0.5/24', gateway: '10.0.0.1', interface: 0 },
    { address: 'fd00::5/64', gateway: '', interface: -1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '' }],
};
const samples: [wire.Schema, object][] = [
  [wire.AddRequest, { attachment, ips: [{ address: '10.0.0.5/24', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0', gw: '' }], network_name: 'net' }],
  [wire.AddReply, { result, error: null }],
  [wire.AddReply, { result: null, error: { code: 7, msg: 'invalid pod annotations: vppExtraMemifPorts "tcp:70000"', details: 'é ü' } }],
  [wire.DelRequest, { attachment }],
  [wire.DelReply, { error: null }],
  [wire.CheckRequest, { attachment, prev_result: result }],
  [wire.CheckReply, { error: { code: 100, msg: 'x', details: '' } }],
  [wire.GcRequest, { valid: [attachment, { ...attachment, container_id: 'def', pod: null }], network_name: '' }],
  [wire.GcReply, { error: null, removed: 4_000_000_000 }],
  [wire.StatusRequest, {}],
  [wire.StatusReply, { error: { code: 51, msg: 'degraded', details: '' } }],
];

describe('contract wire codec', () => {
  test('the embedded proto text equals contract/cni-backend.proto', () => {
    expect(CNI_BACKEND_PROTO).toBe(readFileSync(join(process.cwd(), 'contract', 'cni-backend.proto'), 'utf8'));
  });

  test('every message of the proto has a schema with the same fields', () => {
    const ns = root.lookup('vppcni.v1') as protobuf.Namespace;
    for (const t of ns.nestedArray.filter((x): x is protobuf.Type => x instanceof protobuf.Type)) {
      const schema = (wire as unknown as Record<string, wire.Schema>)[t.name];
      expect(schema).toBeDefined();
      const ours = schema!.fields.map(([num, name, , , rep]) => `${num} ${name} ${rep ? 'repeated' : 'single'}`);
      const theirs = t.fieldsArray.map((f) => `${f.id} ${f.name} ${f.repeated ? 'repeated' : 'single'}`);
      expect({ type: t.name, fields: ours }).toEqual({ type: t.name, fields: theirs });
    }
  });

  test.each(samples.map(([s, v]) => [s.name, s, v] as const))('%s: ours → protobufjs and protobufjs → ours', (name, schema, value) => {
    const t = T(name);
    const bytes = wire.encode(schema, value);
    expect(toObject(t, t.decode(bytes))).toEqual(wire.decode(schema, bytes));
    const theirs = Buffer.from(t.encode(t.fromObject(value)).finish());
    expect(wire.decode(schema, theirs)).toEqual(toObject(t, t.decode(theirs)));
    expect(wire.decode(schema, theirs)).toEqual(wire.decode(schema, bytes));
  });

  test('truncated input is an error, not a wrong value', () => {
    const bytes = wire.encode(wire.AddReply, { result, error: null });
    expect(() => wire.decode(wire.AddReply, bytes.subarray(0, bytes.length - 3))).toThrow(wire.WireError);
  });
});
