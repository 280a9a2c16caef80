/**
 * The agent's attachments: the CNI operations on top of the pod-interface layer.
 * Operations on one container are serialized; different pods run concurrently. ADD of an existing
 * (container, ifname) returns the existing result; DEL of an unknown one succeeds; GC removes the
 * attachments missing from the runtime's valid list.
 */
import { CNI_CODES } from '../../contract/types.js';
import { ANNOTATION_PREFIX, type PortRange } from '../pod/annotations.js';
import { attachmentKey, describeAttachment, type AttachRequest, type AttachResult, type PodRef } from '../pod/attachment.js';
import type { AttachmentRecord, AttachmentStore } from '../pod/record.js';
import { diffAttachment, formatPortRange, type PblUpdateResult } from '../pod/pbl-update.js';
import type { PodNetwork } from '../pod/pod-network.js';
import type { PodInfo, PodSource } from '../pod-info/source.js';
import { classifyPodError, errorLogFields, type PodWarningReason } from '../observability/pod-errors.js';
import { CniFailure } from './cni-error.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Logger } from '../../lib/logger.js';

/**
 * The state layer (agent/state): records whose VPP objects are not trusted (agent start before the
 * reconcile, VPP restart before the re-creation) are not handed to VPP by index; GC also sweeps orphans.
 */
export interface AttachmentStateHooks {
  isStale(rec: AttachmentRecord): boolean;
  /** DEL of a stale record: the Linux side only (VPP leftovers go to the sweep). */
  deleteStale(rec: AttachmentRecord): Promise<void>;
  /** Removes tagged VPP objects that belong to no record and no operation in flight. */
  sweepOrphans(): Promise<unknown>;
}

export interface AttachmentManagerOptions {
  network: PodNetwork;
  pods: PodSource;
  store: AttachmentStore;
  log: Logger;
  /** Why ADD cannot be served now (VPP not connected, recovering), or undefined when it can. */
  notReady: () => string | undefined;
  podLookupTimeoutMs?: number;
  /** Observers of operations and pod warnings (metrics, error history, Events). */
  hooks?: AttachmentHooks;
  /** Replaces the PBL clients of a record with clients carrying `ports` (live annotation update). */
  updatePblPorts?: (rec: AttachmentRecord, ports: PortRange[]) => Promise<PblUpdateResult>;
  /** Restart and leak-proofing hooks (agent/state). */
  state?: AttachmentStateHooks;
}

/** A finished operation. UPDATE is a live annotation change applied to a running pod. */
export interface OperationOutcome {
  command: 'ADD' | 'DEL' | 'CHECK' | 'GC' | 'UPDATE';
  seconds: number;
  /** Set when the operation failed. */
  error?: unknown;
  pod?: PodRef;
  containerId?: string;
  ifName?: string;
}

export interface PodWarning {
  pod: PodRef;
  reason: PodWarningReason;
  message: string;
  containerId?: string;
  ifName?: string;
}

/** Called synchronously; must not block. Exceptions are caught and logged. */
export interface AttachmentHooks {
  operation?(o: OperationOutcome): void;
  /** Something the pod's owner should see that is not an operation failure (a live update not applied). */
  podWarning?(w: PodWarning): void;
}

/** What a live annotation change did to one attachment. */
export interface AnnotationUpdateOutcome {
  containerId: string;
  ifName: string;
  /** The new PBL ports, when they were applied. */
  appliedPorts?: string[];
  /** Changes that need a new pod (a PodRecreateRequired warning was raised). */
  recreate: string[];
  /** Why nothing was applied (invalid annotations, gated feature, VPP failure). */
  error?: string;
}

export interface AddInput {
  containerId: string;
  ifName: string;
  netns: string;
  pod: PodRef;
  ips: AttachRequest['ips'];
  routes: AttachRequest['routes'];
  /** The CNI network (netconf `name`); kept in the record so that GC touches only its own network. */
  network?: string;
  /** All of the pod's annotations as the container runtime passed them; absent: asked of the pod source. */
  annotations?: Readonly<Record<string, string>>;
}

export interface AttachmentKeyInput {
  containerId: string;
  ifName: string;
  netns: string;
  pod: PodRef;
}

function samePod(a: PodRef, b: { namespace: string; name: string; uid?: string }): boolean {
  return a.namespace === b.namespace && a.name === b.name && (!a.uid || !b.uid || a.uid === b.uid);
}

