/**
 * Pods from a YAML (or JSON) file, for running the agent with no Kubernetes: a list of pod objects
 * (`metadata.namespace`, `metadata.name`, `metadata.annotations`, `spec.hostNetwork`), a `kind: List` / PodList, or a
 * multi-document stream. The file is read through zod and re-read when it changes; a file that stops
 * parsing keeps the last good contents and logs why.
 */
import { readFileSync, watch, type FSWatcher } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { z } from 'zod';
import type { PodInfo, PodSource } from './source.js';

const podSchema = z.object({
  metadata: z.object({
    name: z.string().min(1),
    namespace: z.string().min(1).default('default'),
    uid: z.string().optional(),
    annotations: z.record(z.string(), z.string()).default({}),
  }),
  spec: z.object({ hostNetwork: z.boolean().optional() }).passthrough().optional(),
});
const listSchema = z.object({ items: z.array(podSchema) });

export interface PodsFileLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export function parsePodsFile(text: string): PodInfo[] {
  const out: PodInfo[] = [];
  for (const doc of parseAllDocuments(text)) {
    if (doc.errors.length > 0) throw new Error(doc.errors[0]!.message);
    const v: unknown = doc.toJS();
    if (v === null || v === undefined) continue;
    const pods = Array.isArray(v) ? z.array(podSchema).parse(v) : typeof v === 'object' && 'items' in v ? listSchema.parse(v).items : [podSchema.parse(v)];
    for (const p of pods) {
      const info: PodInfo = { namespace: p.metadata.namespace, name: p.metadata.name, annotations: p.metadata.annotations };
      if (p.metadata.uid) info.uid = p.metadata.uid;
      if (p.spec?.hostNetwork) info.hostNetwork = true;
      out.push(info);
    }
  }
  return out;
}

export class PodsFileSource implements PodSource {
  private pods = new Map<string, PodInfo>();
  private watcher: FSWatcher | undefined;
  private reloadTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly path: string,
    private readonly log: PodsFileLogger,
  ) {
    this.load(true);
    try {
      this.watcher = watch(path, { persistent: false }, () => this.scheduleReload());
    } catch (e) {
      log.warn({ path, err: (e as Error).message }, 'cannot watch the pods file; changes need a restart');
    }
  }

  private scheduleReload(): void {
    clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => this.load(false), 50);
    this.reloadTimer.unref();
  }

  /** Reads the file; at start a bad file is an error, later the last good contents are kept. */
  load(strict: boolean): void {
    try {
      const list = parsePodsFile(readFileSync(this.path, 'utf8'));
      this.pods = new Map(list.map((p) => [`${p.namespace}/${p.name}`, p]));
      this.log.info({ path: this.path, pods: list.length }, 'pods file loaded');
    } catch (e) {
      const msg = `pods file ${this.path}: ${(e as Error).message}`;
      if (strict) throw new Error(msg);
      this.log.warn({ path: this.path, err: (e as Error).message }, 'pods file not reloaded, keeping the previous contents');
    }
  }

  list(): PodInfo[] {
    return [...this.pods.values()];
  }

  getPod(namespace: string, name: string): Promise<PodInfo | undefined> {
    return Promise.resolve(this.pods.get(`${namespace}/${name}`));
  }

  close(): Promise<void> {
    this.watcher?.close();
    clearTimeout(this.reloadTimer);
    return Promise.resolve();
  }
}
