/**
 * Pods from a YAML (or JSON) file, for running the agent with no Kubernetes: a list of pod objects
 * (`metadata.namespace`, `metadata.name`, `metadata.annotations`, `spec.hostNetwork`), a `kind: List` / PodList, or a
 * multi-document stream. The file is read through zod and re-read when it changes; a file that stops
 * parsing keeps the last good contents and logs why.
 *
 * The file is input like any other: at most MAX_PODS_FILE_BYTES, flow nesting and per-line nesting are
 * bounded before the YAML parser sees the text (deep nesting costs that parser stack and memory out of
 * proportion), and the parse runs in a worker thread with a deadline and a heap limit, so a malformed
 * file costs a bounded time and never blocks the agent's event loop on a reload. Errors are one line:
 * the file, where, and what is accepted.
 */
import { openSync, fstatSync, readSync, closeSync, watch, type FSWatcher } from 'node:fs';
import { createRequire } from 'node:module';
import { MessageChannel, Worker, receiveMessageOnPort, type ResourceLimits } from 'node:worker_threads';
import { z } from 'zod';
import { escapeText } from '../../contract/echo.js';
import type { PodInfo, PodSource } from './source.js';
import type { Logger } from '../../lib/logger.js';

/** Largest pods file read. */
export const MAX_PODS_FILE_BYTES = 1024 * 1024;
/** Deepest flow nesting (`[`/`{`) and most nesting indicators (`- `, `? `, `: `) on one line. */
export const MAX_PODS_FILE_NESTING = 64;
/** Default deadline of one parse. */
export const PODS_FILE_PARSE_TIMEOUT_MS = 10_000;
const WORKER_LIMITS: ResourceLimits = { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32, stackSizeMb: 4 };

/** A pods file that cannot be used; the message is one line. */
export class PodsFileError extends Error {
  override readonly name = 'PodsFileError';
}

// A Kubernetes qualified name (annotation keys): optional DNS-subdomain prefix and '/', then a name.
const QUALIFIED_NAME = /^(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?\/)?[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const podSchema = z.object({
  metadata: z.object({
    name: z.string().min(1).max(253),
    namespace: z.string().min(1).max(63).default('default'),
    uid: z.string().max(128).optional(),
    annotations: z
      .record(z.string().regex(QUALIFIED_NAME, 'not a Kubernetes annotation key'), z.string())
      .default({}),
  }),
  spec: z.object({ hostNetwork: z.boolean().optional() }).passthrough().optional(),
});
const listSchema = z.object({ items: z.array(podSchema) });

/** The part of the agent's one logger interface (lib/logger.ts) the pods file uses. */
export type PodsFileLogger = Pick<Logger, 'info' | 'warn'>;

/**
 * Refuses text whose nesting would cost the YAML parser more than its length: flow brackets deeper
 * than MAX_PODS_FILE_NESTING, or a line with more nesting indicators than that. Linear; quoted text and
 * comments are skipped.
 */
export function nestingProblem(text: string): string | undefined {
  let depth = 0;
  let line = 1;
  let onLine = 0;
  let quote = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') {
      line++;
      onLine = 0; // quoted scalars may span lines: the quote stays open
      continue;
    }
    if (quote) {
      if (c === '\\' && quote === '"') i++;
      else if (c === quote) quote = '';
      continue;
    }
    // A quote opens a quoted scalar only where a scalar starts (inside a plain word it is a character).
    if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:?-]/.test(text[i - 1]!))) quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(text[i - 1]!))) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++;
    } else if (c === '[' || c === '{') {
      if (++depth > MAX_PODS_FILE_NESTING) return `line ${line}: flow collections nested deeper than ${MAX_PODS_FILE_NESTING}`;
    } else if (c === ']' || c === '}') depth = Math.max(0, depth - 1);
    else if ((c === '-' || c === '?' || c === ':') && (text[i + 1] === ' ' || text[i + 1] === '\t')) {
      if (++onLine > MAX_PODS_FILE_NESTING) return `line ${line}: more than ${MAX_PODS_FILE_NESTING} nested keys or items on one line`;
    }
  }
  return undefined;
}

