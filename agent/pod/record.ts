/**
 * A pod attachment's record: the request that made it, what each kind made for it (one slice per
 * registered kind, composed from the kinds' own schemas — kinds/index.ts), and the CNI result. Records
 * are plain JSON, checkpointed and read back through `recordSchema` after a restart: the record type is
 * inferred from the schema, so there is one description of it. The store contract the records are kept
 * in lives here too: the CNI layer and the state layer both use it, and implement it.
 */
import { z } from 'zod';
import { composeSlices } from '../objects/registry.js';
import { ATTACHMENT_KINDS, type AttachRequest } from './attachment.js';
import { POD_KINDS, type PodKindRegistry } from './kinds/index.js';
import { containerId, ipAddress, ipPrefix, linuxIfName, macAddress, netnsPath, podRef } from './kinds/parts.js';

export type { MadeNeighbor, MadePblClient, MadeRoute } from './kinds/parts.js';
export type { MadeTun } from './kinds/tun.js';
export type { MadeVeth } from './kinds/veth.js';
export type { MadeMemif } from './kinds/memif.js';
export type { MadeVcl } from './kinds/vcl.js';

/** Every kind's slice: optional ones present when the kind made something, lists always. */
export const madeObjectsSchema = composeSlices(POD_KINDS);
export type MadeObjects = z.infer<typeof madeObjectsSchema>;

export const ipConfigSchema = z.object({ address: ipPrefix, gateway: ipAddress.optional() });
export const routeConfigSchema = z.object({ dst: ipPrefix, gw: ipAddress.optional() });

export const attachResultSchema = z.object({
  interfaces: z.array(
    z.object({ name: linuxIfName, mac: macAddress.optional(), mtu: z.number().int().min(68).max(65535).optional(), sandbox: netnsPath, socketPath: z.string().max(4200).optional() }),
  ),
  ips: z.array(z.object({ address: ipPrefix, gateway: ipAddress.optional(), interface: z.number().int().min(0) })),
  routes: z.array(routeConfigSchema),
});

export const recordSchema = z.object({
  containerId,
  ifName: linuxIfName,
  netns: netnsPath,
  pod: podRef,
  kind: z.enum(ATTACHMENT_KINDS),
  /** The CNI network the attachment belongs to (absent in records written before it was kept). */
  network: z.string().max(253).optional(),
  ips: z.array(ipConfigSchema).min(1),
  routes: z.array(routeConfigSchema),
  objects: madeObjectsSchema,
  result: attachResultSchema,
  /** The pod's annotations at ADD (kept so a VPP restart can make the attachment again). */
  annotations: z.record(z.string(), z.string()).optional(),
  /**
   * Rebuilt from VPP's tagged objects after the checkpoint was lost: `containerId` holds the 12-character
   * prefix the tags carry, and the store resolves the runtime's full id to it.
   */
  rebuilt: z.boolean().optional(),
  createdAt: z.iso.datetime(),
});
export type AttachmentRecord = z.infer<typeof recordSchema>;

/** The record schema of a registry with more kinds than the table (a test kind): its objects from the registry. */
export function recordSchemaFor(kinds: PodKindRegistry): z.ZodType<AttachmentRecord> {
  return recordSchema.extend({ objects: kinds.schema() }) as unknown as z.ZodType<AttachmentRecord>;
}

/** A record with nothing made yet (the lists every record has, empty). */
export function emptyObjects(): MadeObjects {
  return { routes: [], neighbors: [], pbl: [] };
}

/** Where records are kept (the checkpoint; a map in tests). */
export interface AttachmentStore {
  all(): AttachmentRecord[];
  get(key: string): AttachmentRecord | undefined;
  /** Records a committed ADD (durably, when the store is a checkpoint). */
  put(rec: AttachmentRecord): Promise<void>;
  /** Forgets a committed DEL. */
  delete(key: string): Promise<void>;
  /** Records that an ADD or DEL starts, before its first VPP call (the checkpoint's intents). */
  begin?(op: 'add' | 'del', req: Pick<AttachRequest, 'containerId' | 'ifName' | 'netns' | 'pod' | 'ips'>): Promise<void>;
  /** The ADD failed and was rolled back: its intent is dropped. */
  abandon?(key: string): Promise<void>;
}
