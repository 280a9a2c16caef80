/** CNI_ARGS parsing and the network configuration's defaults and pass-through. */
import { DEFAULT_AGENT_SOCKET } from '../../contract/proto.js';
import { CniError } from '../../cni-plugin/errors.js';
import { parseCniArgs, parseNetConf, validAttachments } from '../../cni-plugin/netconf.js';

function thrown(f: () => unknown): CniError {
  try {
    f();
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('CNI_ARGS', () => {
  test('empty or unset gives nothing', () => {
    expect(parseCniArgs(undefined)).toEqual({ IgnoreUnknown: false, unknown: {} });
    expect(parseCniArgs('')).toEqual({ IgnoreUnknown: false, unknown: {} });
  });

  test('the keys Kubernetes runtimes send', () => {
    expect(parseCniArgs('IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc;K8S_POD_UID=1234-5678')).toEqual({
      IgnoreUnknown: true,
      K8S_POD_NAMESPACE: 'default',
      K8S_POD_NAME: 'web-0',
      K8S_POD_INFRA_CONTAINER_ID: 'abc',
      K8S_POD_UID: '1234-5678',
      unknown: {},
    });
  });

  test('IgnoreUnknown counts wherever it stands, and accepts true/1/false/0 in any case', () => {
    expect(parseCniArgs('FOO=1;IgnoreUnknown=TRUE').unknown).toEqual({ FOO: '1' });
    expect(thrown(() => parseCniArgs('FOO=1;IgnoreUnknown=false')).msg).toBe('CNI_ARGS: unknown key "FOO"');
    expect(thrown(() => parseCniArgs('FOO=1;IgnoreUnknown=0')).code).toBe(4);
  });

  test('empty segments are skipped; values may be empty', () => {
    expect(parseCniArgs(';K8S_POD_NAME=;;')).toEqual({ IgnoreUnknown: false, K8S_POD_NAME: '', unknown: {} });
  });

  test.each([
    ['a=b=c', 'CNI_ARGS: invalid pair "a=b=c": expected KEY=VALUE'],
    ['=v', 'CNI_ARGS: invalid pair "=v": expected KEY=VALUE'],
    ['K8S_POD_NAME', 'CNI_ARGS: invalid pair "K8S_POD_NAME": expected KEY=VALUE'],
    ['k8s_pod_name=x', 'CNI_ARGS: unknown key "k8s_pod_name"'],
  ])('%s → 4', (raw, msg) => {
    const e = thrown(() => parseCniArgs(raw));
    expect(e.code).toBe(4);
    expect(e.msg).toBe(msg);
  });
});

describe('network configuration', () => {
  const base = { cniVersion: '1.0.0', name: 'vppnet', type: 'vpp-cni', ipam: { type: 'host-local', subnet: '10.0.0.0/24' } };

  test('defaults: agentSocket and timeoutSeconds', () => {
    const c = parseNetConf(base, 'ADD');
    expect(c.agentSocket).toBe(DEFAULT_AGENT_SOCKET);
    expect(c.agentSocket).toBe('/var/run/vpp-cni/agent.sock');
    expect(c.timeoutSeconds).toBe(60);
  });

  test('unknown fields pass through, in ipam too', () => {
    const c = parseNetConf({ ...base, mtu: 9000, ipMasq: true, 'some.vendor/key': { a: 1 }, ipam: { ...base.ipam, ranges: [[{ subnet: '10.1.0.0/24' }]] } }, 'ADD');
    expect(c['mtu']).toBe(9000);
    expect(c['ipMasq']).toBe(true);
    expect(c['some.vendor/key']).toEqual({ a: 1 });
    expect(c.ipam?.['ranges']).toEqual([[{ subnet: '10.1.0.0/24' }]]);
    expect(c.ipam?.['subnet']).toBe('10.0.0.0/24');
  });

  test('dns, runtimeConfig, args, capabilities and prevResult are read when present', () => {
    const c = parseNetConf(
      { ...base, dns: { nameservers: ['10.96.0.10'], search: ['svc.cluster.local'] }, runtimeConfig: { portMappings: [] }, args: { cni: { ips: ['10.0.0.9'] } }, prevResult: { cniVersion: '1.0.0' } },
      'DEL',
    );
    expect(c.dns?.nameservers).toEqual(['10.96.0.10']);
    expect(c.runtimeConfig).toEqual({ portMappings: [] });
    expect(c.args).toEqual({ cni: { ips: ['10.0.0.9'] } });
    expect(c.prevResult).toEqual({ cniVersion: '1.0.0' });
  });

  test('ipam is required for ADD, DEL and CHECK, optional for GC and STATUS', () => {
    const { ipam: _ipam, ...noIpam } = base;
    for (const cmd of ['ADD', 'DEL', 'CHECK'] as const) expect(thrown(() => parseNetConf(noIpam, cmd)).code).toBe(7);
    expect(parseNetConf({ ...noIpam, cniVersion: '1.1.0' }, 'STATUS').ipam).toBeUndefined();
    expect(parseNetConf({ ...noIpam, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }, 'GC').ipam).toBeUndefined();
  });

  test('GC valid attachments, and the older key name as a fallback', () => {
    const list = [{ containerID: 'c1', ifname: 'eth0' }];
    expect(validAttachments(parseNetConf({ ...base, cniVersion: '1.1.0', 'cni.dev/valid-attachments': list }, 'GC'))).toEqual(list);
    expect(validAttachments(parseNetConf({ ...base, cniVersion: '1.1.0', 'cni.dev/attachments': list }, 'GC'))).toEqual(list);
    expect(validAttachments(parseNetConf({ ...base, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [] }, 'GC'))).toEqual([]);
    const e = thrown(() => parseNetConf({ ...base, cniVersion: '1.1.0', 'cni.dev/valid-attachments': [{ containerID: 'c1' }] }, 'GC'));
    expect(e.msg).toBe('invalid network configuration: cni.dev/valid-attachments[0].ifname: expected a string');
  });
});