// The YAML parse, in a worker (plain CommonJS: eval workers are not ES modules). It answers
// { docs } or { error }, on the port it was given (synchronous use) or its parent port.
const WORKER_SRC = `
const { parentPort, workerData } = require('node:worker_threads');
const { text, yamlPath, port, flag } = workerData;
let out;
try {
  const { parseAllDocuments } = require(yamlPath);
  const docs = [];
  let i = 0;
  for (const d of parseAllDocuments(text, { prettyErrors: true, uniqueKeys: true, logLevel: 'error' })) {
    i++;
    if (d.errors.length > 0) {
      const e = d.errors[0];
      const pos = e.linePos && e.linePos[0] ? 'line ' + e.linePos[0].line + ', column ' + e.linePos[0].col + ': ' : '';
      const msg = String(e.message).split('\\n')[0].replace(/ at line \\d+, column \\d+:?$/, '');
      out = { error: 'document ' + i + ': ' + pos + msg };
      break;
    }
    let proto = false;
    const js = d.toJS({ maxAliasCount: 100, reviver: (k, v) => { if (k === '__proto__') proto = true; return v; } });
    if (proto) { out = { error: 'document ' + i + ': a key "__proto__" is not accepted' }; break; }
    docs.push(js);
  }
  if (!out) out = { docs };
} catch (e) {
  out = { error: e instanceof RangeError ? 'nested too deeply for the YAML parser' : String(e && e.message).split('\\n')[0] };
}
try {
  (port || parentPort).postMessage(out);
} catch (e) {
  (port || parentPort).postMessage({ error: 'contents cannot be passed on: ' + String(e && e.message).split('\\n')[0] });
}
if (flag) { const f = new Int32Array(flag); Atomics.store(f, 0, 1); Atomics.notify(f, 0); }
`;

type WorkerAnswer = { docs: unknown[] } | { error: string };

function yamlPath(): string {
  // No import.meta (tests run as CommonJS): resolve from this file where known, else from the main script.
  const from = typeof __filename === 'string' ? __filename : (process.argv[1] ?? `${process.cwd()}/`);
  return createRequire(from).resolve('yaml');
}

const cut = (msg: string): string => escapeText(msg, 200);

/** Parses YAML in a worker, waiting for it synchronously (for the first load, before the agent serves). */
function parseYamlSync(text: string, timeoutMs: number): unknown[] {
  const flag = new SharedArrayBuffer(4);
  const { port1, port2 } = new MessageChannel();
  const w = new Worker(WORKER_SRC, { eval: true, workerData: { text, yamlPath: yamlPath(), port: port2, flag }, transferList: [port2], resourceLimits: WORKER_LIMITS });
  try {
    Atomics.wait(new Int32Array(flag), 0, 0, timeoutMs);
    const got = receiveMessageOnPort(port1) as { message: WorkerAnswer } | undefined;
    if (!got) throw new PodsFileError(`not parsed within ${timeoutMs} ms (or the parser ran out of memory)`);
    if ('error' in got.message) throw new PodsFileError(cut(got.message.error));
    return got.message.docs;
  } finally {
    port1.close();
    void w.terminate();
  }
}

/** Parses YAML in a worker without blocking the event loop. `track` receives the worker (to stop it on close). */
function parseYamlAsync(text: string, timeoutMs: number, track?: (w: Worker | undefined) => void): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const w = new Worker(WORKER_SRC, { eval: true, workerData: { text, yamlPath: yamlPath() }, resourceLimits: WORKER_LIMITS });
    track?.(w);
    let done = false;
    const finish = (f: () => void): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      track?.(undefined);
      void w.terminate();
      f();
    };
    const timer = setTimeout(() => finish(() => reject(new PodsFileError(`not parsed within ${timeoutMs} ms`))), timeoutMs);
    timer.unref();
    w.on('message', (m: WorkerAnswer) => finish(() => ('error' in m ? reject(new PodsFileError(cut(m.error))) : resolve(m.docs))));
    w.on('error', (e) => finish(() => reject(new PodsFileError((e as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'the parser ran out of memory' : cut(e.message)))));
    w.on('exit', () => finish(() => reject(new PodsFileError('the parser stopped'))));
  });
}

function issueText(e: z.ZodError): string {
  const i = e.issues[0]!;
  const path = i.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
  return `${path ? `${cut(path.replace(/^\./, ''))}: ` : ''}${i.message}${e.issues.length > 1 ? ` (and ${e.issues.length - 1} more)` : ''}`;
}

/** Most objects of one cluster list in a pods file. */
export const MAX_CLUSTER_OBJECTS = 10_000;
const CLUSTER_KEYS = ['nodes', 'services', 'endpointSlices'] as const;
const clusterListsSchema = z.object({
  nodes: z.array(z.unknown()).max(MAX_CLUSTER_OBJECTS).optional(),
  services: z.array(z.unknown()).max(MAX_CLUSTER_OBJECTS).optional(),
  endpointSlices: z.array(z.unknown()).max(MAX_CLUSTER_OBJECTS).optional(),
  items: z.array(z.unknown()).optional(),
});

