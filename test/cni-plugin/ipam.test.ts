/**
 * The IPAM delegate with scripted plugins (/bin/sh) and the real host-local: lookup in CNI_PATH, version
 * negotiation, the configuration it gets, error pass-through, killing a delegate that does not finish.
 */
import { chmodSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CniError } from '../../cni-plugin/errors.js';
import { IpamDelegate, VersionCache, chooseVersion, execPlugin, findPlugin, type DelegateOptions } from '../../cni-plugin/ipam.js';
import { HOST_LOCAL_DIR, removeDir, tempDir, writeFakeIpam, writeScript } from './harness.js';

let dir: string;
beforeEach(() => {
  dir = tempDir('ipam');
});
afterEach(() => removeDir(dir));

const sink = { text: '', write(s: string) { this.text += s; } };

function opts(over: Partial<DelegateOptions> = {}): DelegateOptions {
  return {
    type: 'fake-ipam',
    cniPath: [dir],
    env: { CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'c1', CNI_NETNS: '/var/run/netns/p1', CNI_IFNAME: 'eth0', CNI_PATH: dir },
    config: { cniVersion: '1.1.0', name: 'vppnet', type: 'vpp-cni', agentSocket: '/x.sock', ipam: { type: 'fake-ipam', pool: 'a' } },
    cniVersion: '1.1.0',
    timeoutMs: 10_000,
    stderr: sink,
    versionCache: null,
    ...over,
  };
}

async function rejection(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CniError) return e;
    throw e;
  }
  throw new Error('did not reject');
}

describe('the cache of VERSION answers', () => {
  const log = (): string => readFileSync(join(dir, 'log'), 'utf8');

  test('asked once per binary: a second open reads the answer back', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['0.4.0', '1.0.0']);
    const cache = new VersionCache(join(dir, 'cache'));
    const a = await IpamDelegate.open(opts({ versionCache: cache }));
    const b = await IpamDelegate.open(opts({ versionCache: cache }));
    expect(log()).toBe('VERSION\n');
    expect(b.supportedVersions).toEqual(['0.4.0', '1.0.0']);
    expect(b.version).toBe(a.version);
    expect(readdirSync(join(dir, 'cache'))).toHaveLength(1);
  });

  test('a rewritten binary is asked again', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0']);
    const cache = new VersionCache(join(dir, 'cache'));
    await IpamDelegate.open(opts({ versionCache: cache }));
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0', '1.1.0']);
    const d = await IpamDelegate.open(opts({ versionCache: cache }));
    expect(d.version).toBe('1.1.0');
    expect(log()).toBe('VERSION\nVERSION\n');
  });

  test('a malformed cache file is ignored and replaced', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0']);
    const cache = new VersionCache(join(dir, 'cache'));
    await IpamDelegate.open(opts({ versionCache: cache }));
    const [f] = readdirSync(join(dir, 'cache'));
    writeFileSync(join(dir, 'cache', f!), '{"path": 1}');
    expect((await IpamDelegate.open(opts({ versionCache: cache }))).version).toBe('1.0.0');
    await IpamDelegate.open(opts({ versionCache: cache }));
    expect(log()).toBe('VERSION\nVERSION\n');
  });

  test('a cache directory others can write is not trusted', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0']);
    const cache = new VersionCache(join(dir, 'cache'));
    await IpamDelegate.open(opts({ versionCache: cache }));
    chmodSync(join(dir, 'cache'), 0o777);
    await IpamDelegate.open(opts({ versionCache: cache }));
    expect(log()).toBe('VERSION\nVERSION\n');
  });

  test('VPPCNI_IPAM_CACHE_DIR in the environment names the directory', () => {
    expect(VersionCache.fromEnv({ VPPCNI_IPAM_CACHE_DIR: '/x/y' }).dir).toBe('/x/y');
    expect(VersionCache.fromEnv({}).dir).toBe('/run/vpp-cni/ipam-versions');
  });
});

describe('finding the delegate', () => {
  test('first match in CNI_PATH order; directories and non-executables are skipped', () => {
    const a = tempDir('ipam-a');
    try {
      writeScript(join(a, 'fake-ipam'), 'exit 0');
      writeFakeIpam(dir, 'fake-ipam', ['1.0.0']);
      expect(findPlugin('fake-ipam', ['/nonexistent', a, dir])).toBe(join(a, 'fake-ipam'));
      expect(findPlugin('host-local', [dir, HOST_LOCAL_DIR])).toBe(join(HOST_LOCAL_DIR, 'host-local'));
    } finally {
      removeDir(a);
    }
  });

  test('absent: 7 naming ipam.type and where it looked', () => {
    const e = (() => {
      try {
        findPlugin('nope', ['/a', '/b']);
      } catch (x) {
        return x as CniError;
      }
      throw new Error('found');
    })();
    expect(e.code).toBe(7);
    expect(e.msg).toBe('invalid network configuration: ipam.type: no executable plugin "nope" in CNI_PATH');
    expect(e.details).toBe('searched /a:/b');
  });
});

