/** The layer checker itself: it must fail on an arrow that points the wrong way inside the agent. */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

const CHECKER = resolve(__dirname, 'check-deps.ts');
const TSX = resolve(__dirname, '../../node_modules/.bin/tsx');

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'vcni-deps-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function tree(files: Record<string, string>): void {
  for (const [p, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, p)), { recursive: true });
    writeFileSync(join(root, p), text);
  }
}

function check(): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((res) => {
    execFile(TSX, [CHECKER], { cwd: root, timeout: 60_000, env: { ...process.env, LC_ALL: 'C' } }, (err, stdout, stderr) => {
      res({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

const base = {
  'agent/objects/kind.ts': 'export interface K { name: string }\n',
  'agent/pod/record.ts': "import type { K } from '../objects/kind.js';\nexport type R = K;\n",
  'agent/state/checkpoint.ts': "import type { R } from '../pod/record.js';\nexport type C = R;\n",
  'agent/agent.ts': "import type { C } from './state/checkpoint.js';\nexport type A = C;\n",
};

describe('check-deps', () => {
  test('a tree whose arrows point one way passes', async () => {
    tree(base);
    const r = await check();
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  }, 60_000);

  test('the pod layer importing the state layer fails, naming the file and the arrow', async () => {
    tree({ ...base, 'agent/pod/wrong.ts': "import type { C } from '../state/checkpoint.js';\nexport type W = C;\n" });
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('check-deps: agent/pod/wrong.ts imports agent/state/checkpoint.ts: agent/pod may not depend on agent/state');
  }, 60_000);

  test('a side-effect import is an arrow too', async () => {
    tree({ ...base, 'agent/linux/setup.ts': "import '../cni/server.js';\nexport const x = 1;\n", 'agent/cni/server.ts': 'export const y = 2;\n' });
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('check-deps: agent/linux/setup.ts imports agent/cni/server.ts: agent/linux may not depend on agent/cni');
  }, 60_000);

  test('only the VPP façade may import the generated bindings', async () => {
    tree({ ...base, 'vpp-api/generated/tapv2.ts': 'export const tap_create_v3 = 1;\n', 'agent/pod/kinds/tun.ts': "import { tap_create_v3 } from '../../../vpp-api/generated/tapv2.js';\nexport const t = tap_create_v3;\n" });
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agent/pod may not depend on vpp-api/generated');
  }, 60_000);

  test('the Kubernetes pod source may not use the CNI layer (it reports its own errors)', async () => {
    tree({ ...base, 'agent/cni/cni-error.ts': 'export class CniFailure extends Error {}\n', 'agent/kube/pod-source.ts': "import { CniFailure } from '../cni/cni-error.js';\nexport const e = CniFailure;\n" });
    const r = await check();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('agent/kube may not depend on agent/cni');
  }, 60_000);
});
