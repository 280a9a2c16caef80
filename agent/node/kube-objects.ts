/**
 * The parts of Kubernetes Nodes, Services and EndpointSlices (discovery/v1) the node dataplane reads, as zod
 * schemas: every object from the API server goes through them before anything uses it. Unknown fields pass
 * through untouched (the API grows); wrong types fail with a message naming the object.
 */
import { z } from 'zod';

const metadata = z.looseObject({
  name: z.string().min(1),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  labels: z.record(z.string(), z.string()).nullish(),
  annotations: z.record(z.string(), z.string()).nullish(),
  deletionTimestamp: z.unknown().optional(),
});

export const nodeSchema = z.looseObject({
  metadata,
  spec: z.looseObject({ podCIDR: z.string().nullish(), podCIDRs: z.array(z.string()).nullish() }).nullish(),
  status: z
    .looseObject({
      addresses: z.array(z.looseObject({ type: z.string(), address: z.string() })).nullish(),
    })
    .nullish(),
});
export type KubeNode = z.infer<typeof nodeSchema>;

const intOrString = z.union([z.number().int(), z.string()]);

export const servicePortSchema = z.looseObject({
  name: z.string().nullish(),
  protocol: z.string().nullish(),
  port: z.number().int().min(1).max(65535),
  targetPort: intOrString.nullish(),
  nodePort: z.number().int().nullish(),
});

export const serviceSchema = z.looseObject({
  metadata: metadata.extend({ namespace: z.string().min(1) }),
  spec: z
    .looseObject({
      type: z.string().nullish(),
      clusterIP: z.string().nullish(),
      clusterIPs: z.array(z.string()).nullish(),
      externalIPs: z.array(z.string()).nullish(),
      ports: z.array(servicePortSchema).nullish(),
      sessionAffinity: z.string().nullish(),
      internalTrafficPolicy: z.string().nullish(),
      externalName: z.string().nullish(),
    })
    .nullish(),
});
export type KubeService = z.infer<typeof serviceSchema>;

export const endpointSchema = z.looseObject({
  addresses: z.array(z.string()),
  conditions: z.looseObject({ ready: z.boolean().nullish(), serving: z.boolean().nullish(), terminating: z.boolean().nullish() }).nullish(),
  nodeName: z.string().nullish(),
  zone: z.string().nullish(),
});

export const endpointSliceSchema = z.looseObject({
  metadata: metadata.extend({ namespace: z.string().min(1) }),
  addressType: z.string(),
  endpoints: z.array(endpointSchema).nullish(),
  ports: z.array(z.looseObject({ name: z.string().nullish(), port: z.number().int().nullish(), protocol: z.string().nullish() })).nullish(),
});
export type KubeEndpointSlice = z.infer<typeof endpointSliceSchema>;

/** The label naming an EndpointSlice's Service. */
export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name';

export function keyOf(o: { metadata: { name: string; namespace?: string | undefined } }): string {
  return o.metadata.namespace ? `${o.metadata.namespace}/${o.metadata.name}` : o.metadata.name;
}

/** `namespace/service` an EndpointSlice belongs to, or undefined without the label. */
export function sliceServiceKey(s: KubeEndpointSlice): string | undefined {
  const svc = s.metadata.labels?.[SERVICE_NAME_LABEL];
  return svc ? `${s.metadata.namespace}/${svc}` : undefined;
}

/** Parses with a schema; the error names the kind and object. */
export function parseKube<T>(schema: z.ZodType<T>, kind: string, raw: unknown): { ok: true; value: T } | { ok: false; error: string } {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const m = (raw as { metadata?: { name?: unknown; namespace?: unknown } } | null)?.metadata;
  const name = typeof m?.name === 'string' ? (typeof m.namespace === 'string' ? `${m.namespace}/${m.name}` : m.name) : '(unnamed)';
  return { ok: false, error: `${kind} ${name}: ${r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ')}` };
}
