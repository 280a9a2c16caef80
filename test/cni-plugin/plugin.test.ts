/**
 * ADD, DEL, CHECK, GC and STATUS through the dispatcher, against the in-process fake agent and the real
 * host-local IPAM (/usr/lib/cni, a data dir per test: an allocated address is the file <dataDir>/<net>/<ip>).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { FakeAgent, fakeMac } from '../helpers/fake-agent.js';
import { HOST_LOCAL_DIR, removeDir, runPlugin, tempDir, writeFakeIpam } from './harness.js';

const NET = 'vppnet';
let dir: string;
let agent: FakeAgent;

beforeEach(async () => {
  dir = tempDir('plugin');
  agent = await FakeAgent.start();
});
afterEach(() => {
  agent.stop();
  removeDir(dir);
});

function conf(over: Record<string, unknown> = {}, ipamOver: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: '1.1.0',
    name: NET,
    type: 'vpp-cni',
    agentSocket: agent.socketPath,
    timeoutSeconds: 10,
    ipam: { type: 'host-local', dataDir: join(dir, 'ipam'), ranges: [[{ subnet: '10.9.0.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], ...ipamOver },
    ...over,
  };
}

function env(command: string, containerId = 'c1', over: Record<string, string> = {}): Record<string, string> {
  return {
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/var/run/netns/${containerId}`,
    CNI_IFNAME: 'eth0',
    CNI_PATH: `/nonexistent:${HOST_LOCAL_DIR}`,
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-${containerId};K8S_POD_UID=uid-${containerId};K8S_POD_INFRA_CONTAINER_ID=${containerId}`,
    ...over,
  };
}

/** Addresses host-local holds for the network (its files other than lock and last_reserved_ip.*). */
function allocated(): string[] {
  const d = join(dir, 'ipam', NET);
  if (!existsSync(d)) return [];
  return readdirSync(d)
    .filter((f) => f !== 'lock' && !f.startsWith('last_reserved_ip'))
    .sort();
}

function owner(ip: string): string[] {
  return readFileSync(join(dir, 'ipam', NET, ip), 'utf8').split(/\s+/).filter(Boolean);
}

