/**
 * Pod interface sizing (queues, rings, L2/L3, rx mode) and feature gates: their schemas, defaults and
 * limits. Values come from config (VPPCNI_DEFAULT_POD_IF_SPEC, VPPCNI_MAX_POD_IF_SPEC,
 * VPPCNI_FEATURE_GATES) and are passed in; nothing here reads the environment.
 */
import { z } from 'zod';
import { echo } from '../../contract/echo.js';
import { narrowestSlot, type SpecTarget } from '../vpp/wire-widths.js';

export const RX_MODES = ['polling', 'interrupt', 'adaptive', 'default'] as const;
export type RxMode = (typeof RX_MODES)[number];

/** An interface spec as written in annotations and config: every field optional. */
export const interfaceSpecSchema = z
  .object({
    rx: z.number().int().optional(),
    tx: z.number().int().optional(),
    rxqsz: z.number().int().optional(),
    txqsz: z.number().int().optional(),
    isl3: z.boolean().optional(),
    rxMode: z.string().optional(),
  })
  .strict();
export type InterfaceSpecInput = z.infer<typeof interfaceSpecSchema>;

/** A resolved interface spec: what the drivers use. */
export interface InterfaceSpec {
  rx: number;
  tx: number;
  rxqsz: number;
  txqsz: number;
  isl3: boolean;
  rxMode: RxMode;
}

/** Limits: 0 means no limit (as in Calico VPP). */
export interface InterfaceLimits {
  rx: number;
  tx: number;
  rxqsz: number;
  txqsz: number;
}

export interface FeatureGates {
  memifEnabled: boolean;
  vclEnabled: boolean;
  multinetEnabled: boolean;
}

export const featureGatesSchema = z
  .object({
    memifEnabled: z.boolean().optional(),
    vclEnabled: z.boolean().optional(),
    multinetEnabled: z.boolean().optional(),
  })
  .strict();

export const DEFAULT_FEATURE_GATES: FeatureGates = { memifEnabled: true, vclEnabled: false, multinetEnabled: false };
export const DEFAULT_QUEUES = { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024 };
export const DEFAULT_LIMITS: InterfaceLimits = { rx: 16, tx: 16, rxqsz: 16384, txqsz: 16384 };

/**
 * How a pod's eth0 is made: `tun` (a VPP tap/tun, needs /dev/vhost-net), `veth` (a veth pair and a VPP
 * af_packet interface on its host end), `auto` (tun until VPP refuses a tap for lack of vhost-net, veth
 * from then on).
 */
export const POD_INTERFACE_MODES = ['tun', 'veth', 'auto'] as const;
export type PodInterfaceModeSetting = (typeof POD_INTERFACE_MODES)[number];

/** What the pod-interface layer is configured with. */
export interface PodInterfaceConfig {
  gates: FeatureGates;
  /** Queues and rings when a pod says nothing (isl3/rxMode there are ignored: they depend on the kind). */
  defaults: { rx: number; tx: number; rxqsz: number; txqsz: number };
  limits: InterfaceLimits;
  /** MTU of pod interfaces (Linux side and VPP tap). */
  mtu: number;
  /** How eth0 is made (default `auto`). */
  interfaceMode?: PodInterfaceModeSetting;
  /** Services are translated in VPP (cnat): pod eth0s join cnat's POD table (set by the agent when its node dataplane runs). */
  servicesInVpp?: boolean;
}

/** Exact for any safe integer (no 32-bit arithmetic: 2^32 + 2^31 is not a power of two). */
export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** Why `v` does not fit the narrowest VPP field `k` of a `target` spec is sent in; undefined when it fits. */
function wireProblem(target: SpecTarget, k: 'rx' | 'tx' | 'rxqsz' | 'txqsz', v: number): string | undefined {
  const slot = narrowestSlot(target, k);
  if (!slot || v <= slot.max) return undefined;
  return `${k} ${v} does not fit VPP's ${slot.where} (${slot.type}, at most ${slot.max})`;
}

/**
 * Checks one spec against the wire widths of the VPP fields it is sent in (`target`: a memif or the main
 * tun/veth interface) and the limits; returns the problems (empty when fine).
 */
export function specProblems(s: InterfaceSpecInput, limits: InterfaceLimits, target: SpecTarget = 'main'): string[] {
  const out: string[] = [];
  for (const k of ['rx', 'tx'] as const) {
    const v = s[k];
    if (v === undefined) continue;
    const wire = wireProblem(target, k, v);
    if (v < 1) out.push(`${k} ${v} must be at least 1`);
    else if (wire) out.push(wire);
    else if (limits[k] > 0 && v > limits[k]) out.push(`${k} ${v} is above the maximum of ${limits[k]} queues`);
  }
  for (const k of ['rxqsz', 'txqsz'] as const) {
    const v = s[k];
    if (v === undefined) continue;
    const wire = wireProblem(target, k, v);
    if (!isPowerOfTwo(v)) out.push(`${k} ${v} is not a power of two`);
    else if (wire) out.push(wire);
    else if (limits[k] > 0 && v > limits[k]) out.push(`${k} ${v} is above the maximum ring size of ${limits[k]}`);
  }
  if (s.rxMode !== undefined && !(RX_MODES as readonly string[]).includes(s.rxMode)) {
    out.push(`rxMode ${echo(s.rxMode)} is not one of ${RX_MODES.join(', ')}`);
  }
  return out;
}

/** Fills a validated spec from the defaults; `isl3` defaults per kind (tun: true, memif: false). */
export function resolveSpec(s: InterfaceSpecInput | undefined, cfg: PodInterfaceConfig, defaultIsl3: boolean): InterfaceSpec {
  return {
    rx: s?.rx ?? cfg.defaults.rx,
    tx: s?.tx ?? cfg.defaults.tx,
    rxqsz: s?.rxqsz ?? cfg.defaults.rxqsz,
    txqsz: s?.txqsz ?? cfg.defaults.txqsz,
    isl3: s?.isl3 ?? defaultIsl3,
    rxMode: (s?.rxMode as RxMode | undefined) ?? 'adaptive',
  };
}
