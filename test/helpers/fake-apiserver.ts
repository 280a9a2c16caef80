/**
 * An in-process fake of the parts of kube-apiserver the agent uses (there is no real one to run here):
 *  - pods: list (PodList with resourceVersion, fieldSelector spec.nodeName / metadata.name /
 *    metadata.namespace), watch from a resourceVersion (one JSON event per line; ADDED / MODIFIED /
 *    DELETED as the selector sees them; BOOKMARK on request), GET one pod;
 *  - events: POST (create), PATCH (JSON patch, merge patch), GET list;
 *  - nodes, services, endpointslices (discovery.k8s.io/v1): list and watch (all namespaces or one, optional
 *    labelSelector `k=v`), GET one; changed through addObject / updateObject / deleteObject. They share the
 *    pods' resourceVersion counter and compaction;
 *  - faults: compaction (a watch from an older resourceVersion answers 410 Gone, as an HTTP status or as
 *    an ERROR event), ending or cutting watch streams, stopping and restarting on the same port, failing
 *    lists, slow GETs.
 * Everything it was asked is kept in `requests`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface FakePod {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; annotations?: Record<string, string>; [k: string]: unknown };
  spec?: { nodeName?: string; [k: string]: unknown };
  [k: string]: unknown;
}

export interface FakeEvent {
  metadata: { name: string; namespace: string; resourceVersion?: string; [k: string]: unknown };
  involvedObject?: { kind?: string; namespace?: string; name?: string; uid?: string };
  reason?: string;
  message?: string;
  type?: string;
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  [k: string]: unknown;
}

export interface RequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  contentType?: string;
}

interface HistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: FakePod;
  prev?: FakePod;
}

interface Watcher {
  res: ServerResponse;
  selector: Selector;
  bookmarks: boolean;
  rv: number;
}

type Selector = (p: FakePod) => boolean;

/** A Node, Service or EndpointSlice as stored (plain JSON). */
export interface FakeObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; uid?: string; resourceVersion?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

export type FakeResource = 'nodes' | 'services' | 'endpointslices';

const RESOURCES: Record<FakeResource, { kind: string; apiVersion: string; namespaced: boolean; prefix: string }> = {
  nodes: { kind: 'Node', apiVersion: 'v1', namespaced: false, prefix: '/api/v1' },
  services: { kind: 'Service', apiVersion: 'v1', namespaced: true, prefix: '/api/v1' },
  endpointslices: { kind: 'EndpointSlice', apiVersion: 'discovery.k8s.io/v1', namespaced: true, prefix: '/apis/discovery.k8s.io/v1' },
};

interface ObjHistoryEntry {
  rv: number;
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  object: FakeObject;
}

interface ObjWatcher {
  res: ServerResponse;
  match: (o: FakeObject) => boolean;
  bookmarks: boolean;
  rv: number;
}

function objectMatcher(namespace: string | undefined, labelSelector: string | undefined): (o: FakeObject) => boolean {
  const terms = (labelSelector ?? '')
    .split(',')
    .filter((t) => t.length > 0)
    .map((t) => {
      const m = /^([^=!]+)(==|=|!=)(.*)$/.exec(t);
      if (!m) throw new Error(`bad labelSelector term ${t}`);
      return { key: m[1]!, neg: m[2] === '!=', value: m[3]! };
    });
  return (o) =>
    (namespace === undefined || o.metadata.namespace === namespace) &&
    terms.every((t) => (t.neg ? o.metadata.labels?.[t.key] !== t.value : o.metadata.labels?.[t.key] === t.value));
}

function clone<T>(v: T): T {
  return JSON.parse(JSON.stringify(v)) as T;
}

function parseSelector(fs: string | undefined): Selector {
  if (!fs) return () => true;
  const terms = fs.split(',').map((t) => {
    const m = /^([a-zA-Z.]+)(!=|==|=)(.*)$/.exec(t);
    if (!m) throw new Error(`bad fieldSelector term ${t}`);
    return { field: m[1]!, neg: m[2] === '!=', value: m[3]! };
  });
  return (p) =>
    terms.every((t) => {
      const v = t.field === 'spec.nodeName' ? p.spec?.nodeName : t.field === 'metadata.name' ? p.metadata.name : t.field === 'metadata.namespace' ? p.metadata.namespace : undefined;
      if (v === undefined && !['spec.nodeName', 'metadata.name', 'metadata.namespace'].includes(t.field)) throw new Error(`unsupported field ${t.field}`);
      return t.neg ? (v ?? '') !== t.value : (v ?? '') === t.value;
    });
}

function status(code: number, reason: string, message: string): object {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code };
}

