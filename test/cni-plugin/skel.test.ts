/**
 * The dispatcher driven from maps and buffers: about text, VERSION, the environment table, stdin, JSON,
 * network name, cniVersion, netconf validation, error JSON and 999. Commands are stubbed where the test is
 * about what happens before them; netconf failures use the real commands module (they fail before any
 * delegate or agent is touched).
 */
import type { CommandContext, CommandsModule } from '../../cni-plugin/skel.js';
import { runPlugin } from './harness.js';

const ADD_ENV = { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p1', CNI_IFNAME: 'eth0', CNI_PATH: '/usr/lib/cni' };
const CONF = { cniVersion: '1.1.0', name: 'vppnet', type: 'vpp-cni', ipam: { type: 'host-local' } };

/** A commands module that records what it got and prints `output`. */
function stub(output?: unknown): { seen: CommandContext[]; load: () => Promise<CommandsModule> } {
  const seen: CommandContext[] = [];
  return {
    seen,
    load: () =>
      Promise.resolve({
        runCommand: (ctx: CommandContext) => {
          seen.push(ctx);
          return Promise.resolve(output);
        },
      }),
  };
}

const neverStdin = (): Promise<string> => Promise.reject(new Error('stdin must not be read'));

describe('no command, unknown command, VERSION', () => {
  test('no CNI_COMMAND: about text on stderr, exit 0, nothing on stdout', async () => {
    const r = await runPlugin({}, neverStdin);
    expect(r.code).toBe(0);
    expect(r.exitCalls).toEqual([0]);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('CNI plugin vpp-cni v0.1.0\nCNI protocol versions supported: 0.4.0, 1.0.0, 1.1.0\n');
  });

  test('unknown CNI_COMMAND is 4', async () => {
    const r = await runPlugin({ CNI_COMMAND: 'FROB' }, neverStdin);
    expect(r.code).toBe(1);
    expect(r.exitCalls).toEqual([1]);
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 4, msg: 'unknown CNI_COMMAND: FROB' });
  });

  test('VERSION prints the versions and never reads stdin nor needs other variables', async () => {
    const r = await runPlugin({ CNI_COMMAND: 'VERSION' }, neverStdin);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"cniVersion":"1.1.0","supportedVersions":["0.4.0","1.0.0","1.1.0"]}\n');
    expect(r.stderr).toBe('');
  });
});

