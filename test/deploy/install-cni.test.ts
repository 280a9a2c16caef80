/**
 * The install step in-process against temp directories standing in for the host's CNI bin and conf
 * directories (with other files in them that must not be touched), and once as a process (the entry).
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_AGENT_SOCKET as CONTRACT_AGENT_SOCKET } from '../../contract/proto.js';
import { DEFAULT_TIMEOUT_SECONDS as NETCONF_TIMEOUT, MAX_TIMEOUT_SECONDS as NETCONF_MAX_TIMEOUT, MAX_UNIX_SOCKET_PATH as NETCONF_MAX_SOCKET, netConfSchema } from '../../cni-plugin/netconf.js';
import { SUPPORTED_VERSIONS } from '../../cni-plugin/version.js';
import { InstallError, UsageError, tempName } from '../../deploy/atomic-file.js';
import {
  CNI_VERSIONS,
  DEFAULT_AGENT_SOCKET,
  DEFAULT_TIMEOUT_SECONDS,
  MAX_TIMEOUT_SECONDS,
  MAX_UNIX_SOCKET_PATH,
  configsBefore,
  parseCidr,
  resolveIpam,
} from '../../deploy/conflist.js';
import { defaultOptions, installCni, parseInstallOptions, runInstall, type InstallOptions, type Io } from '../../deploy/install.js';

interface Captured extends Io {
  lines: string[];
  errors: string[];
}
function capture(): Captured {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, out: (l) => lines.push(l), err: (l) => errors.push(l) };
}

let root: string;
let src: string;
let binDir: string;
let confDir: string;
const FAKE_BINARY = Buffer.concat([Buffer.from('#!/bin/sh\necho fake vpp-cni\n'), Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 37) % 256))]);
const OTHER_PLUGIN = Buffer.from('#!/bin/sh\necho another plugin\n');
const OTHER_CONFLIST = '{"cniVersion":"1.0.0","name":"other","plugins":[{"type":"bridge"}]}\n';
const PAST = new Date('2020-01-02T03:04:05Z');

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vpp-cni-install-'));
  src = join(root, 'src-vpp-cni');
  binDir = join(root, 'host/opt/cni/bin');
  confDir = join(root, 'host/etc/cni/net.d');
  writeFileSync(src, FAKE_BINARY, { mode: 0o600 });
  mkdirSync(binDir, { recursive: true });
  mkdirSync(confDir, { recursive: true });
  writeFileSync(join(binDir, 'bridge'), OTHER_PLUGIN, { mode: 0o755 });
  writeFileSync(join(confDir, '20-other.conflist'), OTHER_CONFLIST, { mode: 0o600 });
  for (const p of [join(binDir, 'bridge'), join(confDir, '20-other.conflist')]) utimesSync(p, PAST, PAST);
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function opts(over: Partial<InstallOptions> = {}): InstallOptions {
  return defaultOptions({ binSrc: src, cniBinDir: binDir, cniConfDir: confDir, podCidrs: ['10.244.1.0/24'], ...over });
}

/** name -> content, mode and mtime of every entry. */
function snapshot(dir: string): Record<string, { content: string; mode: number; mtimeMs: number }> {
  const out: Record<string, { content: string; mode: number; mtimeMs: number }> = {};
  for (const n of readdirSync(dir).sort()) {
    const st = statSync(join(dir, n));
    out[n] = { content: st.isFile() ? readFileSync(join(dir, n)).toString('base64') : '(dir)', mode: st.mode & 0o7777, mtimeMs: st.mtimeMs };
  }
  return out;
}

function tempFiles(...dirs: string[]): string[] {
  return dirs.flatMap((d) => (existsSync(d) && statSync(d).isDirectory() ? readdirSync(d).filter((n) => n.includes('.tmp-')) : []));
}

function conflistOf(dir = confDir, name = '10-vpp-cni.conflist'): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, name), 'utf8')) as Record<string, unknown>;
}

