/**
 * Every generated message round-trips: a value made from its schema encodes to exactly size() bytes,
 * decodes to the same value (count fields filled from their arrays), and re-encodes to the same bytes.
 */
import { allModules } from '../../vpp-api/generated/index.js';
import * as memclnt from '../../vpp-api/generated/memclnt.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ipTypes from '../../vpp-api/generated/ip_types.js';
import * as vlib from '../../vpp-api/generated/vlib.js';
import * as fib from '../../vpp-api/generated/fib_types.js';
import * as pbl from '../../vpp-api/generated/pbl.js';
import type { FieldSchema, MessageDef, TypeSchema } from '../../vpp-api/codec/types.js';
import { VppDecodeError, VppEncodeError } from '../../vpp-api/codec/errors.js';

const types = new Map<string, TypeSchema>();
for (const m of allModules) for (const t of m.types) types.set(t.name, t);

const SPECIAL: Record<string, (i: number) => string> = {
  ip4_address: (i) => `10.${i % 250}.0.${(i * 7) % 250}`,
  ip6_address: (i) => `fd00:${(i % 65000).toString(16)}::${(i * 3 + 1).toString(16)}`,
  address: (i) => (i % 2 ? `192.168.${i % 250}.1` : `2001:db8::${(i + 1).toString(16)}`),
  prefix: (i) => (i % 2 ? `10.${i % 250}.0.0/16` : `fd00:${i.toString(16)}::/64`),
  ip4_prefix: (i) => `172.16.${i % 250}.0/24`,
  ip6_prefix: (i) => `fd01:${i.toString(16)}::/48`,
  address_with_prefix: (i) => `10.9.${i % 250}.1/24`,
  mac_address: (i) => `02:fe:00:00:${(i % 256).toString(16).padStart(2, '0')}:01`,
};
const RANGE: Record<string, number> = { u8: 0xff, i8: 0x7f, u16: 0xffff, i16: 0x7fff, u32: 0xffffffff, i32: 0x7fffffff };

let seed = 1;
function valueOf(f: FieldSchema, hasUnion: { v: boolean }): unknown {
  seed++;
  const arr = f.kind !== 'string' && f.kind !== 'bytes' && (f.lengthFrom !== undefined || (f.length ?? 0) > 0);
  if (arr) {
    const n = f.lengthFrom !== undefined ? 2 : f.length!;
    return Array.from({ length: n }, () => one(f, hasUnion));
  }
  return one(f, hasUnion);
}

function one(f: FieldSchema, hasUnion: { v: boolean }): unknown {
  seed++;
  switch (f.kind) {
    case 'string':
      return f.length === 0 ? `str-${seed}` : 'abcdefgh'.slice(0, Math.min(8, (f.length ?? 1) - 1));
    case 'bytes':
      return Buffer.from(Array.from({ length: f.lengthFrom !== undefined ? 3 : f.length! }, (_, i) => (i * 31 + seed) & 0xff));
    case 'special':
      return SPECIAL[f.type]!(seed);
    case 'enum':
    case 'enumflag': {
      const vals = Object.values(types.get(f.type)!.members!);
      return vals[seed % vals.length];
    }
    case 'struct':
    case 'union': {
      const t = types.get(f.type)!;
      if (t.kind === 'union') {
        hasUnion.v = true;
        const arm = t.fields![seed % t.fields!.length]!;
        return { [arm.name]: valueOf(arm, hasUnion) };
      }
      return structValue(t.fields!, hasUnion);
    }
    case 'scalar':
      if (f.type === 'bool') return seed % 2 === 0;
      if (f.type === 'f64') return seed + 0.25;
      if (f.type === 'u64') return BigInt(seed) * 0x1_0000_0001n;
      if (f.type === 'i64') return -BigInt(seed) * 0x1_0000_0001n;
      return (seed * 2654435761) % (RANGE[f.type]! + 1) - (f.type.startsWith('i') ? Math.floor(RANGE[f.type]! / 2) : 0);
  }
}

function structValue(fields: readonly FieldSchema[], hasUnion: { v: boolean }): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const f of fields) o[f.name] = valueOf(f, hasUnion);
  // count fields are filled from their arrays
  for (const f of fields) if (f.lengthFrom) o[f.lengthFrom] = (o[f.name] as unknown[] | Buffer).length;
  return o;
}

const all: MessageDef[] = allModules.flatMap((m) => [...m.messages]);

describe('generated codec round trip', () => {
  test('covers every message of every module', () => {
    expect(all.length).toBeGreaterThan(350);
  });

  test.each(all.map((d) => [`${d.module}.${d.name}`, d] as const))('%s', (_n, def) => {
    const hasUnion = { v: false };
    const v = structValue(def.fields, hasUnion);
    const size = def.size(v);
    expect(size).toBeGreaterThanOrEqual(def.fixedSize);
    const b = Buffer.alloc(size + 8, 0xaa);
    def.encode(b, 4, 77, 0x80000001, 0x1234, v);
    const msg = b.subarray(4, 4 + size);
    expect(b.subarray(0, 4).toString('hex')).toBe('aaaaaaaa'); // nothing written before
    expect(b.subarray(4 + size).toString('hex')).toBe('aaaaaaaa'); // nor after
    expect(msg.readUInt16BE(0)).toBe(77);
    if (def.contextOffset >= 0) expect(msg.readUInt32BE(def.contextOffset)).toBe(0x1234);
    if (def.clientIndexOffset >= 0) expect(msg.readUInt32BE(def.clientIndexOffset)).toBe(0x80000001);
    const d = def.decode(Buffer.from(msg));
    if (!hasUnion.v) expect(d).toEqual(v);
    const again = Buffer.alloc(size);
    def.encode(again, 0, 77, 0x80000001, 0x1234, d);
    expect(again.equals(msg)).toBe(true);
    // A message cut inside its fixed part is refused with a decode error, never read past its end.
    if (def.fixedSize > 2) expect(() => def.decode(msg.subarray(0, def.fixedSize - 1))).toThrow(VppDecodeError);
  });
});