describe('the environment table', () => {
  const cases: [string, Record<string, string>, number, string, string][] = [
    ['ADD with nothing', { CNI_COMMAND: 'ADD' }, 4, 'required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing', ''],
    ['DEL with nothing (netns not required)', { CNI_COMMAND: 'DEL' }, 4, 'required env variables [CNI_CONTAINERID,CNI_IFNAME,CNI_PATH] missing', ''],
    ['CHECK without netns', { ...ADD_ENV, CNI_COMMAND: 'CHECK', CNI_NETNS: '' }, 4, 'required env variables [CNI_NETNS] missing', ''],
    ['GC without CNI_PATH', { CNI_COMMAND: 'GC' }, 4, 'required env variables [CNI_PATH] missing', ''],
    ['STATUS without CNI_PATH', { CNI_COMMAND: 'STATUS' }, 4, 'required env variables [CNI_PATH] missing', ''],
    ['empty counts as missing', { ...ADD_ENV, CNI_IFNAME: '' }, 4, 'required env variables [CNI_IFNAME] missing', ''],
    ['container id starting with "-"', { ...ADD_ENV, CNI_CONTAINERID: '-abc' }, 4, 'invalid characters in containerID', '-abc'],
    ['container id with "/"', { ...ADD_ENV, CNI_CONTAINERID: 'a/b' }, 4, 'invalid characters in containerID', 'a/b'],
    ['container id with a space', { ...ADD_ENV, CNI_CONTAINERID: 'a b' }, 4, 'invalid characters in containerID', 'a b'],
    ['ifname of 16 characters', { ...ADD_ENV, CNI_IFNAME: 'abcdefghijklmnop' }, 4, 'interface name is too long', 'interface name should be less than 16 characters'],
    ['ifname "."', { ...ADD_ENV, CNI_IFNAME: '.' }, 4, 'interface name is . or ..', ''],
    ['ifname ".."', { ...ADD_ENV, CNI_IFNAME: '..' }, 4, 'interface name is . or ..', ''],
    ['ifname with "/"', { ...ADD_ENV, CNI_IFNAME: 'eth/0' }, 4, 'interface name contains / or : or whitespace characters', ''],
    ['ifname with ":"', { ...ADD_ENV, CNI_IFNAME: 'eth:0' }, 4, 'interface name contains / or : or whitespace characters', ''],
    ['ifname with a tab', { ...ADD_ENV, CNI_IFNAME: 'eth\t0' }, 4, 'interface name contains / or : or whitespace characters', ''],
    ['relative netns', { ...ADD_ENV, CNI_NETNS: 'netns/p1' }, 4, 'CNI_NETNS must be an absolute path', 'netns/p1'],
    [
      'CNI_ARGS with an unknown key',
      { ...ADD_ENV, CNI_ARGS: 'K8S_POD_NAME=a;FOO=bar' },
      4,
      'CNI_ARGS: unknown key "FOO"',
      'known keys: K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID, K8S_POD_INFRA_CONTAINER_ID; add IgnoreUnknown=1 to pass others',
    ],
    ['CNI_ARGS with a pair without "="', { ...ADD_ENV, CNI_ARGS: 'K8S_POD_NAME' }, 4, 'CNI_ARGS: invalid pair "K8S_POD_NAME": expected KEY=VALUE', ''],
    ['CNI_ARGS with a bad IgnoreUnknown', { ...ADD_ENV, CNI_ARGS: 'IgnoreUnknown=maybe' }, 4, 'CNI_ARGS: IgnoreUnknown=maybe: expected 1, 0, true or false', ''],
  ];
  test.each(cases)('%s', async (_name, env, code, msg, details) => {
    const s = stub();
    const r = await runPlugin(env, CONF, { loadCommands: s.load });
    expect(r.code).toBe(1);
    expect(r.json).toEqual({ cniVersion: '1.1.0', code, msg, ...(details ? { details } : {}) });
    expect(s.seen).toHaveLength(0);
  });

  test('a 15-character ifname, underscores and dots in the id, and IgnoreUnknown pass', async () => {
    const s = stub();
    const env = { ...ADD_ENV, CNI_CONTAINERID: 'A1_b.c-d', CNI_IFNAME: 'abcdefghijklmno', CNI_ARGS: 'IgnoreUnknown=1;K8S_POD_NAMESPACE=ns;K8S_POD_NAME=p;K8S_POD_UID=u;FOO=bar' };
    const r = await runPlugin(env, CONF, { loadCommands: s.load });
    expect(r.code).toBe(0);
    expect(s.seen[0]?.cniArgs).toEqual({ IgnoreUnknown: true, K8S_POD_NAMESPACE: 'ns', K8S_POD_NAME: 'p', K8S_POD_UID: 'u', unknown: { FOO: 'bar' } });
    expect(s.seen[0]?.containerId).toBe('A1_b.c-d');
  });

  test('DEL without CNI_NETNS reaches the command with an empty netns', async () => {
    const s = stub();
    const r = await runPlugin({ ...ADD_ENV, CNI_COMMAND: 'DEL', CNI_NETNS: '' }, CONF, { loadCommands: s.load });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(s.seen[0]).toMatchObject({ command: 'DEL', netns: '', containerId: 'c1', ifName: 'eth0', cniPath: ['/usr/lib/cni'] });
  });

  test('GC and STATUS need only CNI_PATH (split on ":", empty entries dropped)', async () => {
    for (const command of ['GC', 'STATUS']) {
      const s = stub();
      const r = await runPlugin({ CNI_COMMAND: command, CNI_PATH: '/a::/b' }, CONF, { loadCommands: s.load });
      expect(r.code).toBe(0);
      expect(s.seen[0]).toMatchObject({ command, cniPath: ['/a', '/b'], containerId: '', ifName: '' });
    }
  });
});