describe('version negotiation', () => {
  test('chooseVersion picks the newest common version', () => {
    expect(chooseVersion(['0.1.0', '0.2.0', '0.3.0', '0.3.1', '0.4.0', '1.0.0'])).toBe('1.0.0');
    expect(chooseVersion(['0.3.1', '0.4.0', '1.0.0', '1.1.0', '2.0.0'])).toBe('1.1.0');
    expect(chooseVersion(['0.1.0', '0.2.0'])).toBeUndefined();
  });

  test('the real host-local is spoken to in 1.0.0 (it does not know 1.1.0)', async () => {
    const d = await IpamDelegate.open(opts({ type: 'host-local', cniPath: [HOST_LOCAL_DIR] }));
    expect(d.version).toBe('1.0.0');
    expect(d.supports('1.1.0')).toBe(false);
    expect(d.supportedVersions).toContain('0.4.0');
  });

  test('VERSION gets {"cniVersion"} on stdin; ADD gets the configuration with cniVersion replaced and everything else intact', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['0.3.1', '0.4.0'], `echo '{"cniVersion":"0.4.0","ips":[{"version":"4","address":"10.2.0.7/16","gateway":"10.2.0.1"}]}'`);
    const d = await IpamDelegate.open(opts());
    expect(d.version).toBe('0.4.0');
    const r = await d.add();
    expect(r).toEqual({ cniVersion: '0.4.0', ips: [{ address: '10.2.0.7/16', gateway: '10.2.0.1' }] });
    expect(JSON.parse(readFileSync(join(dir, 'stdin.VERSION'), 'utf8'))).toEqual({ cniVersion: '1.1.0' });
    expect(JSON.parse(readFileSync(join(dir, 'stdin.ADD'), 'utf8'))).toEqual({
      cniVersion: '0.4.0',
      name: 'vppnet',
      type: 'vpp-cni',
      agentSocket: '/x.sock',
      ipam: { type: 'fake-ipam', pool: 'a' },
    });
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('VERSION\nADD\n');
  });

  test('prevResult is converted to the delegate\'s version', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['0.4.0']);
    const d = await IpamDelegate.open(opts({ config: { ...opts().config, prevResult: { cniVersion: '1.1.0' } } }));
    await d.check({ cniVersion: '1.1.0', interfaces: [{ name: 'eth0', mtu: 1500, sandbox: '/n' }], ips: [{ address: 'fd00::5/64', interface: 0 }] });
    expect(JSON.parse(readFileSync(join(dir, 'stdin.CHECK'), 'utf8')).prevResult).toEqual({
      cniVersion: '0.4.0',
      interfaces: [{ name: 'eth0', sandbox: '/n' }],
      ips: [{ version: '6', address: 'fd00::5/64', interface: 0 }],
    });
  });

  test('no common version is 1', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['0.1.0', '0.2.0']);
    const e = await rejection(IpamDelegate.open(opts()));
    expect(e.code).toBe(1);
    expect(e.msg).toBe('ipam fake-ipam: no CNI version in common');
    expect(e.details).toBe('it supports ["0.1.0" "0.2.0"], vpp-cni speaks ["0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]');
  });

  test('a VERSION answer without supportedVersions is 999', async () => {
    writeScript(join(dir, 'fake-ipam'), `echo '{"cniVersion":"1.0.0"}'`);
    const e = await rejection(IpamDelegate.open(opts()));
    expect(e.code).toBe(999);
    expect(e.msg).toBe('ipam fake-ipam: VERSION did not print {"supportedVersions": [...]}');
  });

  test('CHECK is not asked of a 0.3.x delegate; GC and STATUS only of a 1.1.0 one', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['0.3.1']);
    const old = await IpamDelegate.open(opts());
    expect(await old.check({ cniVersion: '1.1.0' })).toBe(false);
    expect(await old.gc()).toBe(false);
    expect(await old.status()).toBe(false);
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0', '1.1.0']);
    const cur = await IpamDelegate.open(opts());
    expect(await cur.gc()).toBe(true);
    expect(await cur.status()).toBe(true);
    expect(readFileSync(join(dir, 'log'), 'utf8')).toBe('VERSION\nVERSION\nGC\nSTATUS\n');
  });
});

describe('running a delegate', () => {
  const run = (body: string, timeoutMs = 10_000): Promise<string> =>
    execPlugin({ path: writeScript(join(dir, 'p'), body), label: 'ipam p', command: 'ADD', env: { CNI_COMMAND: 'VERSION', FOO: 'bar' }, stdin: '{"x":1}', timeoutMs, stderr: sink });

  test('gets our environment with its own CNI_COMMAND, and stdin', async () => {
    expect(await run('echo "$CNI_COMMAND $FOO $(cat)"')).toBe('ADD bar {"x":1}\n');
  });

  test('its error JSON passes through with its code, msg prefixed', async () => {
    const e = await rejection(run(`echo '{"cniVersion":"1.0.0","code":11,"msg":"no IP addresses available in range set: 10.0.0.1-10.0.0.2","details":"d"}'; exit 1`));
    expect(e.code).toBe(11);
    expect(e.msg).toBe('ipam p: no IP addresses available in range set: 10.0.0.1-10.0.0.2');
    expect(e.details).toBe('d');
  });

  test('failing without an error object is 999 with its stderr', async () => {
    const e = await rejection(run('echo "panic: nil map" >&2; exit 2'));
    expect(e.code).toBe(999);
    expect(e.msg).toBe('ipam p: ADD exited with status 2 without an error object');
    expect(e.details).toBe('panic: nil map');
    expect(sink.text).toContain('panic: nil map');
  });

  test('a delegate that does not finish is killed: 11', async () => {
    const e = await rejection(run('exec sleep 30', 300));
    expect(e.code).toBe(11);
    expect(e.msg).toBe('ipam p: ADD did not finish within 0.3s (killed)');
  });

  test('an ADD result that is not JSON is 999', async () => {
    writeFakeIpam(dir, 'fake-ipam', ['1.0.0'], 'echo not-json');
    const d = await IpamDelegate.open(opts());
    const e = await rejection(d.add());
    expect(e.code).toBe(999);
    expect(e.msg.startsWith('ipam fake-ipam: ADD printed a result that is not JSON')).toBe(true);
  });
});
