/**
 * Names the field a truncated message lost. The generated decoders reject a message shorter than its fixed
 * part as a whole; this finds which field the cut falls in, from the decoder itself: the fixed part is
 * decoded twice, from bytes that are equal before the cut and differ after it, and the first field whose
 * value differs is the first one the message does not hold entirely. Runs only on the error path.
 */
import { VppDecodeError } from './errors.js';
import type { MessageDef } from './types.js';

function same(a: unknown, b: unknown): boolean {
  const j = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x));
  return j(a) === j(b);
}

/** The error for a message of `length` bytes when `def` needs at least `def.fixedSize`. */
export function shortMessageError(def: MessageDef, length: number): VppDecodeError {
  const detail = `${length} bytes, the fixed part needs ${def.fixedSize}`;
  const header: [string, number][] = [
    ['_vl_msg_id', 0],
    ['client_index', def.clientIndexOffset],
    ['context', def.contextOffset],
  ];
  for (const [name, off] of header) {
    if (off >= 0 && length < off + (name === '_vl_msg_id' ? 2 : 4)) return new VppDecodeError(def.name, `${detail}: field ${name} is cut off`, name);
  }
  try {
    // Two buffers equal before the cut and different after it (ones, then zeros or ones): a string cut in
    // its middle differs too, as its bytes before the cut are not NULs.
    const cut = Buffer.alloc(def.fixedSize);
    cut.fill(1, 0, Math.max(length, 0));
    const full = Buffer.alloc(def.fixedSize, 1);
    const a = def.decode(cut) as Record<string, unknown>;
    const b = def.decode(full) as Record<string, unknown>;
    for (const f of def.fields) {
      if (!same(a[f.name], b[f.name])) return new VppDecodeError(def.name, `${detail}: field ${f.name} is cut off`, f.name);
    }
  } catch {
    // The probe itself could not decode: fall back to naming the message only.
  }
  return new VppDecodeError(def.name, detail);
}

/** Decodes one message, naming the cut field when it is shorter than its fixed part. */
export function decodeChecked<Out>(def: MessageDef<unknown, Out>, msg: Buffer): Out {
  if (msg.length < def.fixedSize) throw shortMessageError(def, msg.length);
  return def.decode(msg);
}