describe('stdin, JSON, name and cniVersion', () => {
  test('unreadable stdin is 5', async () => {
    const r = await runPlugin(ADD_ENV, () => Promise.reject(new Error('EIO: i/o error, read')));
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 5, msg: 'error reading from stdin: EIO: i/o error, read' });
  });

  const cases: [string, string, number, string, string][] = [
    ['empty stdin', '', 6, 'error decoding network configuration: Unexpected end of JSON input', ''],
    ['not JSON', 'cniVersion: 1.1.0', 6, 'error decoding network configuration: ', ''],
    ['a JSON array', '[]', 6, 'error decoding network configuration: expected a JSON object', ''],
    ['JSON null', 'null', 6, 'error decoding network configuration: expected a JSON object', ''],
    ['no name', '{"cniVersion":"1.1.0","type":"vpp-cni"}', 7, 'missing network name', ''],
    ['empty name', '{"cniVersion":"1.1.0","name":"","type":"vpp-cni"}', 7, 'missing network name', ''],
    ['numeric name', '{"cniVersion":"1.1.0","name":5,"type":"vpp-cni"}', 7, 'invalid network configuration: name: expected a string', ''],
    ['name with a space', '{"cniVersion":"1.1.0","name":"my net","type":"vpp-cni"}', 7, 'invalid characters found in network name', 'my net'],
    ['unsupported cniVersion', '{"cniVersion":"0.3.1","name":"n","type":"vpp-cni"}', 1, 'incompatible CNI versions', 'config is "0.3.1", plugin supports ["0.4.0" "1.0.0" "1.1.0"]'],
    ['no cniVersion', '{"name":"n","type":"vpp-cni"}', 1, 'incompatible CNI versions', 'config has no cniVersion, plugin supports ["0.4.0" "1.0.0" "1.1.0"]'],
  ];
  test.each(cases)('%s', async (_name, stdin, code, msg, details) => {
    const s = stub();
    const r = await runPlugin(ADD_ENV, stdin, { loadCommands: s.load });
    expect(r.code).toBe(1);
    expect(r.json?.['code']).toBe(code);
    expect(r.json?.['cniVersion']).toBe('1.1.0');
    if (code === 6 && msg.endsWith(': ')) expect(String(r.json?.['msg']).startsWith(msg)).toBe(true);
    else expect(r.json?.['msg']).toBe(msg);
    expect(r.json?.['details']).toBe(details || undefined);
    expect(s.seen).toHaveLength(0);
  });

  test.each(['GC', 'STATUS'])('%s with a 1.0.0 configuration is 1', async (command) => {
    const r = await runPlugin({ CNI_COMMAND: command, CNI_PATH: '/usr/lib/cni' }, { ...CONF, cniVersion: '1.0.0' }, { loadCommands: stub().load });
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 1, msg: `config version does not allow ${command}`, details: `config is "1.0.0", ${command} needs "1.1.0"` });
  });
});