describe('codec details', () => {
  test("VPP's sizes: mprefix 35, fib_path, sw_interface_event 19", () => {
    expect(types.get('address')).toBeUndefined(); // handled as a string type, sized by the runtime
    const b = Buffer.alloc(256);
    expect(ipTypes.encMprefix(b, 0, {})).toBe(35);
    expect(fib.encFibPath(b, 0, {})).toBe(4 + 4 + 4 + 1 + 1 + 4 + 4 + 4 + (16 + 4 + 4 + 4) + 1 + 16 * 7); // 167
    expect(iface.sw_interface_event.fixedSize).toBe(19);
    expect(iface.sw_interface_add_del_address.fixedSize).toBe(10 + 4 + 1 + 1 + 18);
  });

  test('defaults are filled in when a field is omitted (sw_interface_dump: sw_if_index ~0)', () => {
    const b = Buffer.alloc(iface.sw_interface_dump.size({}));
    iface.sw_interface_dump.encode(b, 0, 100, 1, 2, {});
    expect(b.toString('hex')).toBe('0064' + '00000001' + '00000002' + 'ffffffff' + '00' + '00000000');
    const withFilter = { name_filter_valid: true, name_filter: 'tap' };
    const b2 = Buffer.alloc(iface.sw_interface_dump.size(withFilter));
    iface.sw_interface_dump.encode(b2, 0, 100, 1, 2, withFilter);
    expect(b2.toString('hex')).toBe('0064000000010000000' + '2ffffffff01' + '00000003' + '746170');
  });

  test('sockclnt_create: no client_index, 64-byte NUL-padded name (70 bytes)', () => {
    const b = Buffer.alloc(memclnt.sockclnt_create.fixedSize);
    memclnt.sockclnt_create.encode(b, 0, 15, 0, 124, { name: 'ts-client' });
    expect(b.toString('hex')).toBe('000f0000007c' + Buffer.from('ts-client').toString('hex') + '00'.repeat(55));
  });

  test('a fixed string that does not fit is an encode error naming the field', () => {
    const b = Buffer.alloc(200);
    expect(() => iface.sw_interface_tag_add_del.encode(b, 0, 1, 1, 1, { tag: 'x'.repeat(64) })).toThrow(VppEncodeError);
    expect(() => iface.sw_interface_tag_add_del.encode(b, 0, 1, 1, 1, { tag: 'x'.repeat(64) })).toThrow(/sw_interface_tag_add_del\.tag/);
  });

  test('variable strings are u32 length + bytes, no NUL; empty is 4 zero bytes', () => {
    const m = { cmd: 'show version' };
    const b = Buffer.alloc(vlib.cli_inband.size(m));
    vlib.cli_inband.encode(b, 0, 9, 1, 2, m);
    expect(b.subarray(10).toString('hex')).toBe('0000000c' + Buffer.from('show version').toString('hex'));
    expect(vlib.cli_inband.size({})).toBe(14);
  });

  test('variable arrays take their count from the array (the count field given is ignored)', () => {
    const v = { client: { addr: '10.0.0.5', n_ports: 9, port_ranges: [{ start: 1, end: 2, iproto: 6 }] } };
    const b = Buffer.alloc(pbl.pbl_client_update.size(v));
    pbl.pbl_client_update.encode(b, 0, 1, 1, 1, v);
    const d = pbl.pbl_client_update.decode(b);
    expect(d.client.n_ports).toBe(1);
    expect(d.client.port_ranges).toEqual([{ start: 1, end: 2, iproto: 6 }]);
    expect(d.client.id).toBe(0xffffffff); // [default=0xffffffff]
  });

  test('unions are zero-filled and decode every arm from the same bytes', () => {
    const b = Buffer.alloc(16, 0xee);
    ipTypes.encAddressUnion(b, 0, { ip4: '10.2.0.2' });
    expect(b.toString('hex')).toBe('0a020002' + '00'.repeat(12));
    expect(ipTypes.decAddressUnion(b, { p: 0 })).toEqual({ ip4: '10.2.0.2', ip6: 'a02:2::' });
  });

  test('f64 is host order (little-endian), not swapped', () => {
    const def = vlib.get_f64_endian_value;
    const b = Buffer.alloc(def.size({}));
    def.encode(b, 0, 1, 1, 1, {});
    expect(b.subarray(10).toString('hex')).toBe('000000000000f03f'); // default 1.0
  });

  test('out-of-range integers are refused', () => {
    const b = Buffer.alloc(64);
    expect(() => iface.sw_interface_set_flags.encode(b, 0, 1, 1, 1, { sw_if_index: -1 })).toThrow();
    expect(() => iface.sw_interface_set_flags.encode(b, 0, 1, 1, 1, { sw_if_index: 2 ** 32 })).toThrow();
  });
});
