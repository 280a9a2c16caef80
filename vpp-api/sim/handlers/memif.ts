/** memif.api: socket filenames, interface create/delete, dumps (memif.c / memif_api.c semantics). */
import { memif } from '../../generated/index.js';
import type { MemifMode, MemifRole } from '../../generated/memif.js';
import { flagsOf, on, type HandlerContext, type HandlerSpec } from '../handler.js';
import { Retval, U32_MAX } from '../retval.js';
import { ETHERNET_DEFAULT_MTU, randomMac, ZERO_MAC, type MemifDevice, type SimState } from '../state.js';
import { statusFlags } from './interface.js';

const DEFAULT_RING_SIZE = 1024;
const DEFAULT_BUFFER_SIZE = 2048;

/** The netns of an `abstract:NAME,netns_name=PATH` socket filename, if any. */
export function netnsOfSocket(filename: string): string | undefined {
  if (!filename.startsWith('abstract:')) return undefined;
  for (const part of filename.slice('abstract:'.length).split(',').slice(1)) {
    if (part.startsWith('netns_name=')) return part.slice('netns_name='.length);
  }
  return undefined;
}

function unusedSocketId(state: SimState): number {
  for (;;) {
    const id = state.memifRandom.next();
    if (id !== 0 && id !== U32_MAX && !state.memifSockets.has(id)) return id;
  }
}

/** memif_socket_filename_add_del of memif.c. */
function socketFilenameAddDel(ctx: HandlerContext, isAdd: boolean, socketId: number, filename: string): number {
  const st = ctx.state;
  if ((socketId === 0 && !isAdd) || socketId === U32_MAX) return Retval.INVALID_ARGUMENT;
  if (!isAdd) {
    const s = st.memifSockets.get(socketId);
    if (!s) return Retval.INVALID_ARGUMENT;
    if (s.refCnt > 0) return Retval.UNEXPECTED_INTF_STATE;
    st.memifSockets.delete(socketId);
    return 0;
  }
  if (filename === '') return Retval.INVALID_ARGUMENT;
  let path = filename;
  if (!filename.startsWith('abstract:')) {
    if (!filename.startsWith('/')) {
      path = `${ctx.config.runtimeDir}/${filename}`;
    } else {
      if (!directoryAccessible(ctx, filename)) return Retval.INVALID_ARGUMENT;
    }
  }
  const existing = st.memifSockets.get(socketId);
  if (existing) return existing.filename === path ? 0 : Retval.ENTRY_ALREADY_EXISTS;
  st.memifSockets.set(socketId, { socketId, filename: path, refCnt: 0, isListener: false, memifIds: new Map() });
  return 0;
}

interface MemifCreateRequest {
  role: number;
  mode: number;
  rx_queues: number;
  tx_queues: number;
  id: number;
  socket_id: number;
  ring_size: number;
  buffer_size: number;
  no_zero_copy: boolean;
  hw_addr: string;
  secret: string;
}

function isPow2(n: number): boolean {
  return n > 0 && (n & (n - 1)) === 0;
}

/** memif_create handler + memif_create_if: returns the reply fields. */
function createMemif(ctx: HandlerContext, req: MemifCreateRequest): { retval: number; sw_if_index: number } {
  const st = ctx.state;
  const ringSize = req.ring_size === 0 ? DEFAULT_RING_SIZE : req.ring_size;
  if (!isPow2(ringSize)) return { retval: Retval.INVALID_ARGUMENT, sw_if_index: 0 };
  const isMaster = req.role === 0;
  const sock = st.memifSockets.get(req.socket_id);
  if (!sock) return { retval: Retval.INVALID_ARGUMENT, sw_if_index: 0 };
  if (sock.refCnt > 0 && (sock.isListener !== isMaster || sock.memifIds.has(req.id))) return { retval: Retval.SUBIF_ALREADY_EXISTS, sw_if_index: 0 };
  if (req.mode !== 0 && req.mode !== 1) return { retval: Retval.SYSCALL_ERROR_2, sw_if_index: 0 }; // "unsupported interface mode"
  const ethernet = req.mode === 0;
  const l2 = ethernet ? (req.hw_addr !== ZERO_MAC ? req.hw_addr : randomMac()) : ZERO_MAC;
  const devInstance = st.memifDevPool.alloc();
  const device: MemifDevice = {
    kind: 'memif',
    devInstance,
    socketId: req.socket_id,
    id: req.id,
    role: isMaster ? 0 : 1,
    mode: req.mode,
    ringSize,
    bufferSize: req.buffer_size === 0 ? DEFAULT_BUFFER_SIZE : req.buffer_size,
    rxQueues: req.rx_queues || 1,
    txQueues: req.tx_queues || 1,
    secret: req.secret,
    zeroCopy: !isMaster && !req.no_zero_copy,
  };
  const itf = st.createInterface({
    device,
    name: `memif${req.socket_id}/${req.id}`,
    devType: 'memif',
    l2Address: l2,
    linkMtu: ethernet ? ETHERNET_DEFAULT_MTU : 0,
  });
  if (sock.refCnt === 0) {
    sock.isListener = isMaster;
    if (isMaster && !listenerPossible(ctx, sock.filename)) {
      // clib_socket_init failed (netns or directory missing): VPP deletes the interface it had just made
      // but still reports its sw_if_index.
      st.deleteInterface(itf);
      st.memifDevPool.release(devInstance);
      return { retval: Retval.SYSCALL_ERROR_4, sw_if_index: itf.swIfIndex };
    }
  }
  sock.refCnt++;
  sock.memifIds.set(req.id, itf.swIfIndex);
  return { retval: 0, sw_if_index: itf.swIfIndex };
}