function thrown(f: () => unknown): InstallError {
  try {
    f();
  } catch (e) {
    if (e instanceof InstallError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('installing', () => {
  test('fresh: binary 0755 with identical content, conflist 0644, one line per action; other files untouched; no temp files', () => {
    const before = { bin: snapshot(binDir), conf: snapshot(confDir) };
    const io = capture();
    const report = installCni(opts(), io);

    const bin = join(binDir, 'vpp-cni');
    expect(readFileSync(bin).equals(FAKE_BINARY)).toBe(true);
    expect(statSync(bin).mode & 0o7777).toBe(0o755);
    expect(statSync(join(confDir, '10-vpp-cni.conflist')).mode & 0o7777).toBe(0o644);
    expect(io.lines).toEqual([`installed ${bin} (sha256 ${sha256(FAKE_BINARY)})`, `wrote ${join(confDir, '10-vpp-cni.conflist')}`]);
    expect(io.errors).toEqual([]);
    expect(report.binary).toEqual({ path: bin, size: FAKE_BINARY.length, sha256: sha256(FAKE_BINARY), changed: true });
    expect(report.conflist.changed).toBe(true);

    const after = { bin: snapshot(binDir), conf: snapshot(confDir) };
    expect(after.bin['bridge']).toEqual(before.bin['bridge']);
    expect(after.conf['20-other.conflist']).toEqual(before.conf['20-other.conflist']);
    expect(Object.keys(after.bin)).toEqual(['bridge', 'vpp-cni']);
    expect(Object.keys(after.conf)).toEqual(['10-vpp-cni.conflist', '20-other.conflist']);
    expect(tempFiles(binDir, confDir)).toEqual([]);
  });

  test('again: both unchanged (files not rewritten); a changed source is installed over the old one', () => {
    installCni(opts(), capture());
    const first = { bin: snapshot(binDir), conf: snapshot(confDir) };
    const io = capture();
    const report = installCni(opts(), io);
    expect(io.lines).toEqual([`unchanged ${join(binDir, 'vpp-cni')} (sha256 ${sha256(FAKE_BINARY)})`, `unchanged ${join(confDir, '10-vpp-cni.conflist')}`]);
    expect(report.binary.changed).toBe(false);
    expect(report.conflist.changed).toBe(false);
    expect({ bin: snapshot(binDir), conf: snapshot(confDir) }).toEqual(first);

    const v2 = Buffer.concat([FAKE_BINARY, Buffer.from('v2')]);
    writeFileSync(src, v2);
    const io2 = capture();
    installCni(opts(), io2);
    expect(io2.lines[0]).toBe(`installed ${join(binDir, 'vpp-cni')} (sha256 ${sha256(v2)})`);
    expect(readFileSync(join(binDir, 'vpp-cni')).equals(v2)).toBe(true);
    expect(snapshot(binDir)['bridge']).toEqual(first.bin['bridge']);
    expect(tempFiles(binDir, confDir)).toEqual([]);
  });

  test('same content but a wrong mode: the mode is put back, the content is not copied', () => {
    installCni(opts(), capture());
    chmodSync(join(binDir, 'vpp-cni'), 0o644);
    const io = capture();
    installCni(opts(), io);
    expect(io.lines[0]).toBe(`unchanged ${join(binDir, 'vpp-cni')} (sha256 ${sha256(FAKE_BINARY)}), mode set to 0755`);
    expect(statSync(join(binDir, 'vpp-cni')).mode & 0o7777).toBe(0o755);
  });

  test('our name is a symlink to another plugin: the link is replaced, the other plugin is untouched', () => {
    symlinkSync('bridge', join(binDir, 'vpp-cni'));
    const before = snapshot(binDir)['bridge'];
    installCni(opts(), capture());
    expect(lstatSync(join(binDir, 'vpp-cni')).isFile()).toBe(true);
    expect(readFileSync(join(binDir, 'vpp-cni')).equals(FAKE_BINARY)).toBe(true);
    expect(snapshot(binDir)['bridge']).toEqual(before);
  });

  test('missing directories are created 0755 and reported; modes hold whatever the umask', () => {
    const umask = process.umask(0o077);
    try {
      installCni(opts({ cniBinDir: join(root, 'u/bin'), cniConfDir: join(root, 'u/conf') }), capture());
    } finally {
      process.umask(umask);
    }
    for (const d of ['u', 'u/bin', 'u/conf', 'u/bin/vpp-cni']) expect(statSync(join(root, d)).mode & 0o777).toBe(0o755);
    expect(statSync(join(root, 'u/conf/10-vpp-cni.conflist')).mode & 0o777).toBe(0o644);

    const bin = join(root, 'new/bin');
    const conf = join(root, 'new/conf');
    const io = capture();
    installCni(opts({ cniBinDir: bin, cniConfDir: conf }), io);
    expect(io.lines.slice(0, 2)).toEqual([`created ${bin}`, `created ${conf}`]);
    for (const d of [join(root, 'new'), bin, conf]) expect(statSync(d).mode & 0o777).toBe(0o755);
    expect(existsSync(join(conf, '10-vpp-cni.conflist'))).toBe(true);
  });
});

describe('the conflist', () => {
  test('(a) IPv4 pod CIDR only: host-local, one range set, an IPv4 default route', () => {
    installCni(opts({ podCidrs: ['10.244.1.0/24'] }), capture());
    expect(conflistOf()).toEqual({
      cniVersion: '1.0.0',
      name: 'vpp-cni',
      plugins: [
        {
          type: 'vpp-cni',
          agentSocket: '/var/run/vpp-cni/agent.sock',
          timeoutSeconds: 60,
          capabilities: { 'io.kubernetes.cri.pod-annotations': true },
          ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.1.0/24' }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: '/var/lib/cni/networks' },
        },
      ],
    });
    expect(readFileSync(join(confDir, '10-vpp-cni.conflist'), 'utf8').endsWith('}\n')).toBe(true);
  });

  test('(b) dual-stack: one range set per CIDR in the given order, a default route per family; mtu, name, socket, version', () => {
    installCni(
      opts({ podCidrs: ['fd00:10:244:1::/64', '10.244.1.0/24'], mtu: 1400, networkName: 'podnet', agentSocket: '/run/x/agent.sock', cniVersion: '1.0.0' }),
      capture(),
    );
    expect(conflistOf()).toEqual({
      cniVersion: '1.0.0',
      name: 'podnet',
      plugins: [
        {
          type: 'vpp-cni',
          agentSocket: '/run/x/agent.sock',
          timeoutSeconds: 60,
          mtu: 1400,
          capabilities: { 'io.kubernetes.cri.pod-annotations': true },
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: 'fd00:10:244:1::/64' }], [{ subnet: '10.244.1.0/24' }]],
            routes: [{ dst: '::/0' }, { dst: '0.0.0.0/0' }],
            dataDir: '/var/lib/cni/networks',
          },
        },
      ],
    });
  });

  test('(c) an explicit IPAM block is used as is, over the pod CIDRs', () => {
    const ipam = { type: 'whereabouts', range: '192.168.2.0/24', log_level: 'debug' };
    const o = parseInstallOptions(['--ipam-json', JSON.stringify(ipam), '--pod-cidrs', '10.244.1.0/24'], {});
    installCni({ ...o, binSrc: src, cniBinDir: binDir, cniConfDir: confDir }, capture());
    expect((conflistOf()['plugins'] as Record<string, unknown>[])[0]!['ipam']).toEqual(ipam);
  });

  test('--also-portmap appends the standard portmap plugin', () => {
    installCni(opts({ alsoPortmap: true }), capture());
    const plugins = conflistOf()['plugins'] as Record<string, unknown>[];
    expect(plugins.map((p) => p['type'])).toEqual(['vpp-cni', 'portmap']);
    expect(plugins[1]).toEqual({ type: 'portmap', capabilities: { portMappings: true } });
  });

  test('a different conflist name is ours; the default-named one is then someone else’s', () => {
    writeFileSync(join(confDir, '10-vpp-cni.conflist'), 'theirs');
    installCni(opts({ conflistName: '15-vpp.conflist' }), capture());
    expect(readFileSync(join(confDir, '10-vpp-cni.conflist'), 'utf8')).toBe('theirs');
    expect(conflistOf(confDir, '15-vpp.conflist')['name']).toBe('vpp-cni');
  });

  test('the first plugin, as libcni hands it to vpp-cni (cniVersion and name added), passes the plugin’s own netconf schema', () => {
    for (const podCidrs of [['10.244.1.0/24'], ['10.244.1.0/24', 'fd00::/64']]) {
      const report = installCni(opts({ podCidrs, mtu: 1450 }), capture());
      const list = JSON.parse(report.conflist.content) as { cniVersion: string; name: string; plugins: Record<string, unknown>[] };
      const r = netConfSchema.safeParse({ cniVersion: list.cniVersion, name: list.name, ...list.plugins[0] });
      expect(r.success).toBe(true);
    }
  });

  test('values repeated from the plugin (deploy imports only node and zod) agree with it', () => {
    expect(DEFAULT_AGENT_SOCKET).toBe(CONTRACT_AGENT_SOCKET);
    expect(DEFAULT_TIMEOUT_SECONDS).toBe(NETCONF_TIMEOUT);
    expect(MAX_TIMEOUT_SECONDS).toBe(NETCONF_MAX_TIMEOUT);
    expect(MAX_UNIX_SOCKET_PATH).toBe(NETCONF_MAX_SOCKET);
    expect([...CNI_VERSIONS]).toEqual([...SUPPORTED_VERSIONS]);
  });
});