export class FakeApiServer {
  private server: Server | undefined;
  private port = 0;
  private readonly sockets = new Set<Socket>();
  private readonly pods = new Map<string, FakePod>();
  readonly events = new Map<string, FakeEvent>();
  private history: HistoryEntry[] = [];
  private rv = 100;
  /** Watches from a resourceVersion below this answer 410 Gone. */
  private compactedRv = 0;
  private readonly watchers = new Set<Watcher>();
  private uidSeq = 0;
  private readonly objects: Record<FakeResource, Map<string, FakeObject>> = { nodes: new Map(), services: new Map(), endpointslices: new Map() };
  private objHistory: Record<FakeResource, ObjHistoryEntry[]> = { nodes: [], services: [], endpointslices: [] };
  private readonly objWatchers: Record<FakeResource, Set<ObjWatcher>> = { nodes: new Set(), services: new Set(), endpointslices: new Set() };
  readonly requests: RequestLog[] = [];
  /** The next `n` pod lists answer with this status. */
  failLists = { n: 0, status: 500 };
  /** GET of one pod waits this long before answering. */
  getDelayMs = 0;
  /** How a watch from a compacted resourceVersion is refused. */
  goneAs: 'status' | 'event' = 'status';

  static async start(): Promise<FakeApiServer> {
    const s = new FakeApiServer();
    await s.listen();
    return s;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** A kubeconfig for client-node's `loadFromOptions` (plain HTTP needs skipTLSVerify). */
  kubeconfigOptions(): object {
    return {
      clusters: [{ name: 'fake', server: this.url, skipTLSVerify: true }],
      users: [{ name: 'u' }],
      contexts: [{ name: 'fake', cluster: 'fake', user: 'u' }],
      currentContext: 'fake',
    };
  }

  /** The same as a kubeconfig file's YAML/JSON text. */
  kubeconfigFile(): string {
    return JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'fake', cluster: { server: this.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: {} }],
      contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'u' } }],
      'current-context': 'fake',
    });
  }

  get resourceVersion(): number {
    return this.rv;
  }

  get openWatches(): number {
    return this.watchers.size + Object.values(this.objWatchers).reduce((n, w) => n + w.size, 0);
  }

  private async listen(): Promise<void> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  // ---- pods ----

  private record(type: HistoryEntry['type'], object: FakePod, prev?: FakePod): void {
    const e: HistoryEntry = { rv: this.rv, type, object: clone(object), ...(prev ? { prev: clone(prev) } : {}) };
    this.history.push(e);
    for (const w of this.watchers) this.deliver(w, e);
  }

  /** What a watcher with this selector sees of a change, if anything. */
  private view(w: { selector: Selector }, e: HistoryEntry): { type: string; object: FakePod } | undefined {
    const now = w.selector(e.object);
    const before = e.prev ? w.selector(e.prev) : false;
    if (e.type === 'DELETED') return now ? { type: 'DELETED', object: e.object } : undefined;
    if (e.type === 'ADDED') return now ? { type: 'ADDED', object: e.object } : undefined;
    if (now && before) return { type: 'MODIFIED', object: e.object };
    if (now && !before) return { type: 'ADDED', object: e.object };
    if (!now && before) return { type: 'DELETED', object: e.object };
    return undefined;
  }

  private deliver(w: Watcher, e: HistoryEntry): void {
    if (e.rv <= w.rv) return;
    const v = this.view(w, e);
    w.rv = e.rv;
    if (v) w.res.write(`${JSON.stringify(v)}\n`);
  }

  addPod(pod: FakePod): FakePod {
    const p = clone(pod);
    p.apiVersion ??= 'v1';
    p.kind ??= 'Pod';
    p.metadata.namespace ??= 'default';
    p.metadata.uid ??= `uid-${++this.uidSeq}-${p.metadata.name}`;
    const key = `${p.metadata.namespace}/${p.metadata.name}`;
    if (this.pods.has(key)) throw new Error(`pod ${key} exists`);
    p.metadata.resourceVersion = String(++this.rv);
    this.pods.set(key, p);
    this.record('ADDED', p);
    return clone(p);
  }

  updatePod(namespace: string, name: string, mutate: (p: FakePod) => void): FakePod {
    const key = `${namespace}/${name}`;
    const old = this.pods.get(key);
    if (!old) throw new Error(`no pod ${key}`);
    const p = clone(old);
    mutate(p);
    p.metadata.resourceVersion = String(++this.rv);
    this.pods.set(key, p);
    this.record('MODIFIED', p, old);
    return clone(p);
  }

  setAnnotation(namespace: string, name: string, key: string, value: string | undefined): FakePod {
    return this.updatePod(namespace, name, (p) => {
      const a = { ...(p.metadata.annotations ?? {}) };
      if (value === undefined) delete a[key];
      else a[key] = value;
      p.metadata.annotations = a;
    });
  }

  deletePod(namespace: string, name: string): void {
    const key = `${namespace}/${name}`;
    const old = this.pods.get(key);
    if (!old) return;
    this.pods.delete(key);
    const p = clone(old);
    p.metadata.resourceVersion = String(++this.rv);
    this.record('DELETED', p, old);
  }

  pod(namespace: string, name: string): FakePod | undefined {
    const p = this.pods.get(`${namespace}/${name}`);
    return p ? clone(p) : undefined;
  }

  // ---- nodes, services, endpointslices ----

  private objKey(resource: FakeResource, namespace: string | undefined, name: string): string {
    return RESOURCES[resource].namespaced ? `${namespace ?? 'default'}/${name}` : name;
  }

  private recordObject(resource: FakeResource, type: ObjHistoryEntry['type'], object: FakeObject): void {
    const e: ObjHistoryEntry = { rv: this.rv, type, object: clone(object) };
    this.objHistory[resource].push(e);
    for (const w of this.objWatchers[resource]) this.deliverObject(w, e);
  }

  private deliverObject(w: ObjWatcher, e: ObjHistoryEntry): void {
    if (e.rv <= w.rv) return;
    w.rv = e.rv;
    if (w.match(e.object)) w.res.write(`${JSON.stringify({ type: e.type, object: e.object })}\n`);
  }

  addObject(resource: FakeResource, obj: FakeObject): FakeObject {
    const r = RESOURCES[resource];
    const o = clone(obj);
    o.apiVersion ??= r.apiVersion;
    o.kind ??= r.kind;
    if (r.namespaced) o.metadata.namespace ??= 'default';
    else delete o.metadata.namespace;
    o.metadata.uid ??= `uid-${++this.uidSeq}-${o.metadata.name}`;
    const key = this.objKey(resource, o.metadata.namespace, o.metadata.name);
    if (this.objects[resource].has(key)) throw new Error(`${resource} ${key} exists`);
    o.metadata.resourceVersion = String(++this.rv);
    this.objects[resource].set(key, o);
    this.recordObject(resource, 'ADDED', o);
    return clone(o);
  }

  updateObject(resource: FakeResource, namespace: string | undefined, name: string, mutate: (o: FakeObject) => void): FakeObject {
    const key = this.objKey(resource, namespace, name);
    const old = this.objects[resource].get(key);
    if (!old) throw new Error(`no ${resource} ${key}`);
    const o = clone(old);
    mutate(o);
    o.metadata.resourceVersion = String(++this.rv);
    this.objects[resource].set(key, o);
    this.recordObject(resource, 'MODIFIED', o);
    return clone(o);
  }

  deleteObject(resource: FakeResource, namespace: string | undefined, name: string): void {
    const key = this.objKey(resource, namespace, name);
    const old = this.objects[resource].get(key);
    if (!old) return;
    this.objects[resource].delete(key);
    const o = clone(old);
    o.metadata.resourceVersion = String(++this.rv);
    this.recordObject(resource, 'DELETED', o);
  }

  object(resource: FakeResource, namespace: string | undefined, name: string): FakeObject | undefined {
    const o = this.objects[resource].get(this.objKey(resource, namespace, name));
    return o ? clone(o) : undefined;
  }

  objectsOf(resource: FakeResource): FakeObject[] {
    return [...this.objects[resource].values()].map(clone);
  }

  private routeObjects(method: string, path: string, q: Record<string, string>, res: ServerResponse): boolean {
    if (method !== 'GET') return false;
    for (const [resource, r] of Object.entries(RESOURCES) as [FakeResource, (typeof RESOURCES)[FakeResource]][]) {
      if (!path.startsWith(`${r.prefix}/`)) continue;
      const rest = path.slice(r.prefix.length + 1).split('/');
      let namespace: string | undefined;
      let name: string | undefined;
      if (rest.length === 1 && rest[0] === resource) {
        // all namespaces (or a cluster-scoped collection)
      } else if (r.namespaced && rest.length >= 3 && rest[0] === 'namespaces' && rest[2] === resource && rest.length <= 4) {
        namespace = rest[1];
        name = rest[3];
      } else if (!r.namespaced && rest.length === 2 && rest[0] === resource) {
        name = rest[1];
      } else continue;
      if (name !== undefined) {
        const o = this.objects[resource].get(this.objKey(resource, namespace, name));
        if (o) this.json(res, 200, o);
        else this.json(res, 404, status(404, 'NotFound', `${resource} "${name}" not found`));
        return true;
      }
      const match = objectMatcher(namespace, q.labelSelector);
      if (q.watch === 'true' || q.watch === '1') this.watchObjects(resource, match, q, res);
      else if (this.failLists.n > 0) {
        this.failLists.n--;
        this.json(res, this.failLists.status, status(this.failLists.status, 'InternalError', 'list failed (injected)'));
      } else {
        const items = [...this.objects[resource].values()].filter(match);
        this.json(res, 200, { kind: `${r.kind}List`, apiVersion: r.apiVersion, metadata: { resourceVersion: String(this.rv) }, items });
      }
      return true;
    }
    return false;
  }

  private watchObjects(resource: FakeResource, match: (o: FakeObject) => boolean, q: Record<string, string>, res: ServerResponse): void {
    const from = q.resourceVersion ? Number(q.resourceVersion) : 0;
    if (from > 0 && from < this.compactedRv) {
      if (this.goneAs === 'status') return this.json(res, 410, status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`) })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: ObjWatcher = { res, match, bookmarks: q.allowWatchBookmarks === 'true', rv: from };
    if (from === 0) {
      for (const o of this.objects[resource].values()) if (match(o)) res.write(`${JSON.stringify({ type: 'ADDED', object: o })}\n`);
      w.rv = this.rv;
    } else {
      for (const e of this.objHistory[resource]) this.deliverObject(w, e);
    }
    this.objWatchers[resource].add(w);
    res.on('close', () => this.objWatchers[resource].delete(w));
  }

  // ---- faults ----

  /** Forgets history up to now: watches from an older resourceVersion get 410 Gone. */
  compact(): void {
    this.compactedRv = this.rv;
    this.history = [];
    this.objHistory = { nodes: [], services: [], endpointslices: [] };
  }

  /** Every open watch of pods and of the other resources. */
  private allWatchers(): { res: ServerResponse; drop: () => void }[] {
    const out: { res: ServerResponse; drop: () => void }[] = [];
    for (const w of this.watchers) out.push({ res: w.res, drop: () => this.watchers.delete(w) });
    for (const set of Object.values(this.objWatchers)) for (const w of set) out.push({ res: w.res, drop: () => set.delete(w) });
    return out;
  }

  /** Compacts and ends every open watch; `as: 'event'` sends an ERROR 410 event before ending it. */
  expireWatches(as: 'status' | 'event' = 'event'): void {
    this.compact();
    for (const w of this.allWatchers()) {
      if (as === 'event') w.res.write(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', 'too old resource version') })}\n`);
      w.res.end();
      w.drop();
    }
  }

  /** A BOOKMARK with the current resourceVersion to watches that allow them. */
  bookmark(): void {
    for (const w of this.watchers) {
      if (!w.bookmarks) continue;
      w.rv = Math.max(w.rv, this.rv);
      w.res.write(`${JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) } } })}\n`);
    }
  }

  /** Ends every watch stream cleanly (as the apiserver does when a watch times out). */
  endWatches(): void {
    for (const w of this.allWatchers()) {
      w.res.end();
      w.drop();
    }
  }

  /** Cuts every connection (no clean end). */
  dropConnections(): void {
    for (const w of this.allWatchers()) w.drop();
    for (const s of this.sockets) s.destroy();
  }

  /** Stops listening and cuts every connection (state is kept for `restart`). */
  async stop(): Promise<void> {
    for (const w of this.allWatchers()) w.drop();
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    const closed = new Promise<void>((resolve) => s.close(() => resolve()));
    for (const sock of this.sockets) sock.destroy();
    await closed;
  }

  /** Listens again on the same port. */
  async restart(): Promise<void> {
    if (this.server) return;
    await this.listen();
  }

  // ---- HTTP ----

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams.entries());
    const entry: RequestLog = { method: req.method ?? 'GET', path: u.pathname, query };
    if (req.headers['content-type']) entry.contentType = req.headers['content-type'];
    this.requests.push(entry);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      try {
        this.route(req.method ?? 'GET', u.pathname, query, body, req.headers['content-type'] ?? '', res);
      } catch (e) {
        this.json(res, 500, status(500, 'InternalError', (e as Error).message));
      }
    });
  }

  private json(res: ServerResponse, code: number, obj: unknown): void {
    res.writeHead(code, { 'content-type': 'application/json' });
    res.end(JSON.stringify(obj));
  }

  private route(method: string, path: string, q: Record<string, string>, body: string, contentType: string, res: ServerResponse): void {
    let m: RegExpExecArray | null;
    if (this.routeObjects(method, path, q, res)) return;
    if (path === '/api/v1/pods' && method === 'GET') return q.watch === 'true' || q.watch === '1' ? this.watch(q, res) : this.list(q, res);
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(path)) && method === 'GET') {
      const p = this.pods.get(`${m[1]}/${m[2]}`);
      const answer = (): void => (p ? this.json(res, 200, p) : this.json(res, 404, status(404, 'NotFound', `pods "${m![2]}" not found`)));
      if (this.getDelayMs > 0) setTimeout(answer, this.getDelayMs);
      else answer();
      return;
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events$/.exec(path))) {
      const ns = m[1]!;
      if (method === 'GET') return this.json(res, 200, { kind: 'EventList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items: [...this.events.values()].filter((e) => e.metadata.namespace === ns) });
      if (method === 'POST') {
        const ev = JSON.parse(body) as FakeEvent;
        ev.metadata ??= { name: '', namespace: ns };
        ev.metadata.namespace = ns;
        if (!ev.metadata.name) ev.metadata.name = `${String(ev.metadata.generateName ?? 'event.')}${++this.uidSeq}`;
        const key = `${ns}/${ev.metadata.name}`;
        if (this.events.has(key)) return this.json(res, 409, status(409, 'AlreadyExists', `events "${ev.metadata.name}" already exists`));
        ev.metadata.resourceVersion = String(++this.rv);
        this.events.set(key, ev);
        return this.json(res, 201, ev);
      }
    }
    if ((m = /^\/api\/v1\/namespaces\/([^/]+)\/events\/([^/]+)$/.exec(path))) {
      const key = `${m[1]}/${m[2]}`;
      const ev = this.events.get(key);
      if (!ev) return this.json(res, 404, status(404, 'NotFound', `events "${m[2]}" not found`));
      if (method === 'GET') return this.json(res, 200, ev);
      if (method === 'PATCH') {
        const patch = JSON.parse(body) as unknown;
        if (contentType.startsWith('application/json-patch+json')) {
          for (const op of patch as { op: string; path: string; value?: unknown }[]) {
            const field = op.path.replace(/^\//, '');
            if (field.includes('/')) return this.json(res, 422, status(422, 'Invalid', `unsupported patch path ${op.path}`));
            if (op.op === 'add' || op.op === 'replace') (ev as Record<string, unknown>)[field] = op.value;
            else if (op.op === 'remove') delete (ev as Record<string, unknown>)[field];
            else return this.json(res, 422, status(422, 'Invalid', `unsupported op ${op.op}`));
          }
        } else if (contentType.startsWith('application/merge-patch+json') || contentType.startsWith('application/strategic-merge-patch+json')) {
          Object.assign(ev, patch);
        } else return this.json(res, 415, status(415, 'UnsupportedMediaType', `content type ${contentType}`));
        ev.metadata.resourceVersion = String(++this.rv);
        return this.json(res, 200, ev);
      }
    }
    this.json(res, 404, status(404, 'NotFound', `the fake apiserver does not serve ${method} ${path}`));
  }

  private list(q: Record<string, string>, res: ServerResponse): void {
    if (this.failLists.n > 0) {
      this.failLists.n--;
      return this.json(res, this.failLists.status, status(this.failLists.status, 'InternalError', 'list failed (injected)'));
    }
    const sel = parseSelector(q.fieldSelector);
    const items = [...this.pods.values()].filter(sel);
    this.json(res, 200, { kind: 'PodList', apiVersion: 'v1', metadata: { resourceVersion: String(this.rv) }, items });
  }

  private watch(q: Record<string, string>, res: ServerResponse): void {
    const sel = parseSelector(q.fieldSelector);
    const from = q.resourceVersion ? Number(q.resourceVersion) : 0;
    if (from > 0 && from < this.compactedRv) {
      if (this.goneAs === 'status') return this.json(res, 410, status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`));
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`${JSON.stringify({ type: 'ERROR', object: status(410, 'Expired', `too old resource version: ${from} (${this.compactedRv})`) })}\n`);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    res.flushHeaders();
    const w: Watcher = { res, selector: sel, bookmarks: q.allowWatchBookmarks === 'true', rv: from };
    if (from === 0) {
      for (const p of this.pods.values()) if (sel(p)) res.write(`${JSON.stringify({ type: 'ADDED', object: p })}\n`);
      w.rv = this.rv;
    } else {
      for (const e of this.history) this.deliver(w, e);
    }
    this.watchers.add(w);
    res.on('close', () => this.watchers.delete(w));
  }
}
