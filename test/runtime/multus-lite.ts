/**
 * A Multus-style meta plugin for the real-runtime test (bundled into an executable by the test; never
 * shipped). The runtime calls it as its only network; it runs the cluster network (a conflist file, here
 * the one our install step wrote) as `eth0`, then every network the pod's `k8s.v1.cni.cncf.io/networks`
 * annotation names (`name@ifname`, comma-separated), each from `<networksDir>/<name>.conflist`, as Multus
 * does with NetworkAttachmentDefinitions. The annotations come from runtimeConfig (the
 * `io.kubernetes.cri.pod-annotations` capability), where Multus would ask the API server.
 *
 * Each delegate list is run as libcni would: its plugins in order on ADD (each with the previous result),
 * in reverse on DEL, with runtimeConfig reduced to the capabilities each plugin declares. The answer is
 * the cluster network's result; errors are CNI error objects. With `recordDir`, each call's runtimeConfig
 * is written to `<recordDir>/<CNI_CONTAINERID>.<command>.json` (what the runtime handed over, for the test).
 */
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';

const NETWORKS_ANNOTATION = 'k8s.v1.cni.cncf.io/networks';
const ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';
const DELEGATE_TIMEOUT_MS = 60_000;

const netconfSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  type: z.literal('vcni-multus-lite'),
  clusterNetwork: z.string().startsWith('/'),
  networksDir: z.string().startsWith('/'),
  recordDir: z.string().startsWith('/').optional(),
  runtimeConfig: z.record(z.string(), z.unknown()).optional(),
});

const conflistSchema = z.looseObject({
  cniVersion: z.string(),
  name: z.string(),
  plugins: z.array(z.looseObject({ type: z.string().regex(/^[^/]+$/), capabilities: z.record(z.string(), z.boolean()).optional() })).min(1),
});
type Conflist = z.infer<typeof conflistSchema>;

class CniFailure extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
  }
}

function readConflist(path: string): Conflist {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CniFailure(7, `cannot read network configuration ${path}`, (e as Error).message);
  }
  const r = conflistSchema.safeParse(JSON.parse(text));
  if (!r.success) throw new CniFailure(7, `invalid network configuration ${path}`, r.error.message);
  return r.data;
}

function exec(type: string, env: Record<string, string>, stdin: string): Promise<{ code: number; stdout: string }> {
  const path = (process.env.CNI_PATH ?? '').split(':').filter(Boolean).map((d) => join(d, type));
  const bin = path[0];
  if (!bin) return Promise.reject(new CniFailure(7, `no CNI_PATH to find ${type} in`));
  return new Promise((resolve, reject) => {
    const p = execFile(bin, [], { env: { ...process.env, ...env }, timeout: DELEGATE_TIMEOUT_MS, killSignal: 'SIGKILL' }, (err, stdout) => {
      if (err && typeof (err as NodeJS.ErrnoException).code === 'string') reject(new CniFailure(7, `cannot run ${bin}: ${err.message}`));
      else resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout: String(stdout) });
    });
    p.stdin?.end(stdin);
  });
}

/** Runs one delegate list (ADD: in order, with prevResult; DEL: in reverse, every plugin even after a failure). */
async function runList(command: 'ADD' | 'DEL', list: Conflist, ifName: string, runtimeConfig: Record<string, unknown>): Promise<unknown> {
  const plugins = command === 'ADD' ? list.plugins : [...list.plugins].reverse();
  let prev: unknown;
  let firstError: CniFailure | undefined;
  for (const p of plugins) {
    const caps = Object.keys(p.capabilities ?? {}).filter((k) => p.capabilities?.[k] && k in runtimeConfig);
    const conf: Record<string, unknown> = { ...p, cniVersion: list.cniVersion, name: list.name };
    if (caps.length) conf['runtimeConfig'] = Object.fromEntries(caps.map((k) => [k, runtimeConfig[k]]));
    if (prev !== undefined) conf['prevResult'] = prev;
    const r = await exec(p.type, { CNI_COMMAND: command, CNI_IFNAME: ifName }, JSON.stringify(conf));
    if (r.code !== 0) {
      const err = z.looseObject({ code: z.number(), msg: z.string(), details: z.string().optional() }).safeParse(JSON.parse(r.stdout || '{}'));
      const f = err.success ? new CniFailure(err.data.code, `${list.name}/${ifName}: ${err.data.msg}`, err.data.details) : new CniFailure(999, `${list.name}/${ifName}: ${p.type} exit ${r.code}`);
      if (command === 'ADD') throw f;
      firstError ??= f;
      continue;
    }
    if (command === 'ADD') prev = JSON.parse(r.stdout) as unknown;
  }
  if (firstError) throw firstError;
  return prev;
}

