/** The connection to VPP, for the composition root: the client, the API modules it speaks, the messages the agent needs. */
import { allModules } from '../../vpp-api/generated/index.js';
import * as iface from '../../vpp-api/generated/interface.js';
import * as ip from '../../vpp-api/generated/ip.js';
import * as memif from '../../vpp-api/generated/memif.js';
import * as tapv2 from '../../vpp-api/generated/tapv2.js';
import { CNAT_COMPAT_MODULE } from './cnat.js';

export { VppClient, Backoff, DEFAULT_BACKOFF, type BackoffOptions, type VppClientOptions, type VppRestart } from '../../vpp-api/client/index.js';

/**
 * Every API module the generated bindings hold, and the older encodings the façade picks when the connected
 * VPP offers them instead (cnat_set_snat_policy of VPP before 26.06: agent/vpp/cnat.ts).
 */
export const API_MODULES = [...allModules, CNAT_COMPAT_MODULE];

/** Messages the agent cannot work without: connect fails, listing them, when VPP lacks any. */
export const REQUIRED_MESSAGES = [
  iface.sw_interface_dump,
  iface.sw_interface_set_flags,
  iface.create_loopback,
  ip.ip_route_add_del,
  tapv2.tap_create_v3,
  tapv2.tap_delete_v2,
  memif.memif_socket_filename_add_del_v2,
  memif.memif_create_v2,
  memif.memif_delete,
];