describe('errors: one line, nothing written', () => {
  async function run(argv: string[], env: Record<string, string> = {}): Promise<{ code: number; io: Captured }> {
    const io = capture();
    const code = await runInstall(['--bin-src', src, '--cni-bin-dir', binDir, '--cni-conf-dir', confDir, ...argv], env, io);
    return { code, io };
  }

  function expectNothingWritten(before: { bin: ReturnType<typeof snapshot>; conf: ReturnType<typeof snapshot> }): void {
    expect({ bin: snapshot(binDir), conf: snapshot(confDir) }).toEqual(before);
    expect(tempFiles(binDir, confDir)).toEqual([]);
  }

  test('(d) bad IPAM JSON: not JSON, or no "type": exit 2 naming the flag or the variable', async () => {
    const before = { bin: snapshot(binDir), conf: snapshot(confDir) };
    const a = await run(['--ipam-json', '{"type": host-local}']);
    expect(a.code).toBe(2);
    expect(a.io.errors).toHaveLength(1);
    expect(a.io.errors[0]).toMatch(/^install-cni: --ipam-json: not valid JSON \(.+\) \(value "\{\\"type\\": host-local\}"\)$/);
    const b = await run([], { VPPCNI_IPAM: '{"subnet":"10.0.0.0/24"}' });
    expect(b.code).toBe(2);
    expect(b.io.errors).toEqual([expect.stringMatching(/^install-cni: VPPCNI_IPAM: field "type": /)]);
    const c = await run(['--ipam-json', '{"type":"../evil"}']);
    expect(c.io.errors[0]).toContain('--ipam-json: field "type": must be a plain executable name');
    const d = await run(['--ipam-json', '[1]']);
    expect(d.io.errors[0]).toContain('--ipam-json: expected a JSON object with a "type"');
    expectNothingWritten(before);
  });

  test('(e) bad cniVersion: exit 2 listing the accepted ones', async () => {
    const before = { bin: snapshot(binDir), conf: snapshot(confDir) };
    const a = await run(['--cni-version', '0.3.1', '--pod-cidrs', '10.0.0.0/24']);
    expect(a.code).toBe(2);
    expect(a.io.errors).toEqual(['install-cni: --cni-version: must be one of 0.4.0, 1.0.0, 1.1.0 (value "0.3.1")']);
    const b = await run(['--pod-cidrs', '10.0.0.0/24'], { VPPCNI_CNI_VERSION: '2.0.0' });
    expect(b.io.errors).toEqual(['install-cni: VPPCNI_CNI_VERSION: must be one of 0.4.0, 1.0.0, 1.1.0 (value "2.0.0")']);
    expectNothingWritten(before);
  });

  test('(f) missing source binary: exit 1 naming it; nothing written', async () => {
    const before = { bin: snapshot(binDir), conf: snapshot(confDir) };
    const missing = join(root, 'nope/vpp-cni');
    const io = capture();
    const code = await runInstall(['--bin-src', missing, '--cni-bin-dir', binDir, '--cni-conf-dir', confDir, '--pod-cidrs', '10.0.0.0/24'], {}, io);
    expect(code).toBe(1);
    expect(io.errors).toEqual([`install-cni: read source binary ${missing}: ENOENT (no such file or directory)`]);
    expectNothingWritten(before);
    writeFileSync(src, '');
    expect(thrown(() => installCni(opts(), capture())).message).toBe(`read source binary ${src}: the file is empty`);
    expect(thrown(() => installCni(opts({ binSrc: root }), capture())).message).toBe(`read source binary ${root}: not a regular file`);
  });

  test('no IPAM at all: exit 2 saying which options give one', async () => {
    const r = await run([]);
    expect(r.code).toBe(2);
    expect(r.io.errors).toEqual(['install-cni: no IPAM configuration: give --ipam-json (VPPCNI_IPAM) or --pod-cidrs (VPPCNI_POD_CIDRS)']);
  });

  test('the conf dir is a file: the error names it; no binary installed, no temp files anywhere', async () => {
    const conf = join(root, 'conf-is-a-file');
    writeFileSync(conf, 'x');
    const before = snapshot(binDir);
    const io = capture();
    const code = await runInstall(['--bin-src', src, '--cni-bin-dir', binDir, '--cni-conf-dir', conf, '--pod-cidrs', '10.0.0.0/24'], {}, io);
    expect(code).toBe(1);
    expect(io.errors).toEqual([`install-cni: create directory ${conf}: exists and is not a directory`]);
    expect(snapshot(binDir)).toEqual(before);
    expect(tempFiles(binDir, root)).toEqual([]);
    const under = join(conf, 'net.d');
    expect(thrown(() => installCni(opts({ cniConfDir: under }), capture())).message).toMatch(new RegExp(`^(stat|create directory) ${under}: ENOTDIR`));
  });

  test('the rename fails (our names are directories): the temp file is removed, the error names the operation and path', () => {
    mkdirSync(join(binDir, 'vpp-cni/inside'), { recursive: true });
    const e = thrown(() => installCni(opts(), capture()));
    expect(e.message).toMatch(new RegExp(`^rename ${join(binDir, tempName('vpp-cni'))} over ${join(binDir, 'vpp-cni')}: E(ISDIR|NOTEMPTY|EXIST)`));
    expect(tempFiles(binDir, confDir)).toEqual([]);
    rmSync(join(binDir, 'vpp-cni'), { recursive: true });

    mkdirSync(join(confDir, '10-vpp-cni.conflist/inside'), { recursive: true });
    const before = snapshot(confDir);
    const e2 = thrown(() => installCni(opts(), capture()));
    expect(e2.message).toMatch(new RegExp(`^rename .*\\.10-vpp-cni\\.conflist\\.tmp-${process.pid} over ${join(confDir, '10-vpp-cni.conflist')}: `));
    expect(tempFiles(binDir, confDir)).toEqual([]);
    expect(snapshot(confDir)).toEqual(before);
    expect(readFileSync(join(binDir, 'vpp-cni')).equals(FAKE_BINARY)).toBe(true);
  });
});