/** `name@ifname` entries of the networks annotation. */
function extraNetworks(annotations: Record<string, string>): { name: string; ifName: string }[] {
  const text = annotations[NETWORKS_ANNOTATION];
  if (!text) return [];
  return text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((s, i) => {
      const [name, ifName] = s.split('@') as [string, string | undefined];
      if (!/^[a-z0-9][a-z0-9.-]*$/.test(name)) throw new CniFailure(7, `${NETWORKS_ANNOTATION}: "${name}" is not a network name`);
      return { name, ifName: ifName ?? `net${i + 1}` };
    });
}

async function main(): Promise<void> {
  const command = process.env.CNI_COMMAND;
  const stdin = readFileSync(0, 'utf8');
  if (command === 'VERSION') {
    process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: ['0.4.0', '1.0.0'] }));
    return;
  }
  const parsed = netconfSchema.safeParse(JSON.parse(stdin));
  if (!parsed.success) throw new CniFailure(7, 'invalid netconf', parsed.error.message);
  const conf = parsed.data;
  const runtimeConfig = conf.runtimeConfig ?? {};
  const cid = process.env.CNI_CONTAINERID ?? '';
  if (conf.recordDir && /^[A-Za-z0-9_.-]+$/.test(cid)) writeFileSync(join(conf.recordDir, `${cid}.${String(command)}.json`), JSON.stringify(runtimeConfig));
  const annotations = z.record(z.string(), z.string()).catch({}).parse(runtimeConfig[ANNOTATIONS_CAPABILITY]);
  const cluster = readConflist(conf.clusterNetwork);
  const extras = extraNetworks(annotations).map((n) => ({ ...n, list: readConflist(join(conf.networksDir, `${n.name}.conflist`)) }));
  if (command === 'ADD') {
    const result = await runList('ADD', cluster, process.env.CNI_IFNAME ?? 'eth0', runtimeConfig);
    const done: typeof extras = [];
    try {
      for (const x of extras) {
        await runList('ADD', x.list, x.ifName, runtimeConfig);
        done.push(x);
      }
    } catch (e) {
      for (const x of done.reverse()) await runList('DEL', x.list, x.ifName, runtimeConfig).catch(() => undefined);
      await runList('DEL', cluster, process.env.CNI_IFNAME ?? 'eth0', runtimeConfig).catch(() => undefined);
      throw e;
    }
    process.stdout.write(JSON.stringify(result));
  } else if (command === 'DEL') {
    let first: unknown;
    for (const x of [...extras].reverse()) await runList('DEL', x.list, x.ifName, runtimeConfig).catch((e: unknown) => (first ??= e));
    await runList('DEL', cluster, process.env.CNI_IFNAME ?? 'eth0', runtimeConfig).catch((e: unknown) => (first ??= e));
    if (first) throw first;
  } else if (command === 'CHECK' || command === 'STATUS' || command === 'GC') {
    // nothing to check beyond the delegates' own ADD/DEL in this test
  } else {
    throw new CniFailure(4, `unknown CNI_COMMAND ${String(command)}`);
  }
}

main().catch((e: unknown) => {
  const f = e instanceof CniFailure ? e : new CniFailure(999, (e as Error).message);
  process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', code: f.code, msg: f.message, details: f.details }));
  process.exitCode = 1;
});
