/**
 * The wire widths of the VPP fields a pod's interface spec ends up in, read from the generated bindings
 * (each message's field list), so that a value VPP's message cannot carry is refused when the annotation
 * is read, naming the annotation, instead of failing in the codec. If a regenerated binding changes a
 * field's type, the limit follows; if it renames or drops a field, this module fails at load.
 */
import type { FieldSchema } from '../../vpp-api/codec/types.js';
import { af_packet_create_v3 } from '../../vpp-api/generated/af_packet.js';
import { memif_create_v2 } from '../../vpp-api/generated/memif.js';
import { tap_create_v3 } from '../../vpp-api/generated/tapv2.js';

/** Interfaces a spec is for: `main` is eth0 and other non-memif interfaces (tun or veth), `memif` a memif. */
export type SpecTarget = 'main' | 'memif';
export type WireSpecField = 'rx' | 'tx' | 'rxqsz' | 'txqsz';

const UNSIGNED_MAX: Record<string, number> = { u8: 0xff, u16: 0xffff, u32: 0xffffffff };

export interface WireSlot {
  /** `message.field`, e.g. `memif_create_v2.rx_queues`. */
  where: string;
  type: string;
  max: number;
}

function slot(def: { readonly name: string; readonly fields: readonly FieldSchema[] }, field: string): WireSlot {
  const f = def.fields.find((x) => x.name === field);
  const max = f && f.kind === 'scalar' ? UNSIGNED_MAX[f.type] : undefined;
  if (!f || max === undefined) throw new Error(`wire-widths: ${def.name}.${field} is not an unsigned scalar in the generated bindings`);
  return { where: `${def.name}.${field}`, type: f.type, max };
}

// Where each spec field is written (drivers/memif.ts, tun.ts, veth.ts). af_packet's ring geometry is
// derived from rxqsz/txqsz into u32 frame counts (never the narrower slot), so only its queues are listed.
// A memif has one ring size (rxqsz); its txqsz goes nowhere on the wire.
const SLOTS: Record<SpecTarget, Record<WireSpecField, WireSlot[]>> = {
  main: {
    rx: [slot(tap_create_v3, 'num_rx_queues'), slot(af_packet_create_v3, 'num_rx_queues')],
    tx: [slot(tap_create_v3, 'num_tx_queues'), slot(af_packet_create_v3, 'num_tx_queues')],
    rxqsz: [slot(tap_create_v3, 'rx_ring_sz')],
    txqsz: [slot(tap_create_v3, 'tx_ring_sz')],
  },
  memif: {
    rx: [slot(memif_create_v2, 'rx_queues')],
    tx: [slot(memif_create_v2, 'tx_queues')],
    rxqsz: [slot(memif_create_v2, 'ring_size')],
    txqsz: [],
  },
};

/** The narrowest VPP field `field` of a `target` spec is written to; undefined when it is not sent. */
export function narrowestSlot(target: SpecTarget, field: WireSpecField): WireSlot | undefined {
  let best: WireSlot | undefined;
  for (const s of SLOTS[target][field]) if (!best || s.max < best.max) best = s;
  return best;
}

/** The whole table, for docs and tests. */
export function wireTable(): { target: SpecTarget; field: WireSpecField; slots: WireSlot[] }[] {
  return (['main', 'memif'] as const).flatMap((target) => (['rx', 'tx', 'rxqsz', 'txqsz'] as const).map((field) => ({ target, field, slots: SLOTS[target][field] })));
}
