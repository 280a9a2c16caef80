/**
 * The demo's cold-machine step (ctl/demo/debian.ts): which needs are missing, which Debian packages bring
 * them, and the apt-get commands it runs — with an injected runner, so nothing is installed here.
 */
import { aptInstall, DEMO_NEEDS, missingNeeds, packagesFor, type Runner } from '../../ctl/demo/debian.js';
import type { CommandResult } from '../../ctl/demo/exec.js';

const ok: CommandResult = { code: 0, stdout: '', stderr: '', timedOut: false };
const absent: CommandResult = { code: null, stdout: '', stderr: '', timedOut: false, spawnError: 'spawn ss ENOENT' };

function recorder(answer: (cmd: string, args: readonly string[]) => CommandResult): { run: Runner; calls: { argv: string; env?: NodeJS.ProcessEnv }[] } {
  const calls: { argv: string; env?: NodeJS.ProcessEnv }[] = [];
  const run: Runner = (cmd, args, opts) => {
    calls.push({ argv: [cmd, ...args].join(' '), ...(opts.env ? { env: opts.env } : {}) });
    return Promise.resolve(answer(cmd, args));
  };
  return { run, calls };
}

describe('demo on a cold machine', () => {
  test('a fresh Debian 12 without iproute2 and containernetworking-plugins: both packages, once each', async () => {
    const { run } = recorder((cmd) => (['nsenter', 'iptables-restore', 'sysctl'].includes(cmd) ? ok : absent));
    const missing = await missingNeeds(DEMO_NEEDS, run, () => false);
    expect(missing.map((m) => m.pkg)).toEqual(['iproute2', 'iproute2', 'containernetworking-plugins']);
    expect(packagesFor(missing)).toEqual(['containernetworking-plugins', 'iproute2']);
  });

  test('a minimal Debian 12 image (util-linux only): the node dataplane adds iptables and procps', async () => {
    const { run } = recorder((cmd) => (cmd === 'nsenter' ? ok : absent));
    const missing = await missingNeeds(DEMO_NEEDS, run, () => false);
    expect(packagesFor(missing)).toEqual(['containernetworking-plugins', 'iproute2', 'iptables', 'procps']);
  });

  test('everything there: nothing missing', async () => {
    const { run } = recorder(() => ok);
    expect(await missingNeeds(DEMO_NEEDS, run, () => true)).toEqual([]);
  });

  test('apt-get update, then install without recommends, non-interactive', async () => {
    const { run, calls } = recorder(() => ok);
    const r = await aptInstall(['containernetworking-plugins', 'iproute2'], run);
    expect(r).toEqual({ ok: true, commands: ['apt-get update -qq', 'apt-get install -y -qq --no-install-recommends containernetworking-plugins iproute2'] });
    expect(calls.map((c) => c.argv)).toEqual(r.commands);
    expect(calls.every((c) => c.env?.DEBIAN_FRONTEND === 'noninteractive' && c.env.LC_ALL === 'C')).toBe(true);
  });

  test('a failing apt-get: stops there and names the command and its last output', async () => {
    const { run, calls } = recorder((_cmd, args) => (args[0] === 'install' ? { ...ok, code: 100, stderr: 'E: Unable to locate package containernetworking-plugins' } : ok));
    const r = await aptInstall(['containernetworking-plugins'], run);
    expect(r.ok).toBe(false);
    expect(r.error).toBe('apt-get install -y -qq --no-install-recommends containernetworking-plugins failed: E: Unable to locate package containernetworking-plugins');
    expect(calls).toHaveLength(2);
  });
});
