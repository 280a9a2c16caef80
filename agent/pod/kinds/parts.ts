/**
 * The zod pieces the pod kinds' checkpoint slices are made of. A checkpoint is read back from disk, so
 * every value is held to what the agent itself would write (and what the CNI server would accept): an
 * sw_if_index is a u32 other than ~0, ports are 1-65535 with start ≤ end, a netns is an absolute path,
 * addresses parse as addresses.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { RX_MODES } from '../interface-spec.js';

export const U32_MAX = 0xffffffff;
export const u32 = z.number().int().min(0).max(U32_MAX);
/** A VPP interface index (~0 means "none" on the wire and is never one of ours). */
export const swIfIndex = z.number().int().min(0).max(U32_MAX - 1);
export const macAddress = z.string().regex(/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/, 'expected a MAC address (xx:xx:xx:xx:xx:xx)');
export const ipAddress = z.string().refine((s) => isIP(s) !== 0, 'expected an IPv4 or IPv6 address');

function isPrefix(s: string): boolean {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return false;
  const v = isIP(m[1]!);
  return v !== 0 && Number(m[2]) <= (v === 4 ? 32 : 128);
}
/** `10.1.0.5/24`, `fd00::5/128`. */
export const ipPrefix = z.string().refine(isPrefix, 'expected address/prefix-length');
/** A network namespace path: absolute, as the runtime gives it (the CNI server refuses anything else). */
export const netnsPath = z
  .string()
  .min(2)
  .max(4096)
  .refine((s) => s.startsWith('/') && !s.includes('\0'), 'expected an absolute path');
export const containerId = z.string().max(256).regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'expected alphanumeric with _ . -');
export const linuxIfName = z
  .string()
  .min(1)
  .max(15)
  .regex(/^[^\s/:,]+$/, 'expected a Linux interface name')
  .refine((s) => s !== '.' && s !== '..', 'expected a Linux interface name');
/** A VPP tag: string[64], so at most 63 bytes. */
export const vppTag = z.string().refine((s) => Buffer.byteLength(s) <= 63, 'longer than the 63 bytes of a VPP tag');
export const podRef = z.object({ namespace: z.string().max(253), name: z.string().max(253), uid: z.string().max(64).optional() });

export const interfaceSpec = z.object({
  rx: z.number().int().min(1).max(U32_MAX),
  tx: z.number().int().min(1).max(U32_MAX),
  rxqsz: z.number().int().min(1).max(U32_MAX),
  txqsz: z.number().int().min(1).max(U32_MAX),
  isl3: z.boolean(),
  rxMode: z.enum(RX_MODES),
});

const port = z.number().int().min(1).max(65535);
export const portRange = z
  .strictObject({ proto: z.enum(['tcp', 'udp']), start: port, end: port })
  .refine((p) => p.start <= p.end, { message: 'start is greater than end', path: ['end'] });

/** A route the agent made in VPP (table 0, through a pod interface). */
export const madeRouteSchema = z.object({ prefix: ipPrefix, tableId: u32, swIfIndex, nh: ipAddress.optional() });
export type MadeRoute = z.infer<typeof madeRouteSchema>;

/** A static neighbor the agent pinned in VPP (pod address → pod-side MAC). */
export const madeNeighborSchema = z.object({ swIfIndex, ip: ipAddress, mac: macAddress });
export type MadeNeighbor = z.infer<typeof madeNeighborSchema>;

/** A PBL client (its id, and the pod address it steers). */
export const madePblClientSchema = z.object({ ip: ipAddress, id: u32 });
export type MadePblClient = z.infer<typeof madePblClientSchema>;