describe('configurations the runtime would pick first', () => {
  test('a warning naming the .conf/.conflist/.json files that sort before ours; they are left alone', () => {
    writeFileSync(join(confDir, '00-calico.conflist'), '{}');
    writeFileSync(join(confDir, '05-old.conf'), '{}');
    writeFileSync(join(confDir, '01-notes.txt'), 'x');
    mkdirSync(join(confDir, '02-dir.conflist'));
    const before = snapshot(confDir);
    const io = capture();
    const report = installCni(opts(), io);
    const w = `warning: ${join(confDir, '00-calico.conflist')}, ${join(confDir, '05-old.conf')} sort before 10-vpp-cni.conflist: the container runtime uses the first configuration in name order, so pods will not get vpp-cni until they are removed or renamed`;
    expect(io.errors).toEqual([w]);
    expect(report.warnings).toEqual([w]);
    const after = snapshot(confDir);
    for (const n of Object.keys(before)) expect(after[n]).toEqual(before[n]);
  });

  test('none before ours (20-other sorts after): no warning; byte order as the runtimes sort', () => {
    const io = capture();
    installCni(opts(), io);
    expect(io.errors).toEqual([]);
    expect(configsBefore(['10-vpp-cni.conflist', '10-VPP.conflist', '10-vpp-cni.conflist.bak', '1.json', 'a.conf', 'Z.conf'], '10-vpp-cni.conflist')).toEqual([
      '1.json',
      '10-VPP.conflist',
    ]);
  });
});

