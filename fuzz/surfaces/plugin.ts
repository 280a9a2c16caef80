/**
 * The CNI plugin's inputs: the environment and the netconf on stdin.
 *  - in-process: the dispatcher (cni-plugin/skel.ts dispatch, as the executable runs it) against a fake
 *    agent, with an empty CNI_PATH (IPAM delegation fails fast);
 *  - process: the built executable dist/vpp-cni (npm run build:plugin) run per input.
 * Every input must end with exit status 0 or 1, and on 1 one CNI error object on stdout whose code is not
 * 999 (an input error is never "internal"); no stack frame may appear on stdout or stderr.
 * (Plugin stdin handling is h3b's area in issue 17: the harness drives today's public entry points.)
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dispatch } from '../../cni-plugin/skel.js';
import { CNI_CODES } from '../../contract/types.js';
import { FakeAgent } from '../../test/helpers/fake-agent.js';
import { EDGE_STRINGS, mutate, STACK_RE, type Outcome, type Rng, type Surface } from '../lib.js';

const COMMANDS = ['ADD', 'DEL', 'CHECK', 'GC', 'STATUS', 'VERSION', 'add', '', 'FROB'];
const VERSIONS = ['1.1.0', '1.0.0', '0.4.0', '0.3.1', '2.0.0', '', '1.1', 'x'];
const TOKENS = ['{', '}', '[', ']', ',', ':', '"', 'null', 'true', '"cniVersion":', '"name":', '"type":', '"ipam":', '"agentSocket":', '"timeoutSeconds":', '"prevResult":', '"runtimeConfig":', '"args":', '"cni.dev/attachments":', '"__proto__":', '"valid":', '1e999', '-1', '"\\u0000"', '3600', '3601'];
const ALLOWED_CODES = new Set<number>(Object.values(CNI_CODES).filter((c) => c !== CNI_CODES.internal));

function netconf(rng: Rng, agentSocket: string): string {
  const conf: Record<string, unknown> = {
    cniVersion: rng.pick(VERSIONS),
    name: rng.chance(0.9) ? 'vppnet' : rng.pick(EDGE_STRINGS),
    type: 'vpp-cni',
    agentSocket,
    timeoutSeconds: rng.chance(0.5) ? 2 : rng.pick([0, -1, 1.5, 3600, 3601, 1e309, '5']),
    ipam: { type: rng.chance(0.8) ? 'host-local' : rng.pick(EDGE_STRINGS), ranges: [[{ subnet: '10.244.1.0/24' }]] },
  };
  if (rng.chance(0.2)) conf['cni.dev/valid-attachments'] = [{ containerID: 'c1', ifname: 'eth0' }];
  if (rng.chance(0.2)) conf['prevResult'] = { cniVersion: '1.1.0', interfaces: [{ name: 'eth0', sandbox: '/n' }], ips: [{ address: '10.244.1.5/24', interface: 0 }] };
  const text = JSON.stringify(conf);
  return rng.chance(0.1) ? text : mutate(rng, text, TOKENS, rng.chance(0.02) ? 5 * 1024 * 1024 : 8 * 1024);
}

function env(rng: Rng, cniPath: string): Record<string, string> {
  const e: Record<string, string> = {
    CNI_COMMAND: rng.pick(COMMANDS),
    CNI_CONTAINERID: rng.chance(0.8) ? `c${rng.int(1000)}` : rng.pick(EDGE_STRINGS),
    CNI_NETNS: rng.chance(0.8) ? '/var/run/netns/fuzz-none' : rng.pick(EDGE_STRINGS),
    CNI_IFNAME: rng.chance(0.8) ? 'eth0' : rng.pick(EDGE_STRINGS),
    CNI_PATH: cniPath,
    CNI_ARGS: rng.chance(0.7) ? 'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web' : mutate(rng, 'K8S_POD_NAMESPACE=a;K8S_POD_NAME=b', ['=', ';', 'IgnoreUnknown=', '\u0000'], 4096),
  };
  for (const k of Object.keys(e)) {
    if (rng.chance(0.05)) delete e[k];
    else if (rng.chance(0.05)) e[k] = mutate(rng, e[k]!, ['/', '=', ';', '..'], 8192);
  }
  return e;
}

function judge(code: number | null, stdout: string, stderr: string): Outcome {
  if (STACK_RE.test(stdout) || STACK_RE.test(stderr)) return { failure: 'stack', detail: `${stdout}\n${stderr}`.slice(0, 1000) };
  if (code !== 0 && code !== 1) return { failure: 'crash', detail: `exit status ${code}; ${stderr.slice(0, 500)}` };
  if (code === 1) {
    let j: { code?: unknown; msg?: unknown };
    try {
      j = JSON.parse(stdout) as typeof j;
    } catch {
      return { failure: 'unexpected', detail: `exit 1 without one JSON error on stdout: ${JSON.stringify(stdout.slice(0, 300))}` };
    }
    if (j.code === CNI_CODES.internal) return { failure: 'code999', detail: String(j.msg).slice(0, 500) };
    if (typeof j.code !== 'number' || !ALLOWED_CODES.has(j.code)) return { failure: 'unexpected', detail: `code ${String(j.code)}` };
  }
  return undefined;
}

export function pluginSurface(): Surface {
  let agent: FakeAgent | undefined;
  let cniPath = '';
  return {
    name: 'plugin netconf/env',
    level: 'in-process',
    target: 100_000,
    boundMs: 2_000,
    concurrency: 4,
    async setup() {
      agent = await FakeAgent.start();
      cniPath = mkdtempSync(join(tmpdir(), 'vppcni-fuzz-cnipath-'));
    },
    async teardown() {
      agent?.stop();
      rmSync(cniPath, { recursive: true, force: true });
    },
    one(rng) {
      const e = env(rng, cniPath);
      const stdin = netconf(rng, agent!.socketPath);
      return {
        input: JSON.stringify({ env: e, stdin }),
        run: async (): Promise<Outcome> => {
          let out = '';
          let err = '';
          const code = await dispatch({ env: e, stdin, stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } });
          return judge(code, out, err);
        },
      };
    },
  };
}

export const PLUGIN_BINARY = join(process.cwd(), 'dist', 'vpp-cni');

export function pluginProcessSurface(): Surface {
  let agent: FakeAgent | undefined;
  let cniPath = '';
  return {
    name: 'plugin (process)',
    level: 'process',
    target: 1_000,
    boundMs: 10_000,
    concurrency: 2,
    async setup() {
      if (!existsSync(PLUGIN_BINARY)) throw new Error(`${PLUGIN_BINARY} is missing: run npm run build:plugin first`);
      agent = await FakeAgent.start();
      cniPath = mkdtempSync(join(tmpdir(), 'vppcni-fuzz-cnipath-'));
    },
    async teardown() {
      agent?.stop();
      rmSync(cniPath, { recursive: true, force: true });
    },
    one(rng) {
      const e = env(rng, cniPath);
      const stdin = netconf(rng, agent!.socketPath);
      return {
        input: JSON.stringify({ env: e, stdin }),
        run: () =>
          new Promise<Outcome>((resolve) => {
            const safeEnv = Object.fromEntries(Object.entries(e).filter(([k, v]) => !k.includes('\u0000') && !v.includes('\u0000') && k !== '' && !k.includes('=')));
            const child = execFile(PLUGIN_BINARY, [], { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...safeEnv }, timeout: 30_000, maxBuffer: 8 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
              const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : null) : 0;
              if (error && code === null) return resolve({ failure: 'crash', detail: `${error.message.slice(0, 300)} signal ${String((error as { signal?: unknown }).signal)}` });
              resolve(judge(code, stdout, stderr));
            });
            child.stdin?.on('error', () => undefined); // the plugin may exit before reading everything
            child.stdin?.end(stdin);
          }),
      };
    },
  };
}
