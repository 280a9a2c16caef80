/**
 * Keeps the architecture's arrows one way: checks every relative import of the source tree (side-effect
 * imports and re-exports included) against the layer rules below, and fails on any import cycle. Run by
 * `npm test` (npm run lint:deps), from the root of the tree it checks (the current directory).
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const ROOT = process.cwd();
const SOURCE_DIRS = ['lib', 'vpp-api', 'agent', 'cni-plugin', 'ctl', 'contract', 'deploy', 'bench'];

/** For each area (longest prefix wins): the areas it may import. Its own area is always allowed. */
const RULES: [string, string[]][] = [
  ['vpp-api/codec', []],
  ['vpp-api/generated', ['vpp-api/codec']],
  ['vpp-api/generator', ['vpp-api/codec']],
  ['vpp-api/transport', ['vpp-api/codec', 'vpp-api/generated']],
  ['vpp-api/client', ['vpp-api/codec', 'vpp-api/generated', 'vpp-api/transport']],
  ['vpp-api/sim', ['vpp-api/codec', 'vpp-api/generated', 'vpp-api/transport']],
  // lib/: small helpers every area may use (atomic files, the logger interface); it imports nothing of ours.
  ['lib', []],
  ['contract', []],
  // Inside the agent: the VPP façade is the only part that knows VPP's messages; the object kinds' contract
  // and Linux operations depend on nothing of the agent; the pod layer (kinds, records, the store contract)
  // on those; the state layer (checkpoint, reconcile, sweep) on the pod layer; the CNI layer on the pod
  // layer and observability; the Kubernetes pod source reports its own errors (no CNI layer); the node
  // dataplane (agent/node) on the kinds' contract, the façade, Linux and the pod layer's Transaction, and kube
  // reads its object schemas; the
  // composition root (agent.ts, main.ts, config.ts, log.ts) wires them all. contract/ also holds the pure
  // helpers for hostile text that the agent and the plugin share (echo, strict JSON).
  ['agent/vpp', ['lib', 'vpp-api/codec', 'vpp-api/generated', 'vpp-api/client']],
  ['agent/objects', ['lib']],
  ['agent/linux', ['lib']],
  ['agent/pod-info', ['lib', 'contract']],
  ['agent/pod', ['lib', 'agent/objects', 'agent/vpp', 'agent/linux', 'contract']],
  ['agent/state', ['lib', 'agent/pod', 'agent/objects', 'agent/vpp', 'agent/linux', 'agent/pod-info', 'contract']],
  ['agent/observability', ['lib', 'agent/pod', 'agent/pod-info', 'agent/vpp', 'agent/linux', 'contract']],
  ['agent/cni', ['lib', 'agent/pod', 'agent/pod-info', 'agent/observability', 'agent/vpp', 'agent/linux', 'contract']],
  ['agent/node', ['lib', 'agent/objects', 'agent/vpp', 'agent/linux', 'agent/pod', 'contract']],
  ['agent/kube', ['lib', 'agent/pod', 'agent/pod-info', 'agent/observability', 'agent/node']],
  ['agent', ['lib', 'agent/vpp', 'agent/objects', 'agent/linux', 'agent/pod-info', 'agent/pod', 'agent/state', 'agent/observability', 'agent/cni', 'agent/kube', 'agent/node']],
  ['cni-plugin', ['lib', 'contract']],
  ['ctl', ['lib', 'vpp-api', 'contract']],
  ['deploy', ['lib']],
  ['bench', ['lib', 'vpp-api', 'agent', 'ctl', 'contract', 'cni-plugin']],
];

function areaOf(file: string): string | undefined {
  const rel = relative(ROOT, file);
  let best: string | undefined;
  for (const [a] of RULES) if ((rel === a || rel.startsWith(`${a}/`)) && (!best || a.length > best.length)) best = a;
  return best;
}

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** `import … from`, `export … from`, `import('…')`, and side-effect imports (`import './x.js';`). */
const IMPORT_RE = /(?:import|export)\s[^'";]*?from\s+['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)|(?:^|[;\n])\s*import\s*['"](\.[^'"]+)['"]/g;

function resolveImport(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const c of [base.replace(/\.js$/, '.ts'), base, `${base}.ts`, join(base, 'index.ts')]) if (existsSync(c) && statSync(c).isFile()) return c;
  return base;
}

const files = SOURCE_DIRS.flatMap((d) => walk(join(ROOT, d)));
const graph = new Map<string, string[]>();
const problems: string[] = [];
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const deps: string[] = [];
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2] ?? m[3]!;
    const target = resolveImport(f, spec);
    deps.push(target);
    const from = areaOf(f);
    const to = areaOf(target);
    if (!from || !to || from === to) continue;
    const allowed = RULES.find(([a]) => a === from)![1];
    if (!allowed.some((a) => to === a || to.startsWith(`${a}/`))) {
      problems.push(`${relative(ROOT, f)} imports ${relative(ROOT, target)}: ${from} may not depend on ${to}`);
    }
  }
  graph.set(f, deps);
}

// Cycle detection (iterative DFS with colours).
const colour = new Map<string, 0 | 1 | 2>();
for (const start of files) {
  if (colour.get(start)) continue;
  const stack: [string, number][] = [[start, 0]];
  const path: string[] = [];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i === 0) {
      colour.set(node, 1);
      path.push(node);
    }
    const deps = graph.get(node) ?? [];
    if (i < deps.length) {
      top[1]++;
      const d = deps[i]!;
      const c = colour.get(d) ?? 0;
      if (c === 1) {
        const cyc = path.slice(path.indexOf(d)).concat(d).map((p) => relative(ROOT, p));
        problems.push(`import cycle: ${cyc.join(' -> ')}`);
      } else if (c === 0 && graph.has(d)) stack.push([d, 0]);
    } else {
      colour.set(node, 2);
      path.pop();
      stack.pop();
    }
  }
}

if (problems.length > 0) {
  for (const p of problems) console.error(`check-deps: ${p}`);
  process.exit(1);
}
console.log(`check-deps: ${files.length} files, layer rules and no cycles: ok`);
