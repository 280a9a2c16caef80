/** The pure plans of VCL isolation, the node punt path and source checks; table ids and names. */
import { planNodePunt, planSourceCheck, planVcl, ANY } from '../../agent/pod/isolation/plan.js';
import { canonicalNetwork } from '../../agent/pod/isolation/prefixes.js';
import {
  NODE_PUNT_TABLE_NAME,
  TABLE_ID_BASE,
  TABLE_ID_COUNT,
  TableIdsExhaustedError,
  allocateTableId,
  ownedTables,
  parseTableName,
  tableKey,
  tableName,
} from '../../agent/pod/isolation/tables.js';

const owner = { containerId: '1a2b3c4d5e6f7a8b9c0d', ifName: 'eth0', podNamespace: 'default', podName: 'web-1' };

describe('table ids', () => {
  test('the same key gets the same id in our range; a taken id moves to the next free one, wrapping at the end', () => {
    const key = tableKey(owner, 'vrf');
    expect(key).toBe('1a2b3c4d5e6f:eth0:vrf');
    const id = allocateTableId(key, new Set());
    expect(id).toBeGreaterThanOrEqual(TABLE_ID_BASE);
    expect(id).toBeLessThan(TABLE_ID_BASE + TABLE_ID_COUNT);
    expect(allocateTableId(key, new Set([1, 2, 3]))).toBe(id);
    expect(allocateTableId(key, new Set([id]))).toBe(id + 1 === TABLE_ID_BASE + TABLE_ID_COUNT ? TABLE_ID_BASE : id + 1);
    expect(allocateTableId(tableKey(owner, 'rpf'), new Set())).not.toBe(id);
    const last = TABLE_ID_BASE + TABLE_ID_COUNT - 1;
    const allButFirst = new Set<number>();
    for (let i = 1; i < TABLE_ID_COUNT; i++) allButFirst.add(TABLE_ID_BASE + i);
    expect(allocateTableId(key, allButFirst)).toBe(TABLE_ID_BASE);
    allButFirst.add(TABLE_ID_BASE);
    expect(() => allocateTableId(key, allButFirst)).toThrow(TableIdsExhaustedError);
    expect(last).toBe(0x7663ffff);
  });

  test('names carry the owner like tags (cut to 63 bytes), parse back, and only ours in our range are found', () => {
    expect(tableName(owner, 'vrf')).toBe('vcni:1a2b3c4d5e6f:eth0:vrf:default/web-1');
    const long = tableName({ ...owner, podName: 'x'.repeat(80) }, 'rpf');
    expect(Buffer.byteLength(long)).toBe(63);
    expect(parseTableName(long)).toEqual({ owner: '1a2b3c4d5e6f:eth0', purpose: 'rpf' });
    expect(parseTableName(NODE_PUNT_TABLE_NAME)).toBeUndefined();
    expect(parseTableName('ipv4-VRF:0')).toBeUndefined();
    const found = ownedTables([
      { af: 4, tableId: 0, name: 'ipv4-VRF:0' },
      { af: 4, tableId: TABLE_ID_BASE + 5, name: tableName(owner, 'vrf') },
      { af: 6, tableId: TABLE_ID_BASE + 5, name: tableName(owner, 'vrf') },
      // Our name on an id outside our range is someone's copy, not ours.
      { af: 4, tableId: 12, name: tableName(owner, 'rpf') },
    ]);
    expect(found.map((t) => [t.af, t.tableId, t.owner, t.purpose])).toEqual([
      [4, TABLE_ID_BASE + 5, '1a2b3c4d5e6f:eth0', 'vrf'],
      [6, TABLE_ID_BASE + 5, '1a2b3c4d5e6f:eth0', 'vrf'],
    ]);
  });

  test('prefixes: host bits cleared, bare addresses become host prefixes, garbage refused', () => {
    expect(canonicalNetwork('10.1.2.3/8')).toBe('10.0.0.0/8');
    expect(canonicalNetwork('192.0.2.1')).toBe('192.0.2.1/32');
    expect(canonicalNetwork('fd00:1:2::7/48')).toBe('fd00:1:2::/48');
    expect(canonicalNetwork('fd00:1:2::7/32')).toBe('fd00:1::/32');
    expect(canonicalNetwork('fd00::5')).toBe('fd00::5/128');
    expect(() => canonicalNetwork('10.0.0.0/33')).toThrow('not an IP prefix');
    expect(() => canonicalNetwork('nope/8')).toThrow('not an IP prefix');
    expect(canonicalNetwork('FD00:0:0::0:5')).toBe('fd00::5/128');
    expect(canonicalNetwork('::ffff:10.1.2.3/120')).toBe('::ffff:a01:200/120');
    expect(canonicalNetwork('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1/128');
  });
});

describe('planVcl', () => {
  const vrf = TABLE_ID_BASE + 10;
  const punt = TABLE_ID_BASE + 1;

  test('a dual-stack pod on a tun: VRF, loopback addresses, defaults to table 0, punt routes to eth0, table 0 steered into the VRF', () => {
    const plan = planVcl({
      owner,
      addresses: ['10.244.1.5', 'fd00:244::5'],
      eth0: { swIfIndex: 3, ethernet: false },
      vrfTableId: vrf,
      puntTableId: punt,
      namespaceId: 'vcni-1a2b3c4d5e6f-eth0',
      sockName: 'abstract:vpp/session,netns_name=/var/run/netns/p1',
    });
    expect(plan).toEqual({
      tables: [
        { af: 4, tableId: vrf, name: 'vcni:1a2b3c4d5e6f:eth0:vrf:default/web-1' },
        { af: 6, tableId: vrf, name: 'vcni:1a2b3c4d5e6f:eth0:vrf:default/web-1' },
      ],
      loopback: { tableId: vrf, addresses: ['10.244.1.5/32', 'fd00:244::5/128'] },
      vrfRoutes: [
        { af: 4, tableId: vrf, prefix: '0.0.0.0/0', path: { via: 'table', tableId: 0 } },
        { af: 6, tableId: vrf, prefix: '::/0', path: { via: 'table', tableId: 0 } },
      ],
      puntRoutes: [
        { af: 4, tableId: punt, prefix: '10.244.1.5/32', path: { via: 'interface', swIfIndex: 3 } },
        { af: 6, tableId: punt, prefix: 'fd00:244::5/128', path: { via: 'interface', swIfIndex: 3 } },
      ],
      steer: [
        {
          route: { af: 4, tableId: 0, prefix: '10.244.1.5/32', path: { via: 'table', tableId: vrf } },
          replaces: { af: 4, tableId: 0, prefix: '10.244.1.5/32', path: { via: 'interface', swIfIndex: 3 } },
        },
        {
          route: { af: 6, tableId: 0, prefix: 'fd00:244::5/128', path: { via: 'table', tableId: vrf } },
          replaces: { af: 6, tableId: 0, prefix: 'fd00:244::5/128', path: { via: 'interface', swIfIndex: 3 } },
        },
      ],
      appNamespace: { namespaceId: 'vcni-1a2b3c4d5e6f-eth0', sockName: 'abstract:vpp/session,netns_name=/var/run/netns/p1', ip4FibId: vrf, ip6FibId: vrf },
      pblTableId: 0,
    });
  });

  test('an ethernet eth0 (TAP, veth) names the pod address as next hop, in the punt table and in the route put back', () => {
    const plan = planVcl({ owner, addresses: ['10.244.1.6'], eth0: { swIfIndex: 7, ethernet: true }, vrfTableId: vrf, puntTableId: punt, namespaceId: 'n', sockName: 's' });
    expect(plan.puntRoutes).toEqual([{ af: 4, tableId: punt, prefix: '10.244.1.6/32', path: { via: 'interface', swIfIndex: 7, nh: '10.244.1.6' } }]);
    expect(plan.steer[0]!.replaces.path).toEqual({ via: 'interface', swIfIndex: 7, nh: '10.244.1.6' });
  });

  test('the node punt path: one table id in both families, unknown TCP/UDP punted, redirects from any interface into it', () => {
    expect(planNodePunt(punt)).toEqual({
      tables: [
        { af: 4, tableId: punt, name: 'vcni:node:punt' },
        { af: 6, tableId: punt, name: 'vcni:node:punt' },
      ],
      l4: [
        { af: 4, protocol: 'tcp' },
        { af: 4, protocol: 'udp' },
        { af: 6, protocol: 'tcp' },
        { af: 6, protocol: 'udp' },
      ],
      redirects: [
        { af: 4, rxSwIfIndex: ANY, lookupTableId: punt },
        { af: 6, rxSwIfIndex: ANY, lookupTableId: punt },
      ],
    });
  });
});

describe('planSourceCheck', () => {
  const rpf = TABLE_ID_BASE + 20;

  test('pod prefixes and AllowedSourcePrefixes (masked, deduplicated) through the first interface; loose uRPF on every interface, both families', () => {
    const plan = planSourceCheck({
      owner,
      addresses: ['10.244.1.5'],
      allowedPrefixes: ['10.1.2.3/8', '10.0.0.0/8', '10.244.1.5/32', '192.0.2.1/32', 'fd00:1::7/64'],
      interfaces: [
        { swIfIndex: 4, ethernet: true },
        { swIfIndex: 9, ethernet: true },
      ],
      rpfTableId: rpf,
    });
    expect(plan.tables).toEqual([
      { af: 4, tableId: rpf, name: 'vcni:1a2b3c4d5e6f:eth0:rpf:default/web-1' },
      { af: 6, tableId: rpf, name: 'vcni:1a2b3c4d5e6f:eth0:rpf:default/web-1' },
    ]);
    expect(plan.routes).toEqual([
      { af: 4, tableId: rpf, prefix: '10.244.1.5/32', path: { via: 'interface', swIfIndex: 4, nh: '10.244.1.5' } },
      { af: 4, tableId: rpf, prefix: '10.0.0.0/8', path: { via: 'interface', swIfIndex: 4 } },
      { af: 4, tableId: rpf, prefix: '192.0.2.1/32', path: { via: 'interface', swIfIndex: 4 } },
      { af: 6, tableId: rpf, prefix: 'fd00:1::/64', path: { via: 'interface', swIfIndex: 4 } },
    ]);
    expect(plan.checks).toEqual([
      { swIfIndex: 4, af: 4, mode: 'loose', tableId: rpf },
      { swIfIndex: 4, af: 6, mode: 'loose', tableId: rpf },
      { swIfIndex: 9, af: 4, mode: 'loose', tableId: rpf },
      { swIfIndex: 9, af: 6, mode: 'loose', tableId: rpf },
    ]);
  });

  test('needs an interface', () => {
    expect(() => planSourceCheck({ owner, addresses: ['10.0.0.1'], allowedPrefixes: [], interfaces: [], rpfTableId: rpf })).toThrow('at least one interface');
  });
});
