/**
 * urpf.api (plugins/urpf: urpf_api.c, urpf.c).
 *
 * - the interface must exist (-2), the mode be off/loose/strict (-7), the family 0/1 (-97);
 * - v2's table_id ~0 means the interface's own table (followed when the interface moves table), any other id must
 *   name an existing table of that family (-7, "unknown table id"); urpf_update (v1) always means ~0;
 * - the config is kept per family, direction and sw_if_index and outlives the interface (the plugin has no
 *   interface-delete hook); the dump lists, for existing interfaces, the configs with a mode or a custom table,
 *   per family then direction, with context and is_input as VPP fills them.
 */
import { urpf } from '../../generated/index.js';
import { on, type HandlerContext, type HandlerSpec } from '../handler.js';
import type { Af } from '../ip-prefix.js';
import { Retval, U32_MAX } from '../retval.js';
import type { SimInterface, SimState, UrpfConfig } from '../state.js';
import { decodeAf } from './punt.js';

const URPF_MODE_OFF = 0;
const URPF_MODE_STRICT = 2;
/** VNET_API_ERROR_INVALID_ADDRESS_FAMILY (ip_address_family_decode). */
const INVALID_ADDRESS_FAMILY = -97;

export function urpfKey(af: Af, isInput: boolean, swIfIndex: number): string {
  return `${af}/${isInput ? 'rx' : 'tx'}/${swIfIndex}`;
}

/** The table a config checks against now: its own, or the interface's current one. */
export function urpfTable(itf: SimInterface, af: Af, cfg: UrpfConfig): number {
  if (cfg.custom) return cfg.tableId;
  return af === 4 ? itf.ip4Table : itf.ip6Table;
}

/** True when the check runs on this interface: a mode other than off, switched on for this very interface. */
export function urpfActive(st: SimState, af: Af, isInput: boolean, swIfIndex: number): UrpfConfig | undefined {
  const cfg = st.punt.urpf.get(urpfKey(af, isInput, swIfIndex));
  const itf = st.get(swIfIndex);
  return cfg && itf && cfg.mode !== URPF_MODE_OFF && cfg.enabledOn === itf ? cfg : undefined;
}

function update(ctx: HandlerContext, req: { is_input: boolean; mode: number; af: number; sw_if_index: number }, tableId: number): number {
  const st = ctx.state;
  const itf = st.get(req.sw_if_index);
  if (!itf) return Retval.INVALID_SW_IF_INDEX;
  if (req.mode > URPF_MODE_STRICT) return Retval.INVALID_VALUE;
  const af = decodeAf(req.af);
  if (af === undefined) return INVALID_ADDRESS_FAMILY;
  if (tableId !== U32_MAX && !st.table(af, tableId)) return Retval.INVALID_VALUE;
  const key = urpfKey(af, req.is_input, itf.swIfIndex);
  const old = st.punt.urpf.get(key);
  const custom = tableId !== U32_MAX;
  const table = custom ? tableId : af === 4 ? itf.ip4Table : itf.ip6Table;
  const oldTable = old ? (old.custom ? old.tableId : af === 4 ? itf.ip4Table : itf.ip6Table) : 0;
  const oldMode = old?.mode ?? URPF_MODE_OFF;
  // The feature moves only when mode or table change; otherwise whatever is (not) on the arc stays.
  const changed = req.mode !== oldMode || table !== oldTable;
  const enabledOn = changed ? (req.mode !== URPF_MODE_OFF ? itf : undefined) : old?.enabledOn;
  st.punt.urpf.set(key, { mode: req.mode, tableId: table, custom, enabledOn });
  return 0;
}

export const urpfHandlers: readonly HandlerSpec[] = [
  on(urpf.urpf_update, (req, ctx) => {
    ctx.send(urpf.urpf_update_reply, { retval: update(ctx, req, U32_MAX) });
  }),

  on(urpf.urpf_update_v2, (req, ctx) => {
    ctx.send(urpf.urpf_update_v2_reply, { retval: update(ctx, req, req.table_id) });
  }),

  on(urpf.urpf_interface_dump, (req, ctx) => {
    const st = ctx.state;
    const itfs = req.sw_if_index === U32_MAX ? st.interfaceList() : [st.get(req.sw_if_index)].filter((i): i is SimInterface => i !== undefined);
    for (const itf of itfs) {
      for (const af of [4, 6] as const) {
        for (const isInput of [true, false]) {
          const cfg = st.punt.urpf.get(urpfKey(af, isInput, itf.swIfIndex));
          if (!cfg || (cfg.mode === URPF_MODE_OFF && !cfg.custom)) continue;
          ctx.send(urpf.urpf_interface_details, { sw_if_index: itf.swIfIndex, is_input: isInput, mode: cfg.mode, af: af === 4 ? 0 : 1, table_id: urpfTable(itf, af, cfg) });
        }
      }
    }
  }),
];
