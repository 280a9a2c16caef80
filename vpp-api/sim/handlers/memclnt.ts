/** memclnt (connection, ping, message ids) plus the vpe/vlib basics: show_version, show_threads. */
import { memclnt, vlib, vpe } from '../../generated/index.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import type { MessageTable } from '../message-table.js';

/** sockclnt_create_reply with index 0 and context 0, per message table (patched per client). */
const handshakeTemplates = new WeakMap<MessageTable, Buffer>();

function handshakeTemplate(ctx: HandlerContext): Buffer {
  let t = handshakeTemplates.get(ctx.table);
  if (!t) {
    const def = memclnt.sockclnt_create_reply;
    const value = { response: 0, index: 0, message_table: ctx.table.entries.map((e) => ({ index: e.index, name: e.name })) };
    t = Buffer.alloc(def.size(value));
    def.encode(t, 0, ctx.table.mustId(def.name), 0, 0, value);
    handshakeTemplates.set(ctx.table, t);
  }
  return t;
}

export const memclntHandlers: readonly HandlerSpec[] = [
  on(memclnt.sockclnt_create, (req, ctx) => {
    ctx.connection.setName(req.name);
    const msg = Buffer.from(handshakeTemplate(ctx));
    msg.writeUInt32BE(ctx.context, 6);
    msg.writeUInt32BE(ctx.connection.clientIndex, 14);
    ctx.sendEncoded(msg, true);
  }),

  on(memclnt.sockclnt_delete, (req, ctx) => {
    // socket_api_registration_handle_to_index: the handle without its socket bit.
    const registrationIndex = req.index & 0x7fffffff;
    if (!ctx.control.isRegistrationLive(registrationIndex)) {
      ctx.send(memclnt.sockclnt_delete_reply, { response: -1 });
      return;
    }
    ctx.send(memclnt.sockclnt_delete_reply, { response: 1 });
    if (registrationIndex !== ctx.connection.registrationIndex) ctx.control.closeRegistration(registrationIndex);
    ctx.connection.closeAfterReply();
  }),

  on(memclnt.control_ping, (_req, ctx) => {
    ctx.send(memclnt.control_ping_reply, { retval: 0, client_index: ctx.clientIndex, vpe_pid: ctx.state.vpePid });
  }),

  on(memclnt.memclnt_keepalive, (_req, ctx) => {
    ctx.send(memclnt.memclnt_keepalive_reply, { retval: 0 });
  }),

  on(memclnt.get_first_msg_id, (req, ctx) => {
    const first = ctx.table.firstIdOfRange(req.name);
    ctx.send(memclnt.get_first_msg_id_reply, first === undefined ? { retval: -7, first_msg_id: 0xffff } : { retval: 0, first_msg_id: first });
  }),

  on(memclnt.api_versions, (_req, ctx) => {
    ctx.send(memclnt.api_versions_reply, { retval: 0, api_versions: [] });
  }),

  on(memclnt.get_api_json, (_req, ctx) => {
    ctx.send(memclnt.get_api_json_reply, { retval: 0, json: '[]' });
  }),

  on(vpe.show_version, (_req, ctx) => {
    const v = ctx.config.version;
    ctx.send(vpe.show_version_reply, { retval: 0, program: v.program, version: v.version, build_date: v.buildDate, build_directory: v.buildDirectory });
  }),

  on(vlib.show_threads, (_req, ctx) => {
    ctx.send(vlib.show_threads_reply, {
      retval: 0,
      thread_data: [{ id: 0, name: 'vpp_main', type: '', pid: ctx.state.vpePid, cpu_id: 1, core: 1, cpu_socket: 0 }],
    });
  }),
];
