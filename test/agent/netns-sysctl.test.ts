/**
 * sysctls in a pod netns when the agent's /proc/sys is read-only (a container that is not privileged):
 * values already right are accepted, a needed change fails naming the key, its value and why. The
 * read-only /proc/sys is real: `nsenter` is wrapped to run in a mount namespace of its own where
 * /proc/sys is bind-mounted read-only, as a container runtime mounts it; sysctl is the real procps one.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LinuxNetns } from '../../agent/linux/netns.js';
import { createNetns, deleteAllNetns, haveRoot } from '../helpers/netns.js';

const d = haveRoot() ? describe : describe.skip;
const dir = mkdtempSync(join(tmpdir(), 'vcni-sysctl-'));

/** `nsenter …` run where /proc/sys is read-only. */
function readOnlyProcSysNsenter(): string {
  const bin = join(dir, 'nsenter-ro-proc-sys');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      // $0 of the inner shell is "nsenter"; "$@" are nsenter's arguments.
      'exec unshare --mount -- sh -c \'mount --bind /proc/sys /proc/sys && mount -o remount,bind,ro /proc/sys && exec nsenter "$@"\' nsenter "$@"',
      '',
    ].join('\n'),
  );
  chmodSync(bin, 0o755);
  return bin;
}

afterAll(() => {
  deleteAllNetns();
  rmSync(dir, { recursive: true, force: true });
});

d('sysctl with a read-only /proc/sys', () => {
  const want: [string, string][] = [
    ['net.ipv6.conf.all.disable_ipv6', '0'],
    ['net.ipv6.conf.default.disable_ipv6', '0'],
  ];

  test('the stand-in really is read-only: a plain write fails there', () => {
    const ns = createNetns('y');
    expect(() => execFileSync(readOnlyProcSysNsenter(), [`--net=${ns.path}`, '--', 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=0'], { stdio: 'pipe', timeout: 10_000 })).toThrow(
      /permission denied on key|Read-only file system/,
    );
  });

  test('values already right: accepted', async () => {
    const ns = createNetns('y');
    const ops = new LinuxNetns({ nsenter: readOnlyProcSysNsenter() });
    await expect(ops.sysctl(ns.path, want)).resolves.toBeUndefined();
  });

  test('a needed change: an error naming the key, its value and the read-only /proc/sys', async () => {
    const ns = createNetns('y');
    execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-q', '-w', 'net.ipv6.conf.default.disable_ipv6=1'], { timeout: 10_000 });
    const ops = new LinuxNetns({ nsenter: readOnlyProcSysNsenter() });
    await expect(ops.sysctl(ns.path, want)).rejects.toThrow(
      `cannot set net.ipv6.conf.default.disable_ipv6=0 (it is 1) in ${ns.path}: /proc/sys is not writable for the agent (read-only in a container that is not privileged)`,
    );
    // Writable (the agent on a host, or privileged): the same call sets it.
    await new LinuxNetns().sysctl(ns.path, want);
    expect(execFileSync('ip', ['netns', 'exec', ns.name, 'sysctl', '-n', 'net.ipv6.conf.default.disable_ipv6'], { encoding: 'utf8', timeout: 10_000 }).trim()).toBe('0');
  });

  test('any other failure is passed on as it is', async () => {
    const ns = createNetns('y');
    const ops = new LinuxNetns({ sysctl: join(dir, 'no-such-sysctl') });
    await expect(ops.sysctl(ns.path, want)).rejects.toThrow(/no-such-sysctl/);
  });
});
