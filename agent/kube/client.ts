/**
 * Kubernetes API access with node:http(s) alone: where the config comes from (a kubeconfig file, else the
 * in-cluster service account), a JSON request bounded by a timeout, and a watch stream (one JSON event per
 * line). The agent needs four calls (list/watch pods of its node, get one pod, create and patch Events):
 * a full client library costs ~70 MiB of RSS for them (docs/benchmarks.md, *Agent memory*).
 *
 * Authentication: a bearer token (inline, or a file re-read when it changes: the service account's token
 * is rotated), or a client certificate; TLS verified against the cluster's CA unless the kubeconfig says
 * insecure-skip-tls-verify. exec and auth-provider users are refused with a clear error.
 * Everything read back (kubeconfig, API answers) is checked with zod before use.
 */
import { readFileSync, statSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

export class KubeConfigError extends Error {
  override readonly name = 'KubeConfigError';
}

/** An answer of the API server with a status other than 2xx. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    /** The Status object's message, when the body was one. */
    readonly apiMessage: string,
  ) {
    super(`HTTP ${status}${apiMessage ? `: ${apiMessage}` : ''}`);
  }
}

/** What a connection to the API server needs. */
export interface KubeEndpoint {
  /** https://host:port (http:// for tests). */
  server: string;
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  token?: string;
  tokenFile?: string;
  insecureSkipTlsVerify?: boolean;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A watch line longer than this is an error (a pod object is a few KiB). */
const MAX_LINE = 16 * 1024 * 1024;

const clusterSchema = z.object({
  server: z.string().min(1),
  'certificate-authority': z.string().optional(),
  'certificate-authority-data': z.string().optional(),
  'insecure-skip-tls-verify': z.boolean().optional(),
});
const userSchema = z.object({
  token: z.string().optional(),
  tokenFile: z.string().optional(),
  'client-certificate': z.string().optional(),
  'client-certificate-data': z.string().optional(),
  'client-key': z.string().optional(),
  'client-key-data': z.string().optional(),
  exec: z.unknown().optional(),
  'auth-provider': z.unknown().optional(),
});
const kubeconfigSchema = z.object({
  clusters: z.array(z.object({ name: z.string(), cluster: clusterSchema })).default([]),
  users: z.array(z.object({ name: z.string(), user: userSchema.nullish() })).default([]),
  contexts: z.array(z.object({ name: z.string(), context: z.object({ cluster: z.string(), user: z.string().optional() }) })).default([]),
  'current-context': z.string().optional(),
});

/** A kubeconfig's text (YAML or JSON) → the endpoint of its current context; file paths relative to `baseDir`. */
export function parseKubeconfig(text: string, baseDir: string): KubeEndpoint {
  const r = kubeconfigSchema.safeParse(parseYaml(text));
  if (!r.success) throw new KubeConfigError(`not a kubeconfig: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  const cfg = r.data;
  const ctxName = cfg['current-context'];
  const ctx = cfg.contexts.find((c) => c.name === ctxName)?.context;
  if (!ctx) throw new KubeConfigError(`no current cluster (current-context "${ctxName ?? ''}")`);
  const cluster = cfg.clusters.find((c) => c.name === ctx.cluster)?.cluster;
  if (!cluster) throw new KubeConfigError(`no current cluster (context "${ctxName}" names cluster "${ctx.cluster}", which is not defined)`);
  const user = (ctx.user ? cfg.users.find((u) => u.name === ctx.user)?.user : undefined) ?? {};
  if (user.exec !== undefined || user['auth-provider'] !== undefined) {
    throw new KubeConfigError(`user "${ctx.user}": exec and auth-provider credentials are not supported by the agent; use a token, a token file or a client certificate`);
  }
  const file = (p: string): Buffer => readFileSync(isAbsolute(p) ? p : join(baseDir, p));
  const data = (inline: string | undefined, path: string | undefined): Buffer | undefined =>
    inline !== undefined ? Buffer.from(inline, 'base64') : path !== undefined ? file(path) : undefined;
  const ep: KubeEndpoint = { server: cluster.server };
  const ca = data(cluster['certificate-authority-data'], cluster['certificate-authority']);
  const cert = data(user['client-certificate-data'], user['client-certificate']);
  const key = data(user['client-key-data'], user['client-key']);
  if (ca) ep.ca = ca;
  if (cert) ep.cert = cert;
  if (key) ep.key = key;
  if (user.token) ep.token = user.token;
  if (user.tokenFile) ep.tokenFile = isAbsolute(user.tokenFile) ? user.tokenFile : join(baseDir, user.tokenFile);
  if (cluster['insecure-skip-tls-verify']) ep.insecureSkipTlsVerify = true;
  return ep;
}

/** From `kubeconfig` when given (KUBECONFIG / --kubeconfig), else the in-cluster config. */
export function loadKubeConfig(kubeconfig: string | undefined, env: Readonly<Record<string, string | undefined>> = process.env, saDir = SA_DIR): KubeClient {
  if (kubeconfig) {
    try {
      return new KubeClient(parseKubeconfig(readFileSync(kubeconfig, 'utf8'), dirname(kubeconfig)));
    } catch (e) {
      throw new KubeConfigError(`KUBECONFIG ${kubeconfig}: ${(e as Error).message}`);
    }
  }
  const host = env.KUBERNETES_SERVICE_HOST;
  if (!host) {
    throw new KubeConfigError('no Kubernetes API: not in a cluster (KUBERNETES_SERVICE_HOST unset) and no KUBECONFIG; give KUBECONFIG, or --pods-file to run without Kubernetes');
  }
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  try {
    return new KubeClient({
      server: `https://${host.includes(':') ? `[${host}]` : host}:${port}`,
      ca: readFileSync(join(saDir, 'ca.crt')),
      tokenFile: join(saDir, 'token'),
    });
  } catch (e) {
    throw new KubeConfigError(`in-cluster config: ${(e as Error).message}`);
  }
}