describe('network configuration (real commands module, failing before any delegate or agent)', () => {
  const cases: [string, Record<string, unknown>, string, string][] = [
    ['no ipam for ADD', { cniVersion: '1.1.0', name: 'n', type: 'vpp-cni' }, 'invalid network configuration: ipam: required (an object whose "type" names the IPAM plugin, e.g. host-local)', ''],
    ['ipam not an object', { ...CONF, ipam: 'host-local' }, 'invalid network configuration: ipam: expected an object with a "type"', ''],
    ['ipam without type', { ...CONF, ipam: { subnet: '10.0.0.0/24' } }, 'invalid network configuration: ipam.type: expected a string', ''],
    ['empty ipam.type', { ...CONF, ipam: { type: '' } }, 'invalid network configuration: ipam.type: must not be empty', ''],
    ['ipam.type as a path', { ...CONF, ipam: { type: '../../bin/sh' } }, 'invalid network configuration: ipam.type: must be a plain executable name (no "/", not "." or "..", no whitespace)', ''],
    ['no type', { cniVersion: '1.1.0', name: 'n', ipam: { type: 'host-local' } }, 'invalid network configuration: type: expected a string', ''],
    ['relative agentSocket', { ...CONF, agentSocket: 'agent.sock' }, 'invalid network configuration: agentSocket: must be an absolute path', ''],
    ['agentSocket too long', { ...CONF, agentSocket: `/${'a'.repeat(107)}` }, 'invalid network configuration: agentSocket: longer than 107 bytes (the unix socket path limit)', ''],
    ['timeoutSeconds as a string', { ...CONF, timeoutSeconds: '60' }, 'invalid network configuration: timeoutSeconds: expected a number of seconds', ''],
    ['timeoutSeconds 0', { ...CONF, timeoutSeconds: 0 }, 'invalid network configuration: timeoutSeconds: must be more than 0', ''],
    ['timeoutSeconds too large', { ...CONF, timeoutSeconds: 7200 }, 'invalid network configuration: timeoutSeconds: must be at most 3600', ''],
    ['dns.nameservers not a list', { ...CONF, dns: { nameservers: '10.0.0.10' } }, 'invalid network configuration: dns.nameservers: expected a list of strings', ''],
    ['dns.search with a number', { ...CONF, dns: { search: ['a', 5] } }, 'invalid network configuration: dns.search[1]: expected a string', ''],
    ['prevResult not an object', { ...CONF, prevResult: [] }, 'invalid network configuration: prevResult: expected an object', ''],
    ['runtimeConfig not an object', { ...CONF, runtimeConfig: 'x' }, 'invalid network configuration: runtimeConfig: expected an object', ''],
    [
      'two bad fields: the first named, all in details',
      { ...CONF, agentSocket: 'x', timeoutSeconds: -1 },
      'invalid network configuration: agentSocket: must be an absolute path',
      'agentSocket: must be an absolute path; timeoutSeconds: must be more than 0',
    ],
  ];
  test.each(cases)('%s → 7', async (_name, conf, msg, details) => {
    const r = await runPlugin(ADD_ENV, conf);
    expect(r.code).toBe(1);
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 7, msg, ...(details ? { details } : {}) });
  });

  test('the error JSON carries the configuration\'s cniVersion once it is known', async () => {
    const r = await runPlugin(ADD_ENV, { ...CONF, cniVersion: '0.4.0', agentSocket: 'x' });
    expect(r.json).toEqual({ cniVersion: '0.4.0', code: 7, msg: 'invalid network configuration: agentSocket: must be an absolute path' });
  });

  test('GC without cni.dev/valid-attachments is refused (it would collect everything)', async () => {
    const r = await runPlugin({ CNI_COMMAND: 'GC', CNI_PATH: '/usr/lib/cni' }, { cniVersion: '1.1.0', name: 'n', type: 'vpp-cni' });
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 7, msg: 'invalid network configuration: cni.dev/valid-attachments: required for GC' });
  });

  test('CHECK without prevResult is 7', async () => {
    const r = await runPlugin({ ...ADD_ENV, CNI_COMMAND: 'CHECK' }, CONF);
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 7, msg: 'invalid network configuration: prevResult: required for CHECK' });
  });

  test('a missing IPAM plugin is 7 naming ipam.type', async () => {
    const r = await runPlugin({ ...ADD_ENV, CNI_PATH: '/nonexistent/a:/nonexistent/b' }, { ...CONF, ipam: { type: 'no-such-ipam' } });
    expect(r.json).toEqual({
      cniVersion: '1.1.0',
      code: 7,
      msg: 'invalid network configuration: ipam.type: no executable plugin "no-such-ipam" in CNI_PATH',
      details: 'searched /nonexistent/a:/nonexistent/b',
    });
  });
});

describe('output and uncaught errors', () => {
  test('the command\'s output is printed as one JSON line', async () => {
    const r = await runPlugin(ADD_ENV, CONF, { loadCommands: stub({ cniVersion: '1.1.0', ips: [] }).load });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('{"cniVersion":"1.1.0","ips":[]}\n');
  });

  test('a thrown Error becomes 999 with its message only (no stack, no source)', async () => {
    const load = (): Promise<CommandsModule> =>
      Promise.resolve({
        runCommand: () => {
          throw new TypeError('kaboom');
        },
      });
    const r = await runPlugin(ADD_ENV, CONF, { loadCommands: load });
    expect(r.code).toBe(1);
    expect(r.exitCalls).toEqual([1]);
    expect(r.stdout).toBe('{"cniVersion":"1.1.0","code":999,"msg":"kaboom"}\n');
    expect(r.stderr).toBe('');
  });

  test('a thrown non-Error becomes 999 too', async () => {
    const load = (): Promise<CommandsModule> => Promise.resolve({ runCommand: () => Promise.reject(42) });
    const r = await runPlugin(ADD_ENV, CONF, { loadCommands: load });
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'unknown internal error' });
  });

  test('a module that fails to load becomes 999', async () => {
    const r = await runPlugin(ADD_ENV, CONF, { loadCommands: () => Promise.reject(new Error('Cannot find module')) });
    expect(r.json).toEqual({ cniVersion: '1.1.0', code: 999, msg: 'Cannot find module' });
  });
});
