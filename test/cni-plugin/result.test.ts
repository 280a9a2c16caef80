/** Results: the 1.1.0 / 1.0.0 / 0.4.0 forms, parsing any of them, and ADD's result from the agent's interfaces. */
import type { InterfaceMsg } from '../../contract/types.js';
import { CniError } from '../../cni-plugin/errors.js';
import { buildAddResult, formatResult, isCidr, parseResult, type CniResult } from '../../cni-plugin/result.js';

const full: CniResult = {
  cniVersion: '1.1.0',
  interfaces: [
    { name: 'tun-c1', mtu: 1450 },
    { name: 'eth0', mac: '02:fe:00:00:00:01', mtu: 1450, sandbox: '/var/run/netns/p1' },
    { name: 'memif0', sandbox: '/var/run/netns/p1', socketPath: '@vpp/memif-eth0' },
  ],
  ips: [
    { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
    { address: 'fd00:1::5/64', gateway: 'fd00:1::1', interface: 1 },
  ],
  routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, priority: 10 }, { dst: '::/0' }],
  dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'], options: ['ndots:5'] },
};

describe('formatResult', () => {
  test('1.1.0 keeps mtu, socketPath and route attributes', () => {
    expect(formatResult(full, '1.1.0')).toEqual({
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'tun-c1', mtu: 1450 },
        { name: 'eth0', mac: '02:fe:00:00:00:01', mtu: 1450, sandbox: '/var/run/netns/p1' },
        { name: 'memif0', sandbox: '/var/run/netns/p1', socketPath: '@vpp/memif-eth0' },
      ],
      ips: [
        { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
        { address: 'fd00:1::5/64', gateway: 'fd00:1::1', interface: 1 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1', mtu: 1400, priority: 10 }, { dst: '::/0' }],
      dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'], options: ['ndots:5'] },
    });
  });

  test('1.0.0 drops mtu, socketPath and route attributes; ips have no version', () => {
    expect(formatResult(full, '1.0.0')).toEqual({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'tun-c1' }, { name: 'eth0', mac: '02:fe:00:00:00:01', sandbox: '/var/run/netns/p1' }, { name: 'memif0', sandbox: '/var/run/netns/p1' }],
      ips: [
        { address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
        { address: 'fd00:1::5/64', gateway: 'fd00:1::1', interface: 1 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0' }],
      dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'], options: ['ndots:5'] },
    });
  });

  test('0.4.0: every ip gets "version" "4" or "6", keeps its interface index', () => {
    expect(formatResult(full, '0.4.0')).toEqual({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'tun-c1' }, { name: 'eth0', mac: '02:fe:00:00:00:01', sandbox: '/var/run/netns/p1' }, { name: 'memif0', sandbox: '/var/run/netns/p1' }],
      ips: [
        { version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 },
        { version: '6', address: 'fd00:1::5/64', gateway: 'fd00:1::1', interface: 1 },
      ],
      routes: [{ dst: '0.0.0.0/0', gw: '10.1.0.1' }, { dst: '::/0' }],
      dns: { nameservers: ['10.96.0.10'], search: ['default.svc.cluster.local'], options: ['ndots:5'] },
    });
  });

  test('empty parts: ips always present, interfaces/routes/dns only when there are some', () => {
    expect(formatResult({ cniVersion: '1.1.0', dns: {} }, '1.0.0')).toEqual({ cniVersion: '1.0.0', ips: [] });
  });
});

