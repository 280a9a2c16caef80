/**
 * Which driver makes a pod's eth0 on this node, and the one-way switch of `auto` mode: tun until VPP
 * refuses a tap because it cannot open /dev/vhost-net, veth for that pod and every later one. The
 * switch is logged once, with its reason and its cost. One instance per PodNetwork (no global state);
 * metrics and `vpp-cnictl pods` read it.
 */
import { isVhostNetFailure as vppRefusedTap } from '../vpp/tap.js';
import type { PodRef } from './attachment.js';
import type { PodInterfaceModeSetting } from './interface-spec.js';
import { StepError } from './transaction.js';
import type { Logger } from '../../lib/logger.js';

export type PodInterfaceMode = 'tun' | 'veth';

/** True when `e` (or the step it failed) is VPP refusing a tap because the node has no usable /dev/vhost-net. */
export function isVhostNetFailure(e: unknown): boolean {
  return vppRefusedTap(e instanceof StepError ? e.cause : e);
}

export interface InterfaceModeStatus {
  /** The configured setting (VPPCNI_POD_INTERFACE_MODE). */
  setting: PodInterfaceModeSetting;
  /** What new pods get now. */
  mode: PodInterfaceMode;
  /** Why `auto` moved to veth, and when. */
  fallback?: { reason: string; pod: string; at: string };
}

/** The Kubernetes Event's text for the first pod that got a veth. */
export function fallbackEventMessage(s: InterfaceModeStatus): string {
  return (
    `VPP on this node cannot make taps (it cannot open /dev/vhost-net; tap_create answered -11, setting ${s.setting}): this pod's eth0 and every later one on the node is a veth pair ` +
    'with a VPP af_packet interface (slower than a tap; memif unaffected). Give VPP /dev/vhost-net and restart the agent to get taps back, ' +
    'or set VPPCNI_POD_INTERFACE_MODE=veth to make veth the rule'
  );
}

export const VETH_FALLBACK_COST =
  'eth0 packets cross the kernel twice (veth, then an AF_PACKET socket VPP polls): expect a fraction of a tap\'s throughput and more CPU per packet; memif interfaces are unaffected';

export class PodInterfaceModeState {
  private current: PodInterfaceMode;
  private fell?: InterfaceModeStatus['fallback'];

  constructor(
    readonly setting: PodInterfaceModeSetting,
    private readonly log: Pick<Logger, 'warn'>,
    /** Told once, with the first pod that got a veth (the agent turns it into a Kubernetes Event). */
    private readonly onFallback?: (pod: PodRef, status: InterfaceModeStatus) => void,
  ) {
    this.current = setting === 'veth' ? 'veth' : 'tun';
  }

  get mode(): PodInterfaceMode {
    return this.current;
  }

  /** In `auto`, switches to veth for good (logged the first time only). Returns false when not in `auto`. */
  fallBack(reason: string, pod: string, ref?: PodRef): boolean {
    if (this.setting !== 'auto') return false;
    if (this.current === 'veth') return true;
    this.current = 'veth';
    this.fell = { reason, pod, at: new Date().toISOString() };
    this.log.warn(
      { step: 'interface mode', setting: this.setting, mode: 'veth', reason, firstPod: pod, cost: VETH_FALLBACK_COST },
      'VPP cannot make taps on this node: pod eth0 interfaces are veth pairs with an af_packet interface from now on',
    );
    if (ref) this.onFallback?.(ref, this.status());
    return true;
  }

  status(): InterfaceModeStatus {
    return { setting: this.setting, mode: this.current, ...(this.fell ? { fallback: { ...this.fell } } : {}) };
  }
}