function listenerPossible(ctx: HandlerContext, filename: string): boolean {
  if (filename.startsWith('abstract:')) {
    const netns = netnsOfSocket(filename);
    return netns === undefined || ctx.host.pathExists(netns);
  }
  // Directories under the runtime dir exist: VPP made them when the (relative) filename was added.
  const dir = dirOf(filename);
  const rt = ctx.config.runtimeDir;
  return dir === rt || dir.startsWith(`${rt}/`) || ctx.host.directoryAccessible(dir);
}

function dirOf(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

/** faccessat(dir, R_OK | W_OK) on an absolute socket's directory; VPP's own runtime directory always exists. */
function directoryAccessible(ctx: HandlerContext, path: string): boolean {
  const dir = dirOf(path);
  return dir === ctx.config.runtimeDir || ctx.host.directoryAccessible(dir);
}

export const memifHandlers: readonly HandlerSpec[] = [
  on(memif.memif_socket_filename_add_del_v2, (req, ctx) => {
    let socketId = req.socket_id;
    if (socketId === 0) return ctx.send(memif.memif_socket_filename_add_del_v2_reply, { retval: Retval.INVALID_ARGUMENT, socket_id: 0 });
    if (req.is_add && socketId === U32_MAX) socketId = unusedSocketId(ctx.state);
    const retval = socketFilenameAddDel(ctx, req.is_add, socketId, req.socket_filename);
    ctx.send(memif.memif_socket_filename_add_del_v2_reply, { retval, socket_id: socketId });
  }),

  on(memif.memif_socket_filename_add_del, (req, ctx) => {
    const retval =
      req.socket_id === 0 || req.socket_id === U32_MAX ? Retval.INVALID_ARGUMENT : socketFilenameAddDel(ctx, req.is_add, req.socket_id, req.socket_filename);
    ctx.send(memif.memif_socket_filename_add_del_reply, { retval });
  }),

  on(memif.memif_create_v2, (req, ctx) => {
    ctx.send(memif.memif_create_v2_reply, createMemif(ctx, req));
  }),

  on(memif.memif_create, (req, ctx) => {
    ctx.send(memif.memif_create_reply, createMemif(ctx, req));
  }),

  on(memif.memif_delete, (req, ctx) => {
    const st = ctx.state;
    const itf = st.get(req.sw_if_index);
    if (!itf || itf.device.kind !== 'memif') return ctx.send(memif.memif_delete_reply, { retval: Retval.INVALID_SW_IF_INDEX });
    const dev = itf.device;
    st.deleteInterface(itf);
    st.memifDevPool.release(dev.devInstance);
    const sock = st.memifSockets.get(dev.socketId);
    if (sock) {
      sock.memifIds.delete(dev.id);
      sock.refCnt = Math.max(0, sock.refCnt - 1);
    }
    ctx.send(memif.memif_delete_reply, { retval: 0 });
  }),

  on(memif.memif_dump, (_req, ctx) => {
    const byInstance = new Map<number, ReturnType<SimState['interfaceList']>[number]>();
    for (const itf of ctx.state.interfaces.values()) if (itf.device.kind === 'memif') byInstance.set(itf.device.devInstance, itf);
    for (const i of [...byInstance.keys()].sort((a, b) => a - b)) {
      const itf = byInstance.get(i)!;
      const d = itf.device as MemifDevice;
      ctx.send(memif.memif_details, {
        sw_if_index: itf.swIfIndex,
        hw_addr: itf.l2Address,
        id: d.id,
        role: flagsOf<MemifRole>(d.role),
        mode: flagsOf<MemifMode>(d.mode),
        zero_copy: d.zeroCopy,
        socket_id: d.socketId,
        // Runtime values: 1 << 0 and 0 until a peer connects (the simulator never has one).
        ring_size: 1,
        buffer_size: 0,
        flags: statusFlags(itf),
        if_name: itf.name,
      });
    }
  }),

  on(memif.memif_socket_filename_dump, (_req, ctx) => {
    for (const s of ctx.state.memifSockets.values()) {
      ctx.send(memif.memif_socket_filename_details, { socket_id: s.socketId, socket_filename: s.filename });
    }
  }),
];
