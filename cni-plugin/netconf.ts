/**
 * The network configuration (stdin) with zod: the fields vpp-cni reads, with their defaults; any other
 * field passes through untouched (other plugins' and runtimes' keys are not errors). Failures are code 7
 * naming the field. The skel has already checked name and cniVersion (codes 7 and 1).
 * zod/mini, not classic zod: the same checks and messages, at a fraction of the CPU to build the schemas
 * in a process that starts for every pod (docs/benchmarks.md, *Plugin start*).
 */
import * as z from 'zod/mini';
import { DEFAULT_AGENT_SOCKET } from '../contract/proto.js';
import { AnnotationsSchema } from '../contract/generated/cni-backend-zod.js';
import { CNI_CODES, CniError } from './errors.js';
import { SUPPORTED_VERSIONS } from './version.js';
import type { ActionCommand } from './context.js';

export { parseCniArgs, type CniArgs } from './cni-args.js';

export const DEFAULT_TIMEOUT_SECONDS = 60;
export const MAX_TIMEOUT_SECONDS = 3600;
/** sun_path is 108 bytes with its terminating NUL. */
export const MAX_UNIX_SOCKET_PATH = 107;

/** A plugin's executable name: looked up in CNI_PATH, so never a path. */
export const pluginTypeSchema = z
  .string({ error: 'expected a string' })
  .check(
    z.minLength(1, { error: 'must not be empty' }),
    z.refine((t: string) => !t.includes('/') && t !== '.' && t !== '..' && !/\s/.test(t), { error: 'must be a plain executable name (no "/", not "." or "..", no whitespace)' }),
  );

const stringList = z.array(z.string({ error: 'expected a string' }), { error: 'expected a list of strings' });

export const dnsSchema = z.looseObject(
  {
    nameservers: z.optional(stringList),
    domain: z.optional(z.string({ error: 'expected a string' })),
    search: z.optional(stringList),
    options: z.optional(stringList),
  },
  { error: 'expected an object' },
);

export const ipamSchema = z.looseObject({ type: pluginTypeSchema }, { error: 'expected an object with a "type"' });

export const attachmentRefSchema = z.looseObject(
  {
    containerID: z.string({ error: 'expected a string' }).check(z.minLength(1, { error: 'must not be empty' })),
    ifname: z.string({ error: 'expected a string' }).check(z.minLength(1, { error: 'must not be empty' })),
  },
  { error: 'expected an object with "containerID" and "ifname"' },
);

const objectSchema = z.record(z.string(), z.unknown(), { error: 'expected an object' });

export const netConfSchema = z.looseObject({
  cniVersion: z.enum(SUPPORTED_VERSIONS, { error: `expected one of ${SUPPORTED_VERSIONS.join(', ')}` }),
  name: z.string({ error: 'expected a string' }).check(z.minLength(1, { error: 'must not be empty' })),
  type: pluginTypeSchema,
  ipam: z.optional(ipamSchema),
  agentSocket: z._default(
    z.string({ error: 'expected a string' }).check(
      z.refine((p: string) => p.startsWith('/'), { error: 'must be an absolute path' }),
      z.refine((p: string) => Buffer.byteLength(p) <= MAX_UNIX_SOCKET_PATH, { error: `longer than ${MAX_UNIX_SOCKET_PATH} bytes (the unix socket path limit)` }),
    ),
    DEFAULT_AGENT_SOCKET,
  ),
  timeoutSeconds: z._default(
    z.number({ error: 'expected a number of seconds' }).check(z.positive({ error: 'must be more than 0' }), z.lte(MAX_TIMEOUT_SECONDS, { error: `must be at most ${MAX_TIMEOUT_SECONDS}` })),
    DEFAULT_TIMEOUT_SECONDS,
  ),
  dns: z.optional(dnsSchema),
  prevResult: z.optional(objectSchema),
  runtimeConfig: z.optional(objectSchema),
  capabilities: z.optional(objectSchema),
  args: z.optional(objectSchema),
  'cni.dev/valid-attachments': z.optional(z.array(attachmentRefSchema, { error: 'expected a list of {containerID, ifname}' })),
  /** The name an earlier libcni used for the same list; read when the right one is absent. */
  'cni.dev/attachments': z.optional(z.array(attachmentRefSchema, { error: 'expected a list of {containerID, ifname}' })),
});

export type NetConf = z.infer<typeof netConfSchema>;
export type Dns = z.infer<typeof dnsSchema>;
export interface AttachmentRef {
  containerID: string;
  ifname: string;
}

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : `${out ? '.' : ''}${String(p)}`;
  return out || '(root)';
}

/** Turns zod issues into one CniError 7: msg names the first field, details list all of them. */
export function configError(error: z.core.$ZodError, prefix = ''): CniError {
  const issues = error.issues.map((i) => `${prefix}${fieldPath(i.path)}: ${i.message}`);
  return new CniError(CNI_CODES.invalidNetworkConfig, `invalid network configuration: ${issues[0] ?? 'invalid'}`, issues.length > 1 ? issues.join('; ') : '');
}

/** Validates the configuration for a command; throws CniError 7 naming the field. */
export function parseNetConf(raw: Record<string, unknown>, command: ActionCommand): NetConf {
  const r = netConfSchema.safeParse(raw);
  if (!r.success) throw configError(r.error);
  const conf = r.data;
  if ((command === 'ADD' || command === 'DEL' || command === 'CHECK') && !conf.ipam) {
    throw new CniError(CNI_CODES.invalidNetworkConfig, 'invalid network configuration: ipam: required (an object whose "type" names the IPAM plugin, e.g. host-local)');
  }
  return conf;
}

/** GC's list of attachments still in use; a GC without one is refused (it would remove everything). */
export function validAttachments(conf: NetConf): AttachmentRef[] {
  const list = conf['cni.dev/valid-attachments'] ?? conf['cni.dev/attachments'];
  if (!list) {
    throw new CniError(CNI_CODES.invalidNetworkConfig, 'invalid network configuration: cni.dev/valid-attachments: required for GC');
  }
  return list.map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
}

/** The runtimeConfig key under which containerd and CRI-O pass all of the pod's annotations. */
export const POD_ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';
/** Kubernetes' own bound on all of a pod's annotations together (keys and values, in bytes). */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

const podAnnotationsSchema = AnnotationsSchema.shape.entries.check(
  z.refine((m: Record<string, string>) => Object.entries(m).reduce((n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v), 0) <= MAX_ANNOTATIONS_BYTES, {
    error: `more than ${MAX_ANNOTATIONS_BYTES} bytes (the Kubernetes limit)`,
  }),
);

/**
 * The pod's annotations the runtime passed (the conflist declares the capability), or undefined when it
 * passed none: the agent then looks the pod up itself. Checked at ADD only (DEL must not fail on them).
 */
export function runtimeAnnotations(conf: NetConf): Record<string, string> | undefined {
  const raw = conf.runtimeConfig?.[POD_ANNOTATIONS_CAPABILITY];
  if (raw === undefined) return undefined;
  const r = podAnnotationsSchema.safeParse(raw);
  if (!r.success) {
    const issues = r.error.issues.map((i) => `runtimeConfig["${POD_ANNOTATIONS_CAPABILITY}"]${i.path.map((p) => `[${JSON.stringify(String(p))}]`).join('')}: ${i.message}`);
    throw new CniError(CNI_CODES.invalidNetworkConfig, `invalid network configuration: ${issues[0]}`, issues.length > 1 ? issues.join('; ') : '');
  }
  return r.data;
}
