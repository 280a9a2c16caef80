/**
 * The agent's attachments: the CNI operations on top of the pod-interface layer.
 * Operations on one container are serialized; different pods run concurrently. ADD of an existing
 * (container, ifname) returns the existing result; DEL of an unknown one succeeds; GC removes the
 * attachments missing from the runtime's valid list.
 */
import { CNI_CODES } from '../../contract/types.js';
import { attachmentKey, describeAttachment, type AttachRequest, type AttachResult, type AttachmentRecord, type PodRef } from '../pod/attachment.js';
import type { PodNetwork } from '../pod/pod-network.js';
import type { PodSource } from '../pods/pod-source.js';
import { CniFailure } from './cni-error.js';
import { KeyedMutex } from './keyed-mutex.js';

export interface AttachmentStore {
  all(): AttachmentRecord[];
  get(key: string): AttachmentRecord | undefined;
  /** Records a committed ADD (durably, when the store is a checkpoint). */
  put(rec: AttachmentRecord): Promise<void>;
  /** Forgets a committed DEL. */
  delete(key: string): Promise<void>;
}

export class MemoryStore implements AttachmentStore {
  private readonly map = new Map<string, AttachmentRecord>();
  all(): AttachmentRecord[] {
    return [...this.map.values()];
  }
  get(key: string): AttachmentRecord | undefined {
    return this.map.get(key);
  }
  put(rec: AttachmentRecord): Promise<void> {
    this.map.set(attachmentKey(rec.containerId, rec.ifName), rec);
    return Promise.resolve();
  }
  delete(key: string): Promise<void> {
    this.map.delete(key);
    return Promise.resolve();
  }
}

export interface ManagerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface AttachmentManagerOptions {
  network: PodNetwork;
  pods: PodSource;
  store: AttachmentStore;
  log: ManagerLogger;
  /** Why ADD cannot be served now (VPP not connected, recovering), or undefined when it can. */
  notReady: () => string | undefined;
  podLookupTimeoutMs?: number;
}

export interface AddInput {
  containerId: string;
  ifName: string;
  netns: string;
  pod: PodRef;
  ips: AttachRequest['ips'];
  routes: AttachRequest['routes'];
}

export interface AttachmentKeyInput {
  containerId: string;
  ifName: string;
  netns: string;
  pod: PodRef;
}

export class AttachmentManager {
  private readonly lock = new KeyedMutex();

  constructor(private readonly o: AttachmentManagerOptions) {}

  get records(): AttachmentRecord[] {
    return this.o.store.all();
  }

  private fields(a: { containerId: string; ifName: string; pod: PodRef }): object {
    return { namespace: a.pod.namespace, pod: a.pod.name, containerID: a.containerId, ifname: a.ifName };
  }

  async add(input: AddInput): Promise<AttachResult> {
    return this.lock.run(input.containerId, async () => {
      const key = attachmentKey(input.containerId, input.ifName);
      const existing = this.o.store.get(key);
      if (existing) {
        this.o.log.info({ ...this.fields(input), step: 'add' }, 'ADD for an existing attachment: returning its result');
        return existing.result;
      }
      const why = this.o.notReady();
      if (why) throw new CniFailure(CNI_CODES.tryAgainLater, `${describeAttachment(input)}: agent not ready: ${why}; try again later`);
      const t0 = Date.now();
      const pod = await this.o.pods.getPod(input.pod.namespace, input.pod.name, this.o.podLookupTimeoutMs ?? 5000);
      if (!pod && input.pod.name) this.o.log.warn({ ...this.fields(input), step: 'annotations' }, 'pod not known to the pod source: no annotations applied');
      const req: AttachRequest = { ...input, annotations: pod?.annotations ?? {} };
      try {
        const rec = await this.o.network.add(req);
        await this.o.store.put(rec);
        this.o.log.info({ ...this.fields(input), step: 'add', durationMs: Date.now() - t0, kind: rec.kind, memif: rec.objects.memif?.socketName, vcl: !!rec.objects.vcl }, 'pod network added');
        return rec.result;
      } catch (e) {
        this.o.log.error({ ...this.fields(input), step: 'add', durationMs: Date.now() - t0, err: (e as Error).message }, 'pod network setup failed');
        throw e;
      }
    });
  }

  async del(a: AttachmentKeyInput): Promise<void> {
    return this.lock.run(a.containerId, async () => {
      const key = attachmentKey(a.containerId, a.ifName);
      const rec = this.o.store.get(key);
      if (!rec) {
        this.o.log.info({ ...this.fields(a), step: 'del' }, 'DEL of an unknown attachment: nothing to do');
        return;
      }
      const t0 = Date.now();
      await this.o.network.del(rec);
      await this.o.store.delete(key);
      this.o.log.info({ ...this.fields(rec), step: 'del', durationMs: Date.now() - t0 }, 'pod network removed');
    });
  }

  async check(a: AttachmentKeyInput): Promise<void> {
    return this.lock.run(a.containerId, async () => {
      const rec = this.o.store.get(attachmentKey(a.containerId, a.ifName));
      if (!rec) throw new CniFailure(CNI_CODES.unknownContainer, `${describeAttachment(a)}: no such attachment on this node`);
      const problems = await this.o.network.check(rec);
      if (problems.length > 0) {
        throw new CniFailure(CNI_CODES.vppFailure, `${describeAttachment(rec)}: CHECK failed: ${problems.map((p) => `${p.object}: ${p.problem}`).join('; ')}`);
      }
    });
  }

  /** Removes every attachment not in `valid` (keys container/ifname). Returns how many were removed. */
  async gc(valid: { containerId: string; ifName: string }[]): Promise<number> {
    const keep = new Set(valid.map((v) => attachmentKey(v.containerId, v.ifName)));
    let removed = 0;
    const failures: string[] = [];
    for (const rec of this.o.store.all()) {
      if (keep.has(attachmentKey(rec.containerId, rec.ifName))) continue;
      try {
        await this.del(rec);
        removed++;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    this.o.log.info({ step: 'gc', removed, failed: failures.length }, 'garbage collection done');
    if (failures.length > 0) throw new CniFailure(CNI_CODES.tryAgainLater, `GC removed ${removed}, failed: ${failures.join('; ')}`);
    return removed;
  }
}