describe('ADD', () => {
  test('1.1.0: IPAM allocates, the agent gets the attachment and addresses, the result is printed', async () => {
    // the result: the agent's interfaces; the IPAM's address (no gateway: the pod routes through its device) and routes
    const r = await runPlugin(env('ADD'), conf({ dns: { nameservers: ['10.96.0.10'] } }));
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.json).toEqual({
      cniVersion: '1.1.0',
      interfaces: [{ name: 'eth0', mac: fakeMac('c1'), mtu: 1500, sandbox: '/var/run/netns/c1' }],
      ips: [{ address: '10.9.0.2/24', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
      dns: { nameservers: ['10.96.0.10'] },
    });
    expect(allocated()).toEqual(['10.9.0.2']);
    expect(owner('10.9.0.2')).toEqual(['c1', 'eth0']);
    expect(agent.calls('Add')).toEqual([
      {
        attachment: { container_id: 'c1', if_name: 'eth0', netns: '/var/run/netns/c1', pod: { namespace: 'default', name: 'web-c1', uid: 'uid-c1' } },
        ips: [{ address: '10.9.0.2/24', gateway: '10.9.0.1' }],
        routes: [{ dst: '0.0.0.0/0' }],
        network_name: NET,
        annotations: null,
      },
    ]);
  });

  test('the pod annotations the runtime passed in runtimeConfig go to the agent', async () => {
    const annotations = { 'cni.projectcalico.org/vppExtraMemifPorts': 'tcp:4444', 'kubernetes.io/config.seen': '2026-01-01T00:00:00Z' };
    const r = await runPlugin(env('ADD'), conf({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } }));
    expect(r.code).toBe(0);
    expect(agent.calls('Add')[0]?.annotations).toEqual({ entries: annotations });
  });

  test('an empty annotation map from the runtime is sent as such (not as "none passed")', async () => {
    await runPlugin(env('ADD'), conf({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': {} } }));
    expect(agent.calls('Add')[0]?.annotations).toEqual({ entries: {} });
  });

  test.each([
    [{ a: 1 }, 'invalid network configuration: runtimeConfig["io.kubernetes.cri.pod-annotations"]["a"]: expected a string'],
    [{ '': 'v' }, 'invalid network configuration: runtimeConfig["io.kubernetes.cri.pod-annotations"][""]: invalid key: must not be empty'],
    ['x', 'invalid network configuration: runtimeConfig["io.kubernetes.cri.pod-annotations"]: expected a map of strings'],
    [{ big1: 'x'.repeat(150 * 1024), big2: 'x'.repeat(150 * 1024) }, 'invalid network configuration: runtimeConfig["io.kubernetes.cri.pod-annotations"]: more than 262144 bytes (the Kubernetes limit)'],
  ])('runtime annotations %#: 7 naming the field; no address allocated', async (annotations, msg) => {
    const r = await runPlugin(env('ADD'), conf({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': annotations } }));
    expect(r.json).toMatchObject({ code: 7, msg });
    expect(agent.calls('Add')).toHaveLength(0);
    expect(allocated()).toEqual([]);
  });

  test('DEL does not fail on runtime annotations it does not need', async () => {
    const r = await runPlugin(env('DEL'), conf({ runtimeConfig: { 'io.kubernetes.cri.pod-annotations': 'x' } }));
    expect(r.code).toBe(0);
  });

  test('1.0.0 and 0.4.0 results; a memif socketPath shows in 1.1.0 only', async () => {
    agent.setReply('Add', (req) => ({
      interfaces: [
        { name: 'eth0', mac: '02:fe:00:00:00:01', mtu: 9000, sandbox: req.attachment?.netns ?? '' },
        { name: 'memif-eth0', sandbox: req.attachment?.netns ?? '', socket_path: '@vpp/memif-eth0' },
      ],
    }));
    const r11 = await runPlugin(env('ADD', 'c11'), conf());
    expect(r11.json?.['interfaces']).toEqual([
      { name: 'eth0', mac: '02:fe:00:00:00:01', mtu: 9000, sandbox: '/var/run/netns/c11' },
      { name: 'memif-eth0', sandbox: '/var/run/netns/c11', socketPath: '@vpp/memif-eth0' },
    ]);
    const r10 = await runPlugin(env('ADD', 'c10'), conf({ cniVersion: '1.0.0' }));
    expect(r10.json).toEqual({
      cniVersion: '1.0.0',
      interfaces: [
        { name: 'eth0', mac: '02:fe:00:00:00:01', sandbox: '/var/run/netns/c10' },
        { name: 'memif-eth0', sandbox: '/var/run/netns/c10' },
      ],
      ips: [{ address: '10.9.0.3/24', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
    });
    const r04 = await runPlugin(env('ADD', 'c04'), conf({ cniVersion: '0.4.0' }));
    expect(r04.json).toEqual({
      cniVersion: '0.4.0',
      interfaces: [
        { name: 'eth0', mac: '02:fe:00:00:00:01', sandbox: '/var/run/netns/c04' },
        { name: 'memif-eth0', sandbox: '/var/run/netns/c04' },
      ],
      ips: [{ version: '4', address: '10.9.0.4/24', interface: 0 }],
      routes: [{ dst: '0.0.0.0/0' }],
    });
    expect(allocated()).toEqual(['10.9.0.2', '10.9.0.3', '10.9.0.4']);
  });

  test('dual stack', async () => {
    const r = await runPlugin(env('ADD'), conf({}, { ranges: [[{ subnet: '10.9.0.0/24' }], [{ subnet: 'fd00:9::/120' }]] }));
    expect(r.json?.['ips']).toEqual([
      { address: '10.9.0.2/24', interface: 0 },
      { address: 'fd00:9::2/120', interface: 0 },
    ]);
    expect(allocated()).toEqual(['10.9.0.2', 'fd00:9::2']);
  });

  test('an agent error passes through unchanged and the address is released', async () => {
    agent.setReply('Add', { interfaces: [], error: { code: 7, msg: 'annotation cni.projectcalico.org/vppInterfacesSpec: bad JSON', details: 'at 3' } });
    const r = await runPlugin(env('ADD'), conf());
    expect(r.code).toBe(1);
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 7, msg: 'annotation cni.projectcalico.org/vppInterfacesSpec: bad JSON', details: 'at 3' });
    expect(agent.calls('Add')).toHaveLength(1);
    expect(allocated()).toEqual([]);
    expect(r.stderr).toContain('released the address with ipam host-local DEL');
  });

  test.each([
    [100, 'vpp: memif_create_v2 failed: VNET_API_ERROR_INVALID_VALUE (-1)'],
    [101, 'network namespace /var/run/netns/c1 is gone'],
    [11, 'VPP is restarting'],
  ])('agent code %i passes through', async (code, msg) => {
    agent.setReply('Add', { interfaces: [], error: { code, msg, details: '' } });
    const r = await runPlugin(env('ADD'), conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code, msg });
    expect(allocated()).toEqual([]);
  });

  test('agent socket missing: 11 saying what to check, and the address is released', async () => {
    const sock = join(dir, 'no-agent.sock');
    const r = await runPlugin(env('ADD'), conf({ agentSocket: sock }));
    expect(r.json).toEqual({
      cniVersion: '1.1.0',
      code: 11,
      msg: `vpp-cni agent not reachable on ${sock}: is the vpp-cni DaemonSet pod running on this node? (connect ENOENT)`,
    });
    expect(allocated()).toEqual([]);
  });

  test('agent not answering within timeoutSeconds: 11, and the address is released', async () => {
    agent.setReply('Add', 'hang');
    const r = await runPlugin(env('ADD'), conf({ timeoutSeconds: 1 }));
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 11, msg: `vpp-cni agent on ${agent.socketPath} did not answer Add within 1s` });
    expect(agent.calls('Add')).toHaveLength(1);
    expect(allocated()).toEqual([]);
  });

  test('a gRPC failure (plugin and agent of different releases) is 999 naming the status; released', async () => {
    agent.setReply('Add', () => Promise.reject({ code: grpc.status.UNIMPLEMENTED, details: 'no handler for method Add' }));
    const r = await runPlugin(env('ADD'), conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'vpp-cni agent call Add failed: UNIMPLEMENTED: no handler for method Add' });
    expect(allocated()).toEqual([]);
  });

  test('a request above the agent\'s size bound (RESOURCE_EXHAUSTED) is 7, not 999; released', async () => {
    agent.setReply('Add', () => Promise.reject({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Received message larger than max (3000000 vs 2097152)' }));
    const r = await runPlugin(env('ADD'), conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 7, msg: 'vpp-cni agent refused Add: the request is larger than it accepts', details: 'Received message larger than max (3000000 vs 2097152)' });
    expect(allocated()).toEqual([]);
  });

  test('an agent reply with neither interfaces nor an error is 999; released', async () => {
    agent.setReply('Add', { interfaces: [] });
    const r = await runPlugin(env('ADD'), conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'vpp-cni agent answered Add with neither interfaces nor an error' });
    expect(allocated()).toEqual([]);
  });

  test('a malformed agent reply is 999 naming the field; released', async () => {
    agent.setReply('Add', { interfaces: [{ name: '', sandbox: '/x' }] });
    const r = await runPlugin(env('ADD'), conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'vpp-cni agent answered Add with a malformed reply', details: 'interfaces.0.name: must not be empty' });
    expect(allocated()).toEqual([]);
  });

  test('an IPAM error passes through with its code and the agent is not called', async () => {
    await runPlugin(env('ADD', 'a1'), conf({}, { ranges: [[{ subnet: '10.9.0.0/30' }]] }));
    const r = await runPlugin(env('ADD', 'a2'), conf({}, { ranges: [[{ subnet: '10.9.0.0/30' }]] }));
    expect(r.code).toBe(1);
    // host-local reports exhaustion as a plain Go error, which its skel prints as 999: passed through as is
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'ipam host-local: failed to allocate for range 0: no IP addresses available in range set: 10.9.0.1-10.9.0.2' });
    expect(agent.calls('Add')).toHaveLength(1);
    expect(allocated()).toEqual(['10.9.0.2']);
  });
});