/**
 * Cluster objects a pods file may list next to its pods (a document with `nodes`, `services`,
 * `endpointSlices`, and optionally `items`): kept as found here; the node dataplane validates each object
 * with its own schemas (agent/node/kube-objects.ts) before using it.
 */
export interface ClusterObjectsRaw {
  nodes: unknown[];
  services: unknown[];
  endpointSlices: unknown[];
}

export interface PodsFileContents {
  pods: PodInfo[];
  /** undefined: the file lists no cluster objects. */
  cluster: ClusterObjectsRaw | undefined;
}

function hasClusterKeys(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && CLUSTER_KEYS.some((k) => k in v);
}

/** Turns parsed documents into pods; throws PodsFileError naming the document and the field. */
export function podsOfDocuments(docs: readonly unknown[]): PodInfo[] {
  return contentsOfDocuments(docs).pods;
}

/** Pods and cluster lists of parsed documents; throws PodsFileError naming the document and the field. */
export function contentsOfDocuments(docs: readonly unknown[]): PodsFileContents {
  const out: PodInfo[] = [];
  let cluster: ClusterObjectsRaw | undefined;
  docs.forEach((found, d) => {
    if (found === null || found === undefined) return;
    let v: unknown = found;
    if (hasClusterKeys(found)) {
      const c = clusterListsSchema.safeParse(found);
      if (!c.success) throw new PodsFileError(`document ${d + 1}: ${issueText(c.error)}; expected lists of at most ${MAX_CLUSTER_OBJECTS} objects (nodes, services, endpointSlices) and pod objects (items)`);
      cluster ??= { nodes: [], services: [], endpointSlices: [] };
      cluster.nodes.push(...(c.data.nodes ?? []));
      cluster.services.push(...(c.data.services ?? []));
      cluster.endpointSlices.push(...(c.data.endpointSlices ?? []));
      v = { items: c.data.items ?? [] };
    }
    const r = Array.isArray(v) ? z.array(podSchema).safeParse(v) : typeof v === 'object' && v !== null && 'items' in v ? listSchema.safeParse(v) : podSchema.safeParse(v);
    if (!r.success) throw new PodsFileError(`document ${d + 1}: ${issueText(r.error)}; expected pod objects (metadata.name, metadata.namespace, metadata.annotations: string to string, spec.hostNetwork: boolean)`);
    const pods = Array.isArray(r.data) ? r.data : 'items' in r.data ? r.data.items : [r.data];
    for (const p of pods) {
      const info: PodInfo = { namespace: p.metadata.namespace, name: p.metadata.name, annotations: p.metadata.annotations };
      if (p.metadata.uid) info.uid = p.metadata.uid;
      if (p.spec?.hostNetwork) info.hostNetwork = true;
      out.push(info);
    }
  });
  return { pods: out, cluster };
}

function precheck(text: string): void {
  if (text.length > MAX_PODS_FILE_BYTES) throw new PodsFileError(`${text.length} characters, more than the ${MAX_PODS_FILE_BYTES} accepted`);
  const n = nestingProblem(text);
  if (n) throw new PodsFileError(n);
}

/** Parses the text of a pods file (synchronously: the parse itself runs in a bounded worker). */
export function parsePodsFile(text: string, timeoutMs = PODS_FILE_PARSE_TIMEOUT_MS): PodInfo[] {
  precheck(text);
  return podsOfDocuments(parseYamlSync(text, timeoutMs));
}

/** As parsePodsFile, without blocking the event loop. */
export async function parsePodsFileAsync(text: string, timeoutMs = PODS_FILE_PARSE_TIMEOUT_MS, track?: (w: Worker | undefined) => void): Promise<PodInfo[]> {
  return (await parsePodsFileContentsAsync(text, timeoutMs, track)).pods;
}

/** Pods and cluster lists of a pods file's text. */
export function parsePodsFileContents(text: string, timeoutMs = PODS_FILE_PARSE_TIMEOUT_MS): PodsFileContents {
  precheck(text);
  return contentsOfDocuments(parseYamlSync(text, timeoutMs));
}

export async function parsePodsFileContentsAsync(text: string, timeoutMs = PODS_FILE_PARSE_TIMEOUT_MS, track?: (w: Worker | undefined) => void): Promise<PodsFileContents> {
  precheck(text);
  return contentsOfDocuments(await parseYamlAsync(text, timeoutMs, track));
}

