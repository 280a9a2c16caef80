/**
 * What went wrong for a pod, in the words an operator needs: a stable reason (the Kubernetes Event
 * reason), the message, and for VPP failures the step, the message name and its retval name.
 * The agent keeps the last few per pod for `vpp-cnictl pod`.
 */
import type { CtlPodError } from '../../contract/ctl-api.js';
import { InvalidAnnotationError } from '../pod/annotations.js';
import { PodRequestError } from '../pod/pod-network.js';
import { StepError } from '../pod/transaction.js';
import type { PodRef } from '../pod/attachment.js';

export const POD_WARNING_REASONS = ['InvalidVppAnnotation', 'FeatureGated', 'PodNetworkSetupFailed', 'PodRecreateRequired', 'PodInterfaceFallback'] as const;
export type PodWarningReason = (typeof POD_WARNING_REASONS)[number];

export interface ClassifiedError {
  reason: PodWarningReason;
  message: string;
  step?: string;
  vppMessage?: string;
  retvalName?: string;
}

const GATE = /feature gate/;

/** Maps an error of the pod layer to an Event reason and a message. */
export function classifyPodError(e: unknown): ClassifiedError {
  if (e instanceof InvalidAnnotationError) {
    const gated = e.problems.length > 0 && e.problems.every((p) => GATE.test(p.message));
    return { reason: gated ? 'FeatureGated' : 'InvalidVppAnnotation', message: `invalid pod annotations: ${e.message}` };
  }
  if (e instanceof PodRequestError) return { reason: GATE.test(e.message) ? 'FeatureGated' : 'PodNetworkSetupFailed', message: e.message };
  if (e instanceof StepError) {
    const out: ClassifiedError = { reason: 'PodNetworkSetupFailed', message: e.message, step: e.step };
    if (e.vppMessage) out.vppMessage = e.vppMessage;
    if (e.retvalName) out.retvalName = e.retvalName;
    return out;
  }
  return { reason: 'PodNetworkSetupFailed', message: e instanceof Error ? e.message : String(e) };
}

/** Log fields of an error: the message, and step / VPP message / retval name when known. */
export function errorLogFields(e: unknown): Record<string, string | number> {
  const out: Record<string, string | number> = { err: e instanceof Error ? e.message : String(e) };
  if (e instanceof StepError) {
    out.failedStep = e.step;
    if (e.vppMessage) out.vppMessage = e.vppMessage;
    if (e.retval !== undefined) out.retval = e.retval;
    if (e.retvalName) out.retvalName = e.retvalName;
  }
  return out;
}

export function podKey(p: { namespace: string; name: string }): string {
  return `${p.namespace}/${p.name}`;
}

/** The last `perPod` errors of at most `maxPods` pods (least recently failing pods are dropped first). */
export class PodErrorLog {
  private readonly byPod = new Map<string, { pod: PodRef; errors: CtlPodError[] }>();

  constructor(
    private readonly perPod = 10,
    private readonly maxPods = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  record(pod: PodRef, op: string, c: ClassifiedError, where: { containerId?: string; ifName?: string } = {}): CtlPodError {
    const key = podKey(pod);
    const entry: CtlPodError = { at: new Date(this.now()).toISOString(), op, reason: c.reason, message: c.message };
    if (where.containerId) entry.containerId = where.containerId;
    if (where.ifName) entry.ifName = where.ifName;
    if (c.step) entry.step = c.step;
    if (c.vppMessage) entry.vppMessage = c.vppMessage;
    if (c.retvalName) entry.retvalName = c.retvalName;
    const cur = this.byPod.get(key) ?? { pod, errors: [] };
    this.byPod.delete(key); // re-insert: Map order is the eviction order
    cur.errors.push(entry);
    if (cur.errors.length > this.perPod) cur.errors.splice(0, cur.errors.length - this.perPod);
    this.byPod.set(key, cur);
    while (this.byPod.size > this.maxPods) this.byPod.delete(this.byPod.keys().next().value!);
    return entry;
  }

  /** Oldest first. */
  errorsOf(namespace: string, name: string): CtlPodError[] {
    return [...(this.byPod.get(`${namespace}/${name}`)?.errors ?? [])];
  }

  pods(): PodRef[] {
    return [...this.byPod.values()].map((v) => v.pod);
  }

  forget(namespace: string, name: string): void {
    this.byPod.delete(`${namespace}/${name}`);
  }
}