export interface RequestOptions {
  query?: Record<string, string>;
  body?: unknown;
  contentType?: string;
  timeoutMs: number;
}

export interface WatchOptions {
  query: Record<string, string>;
  /** Aborts the stream (the promise then resolves). */
  signal: AbortSignal;
  /** Bounds the wait for the response headers. */
  connectTimeoutMs: number;
  /** Each line, parsed as JSON (unchecked: the caller validates). */
  onEvent: (event: unknown) => void;
}

/** The API server's Status object, for error messages. */
const statusBody = z.object({ message: z.string().optional() }).passthrough();

/** One API server, its credentials, and its connection agent (no keep-alive: the watch holds its own connection, the other calls are rare). */
export class KubeClient {
  private readonly agent: http.Agent;
  private readonly url: URL;
  private token: { value: string; mtimeMs: number; checkedAt: number } | undefined;

  constructor(readonly endpoint: KubeEndpoint) {
    this.url = new URL(endpoint.server);
    const tls = this.url.protocol === 'https:';
    this.agent = tls
      ? new https.Agent({
          keepAlive: false,
          ...(endpoint.ca ? { ca: endpoint.ca } : {}),
          ...(endpoint.cert ? { cert: endpoint.cert } : {}),
          ...(endpoint.key ? { key: endpoint.key } : {}),
          rejectUnauthorized: !endpoint.insecureSkipTlsVerify,
        })
      : new http.Agent({ keepAlive: false });
  }

  /** The bearer token: inline, or the token file (re-read when it changed, looked at most every 10 s). */
  private bearer(): string | undefined {
    if (this.endpoint.token) return this.endpoint.token;
    const f = this.endpoint.tokenFile;
    if (!f) return undefined;
    const now = Date.now();
    if (this.token && now - this.token.checkedAt < 10_000) return this.token.value;
    const mtimeMs = statSync(f).mtimeMs;
    if (!this.token || this.token.mtimeMs !== mtimeMs) this.token = { value: readFileSync(f, 'utf8').trim(), mtimeMs, checkedAt: now };
    else this.token.checkedAt = now;
    return this.token.value;
  }

  private open(method: string, path: string, query: Record<string, string> | undefined, headers: Record<string, string>, signal: AbortSignal): http.ClientRequest {
    const qs = query && Object.keys(query).length ? `?${new URLSearchParams(query).toString()}` : '';
    const token = this.bearer();
    const opts: http.RequestOptions = {
      method,
      host: this.url.hostname.replace(/^\[|\]$/g, ''),
      port: this.url.port || (this.url.protocol === 'https:' ? 443 : 80),
      path: `${this.url.pathname.replace(/\/$/, '')}${path}${qs}`,
      agent: this.agent,
      headers: { Accept: 'application/json', ...(token ? { Authorization: `Bearer ${token}` } : {}), ...headers },
      signal,
    };
    return (this.url.protocol === 'https:' ? https : http).request(opts);
  }

