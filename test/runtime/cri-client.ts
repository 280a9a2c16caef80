/**
 * A CRI client for the tests and the runtime benchmark: kubelet's calls to a container runtime
 * (runtime.v1 RuntimeService over gRPC on a unix socket), with only the messages in cri.proto. Every call
 * has a deadline; answers are checked with zod before use (the runtime is another program).
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { join } from 'node:path';
import { z } from 'zod';

/** Resolved from the repository root (npm runs tests and scripts there). */
const PROTO = join(process.cwd(), 'test', 'runtime', 'cri.proto');

export interface SandboxSpec {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  hostname?: string;
  /** Host ports, as kubelet passes a pod's hostPort entries. */
  portMappings?: { protocol?: 'TCP' | 'UDP'; container_port: number; host_port: number }[];
}

/** The PodSandboxConfig kubelet would send for this pod. */
export function sandboxConfig(s: SandboxSpec): Record<string, unknown> {
  return {
    metadata: { name: s.name, uid: s.uid, namespace: s.namespace, attempt: s.attempt ?? 0 },
    hostname: s.hostname ?? s.name,
    dns_config: { servers: ['192.0.2.53'], searches: [`${s.namespace}.svc.cluster.local`], options: ['ndots:5'] },
    port_mappings: s.portMappings ?? [],
    labels: { 'io.kubernetes.pod.name': s.name, 'io.kubernetes.pod.namespace': s.namespace, 'io.kubernetes.pod.uid': s.uid, ...(s.labels ?? {}) },
    annotations: s.annotations ?? {},
  };
}

const idReply = <K extends string>(key: K): z.ZodObject<Record<K, z.ZodString>> => z.object({ [key]: z.string().min(1) } as Record<K, z.ZodString>);

const versionReply = z.object({ version: z.string(), runtime_name: z.string(), runtime_version: z.string(), runtime_api_version: z.string() });
const sandboxStatusReply = z.object({
  status: z.object({
    id: z.string(),
    state: z.string(),
    network: z.object({ ip: z.string(), additional_ips: z.array(z.object({ ip: z.string() })) }).nullable(),
    annotations: z.record(z.string(), z.string()),
  }),
  info: z.record(z.string(), z.string()),
});
const execReply = z.object({ stdout: z.instanceof(Buffer), stderr: z.instanceof(Buffer), exit_code: z.number().int() });
const listReply = z.object({ items: z.array(z.object({ id: z.string(), state: z.string(), labels: z.record(z.string(), z.string()) })) });
const statusReply = z.object({
  status: z.object({ conditions: z.array(z.object({ type: z.string(), status: z.boolean(), reason: z.string(), message: z.string() })) }).nullable(),
  info: z.record(z.string(), z.string()),
});

type Unary = (req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: unknown) => void) => void;

/** A gRPC failure of a CRI call: the method, the status name and the runtime's message. */
export class CriError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly details: string,
  ) {
    super(`CRI ${method}: ${grpc.status[code] ?? code}: ${details}`);
  }
}

export class CriClient {
  private readonly client: grpc.Client & Record<string, Unary>;

  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 60_000,
  ) {
    const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: Number, enums: String, defaults: true, arrays: true, objects: false, oneofs: false });
    const pkg = grpc.loadPackageDefinition(def) as unknown as { runtime: { v1: { RuntimeService: grpc.ServiceClientConstructor } } };
    this.client = new pkg.runtime.v1.RuntimeService(`unix://${socketPath}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & Record<string, Unary>;
  }

  private call(method: string, req: Record<string, unknown>, timeoutMs = this.timeoutMs): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const fn = this.client[method];
      if (typeof fn !== 'function') {
        reject(new Error(`CRI ${method}: not in cri.proto`));
        return;
      }
      fn.call(this.client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err) reject(new CriError(method, err.code, err.details));
        else resolve(res);
      });
    });
  }

  async version(): Promise<z.infer<typeof versionReply>> {
    return versionReply.parse(await this.call('Version', { version: 'v1' }));
  }

  async runPodSandbox(config: Record<string, unknown>, runtimeHandler = ''): Promise<string> {
    return idReply('pod_sandbox_id').parse(await this.call('RunPodSandbox', { config, runtime_handler: runtimeHandler })).pod_sandbox_id;
  }

  async stopPodSandbox(id: string): Promise<void> {
    await this.call('StopPodSandbox', { pod_sandbox_id: id });
  }

  async removePodSandbox(id: string): Promise<void> {
    await this.call('RemovePodSandbox', { pod_sandbox_id: id });
  }

  async podSandboxStatus(id: string, verbose = false): Promise<z.infer<typeof sandboxStatusReply>> {
    return sandboxStatusReply.parse(await this.call('PodSandboxStatus', { pod_sandbox_id: id, verbose }));
  }

  async listPodSandbox(labelSelector: Record<string, string> = {}): Promise<z.infer<typeof listReply>['items']> {
    return listReply.parse(await this.call('ListPodSandbox', { filter: { label_selector: labelSelector } })).items;
  }

  async createContainer(sandboxId: string, sandbox: Record<string, unknown>, name: string, image: string, command: string[]): Promise<string> {
    const config = { metadata: { name, attempt: 0 }, image: { image }, command, args: [] };
    return idReply('container_id').parse(await this.call('CreateContainer', { pod_sandbox_id: sandboxId, config, sandbox_config: sandbox })).container_id;
  }

  async startContainer(id: string): Promise<void> {
    await this.call('StartContainer', { container_id: id });
  }

  async stopContainer(id: string, timeoutSeconds = 0): Promise<void> {
    await this.call('StopContainer', { container_id: id, timeout: timeoutSeconds });
  }

  async removeContainer(id: string): Promise<void> {
    await this.call('RemoveContainer', { container_id: id });
  }

  /** Runs `cmd` in the container; stdout and stderr as text. */
  async execSync(id: string, cmd: string[], timeoutSeconds = 20): Promise<{ stdout: string; stderr: string; exitCode: number }> {
    const r = execReply.parse(await this.call('ExecSync', { container_id: id, cmd, timeout: timeoutSeconds }, (timeoutSeconds + 10) * 1000));
    return { stdout: r.stdout.toString('utf8'), stderr: r.stderr.toString('utf8'), exitCode: r.exit_code };
  }

  async status(verbose = true): Promise<z.infer<typeof statusReply>> {
    return statusReply.parse(await this.call('Status', { verbose }));
  }

  close(): void {
    this.client.close();
  }
}