/** Reads at most MAX_PODS_FILE_BYTES of `path` (a larger file is refused without reading it). */
export function readPodsFile(path: string): string {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new PodsFileError(`cannot read: ${(e as NodeJS.ErrnoException).code ?? cut((e as Error).message)}`);
  }
  try {
    const size = fstatSync(fd).size;
    if (size > MAX_PODS_FILE_BYTES) throw new PodsFileError(`${size} bytes, more than the ${MAX_PODS_FILE_BYTES} accepted`);
    const b = Buffer.alloc(MAX_PODS_FILE_BYTES + 1);
    let n = 0;
    for (let r; n < b.length && (r = readSync(fd, b, n, b.length - n, null)) > 0; ) n += r;
    if (n > MAX_PODS_FILE_BYTES) throw new PodsFileError(`more than the ${MAX_PODS_FILE_BYTES} bytes accepted`);
    return b.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface PodsFileOptions {
  /** Deadline of one parse (default PODS_FILE_PARSE_TIMEOUT_MS). */
  parseTimeoutMs?: number;
}

export class PodsFileSource implements PodSource {
  private pods = new Map<string, PodInfo>();
  private clusterObjects: ClusterObjectsRaw | undefined;
  private readonly clusterListeners = new Set<(c: ClusterObjectsRaw | undefined) => void>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;
  private generation = 0;
  private worker: Worker | undefined;
  private closed = false;
  private readonly timeoutMs: number;

  /** Throws PodsFileError (one line, naming the file) when the file cannot be used at start. */
  constructor(
    private readonly path: string,
    private readonly log: PodsFileLogger,
    opts: PodsFileOptions = {},
  ) {
    this.timeoutMs = opts.parseTimeoutMs ?? PODS_FILE_PARSE_TIMEOUT_MS;
    try {
      this.apply(parsePodsFileContents(readPodsFile(path), this.timeoutMs));
    } catch (e) {
      throw e instanceof PodsFileError ? new PodsFileError(`pods file ${path}: ${e.message}`) : e;
    }
    try {
      this.watcher = watch(path, { persistent: false }, () => this.scheduleReload());
    } catch (e) {
      log.warn({ path, err: (e as Error).message }, 'cannot watch the pods file; changes need a restart');
    }
  }

  private apply(c: PodsFileContents): void {
    const list = c.pods;
    this.pods = new Map(list.map((p) => [`${p.namespace}/${p.name}`, p]));
    const changed = JSON.stringify(c.cluster) !== JSON.stringify(this.clusterObjects);
    this.clusterObjects = c.cluster;
    this.log.info({ path: this.path, pods: list.length, ...(c.cluster ? { nodes: c.cluster.nodes.length, services: c.cluster.services.length, endpointSlices: c.cluster.endpointSlices.length } : {}) }, 'pods file loaded');
    if (changed) for (const l of this.clusterListeners) l(c.cluster);
  }

  /** The file's cluster objects (unvalidated), undefined when it lists none. */
  cluster(): ClusterObjectsRaw | undefined {
    return this.clusterObjects;
  }

  /** Calls `l` when a reload changed the cluster objects. */
  onClusterChange(l: (c: ClusterObjectsRaw | undefined) => void): () => void {
    this.clusterListeners.add(l);
    return () => this.clusterListeners.delete(l);
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => void this.reload(), 50);
    this.reloadTimer.unref();
  }

  /** Re-reads the file off the event loop; a bad file keeps the last good contents. Resolves when done. */
  async reload(): Promise<void> {
    const gen = ++this.generation;
    void this.worker?.terminate(); // a newer change supersedes a parse still running
    try {
      let mine: Worker | undefined;
      const track = (w: Worker | undefined): void => {
        if (w) this.worker = mine = w;
        else if (this.worker === mine) this.worker = undefined;
      };
      const contents = await parsePodsFileContentsAsync(readPodsFile(this.path), this.timeoutMs, track);
      if (gen === this.generation && !this.closed) this.apply(contents);
    } catch (e) {
      if (gen !== this.generation || this.closed) return;
      this.log.warn({ path: this.path, err: e instanceof PodsFileError ? e.message : cut(String((e as Error)?.message)) }, 'pods file not reloaded, keeping the previous contents');
    }
  }

  list(): PodInfo[] {
    return [...this.pods.values()];
  }

  getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    return Promise.resolve(this.pods.get(`${namespace}/${name}`));
  }

  close(): Promise<void> {
    this.closed = true;
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
    void this.worker?.terminate();
    return Promise.resolve();
  }
}