describe('parseResult', () => {
  test('a 0.4.0 result (versions dropped) prints back the same in 0.4.0', () => {
    const r040 = formatResult(full, '0.4.0');
    const parsed = parseResult(r040, '0.4.0', 'prevResult');
    expect(parsed.ips?.[0]).toEqual({ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 });
    expect(formatResult(parsed, '0.4.0')).toEqual(r040);
  });

  test('1.1.0 round trip', () => {
    expect(formatResult(parseResult(formatResult(full, '1.1.0'), '1.1.0', 'prevResult'), '1.1.0')).toEqual(formatResult(full, '1.1.0'));
  });

  test('an IPAM result: no interfaces, empty dns dropped, unknown fields ignored', () => {
    const r = parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }], routes: [{ dst: '0.0.0.0/0' }], dns: {}, extra: 1 }, '1.0.0', 'x');
    expect(r).toEqual({ cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }], routes: [{ dst: '0.0.0.0/0' }] });
  });

  test.each([
    [{ ips: [{ address: '10.1.0.5' }] }, 'invalid network configuration: prevResult.ips[0].address: expected an address with prefix length, e.g. 10.1.0.5/24'],
    [{ ips: [{ address: '10.1.0.5/33' }] }, 'invalid network configuration: prevResult.ips[0].address: expected an address with prefix length, e.g. 10.1.0.5/24'],
    [{ ips: [{ address: '10.1.0.5/24', gateway: 'nope' }] }, 'invalid network configuration: prevResult.ips[0].gateway: expected an IP address'],
    [{ interfaces: [{ name: 'eth0' }], ips: [{ address: '10.1.0.5/24', interface: 1 }] }, 'invalid network configuration: prevResult.ips[0].interface: index 1 but there are 1 interfaces'],
    [{ routes: [{ gw: '10.0.0.1' }] }, 'invalid network configuration: prevResult.routes[0].dst: expected a string'],
    [{ ips: [{ version: '5', address: '10.1.0.5/24' }] }, 'invalid network configuration: prevResult.ips[0].version: expected "4" or "6"'],
  ])('malformed %j → 7', (raw, msg) => {
    let err: unknown;
    try {
      parseResult(raw, '1.0.0', 'prevResult');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(7);
    expect((err as CniError).msg).toBe(msg);
  });

  test('a malformed delegate answer can carry another code', () => {
    expect(() => parseResult({ ips: 'x' }, '1.0.0', 'ipam x result', 999)).toThrow('ipam x result.ips: expected a list');
  });

  test('isCidr', () => {
    expect(['10.0.0.1/32', '0.0.0.0/0', 'fd00::1/128', '::/0'].every(isCidr)).toBe(true);
    expect(['10.0.0.1', '10.0.0.1/', '10.0.0.1/a', 'fd00::1/129', 'x/8', '10.0.0.256/8'].some(isCidr)).toBe(false);
  });
});

describe('ADD result: the agent\'s interfaces, the IPAM\'s addresses and routes', () => {
  const interfaces: InterfaceMsg[] = [
    { name: 'eth0', mac: '02:fe:00:00:00:01', mtu: 1500, sandbox: '/var/run/netns/p1' },
    { name: 'memif0', sandbox: '/var/run/netns/p1', socket_path: '@vpp/memif-eth0' },
  ];
  const ipam: CniResult = { cniVersion: '1.0.0', ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }], routes: [{ dst: '10.0.0.0/8', gw: '10.9.0.1' }], dns: { nameservers: ['1.1.1.1'] } };

  test('unset optional fields stay unset; ips on the pod interface without the gateway; IPAM routes and DNS', () => {
    expect(buildAddResult(interfaces, ipam, { nameservers: ['10.96.0.10'] }, 'eth0', '1.1.0')).toEqual({
      cniVersion: '1.1.0',
      interfaces: [
        { name: 'eth0', mac: '02:fe:00:00:00:01', mtu: 1500, sandbox: '/var/run/netns/p1' },
        { name: 'memif0', sandbox: '/var/run/netns/p1', socketPath: '@vpp/memif-eth0' },
      ],
      ips: [{ address: '10.9.0.2/24', interface: 0 }],
      routes: [{ dst: '10.0.0.0/8', gw: '10.9.0.1' }],
      dns: { nameservers: ['1.1.1.1'] },
    });
  });

  test('the pod interface is the one named ifName inside the sandbox; DNS from the configuration without IPAM DNS', () => {
    const withHost: InterfaceMsg[] = [{ name: 'vpp-tap', sandbox: '' }, ...interfaces];
    expect(buildAddResult(withHost, { ...ipam, dns: undefined }, { nameservers: ['10.96.0.10'] }, 'eth0', '1.1.0')).toMatchObject({
      interfaces: [{ name: 'vpp-tap' }, { name: 'eth0' }, { name: 'memif0' }],
      ips: [{ address: '10.9.0.2/24', interface: 1 }],
      dns: { nameservers: ['10.96.0.10'] },
    });
  });
});
