/**
 * The node's pod CIDRs from the Kubernetes API, with the pod's service-account credentials (in-cluster
 * config): GET /api/v1/nodes/<NODE_NAME>, `spec.podCIDRs` (or the older single `spec.podCIDR`). Needs
 * RBAC `get` on nodes. Bounded by a timeout; every failure is an error naming what to check.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { z } from 'zod';

export const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

const nodeSchema = z.object({
  spec: z.object({ podCIDRs: z.array(z.string()).optional(), podCIDR: z.string().optional() }).passthrough().default({}),
});

export class NodeLookupError extends Error {
  override readonly name = 'NodeLookupError';
}

export interface NodeLookupOptions {
  nodeName: string;
  env: Readonly<Record<string, string | undefined>>;
  saDir?: string;
  timeoutMs?: number;
}

export function readNodePodCidrs(o: NodeLookupOptions): Promise<string[]> {
  const host = o.env.KUBERNETES_SERVICE_HOST;
  const port = o.env.KUBERNETES_SERVICE_PORT ?? '443';
  if (!host) throw new NodeLookupError('no pod CIDRs given (VPPCNI_POD_CIDRS or VPPCNI_IPAM) and not running in a cluster (KUBERNETES_SERVICE_HOST unset)');
  const dir = o.saDir ?? SA_DIR;
  let token: string;
  let ca: Buffer;
  try {
    token = readFileSync(`${dir}/token`, 'utf8').trim();
    ca = readFileSync(`${dir}/ca.crt`);
  } catch (e) {
    throw new NodeLookupError(`cannot read the service account credentials in ${dir}: ${(e as Error).message}`);
  }
  const timeoutMs = o.timeoutMs ?? 10_000;
  const path = `/api/v1/nodes/${encodeURIComponent(o.nodeName)}`;
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, method: 'GET', ca, headers: { Authorization: `Bearer ${token}`, Accept: 'application/json' }, timeout: timeoutMs }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          const hint = res.statusCode === 403 ? ' (the ClusterRole needs get on nodes)' : '';
          return reject(new NodeLookupError(`GET ${path}: HTTP ${res.statusCode}${hint}: ${body.slice(0, 200)}`));
        }
        try {
          const n = nodeSchema.parse(JSON.parse(body));
          const cidrs = n.spec.podCIDRs?.length ? n.spec.podCIDRs : n.spec.podCIDR ? [n.spec.podCIDR] : [];
          if (cidrs.length === 0) return reject(new NodeLookupError(`node ${o.nodeName} has no spec.podCIDRs (is the controller manager allocating node CIDRs?): set install.podCidrs or install.ipam`));
          resolve(cidrs);
        } catch (e) {
          reject(new NodeLookupError(`GET ${path}: unexpected answer: ${(e as Error).message}`));
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => reject(new NodeLookupError(`GET https://${host}:${port}${path}: ${e.message}`)));
    req.end();
  });
}