function shortKey(k: string): string {
  return k.startsWith(ANNOTATION_PREFIX) ? k.slice(ANNOTATION_PREFIX.length) : k;
}

export class AttachmentManager {
  private readonly lock = new KeyedMutex();
  /** Containers with an ADD in progress, per pod (a live update waits for them). */
  private readonly adding = new Map<string, Map<string, number>>();

  constructor(private readonly o: AttachmentManagerOptions) {}

  private hook(fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.o.log.warn({ err: (e as Error).message }, 'observer hook failed');
    }
  }

  private outcome(o: OperationOutcome): void {
    const h = this.o.hooks;
    if (h?.operation) this.hook(() => h.operation!(o));
  }

  private warnPod(w: PodWarning): void {
    const h = this.o.hooks;
    if (h?.podWarning) this.hook(() => h.podWarning!(w));
  }

  private markAdding(pod: PodRef, containerId: string, delta: 1 | -1): void {
    const k = `${pod.namespace}/${pod.name}`;
    const m = this.adding.get(k) ?? new Map<string, number>();
    const n = (m.get(containerId) ?? 0) + delta;
    if (n > 0) m.set(containerId, n);
    else m.delete(containerId);
    if (m.size > 0) this.adding.set(k, m);
    else this.adding.delete(k);
  }

  /** Times an operation and reports its outcome to the hooks. */
  private async timed<T>(command: OperationOutcome['command'], who: Partial<Pick<OperationOutcome, 'pod' | 'containerId' | 'ifName'>>, fn: () => Promise<T>): Promise<T> {
    const t0 = performance.now();
    try {
      const r = await fn();
      this.outcome({ command, seconds: (performance.now() - t0) / 1000, ...who });
      return r;
    } catch (e) {
      this.outcome({ command, seconds: (performance.now() - t0) / 1000, error: e, ...who });
      throw e;
    }
  }

  get records(): AttachmentRecord[] {
    return this.o.store.all();
  }

  /** Runs `fn` with the container's operations held off (the state layer's reconcile and recovery). */
  exclusive<T>(containerId: string, fn: () => Promise<T>): Promise<T> {
    return this.lock.run(containerId, fn);
  }

  /** Containers with an operation running or waiting. */
  get busy(): number {
    return this.lock.busyKeys;
  }

  private fields(a: { containerId: string; ifName: string; pod: PodRef }): object {
    return { namespace: a.pod.namespace, pod: a.pod.name, containerID: a.containerId, ifname: a.ifName };
  }

  async add(input: AddInput): Promise<AttachResult> {
    this.markAdding(input.pod, input.containerId, 1);
    try {
      return await this.timed('ADD', { pod: input.pod, containerId: input.containerId, ifName: input.ifName }, () => this.addLocked(input));
    } finally {
      this.markAdding(input.pod, input.containerId, -1);
    }
  }

  private async addLocked(input: AddInput): Promise<AttachResult> {
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
      // The runtime's annotations when it passed them (no apiserver on the ADD path), else the pod source's.
      const annotationSource = input.annotations ? 'runtime' : 'pod source';
      let annotations = input.annotations;
      if (!annotations) {
        const pod = await this.o.pods.getPod(input.pod.namespace, input.pod.name, this.o.podLookupTimeoutMs ?? 5000, input.pod.uid);
        if (!pod && input.pod.name) this.o.log.warn({ ...this.fields(input), step: 'annotations' }, 'pod not known to the pod source: no annotations applied');
        annotations = pod?.annotations ?? {};
      }
      const req: AttachRequest = { ...input, annotations };
      await this.o.store.begin?.('add', req);
      try {
        const rec = await this.o.network.add(req);
        await this.o.store.put(rec);
        this.o.log.info({ ...this.fields(input), step: 'add', durationMs: Date.now() - t0, annotationSource, kind: rec.kind, memif: rec.objects.memif?.socketName, vcl: !!rec.objects.vcl }, 'pod network added');
        return rec.result;
      } catch (e) {
        this.o.log.error({ ...this.fields(input), step: 'add', durationMs: Date.now() - t0, annotationSource, ...errorLogFields(e) }, 'pod network setup failed');
        // Rolled back (leftovers of a failed undo carry our tags: the orphan sweep removes them).
        await this.o.store.abandon?.(key).catch((err: unknown) => this.o.log.error({ ...this.fields(input), step: 'add', err: (err as Error).message }, 'checkpoint: dropping the intent failed'));
        throw e;
      }
    });
  }

  async del(a: AttachmentKeyInput): Promise<void> {
    return this.timed('DEL', { pod: a.pod, containerId: a.containerId, ifName: a.ifName }, () => this.delLocked(a));
  }

  private async delLocked(a: AttachmentKeyInput): Promise<void> {
    return this.lock.run(a.containerId, async () => {
      const key = attachmentKey(a.containerId, a.ifName);
      const rec = this.o.store.get(key);
      if (!rec) {
        this.o.log.info({ ...this.fields(a), step: 'del' }, 'DEL of an unknown attachment: nothing to do');
        return;
      }
      const t0 = Date.now();
      try {
        await this.o.store.begin?.('del', rec);
        if (this.o.state?.isStale(rec)) await this.o.state.deleteStale(rec);
        else await this.o.network.del(rec);
      } catch (e) {
        this.o.log.error({ ...this.fields(rec), step: 'del', durationMs: Date.now() - t0, ...errorLogFields(e) }, 'pod network removal incomplete');
        throw e;
      }
      await this.o.store.delete(key);
      this.o.log.info({ ...this.fields(rec), step: 'del', durationMs: Date.now() - t0 }, 'pod network removed');
    });
  }

  async check(a: AttachmentKeyInput): Promise<void> {
    return this.timed('CHECK', { pod: a.pod, containerId: a.containerId, ifName: a.ifName }, () => this.checkLocked(a));
  }

  private async checkLocked(a: AttachmentKeyInput): Promise<void> {
    return this.lock.run(a.containerId, async () => {
      const rec = this.o.store.get(attachmentKey(a.containerId, a.ifName));
      if (!rec) throw new CniFailure(CNI_CODES.unknownContainer, `${describeAttachment(a)}: no such attachment on this node`);
      if (this.o.state?.isStale(rec)) throw new CniFailure(CNI_CODES.tryAgainLater, `${describeAttachment(a)}: its VPP objects are being checked or made again; try again later`);
      const problems = await this.o.network.check(rec);
      if (problems.length > 0) {
        throw new CniFailure(CNI_CODES.vppFailure, `${describeAttachment(rec)}: CHECK failed: ${problems.map((p) => `${p.object}: ${p.problem}`).join('; ')}`);
      }
    });
  }

  /**
   * Removes every attachment of `network` not in `valid` (keys container/ifname). Returns how many were
   * removed. Attachments of other networks are not this GC's: the runtime sends each network its own
   * valid list. Records written before the network was kept name none and are left to DEL.
   */
  async gc(network: string, valid: { containerId: string; ifName: string }[]): Promise<number> {
    return this.timed('GC', {}, () => this.gcAll(network, valid));
  }

  private async gcAll(network: string, valid: { containerId: string; ifName: string }[]): Promise<number> {
    const keep = new Set(valid.map((v) => attachmentKey(v.containerId, v.ifName)));
    let removed = 0;
    const failures: string[] = [];
    const unnamed: string[] = [];
    for (const rec of this.o.store.all()) {
      if (keep.has(attachmentKey(rec.containerId, rec.ifName))) continue;
      if (rec.network === undefined) {
        unnamed.push(attachmentKey(rec.containerId, rec.ifName));
        continue;
      }
      if (rec.network !== network) continue;
      try {
        await this.del(rec);
        removed++;
      } catch (e) {
        failures.push((e as Error).message);
      }
    }
    if (this.o.state) {
      try {
        await this.o.state.sweepOrphans();
      } catch (e) {
        failures.push(`orphan sweep: ${(e as Error).message}`);
      }
    }
    if (unnamed.length > 0) this.o.log.warn({ step: 'gc', network, attachments: unnamed }, 'attachments recorded without their network name: left to DEL');
    this.o.log.info({ step: 'gc', network, removed, failed: failures.length }, 'garbage collection done');
    if (failures.length > 0) throw new CniFailure(CNI_CODES.tryAgainLater, `GC removed ${removed}, failed: ${failures.join('; ')}`);
    return removed;
  }

  /**
   * A pod's annotations changed (or were first seen, `previous` undefined, e.g. after an agent restart).
   * Serialized with ADD/DEL/CHECK of the pod's containers (an ADD in progress is waited for). PBL ports
   * are applied live; changes that need new interfaces raise a PodRecreateRequired warning — only for
   * annotations that changed since `previous` (at first sight they are logged, not raised); invalid or
   * gated annotations raise a warning and change nothing.
   */
  async onPodAnnotationsChanged(pod: PodInfo, previous?: Readonly<Record<string, string>>): Promise<AnnotationUpdateOutcome[]> {
    const containers = new Set<string>();
    for (const r of this.o.store.all()) if (samePod(r.pod, pod)) containers.add(r.containerId);
    for (const c of this.adding.get(`${pod.namespace}/${pod.name}`)?.keys() ?? []) containers.add(c);
    const out: AnnotationUpdateOutcome[] = [];
    for (const cid of containers) {
      await this.lock.run(cid, async () => {
        for (const rec of this.o.store.all()) {
          if (this.o.state?.isStale(rec)) continue; // being made again from the record
          if (rec.containerId === cid && samePod(rec.pod, pod)) out.push(await this.applyAnnotations(rec, pod, previous));
        }
      });
    }
    return out;
  }

  private async applyAnnotations(rec: AttachmentRecord, pod: PodInfo, previous: Readonly<Record<string, string>> | undefined): Promise<AnnotationUpdateOutcome> {
    const label = describeAttachment(rec);
    const where = { containerId: rec.containerId, ifName: rec.ifName };
    const res: AnnotationUpdateOutcome = { ...where, recreate: [] };
    let plan;
    try {
      plan = this.o.network.plan({ containerId: rec.containerId, ifName: rec.ifName, netns: rec.netns, pod: rec.pod, ips: rec.ips, routes: rec.routes, annotations: pod.annotations });
    } catch (e) {
      const c = classifyPodError(e);
      res.error = c.message;
      this.o.log.warn({ ...this.fields(rec), step: 'annotations update', ...errorLogFields(e) }, 'changed annotations not applied');
      this.warnPod({ pod: rec.pod, reason: c.reason, message: `${label}: changed annotations not applied: ${c.message}`, ...where });
      return res;
    }
    const diff = diffAttachment(rec, plan);
    const relevant = previous === undefined ? [] : diff.recreate.filter((r) => previous[r.annotation] !== pod.annotations[r.annotation]);
    if (previous === undefined && diff.recreate.length > 0) {
      this.o.log.info({ ...this.fields(rec), step: 'annotations update', differences: diff.recreate.map((r) => r.what) }, 'pod differs from its annotations in ways only a new pod changes');
    }
    if (relevant.length > 0) {
      res.recreate = relevant.map((r) => `${shortKey(r.annotation)}: ${r.what}`);
      this.o.log.warn({ ...this.fields(rec), step: 'annotations update', changes: res.recreate }, 'annotation change needs new interfaces: not applied');
      this.warnPod({
        pod: rec.pod,
        reason: 'PodRecreateRequired',
        message: `${label}: annotation change not applied, it needs new interfaces; delete and recreate the pod (${res.recreate.join('; ')})`,
        ...where,
      });
    }
    if (diff.ports && this.o.updatePblPorts && this.o.state?.isStale(rec)) {
      res.error = 'its VPP objects are being checked or made again: the new PBL ports are not applied now';
      this.o.log.warn({ ...this.fields(rec), step: 'pbl update', ports: diff.ports.map(formatPortRange) }, 'PBL port change not applied: the attachment is being recovered');
    } else if (diff.ports && this.o.updatePblPorts) {
      const ports = diff.ports.map(formatPortRange);
      const t0 = performance.now();
      try {
        const r = await this.o.updatePblPorts(rec, diff.ports);
        await this.o.store.put(r.record);
        res.appliedPorts = ports;
        const seconds = (performance.now() - t0) / 1000;
        this.o.log.info({ ...this.fields(rec), step: 'pbl update', durationMs: Math.round(seconds * 1000), ports, created: r.created, deleted: r.deleted, leftOver: r.leftOver.map((p) => p.id) }, 'PBL ports updated live');
        this.outcome({ command: 'UPDATE', seconds, pod: rec.pod, ...where });
      } catch (e) {
        const c = classifyPodError(e);
        res.error = c.message;
        this.o.log.error({ ...this.fields(rec), step: 'pbl update', ports, ...errorLogFields(e) }, 'live PBL port update failed; the old ports stay');
        this.outcome({ command: 'UPDATE', seconds: (performance.now() - t0) / 1000, error: e, pod: rec.pod, ...where });
      }
    }
    return res;
  }
}