describe('DEL', () => {
  test('after ADD: agent Del, then IPAM DEL releases the address', async () => {
    await runPlugin(env('ADD'), conf());
    expect(allocated()).toEqual(['10.9.0.2']);
    const r = await runPlugin(env('DEL'), conf());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(agent.calls('Del')).toEqual([
      { attachment: { container_id: 'c1', if_name: 'eth0', netns: '/var/run/netns/c1', pod: { namespace: 'default', name: 'web-c1', uid: 'uid-c1' } } },
    ]);
    expect(allocated()).toEqual([]);
  });

  test('DEL is idempotent; an unknown container (agent code 3) is success', async () => {
    agent.setReply('Del', { error: { code: 3, msg: 'no attachment c9/eth0', details: '' } });
    const r1 = await runPlugin(env('DEL', 'c9'), conf());
    const r2 = await runPlugin(env('DEL', 'c9'), conf());
    expect([r1.code, r2.code]).toEqual([0, 0]);
    expect(r1.stdout + r2.stdout).toBe('');
  });

  test('empty CNI_NETNS: both agent and IPAM are still called', async () => {
    await runPlugin(env('ADD'), conf());
    agent.setReply('Del', { error: { code: 101, msg: 'netns gone', details: '' } });
    const r = await runPlugin(env('DEL', 'c1', { CNI_NETNS: '' }), conf());
    expect(r.code).toBe(0);
    expect(agent.calls('Del')[0]?.attachment?.netns).toBe('');
    expect(allocated()).toEqual([]);
  });

  test('a prevResult is accepted and converted for the delegate', async () => {
    const add = await runPlugin(env('ADD'), conf());
    const r = await runPlugin(env('DEL'), conf({ prevResult: add.json }));
    expect(r.code).toBe(0);
    expect(allocated()).toEqual([]);
  });

  test('an agent error (not 3) passes through and the address is kept for the retry', async () => {
    await runPlugin(env('ADD'), conf());
    agent.setReply('Del', { error: { code: 100, msg: 'vpp: sw_interface_del failed', details: '' } });
    const r = await runPlugin(env('DEL'), conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 100, msg: 'vpp: sw_interface_del failed' });
    expect(allocated()).toEqual(['10.9.0.2']);
  });

  test('agent unreachable: 11 and the address is kept', async () => {
    await runPlugin(env('ADD'), conf());
    const sock = join(dir, 'gone.sock');
    const r = await runPlugin(env('DEL'), conf({ agentSocket: sock }));
    expect(r.json?.['code']).toBe(11);
    expect(allocated()).toEqual(['10.9.0.2']);
  });
});

