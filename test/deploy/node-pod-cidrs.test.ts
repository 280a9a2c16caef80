/** The install step reads the node's pod CIDRs from the API (in-cluster credentials) when none are given. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeLookupError, readNodePodCidrs } from '../../deploy/node-pod-cidrs.js';

const dir = mkdtempSync(join(tmpdir(), 'vcni-sa-'));
let server: Server;
let port = 0;
const seen: { path: string; auth: string }[] = [];

beforeAll(async () => {
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'ca.crt'), '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore', timeout: 30_000 });
  writeFileSync(join(dir, 'token'), 'test-token\n');
  server = createServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'ca.crt')) }, (req, res) => {
    seen.push({ path: req.url ?? '', auth: String(req.headers.authorization) });
    const nodes: Record<string, unknown> = {
      '/api/v1/nodes/dual': { spec: { podCIDRs: ['10.244.3.0/24', 'fd00:10:244:3::/64'] } },
      '/api/v1/nodes/old': { spec: { podCIDR: '10.244.4.0/24' } },
      '/api/v1/nodes/none': { spec: {} },
    };
    if (req.url === '/api/v1/nodes/denied') {
      res.writeHead(403).end('{"kind":"Status","reason":"Forbidden"}');
      return;
    }
    const n = nodes[req.url ?? ''];
    if (!n) return void res.writeHead(404).end('{}');
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(n));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const env = (): Record<string, string> => ({ KUBERNETES_SERVICE_HOST: '127.0.0.1', KUBERNETES_SERVICE_PORT: String(port) });

describe('node pod CIDRs', () => {
  test('spec.podCIDRs, with the service account token', async () => {
    await expect(readNodePodCidrs({ nodeName: 'dual', env: env(), saDir: dir })).resolves.toEqual(['10.244.3.0/24', 'fd00:10:244:3::/64']);
    expect(seen.at(-1)).toEqual({ path: '/api/v1/nodes/dual', auth: 'Bearer test-token' });
  });
  test('the older spec.podCIDR', async () => {
    await expect(readNodePodCidrs({ nodeName: 'old', env: env(), saDir: dir })).resolves.toEqual(['10.244.4.0/24']);
  });
  test.each([
    ['none', /node none has no spec\.podCIDRs/],
    ['denied', /HTTP 403 \(the ClusterRole needs get on nodes\)/],
    ['missing', /HTTP 404/],
  ])('%s: a clear error', async (node, re) => {
    const err = await readNodePodCidrs({ nodeName: node, env: env(), saDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NodeLookupError);
    expect((err as Error).message).toMatch(re);
  });
  test('outside a cluster', () => {
    expect(() => readNodePodCidrs({ nodeName: 'x', env: {}, saDir: dir })).toThrow(/not running in a cluster \(KUBERNETES_SERVICE_HOST unset\)/);
  });
});