describe('portmap', () => {
  function fakePortmap(versions: string[]): void {
    writeFileSync(join(binDir, 'portmap'), `#!/bin/sh\n[ "$CNI_COMMAND" = VERSION ] || exit 1\necho '{"cniVersion":"1.0.0","supportedVersions":${JSON.stringify(versions)}}'\n`, { mode: 0o755 });
  }

  test('one that does not speak our version stops the install before anything is written (exit 2, with the version to use)', async () => {
    fakePortmap(['0.3.1', '0.4.0', '1.0.0']);
    const before = { bin: snapshot(binDir), conf: snapshot(confDir) };
    const io = capture();
    const code = await runInstall(['--bin-src', src, '--cni-bin-dir', binDir, '--cni-conf-dir', confDir, '--pod-cidrs', '10.0.0.0/24', '--also-portmap', '--cni-version', '1.1.0'], {}, io);
    expect(code).toBe(2);
    expect(io.errors.at(-1)).toBe(`install-cni: --also-portmap: ${join(binDir, 'portmap')} speaks CNI 0.3.1, 0.4.0, 1.0.0, not 1.1.0; use --cni-version 1.0.0`);
    expect({ bin: snapshot(binDir), conf: snapshot(confDir) }).toEqual(before);
  });

  test('one that cannot answer: a warning, the install goes on', () => {
    writeFileSync(join(binDir, 'portmap'), '#!/bin/sh\necho broken >&2\nexit 3\n', { mode: 0o755 });
    const io = capture();
    installCni(opts({ alsoPortmap: true }), io);
    expect(io.errors).toEqual([`warning: --also-portmap: could not ask ${join(binDir, 'portmap')} for its CNI versions (exit status 3: broken)`]);
    expect(io.lines).toContain(`wrote ${join(confDir, '10-vpp-cni.conflist')}`);
  });

  test('one that does: no warning; none at all: a warning, the install goes on', () => {
    fakePortmap(['1.0.0', '1.1.0']);
    const io = capture();
    installCni(opts({ alsoPortmap: true }), io);
    expect(io.errors).toEqual([]);
    installCni(opts({ alsoPortmap: true, cniVersion: '1.1.0' }), io);
    expect(io.errors).toEqual([expect.stringMatching(/^warning: cniVersion 1\.1\.0: only containerd 2\.0 or later/)]);
    rmSync(join(binDir, 'portmap'));
    const io2 = capture();
    installCni(opts({ alsoPortmap: true, cniVersion: '1.0.0' }), io2);
    expect(io2.errors).toEqual([`warning: --also-portmap: there is no ${join(binDir, 'portmap')}; pods will fail to start until it is installed`]);
    expect(io2.lines).toContain(`wrote ${join(confDir, '10-vpp-cni.conflist')}`);
  });
});

