/** memif interfaces (VPP always the server) and their sockets. */
import * as memif from '../../vpp-api/generated/memif.js';
import { MemifMode, MemifRole } from '../../vpp-api/generated/memif.js';
import { deleteTolerant, type VppApi } from './api.js';

export interface MemifServer {
  socketId: number;
  /** Ethernet (L2) or IP (L3) mode. */
  ethernet: boolean;
  rxQueues: number;
  txQueues: number;
  ringSize: number;
  bufferSize: number;
}

export interface MemifInfo {
  swIfIndex: number;
  socketId: number;
  role: 'server' | 'client';
  /** `ethernet`, `ip`, `punt/inject`. */
  mode: string;
  ringSize: number;
  bufferSize: number;
  connected: boolean;
}

const MODES: Record<number, string> = { [MemifMode.MEMIF_MODE_API_ETHERNET]: 'ethernet', [MemifMode.MEMIF_MODE_API_IP]: 'ip', [MemifMode.MEMIF_MODE_API_PUNT_INJECT]: 'punt/inject' };
const CONNECTED = 2;

/** Registers a socket filename; returns the socket id VPP gave it. */
export async function addMemifSocket(vpp: VppApi, filename: string): Promise<number> {
  return (await vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: 0xffffffff, socket_filename: filename })).socket_id;
}

/** Idempotent. */
export async function deleteMemifSocket(vpp: VppApi, socketId: number): Promise<void> {
  await deleteTolerant(() => vpp.request(memif.memif_socket_filename_add_del_v2, { is_add: false, socket_id: socketId, socket_filename: '' }));
}

/** A memif in the server (master) role on `socketId`. Returns its sw_if_index. */
export async function createMemifServer(vpp: VppApi, m: MemifServer): Promise<number> {
  const r = await vpp.request(memif.memif_create_v2, {
    role: MemifRole.MEMIF_ROLE_API_MASTER,
    mode: m.ethernet ? MemifMode.MEMIF_MODE_API_ETHERNET : MemifMode.MEMIF_MODE_API_IP,
    rx_queues: m.rxQueues,
    tx_queues: m.txQueues,
    id: 0,
    socket_id: m.socketId,
    ring_size: m.ringSize,
    buffer_size: m.bufferSize,
  });
  return r.sw_if_index;
}

/** Idempotent. */
export async function deleteMemif(vpp: VppApi, swIfIndex: number): Promise<void> {
  await deleteTolerant(() => vpp.request(memif.memif_delete, { sw_if_index: swIfIndex }));
}

export async function listMemifs(vpp: VppApi): Promise<MemifInfo[]> {
  return (await vpp.dumpAll(memif.memif_dump, {})).map((m) => ({
    swIfIndex: m.sw_if_index,
    socketId: m.socket_id,
    role: m.role === MemifRole.MEMIF_ROLE_API_MASTER ? 'server' : 'client',
    mode: MODES[m.mode] ?? String(m.mode),
    ringSize: m.ring_size,
    bufferSize: m.buffer_size,
    connected: (m.flags & CONNECTED) !== 0,
  }));
}

/** socket id → filename. */
export async function listMemifSockets(vpp: VppApi): Promise<Map<number, string>> {
  return new Map((await vpp.dumpAll(memif.memif_socket_filename_dump, {})).map((s) => [s.socket_id, s.socket_filename]));
}