describe('CHECK', () => {
  test('after ADD, with its result as prevResult: IPAM CHECK with it, then agent Check of its record', async () => {
    const add = await runPlugin(env('ADD'), conf());
    const r = await runPlugin(env('CHECK'), conf({ prevResult: add.json }));
    expect(r.stdout).toBe('');
    expect(r.code).toBe(0);
    expect(agent.calls('Check')).toEqual([
      {
        attachment: { container_id: 'c1', if_name: 'eth0', netns: '/var/run/netns/c1', pod: { namespace: 'default', name: 'web-c1', uid: 'uid-c1' } },
      },
    ]);
  });

  test('0.4.0 configuration with a 0.4.0 prevResult', async () => {
    const add = await runPlugin(env('ADD'), conf({ cniVersion: '0.4.0' }));
    const r = await runPlugin(env('CHECK'), conf({ cniVersion: '0.4.0', prevResult: add.json }));
    expect(r.code).toBe(0);
    expect(agent.calls('Check')).toHaveLength(1);
  });

  test('IPAM CHECK failing (no allocation for the container) passes through; the agent is not asked', async () => {
    const prev = { cniVersion: '1.1.0', ips: [{ address: '10.9.0.2/24' }] };
    const r = await runPlugin(env('CHECK'), conf({ prevResult: prev }));
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'ipam host-local: host-local: Failed to find address added by container c1' });
    expect(agent.calls('Check')).toHaveLength(0);
  });

  test('agent Check error passes through', async () => {
    const add = await runPlugin(env('ADD'), conf());
    agent.setReply('Check', { error: { code: 101, msg: 'network namespace /var/run/netns/c1 is gone', details: '' } });
    const r = await runPlugin(env('CHECK'), conf({ prevResult: add.json }));
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 101, msg: 'network namespace /var/run/netns/c1 is gone' });
  });

  test('a malformed prevResult is 7 naming the field', async () => {
    const r = await runPlugin(env('CHECK'), conf({ prevResult: { ips: [{ address: 'x' }] } }));
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 7, msg: 'invalid network configuration: prevResult.ips[0].address: expected an address with prefix length, e.g. 10.1.0.5/24' });
  });
});