describe('options', () => {
  test('defaults', () => {
    const o = parseInstallOptions([], {});
    expect(o).toEqual({
      binSrc: '/opt/vpp-cni/bin/vpp-cni',
      cniBinDir: '/host/opt/cni/bin',
      cniConfDir: '/host/etc/cni/net.d',
      conflistName: '10-vpp-cni.conflist',
      networkName: 'vpp-cni',
      agentSocket: '/var/run/vpp-cni/agent.sock',
      timeoutSeconds: 60,
      mtu: undefined,
      ipam: undefined,
      podCidrs: undefined,
      cniVersion: '1.0.0',
      alsoPortmap: false,
    });
  });

  test('environment, flags over it (both spellings); an empty value is unset', () => {
    const env = {
      VPPCNI_INSTALL_BIN_SRC: '/e/src',
      VPPCNI_CNI_BIN_DIR: '/e/bin',
      VPPCNI_CNI_CONF_DIR: '/e/conf',
      VPPCNI_CONFLIST_NAME: '50-e.conflist',
      VPPCNI_NETWORK_NAME: 'e-net',
      VPPCNI_CNI_SOCKET: '/e/agent.sock',
      VPPCNI_POD_MTU: '1450',
      VPPCNI_POD_CIDRS: ' 10.1.0.0/16 , fd00:1::/64 ,',
      VPPCNI_CNI_VERSION: '1.0.0',
      VPPCNI_IPAM: '',
    };
    const e = parseInstallOptions([], env);
    expect(e).toMatchObject({
      binSrc: '/e/src',
      cniBinDir: '/e/bin',
      cniConfDir: '/e/conf',
      conflistName: '50-e.conflist',
      networkName: 'e-net',
      agentSocket: '/e/agent.sock',
      mtu: 1450,
      podCidrs: ['10.1.0.0/16', 'fd00:1::/64'],
      cniVersion: '1.0.0',
      ipam: undefined,
    });
    const f = parseInstallOptions(['--bin-src=/f/src', '--mtu', '9000', '--pod-cidrs', '10.2.0.0/24', '--cni-version=0.4.0', '--also-portmap', '--network-name', ''], env);
    expect(f).toMatchObject({ binSrc: '/f/src', cniBinDir: '/e/bin', mtu: 9000, podCidrs: ['10.2.0.0/24'], cniVersion: '0.4.0', alsoPortmap: true, networkName: 'e-net' });
    expect(parseInstallOptions(['--also-portmap=false'], {}).alsoPortmap).toBe(false);
  });

  test.each([
    [['--mtu', '100'], '--mtu: must be at least 576 (value "100")'],
    [['--mtu', '1500.5'], '--mtu: must be a whole number (value "1500.5")'],
    [['--conflist-name', '10-vpp.conf'], '--conflist-name: must be a file name ending in ".conflist" (no "/", not starting with ".") (value "10-vpp.conf")'],
    [['--conflist-name', '../x.conflist'], '--conflist-name: must be a file name ending in ".conflist" (no "/", not starting with ".") (value "../x.conflist")'],
    [['--network-name', 'a net'], '--network-name: must start with a letter or digit and hold only letters, digits, "_", "." and "-" (value "a net")'],
    [['--agent-socket', 'run/agent.sock'], '--agent-socket: must be an absolute path (value "run/agent.sock")'],
    [['--agent-socket', `/${'x'.repeat(120)}`], `--agent-socket: longer than 107 bytes (the unix socket path limit) (value "/${'x'.repeat(120)}")`],
    [['--pod-cidrs', '10.244.1.5/24'], '--pod-cidrs: "10.244.1.5/24" has host bits set (the network is 10.244.1.0/24)'],
    [['--pod-cidrs', 'fd00:10:244:1::1/64'], '--pod-cidrs: "fd00:10:244:1::1/64" has host bits set (the network is fd00:10:244:1::/64)'],
    [['--pod-cidrs', '10.0.0.0/24,10.1.0.0/24'], '--pod-cidrs: "10.0.0.0/24" and "10.1.0.0/24": at most one IPv4 CIDR (one IPv4 and one IPv6, as a node\'s podCIDRs)'],
    [['--pod-cidrs', '10.0.0.0'], '--pod-cidrs: "10.0.0.0" is not a CIDR: the prefix length must be 0 to 32'],
    [['--pod-cidrs', '10.0.0.0/31'], '--pod-cidrs: "10.0.0.0/31": /31 is too small to allocate pod addresses from (at most /30)'],
    [['--pod-cidrs', 'pods'], '--pod-cidrs: "pods" is not a CIDR (address/prefix length, e.g. 10.244.1.0/24 or fd00:10:244:1::/64)'],
    [['--pod-cidrs', ','], '--pod-cidrs: no CIDR given'],
    [['--bogus', '1'], 'unknown flag --bogus (see --help)'],
    [['stray'], 'unexpected argument "stray" (see --help)'],
    [['--mtu'], '--mtu needs a value'],
    [['--bin-src', '--mtu', '1500'], '--bin-src needs a value'],
    [['--mtu', '1500', '--mtu=1400'], '--mtu given twice'],
    [['--also-portmap=yes'], '--also-portmap: expected no value, "true" or "false" (value "yes")'],
  ])('%j: %s', (argv, message) => {
    const e = thrown(() => parseInstallOptions(argv, {}));
    expect(e).toBeInstanceOf(UsageError);
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(message);
  });

  test('an environment variable is named when it is the culprit', () => {
    expect(thrown(() => parseInstallOptions([], { VPPCNI_POD_MTU: '99999' })).message).toBe('VPPCNI_POD_MTU: must be at most 9216 (value "99999")');
    expect(thrown(() => parseInstallOptions([], { VPPCNI_POD_CIDRS: 'x' })).message).toMatch(/^VPPCNI_POD_CIDRS: "x" is not a CIDR/);
  });

  test('--help prints the usage with every flag and variable, exit 0', async () => {
    const io = capture();
    expect(await runInstall(['--help'], {}, io)).toBe(0);
    for (const w of ['--bin-src', 'VPPCNI_INSTALL_BIN_SRC', '--pod-cidrs', 'VPPCNI_POD_CIDRS', '--also-portmap', 'VPPCNI_CNI_SOCKET']) expect(io.lines[0]).toContain(w);
  });
});

