/**
 * Live changes of a running pod's annotations.
 *
 * Only the PBL port list (vppExtraMemifPorts) can change without touching interfaces: real VPP ignores
 * an update of an existing pbl client id, so new clients are made with the new ports (all of them, or
 * none: a failure undoes the ones made), then the old ids are deleted. The memif, its socket and the
 * tun stay as they are. Everything else (queues, ring sizes, L2/L3, rx mode, VCL on/off, memif added or
 * removed) needs new interfaces and so a new pod: `diffAttachment` names those changes.
 */
import { ANN, type PortRange } from './annotations.js';
import { describeAttachment, ipOf } from './attachment.js';
import type { AttachmentRecord, MadePblClient } from './record.js';
import type { InterfaceSpec } from './interface-spec.js';
import type { AttachPlan } from './pod-network.js';
import { transact } from './transaction.js';
import { stepPblClient } from './kinds/pbl.js';
import { deletePblClient } from '../vpp/pbl.js';
import type { DriverContext } from './kinds/context.js';

/** `tcp:80`, `udp:4444-20000`. */
export function formatPortRange(p: PortRange): string {
  return `${p.proto}:${p.start === p.end ? p.start : `${p.start}-${p.end}`}`;
}

/** A canonical text of a port list (order-insensitive). */
export function portsKey(ports: readonly PortRange[] | undefined): string {
  return (ports ?? []).map(formatPortRange).sort().join(',');
}

export interface RecreateReason {
  /** The annotation whose change needs a new pod. */
  annotation: string;
  what: string;
}

export interface AttachmentDiff {
  /** New PBL ports to apply live (undefined: unchanged or not applicable). */
  ports?: PortRange[];
  /** Changes that need new interfaces (not applied). */
  recreate: RecreateReason[];
}

const SPEC_FIELDS = ['rx', 'tx', 'rxqsz', 'txqsz', 'isl3', 'rxMode'] as const;

function specChanges(have: InterfaceSpec, want: InterfaceSpec): string[] {
  return SPEC_FIELDS.filter((f) => have[f] !== want[f]).map((f) => `${f} ${String(have[f])} → ${String(want[f])}`);
}

/** What differs between what was made for `rec` and what its (new) annotations ask for. */
export function diffAttachment(rec: AttachmentRecord, plan: AttachPlan): AttachmentDiff {
  const out: AttachmentDiff = { recreate: [] };
  const o = rec.objects;
  if (rec.kind === 'memif-multinet') {
    if (o.memif) {
      const c = specChanges(o.memif.spec, plan.spec);
      if (c.length) out.recreate.push({ annotation: ANN.interfacesSpec, what: `memif ${rec.ifName}: ${c.join(', ')}` });
    }
    return out;
  }
  if (o.tun) {
    const c = specChanges(o.tun.spec, plan.spec);
    if (c.length) out.recreate.push({ annotation: ANN.interfacesSpec, what: `${rec.ifName}: ${c.join(', ')}` });
  }
  const had = o.memif?.mode === 'pbl' ? o.memif : undefined;
  const want = plan.pblMemif;
  if (had && !want) out.recreate.push({ annotation: ANN.extraMemifPorts, what: 'the PBL memif would be removed' });
  else if (!had && want) out.recreate.push({ annotation: ANN.extraMemifPorts, what: 'a PBL memif would be added' });
  else if (had && want) {
    const c = specChanges(had.spec, want.spec);
    if (c.length) out.recreate.push({ annotation: ANN.extraMemifSpec, what: `memif-${rec.ifName}: ${c.join(', ')}` });
    const ports = want.ports ?? [];
    if (portsKey(had.ports) !== portsKey(ports)) out.ports = ports;
  }
  if (!!o.vcl !== plan.vcl) out.recreate.push({ annotation: ANN.vcl, what: plan.vcl ? 'VCL would be enabled' : 'VCL would be disabled' });
  return out;
}

export interface PblUpdateResult {
  record: AttachmentRecord;
  created: number[];
  deleted: number[];
  /** Old ids that could not be deleted (kept in the record so DEL retries them). */
  leftOver: { ip: string; id: number }[];
}

/**
 * Replaces the PBL clients of `rec` by clients carrying `ports`. Creation is all-or-nothing (a StepError
 * after undoing the new clients, the old ones untouched); old ids that fail to delete stay in the record.
 * Returns the updated record (the caller stores it).
 */
export async function updatePblPorts(ctx: DriverContext, rec: AttachmentRecord, ports: PortRange[]): Promise<PblUpdateResult> {
  const m = rec.objects.memif;
  if (!m || m.mode !== 'pbl') throw new Error(`${describeAttachment(rec)}: no PBL memif to update`);
  const label = describeAttachment(rec);
  const ips = [...new Set(rec.ips.map((a) => ipOf(a.address)))];
  const made = await transact(label, ctx.log, undefined, async (tx) => {
    const out: MadePblClient[] = [];
    for (const ip of ips) out.push(await stepPblClient(ctx, tx, `pbl client ${ip} (new ports)`, { ip, swIfIndex: m.swIfIndex, l2: m.l2, ports }));
    return out;
  });
  const deleted: number[] = [];
  const leftOver: MadePblClient[] = [];
  for (const old of rec.objects.pbl) {
    try {
      await deletePblClient(ctx.vpp, old.id);
      deleted.push(old.id);
    } catch (e) {
      ctx.log.warn({ pod: label, pblClient: old.id, err: (e as Error).message }, 'old PBL client not deleted; DEL will retry');
      leftOver.push(old);
    }
  }
  const record: AttachmentRecord = {
    ...rec,
    objects: { ...rec.objects, memif: { ...m, ports }, pbl: [...made, ...leftOver] },
  };
  return { record, created: made.map((p) => p.id), deleted, leftOver };
}