  /** One request; resolves with the parsed JSON body of a 2xx answer, rejects with KubeApiError otherwise. */
  request(method: string, path: string, o: RequestOptions): Promise<unknown> {
    const signal = AbortSignal.timeout(o.timeoutMs);
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    return new Promise((resolve, reject) => {
      let req: http.ClientRequest;
      try {
        req = this.open(method, path, o.query, body === undefined ? {} : { 'Content-Type': o.contentType ?? 'application/json', 'Content-Length': String(Buffer.byteLength(body)) }, signal);
      } catch (e) {
        reject(e as Error);
        return;
      }
      req.on('error', (e) => reject(signal.aborted ? Object.assign(new Error('timeout'), { name: 'TimeoutError' }) : e));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('error', (e) => reject(signal.aborted ? Object.assign(new Error('timeout'), { name: 'TimeoutError' }) : e));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = text ? JSON.parse(text) : undefined;
          } catch {
            json = undefined;
          }
          const status = res.statusCode ?? 0;
          if (status >= 200 && status < 300) return resolve(json);
          const s = statusBody.safeParse(json);
          reject(new KubeApiError(status, s.success ? (s.data.message ?? '') : text.slice(0, 200)));
        });
      });
      req.end(body);
    });
  }

  /**
   * A watch: resolves when the server ends the stream or `signal` aborts it; rejects with KubeApiError
   * for a non-2xx answer, or with the transport error (refused, reset, no headers in time).
   */
  watch(path: string, o: WatchOptions): Promise<void> {
    return new Promise((resolve, reject) => {
      let settled = false;
      const done = (e?: Error): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (e && !o.signal.aborted) reject(e);
        else resolve();
      };
      let req: http.ClientRequest;
      try {
        req = this.open('GET', path, { ...o.query, watch: 'true' }, {}, o.signal);
      } catch (e) {
        reject(e as Error);
        return;
      }
      const timer = setTimeout(() => {
        req.destroy();
        done(Object.assign(new Error('timeout'), { name: 'TimeoutError' }));
      }, o.connectTimeoutMs);
      req.on('error', (e) => done(e));
      req.on('response', (res) => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status < 200 || status >= 300) {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('error', (e) => done(e));
          res.on('end', () => {
            let msg = '';
            try {
              const s = statusBody.safeParse(JSON.parse(Buffer.concat(chunks).toString('utf8')));
              msg = s.success ? (s.data.message ?? '') : '';
            } catch {
              msg = '';
            }
            done(new KubeApiError(status, msg));
          });
          return;
        }
        const lines = createInterface({ input: res, crlfDelay: Infinity });
        lines.on('line', (line) => {
          if (settled || line.trim() === '') return;
          if (line.length > MAX_LINE) {
            done(new Error(`watch line longer than ${MAX_LINE} bytes`));
            res.destroy();
            return;
          }
          let ev: unknown;
          try {
            ev = JSON.parse(line);
          } catch (e) {
            done(new Error(`watch event is not JSON: ${(e as Error).message}`)); // settled before the destroy's own events
            res.destroy();
            return;
          }
          try {
            o.onEvent(ev);
          } catch (e) {
            done(e as Error);
            res.destroy();
          }
        });
        // 'aborted' / 'error': the connection was cut mid-stream (readline forwards the input's errors)
        res.on('error', (e) => done(e));
        lines.on('error', (e) => done(e));
        res.on('aborted', () => done(new Error('watch connection cut')));
        lines.on('close', () => (res.complete ? done() : done(new Error('watch connection cut'))));
      });
      req.end();
    });
  }

  close(): void {
    this.agent.destroy();
  }
}

/** The HTTP status of an API error (404, 409, 410...), or undefined for transport errors. */
export function statusOf(e: unknown): number | undefined {
  if (e instanceof KubeApiError) return e.status;
  const c = (e as { statusCode?: unknown } | undefined)?.statusCode;
  return typeof c === 'number' ? c : undefined;
}

/** One line for a failed API call: timeouts and transport errors named as such. */
export function describeKubeError(e: unknown, timeoutMs?: number): string {
  const err = e as Error & { code?: unknown };
  if (err?.name === 'AbortError' || err?.name === 'TimeoutError') return `no answer within ${timeoutMs ?? '?'} ms`;
  return err?.message ?? String(e);
}
