/**
 * agent/kube/client.ts: kubeconfig and in-cluster config, the credentials a request carries (a token file
 * re-read when it is rotated), API errors, and the watch stream's framing.
 */
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeApiError, KubeClient, KubeConfigError, describeKubeError, loadKubeConfig, parseKubeconfig, statusOf } from '../../agent/kube/client.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpp-cni-kubeclient-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const kubeconfig = (user: Record<string, unknown>, cluster: Record<string, unknown> = {}): string =>
  JSON.stringify({
    clusters: [{ name: 'c', cluster: { server: 'https://10.0.0.1:6443', ...cluster } }],
    users: [{ name: 'u', user }],
    contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
    'current-context': 'x',
  });

describe('kubeconfig', () => {
  test('token, CA data, client certificate files relative to the kubeconfig', () => {
    writeFileSync(join(dir, 'cert.pem'), 'CERT');
    writeFileSync(join(dir, 'key.pem'), 'KEY');
    const ep = parseKubeconfig(kubeconfig({ token: 't0k', 'client-certificate': 'cert.pem', 'client-key': 'key.pem' }, { 'certificate-authority-data': Buffer.from('CA').toString('base64') }), dir);
    expect(ep.server).toBe('https://10.0.0.1:6443');
    expect(ep.token).toBe('t0k');
    expect(ep.ca?.toString()).toBe('CA');
    expect(ep.cert?.toString()).toBe('CERT');
    expect(ep.key?.toString()).toBe('KEY');
    expect(ep.insecureSkipTlsVerify).toBeUndefined();
  });

  test('YAML works too; tokenFile is resolved against the kubeconfig directory', () => {
    const yaml = [
      'apiVersion: v1',
      'kind: Config',
      'clusters: [{name: c, cluster: {server: "https://k:443", insecure-skip-tls-verify: true}}]',
      'users: [{name: u, user: {tokenFile: tok}}]',
      'contexts: [{name: x, context: {cluster: c, user: u}}]',
      'current-context: x',
    ].join('\n');
    const ep = parseKubeconfig(yaml, dir);
    expect(ep).toEqual({ server: 'https://k:443', tokenFile: join(dir, 'tok'), insecureSkipTlsVerify: true });
  });

  test('exec credentials, a missing context and a file that is no kubeconfig are one clear line each', () => {
    expect(() => parseKubeconfig(kubeconfig({ exec: { command: 'aws' } }), dir)).toThrow(
      'user "u": exec and auth-provider credentials are not supported by the agent; use a token, a token file or a client certificate',
    );
    expect(() => parseKubeconfig(JSON.stringify({ clusters: [], 'current-context': 'nope' }), dir)).toThrow('no current cluster (current-context "nope")');
    expect(() => parseKubeconfig('clusters: 3', dir)).toThrow(/^not a kubeconfig: clusters: /);
    writeFileSync(join(dir, 'kc'), 'clusters: 3');
    expect(() => loadKubeConfig(join(dir, 'kc'), {})).toThrow(KubeConfigError);
    expect(() => loadKubeConfig(join(dir, 'kc'), {})).toThrow(new RegExp(`^KUBECONFIG ${join(dir, 'kc')}: not a kubeconfig`));
  });

  test('in-cluster: the service host and port, the service account CA and token file', () => {
    writeFileSync(join(dir, 'ca.crt'), 'CA');
    writeFileSync(join(dir, 'token'), 'sa-token');
    const c = loadKubeConfig(undefined, { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' }, dir);
    expect(c.endpoint.server).toBe('https://[fd00::1]:6443');
    expect(c.endpoint.ca?.toString()).toBe('CA');
    expect(c.endpoint.tokenFile).toBe(join(dir, 'token'));
    expect(() => loadKubeConfig(undefined, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, join(dir, 'none'))).toThrow(/^in-cluster config: .*ENOENT/);
  });
});

describe('requests', () => {
  let server: Server;
  let url: string;
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  const seen: { method: string; url: string; auth: string | undefined; type: string | undefined; body: string }[] = [];

  beforeEach(async () => {
    seen.length = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', url: req.url ?? '', auth: req.headers.authorization, type: req.headers['content-type'], body });
        handler(req, res);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  test('JSON in and out, the bearer token from a file, re-read once it is rotated', async () => {
    handler = (_req, res) => res.end('{"ok":true}');
    const tok = join(dir, 'token');
    writeFileSync(tok, 'one\n');
    const c = new KubeClient({ server: url, tokenFile: tok });
    expect(await c.request('PATCH', '/api/v1/namespaces/n/events/e', { body: [{ op: 'add' }], contentType: 'application/json-patch+json', query: { a: 'b c' }, timeoutMs: 5000 })).toEqual({ ok: true });
    expect(seen[0]).toEqual({ method: 'PATCH', url: '/api/v1/namespaces/n/events/e?a=b+c', auth: 'Bearer one', type: 'application/json-patch+json', body: '[{"op":"add"}]' });
    writeFileSync(tok, 'two\n');
    utimesSync(tok, new Date(), new Date(Date.now() + 60_000));
    // looked at again at most every 10 s: a new client sees the new token at once
    await new KubeClient({ server: url, tokenFile: tok }).request('GET', '/x', { timeoutMs: 5000 });
    expect(seen[1]!.auth).toBe('Bearer two');
  });

  test('an error status carries the Status message; a slow answer is a timeout', async () => {
    handler = (_req, res) => {
      res.statusCode = 404;
      res.end('{"kind":"Status","message":"pods \\"p\\" not found","code":404}');
    };
    const c = new KubeClient({ server: url });
    const e = await c.request('GET', '/api/v1/namespaces/n/pods/p', { timeoutMs: 5000 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(KubeApiError);
    expect(statusOf(e)).toBe(404);
    expect(describeKubeError(e)).toBe('HTTP 404: pods "p" not found');
    handler = () => undefined; // never answers
    const t = await c.request('GET', '/slow', { timeoutMs: 100 }).catch((x: unknown) => x);
    expect(describeKubeError(t, 100)).toBe('no answer within 100 ms');
  });

  test('watch: one event per line, across chunk boundaries; the end of the stream resolves it', async () => {
    handler = (_req, res) => {
      res.write('{"type":"ADDED","obj');
      res.write('ect":{"n":1}}\n{"type":"BOOK');
      res.end('MARK","object":{}}\n');
    };
    const events: unknown[] = [];
    await new KubeClient({ server: url }).watch('/api/v1/pods', { query: { fieldSelector: 'spec.nodeName=n' }, signal: new AbortController().signal, connectTimeoutMs: 5000, onEvent: (e) => events.push(e) });
    expect(events).toEqual([{ type: 'ADDED', object: { n: 1 } }, { type: 'BOOKMARK', object: {} }]);
    expect(seen[0]!.url).toBe('/api/v1/pods?fieldSelector=spec.nodeName%3Dn&watch=true');
  });

  test('watch: a line that is not JSON fails it; an aborted watch resolves', async () => {
    handler = (_req, res) => res.end('not json\n');
    const c = new KubeClient({ server: url });
    await expect(c.watch('/w', { query: {}, signal: new AbortController().signal, connectTimeoutMs: 5000, onEvent: () => undefined })).rejects.toThrow(/^watch event is not JSON/);
    handler = (_req, res) => res.write('{"type":"ADDED","object":{}}\n'); // stays open
    const ac = new AbortController();
    const w = c.watch('/w', { query: {}, signal: ac.signal, connectTimeoutMs: 5000, onEvent: () => ac.abort() });
    await expect(w).resolves.toBeUndefined();
  });
});