describe('GC', () => {
  const gcEnv = { CNI_COMMAND: 'GC', CNI_PATH: HOST_LOCAL_DIR };

  test('the agent gets the valid attachments; host-local (1.0.0) is not sent GC', async () => {
    const valid = [
      { containerID: 'c1', ifname: 'eth0' },
      { containerID: 'c2', ifname: 'net1' },
    ];
    agent.setReply('Gc', { removed: 3 });
    const r = await runPlugin(gcEnv, conf({ 'cni.dev/valid-attachments': valid }));
    expect(r.json).toBeUndefined();
    expect(r.code).toBe(0);
    expect(agent.calls('Gc')).toEqual([
      {
        valid: [
          { container_id: 'c1', if_name: 'eth0', netns: '', pod: null },
          { container_id: 'c2', if_name: 'net1', netns: '', pod: null },
        ],
        network_name: NET,
      },
    ]);
  });

  test('a delegate that speaks 1.1.0 is sent GC with the list', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0', '1.1.0']);
    const valid = [{ containerID: 'c1', ifname: 'eth0' }];
    const r = await runPlugin({ CNI_COMMAND: 'GC', CNI_PATH: dir }, conf({ 'cni.dev/valid-attachments': valid }, { type: 'fake-ipam' }));
    expect(r.code).toBe(0);
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('VERSION\nGC\n');
    expect(JSON.parse(readFileSync(join(dir, 'stdin.GC'), 'utf8'))['cni.dev/valid-attachments']).toEqual(valid);
  });

  test('an agent error passes through (the IPAM is still collected)', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['1.1.0']);
    agent.setReply('Gc', { error: { code: 11, msg: 'VPP is restarting', details: '' }, removed: 0 });
    const r = await runPlugin({ CNI_COMMAND: 'GC', CNI_PATH: dir }, conf({ 'cni.dev/valid-attachments': [] }, { type: 'fake-ipam' }));
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 11, msg: 'VPP is restarting' });
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('VERSION\nGC\n');
  });
});

describe('STATUS', () => {
  const stEnv = { CNI_COMMAND: 'STATUS', CNI_PATH: HOST_LOCAL_DIR };

  test('agent ready: exit 0, nothing printed', async () => {
    const r = await runPlugin(stEnv, conf());
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(agent.calls('Status')).toEqual([{}]);
  });

  test('agent down: 50 saying the socket is not answering and what to check', async () => {
    const sock = join(dir, 'down.sock');
    const r = await runPlugin(stEnv, conf({ agentSocket: sock }));
    expect(r.json).toEqual({
      cniVersion: '1.1.0',
      code: 50,
      msg: `vpp-cni agent is not answering on ${sock}: check that the vpp-cni DaemonSet pod on this node is running and ready, and that its agent socket is mounted at that path`,
      details: 'connect ENOENT',
    });
  });

  test('the agent\'s own 50 / 51 pass through', async () => {
    agent.setReply('Status', { error: { code: 51, msg: 'VPP is not running: existing pods may have limited connectivity', details: '' } });
    const r = await runPlugin(stEnv, conf());
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 51, msg: 'VPP is not running: existing pods may have limited connectivity' });
  });
});