describe('resolveIpam (the seam for the node’s podCIDRs from the Kubernetes API)', () => {
  test('a given list wins over the options’ list; an explicit IPAM block wins over both', () => {
    expect(resolveIpam({ podCidrs: ['10.0.0.0/24'] }, ['10.9.0.0/24'])['ranges']).toEqual([[{ subnet: '10.9.0.0/24' }]]);
    expect(resolveIpam({ podCidrs: ['10.0.0.0/24'] })['ranges']).toEqual([[{ subnet: '10.0.0.0/24' }]]);
    expect(resolveIpam({ ipam: { type: 'static' } }, ['10.9.0.0/24'])).toEqual({ type: 'static' });
    expect(thrown(() => resolveIpam({}, ['10.9.0.1/24'])).message).toBe('pod CIDRs: "10.9.0.1/24" has host bits set (the network is 10.9.0.0/24)');
  });

  test('installCni passes the list through', () => {
    const r = installCni(opts({ podCidrs: undefined }), capture(), ['10.7.0.0/24']);
    expect(JSON.parse(r.conflist.content).plugins[0].ipam.ranges).toEqual([[{ subnet: '10.7.0.0/24' }]]);
  });

  test('CIDR forms: embedded IPv4 in IPv6, compressed and full IPv6, /0', () => {
    expect(parseCidr('::ffff:10.0.0.0/120')).toMatchObject({ family: 6, prefix: 120 });
    expect(parseCidr('fd00:0:0:0:0:0:0:0/64').bytes.slice(0, 2)).toEqual([0xfd, 0]);
    expect(parseCidr('0.0.0.0/0').family).toBe(4);
    expect(thrown(() => parseCidr('fd00::1:0:0:0/64')).message).toBe('"fd00::1:0:0:0/64" has host bits set (the network is fd00::/64)');
    expect(thrown(() => parseCidr('fe80::%eth0/64')).message).toMatch(/is not a CIDR/);
  });
});

describe('the entry point as a process (node --import tsx deploy/install-cni.ts)', () => {
  function runEntry(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(process.cwd(), 'deploy/install-cni.ts'), ...args], {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('close', (code) => resolve({ code, stdout, stderr }));
    });
  }

  test('environment only: exit 0 and its action lines; a bad value: exit 2 and one line on stderr', async () => {
    const env = { VPPCNI_INSTALL_BIN_SRC: src, VPPCNI_CNI_BIN_DIR: binDir, VPPCNI_CNI_CONF_DIR: confDir, VPPCNI_POD_CIDRS: '10.244.0.0/24,fd00::/64' };
    const ok = await runEntry([], env);
    expect(ok).toEqual({
      code: 0,
      stdout: `installed ${join(binDir, 'vpp-cni')} (sha256 ${sha256(FAKE_BINARY)})\nwrote ${join(confDir, '10-vpp-cni.conflist')}\n`,
      stderr: '',
    });
    const bad = await runEntry(['--cni-version', '9'], env);
    expect(bad).toEqual({ code: 2, stdout: '', stderr: 'install-cni: --cni-version: must be one of 0.4.0, 1.0.0, 1.1.0 (value "9")\n' });
  });
});
