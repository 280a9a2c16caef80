/**
 * Descriptors shared by the generated bindings, the client and the simulator.
 *
 * A generated message is a plain object implementing MessageDef: no registration happens at import,
 * callers hand the descriptors they use to the client. Encoders write the whole message (id and
 * header fields included) into a caller-provided buffer so the transport can batch frames without
 * copying; decoders read a buffer that holds exactly one message.
 */

/** What a message is for, derived from the .api services (falling back to its header fields). */
export type MessageKind = 'request' | 'reply' | 'details' | 'event' | 'other';

/** Field description kept for tools that convert JSON (CLI) and for reports. */
export interface FieldSchema {
  readonly name: string;
  /** Base type (u8..f64, bool, string) or the name of a type, enum, union or alias. */
  readonly type: string;
  readonly kind: 'scalar' | 'string' | 'struct' | 'union' | 'enum' | 'enumflag' | 'special' | 'bytes';
  /** Fixed element count (arrays) or fixed byte length (strings); 0 for a variable `string s[]`. */
  readonly length?: number;
  /** Name of the earlier field that carries the element count of a variable array. */
  readonly lengthFrom?: string;
  readonly default?: number | boolean;
}

export interface TypeSchema {
  readonly name: string;
  readonly kind: 'struct' | 'union' | 'enum' | 'enumflag' | 'alias';
  readonly fields?: readonly FieldSchema[];
  readonly members?: Readonly<Record<string, number>>;
  readonly size?: number;
}

export interface MessageDef<In = unknown, Out = unknown> {
  readonly name: string;
  readonly crc: number;
  /** `<name>_<crc as 8 hex digits>`, the key of VPP's message table. */
  readonly nameCrc: string;
  readonly module: string;
  readonly kind: MessageKind;
  /** Byte offset of the context field inside the message, or -1. */
  readonly contextOffset: number;
  /** Byte offset of the client_index header field, or -1. */
  readonly clientIndexOffset: number;
  /** Byte offset of the i32 retval field, or -1 when the message has none. */
  readonly retvalOffset: number;
  /** Size of the fixed part, including the 2-byte message id. */
  readonly fixedSize: number;
  readonly deprecated: boolean;
  readonly fields: readonly FieldSchema[];
  /** Total encoded size of `v`, message id included. */
  size(v: In): number;
  /** Writes the whole message at `p`: id, header fields, then the body. */
  encode(b: Buffer, p: number, msgId: number, clientIndex: number, context: number, v: In): void;
  /** Decodes one message held exactly by `b` (offset 0 is the message id). Header fields are not returned. */
  decode(b: Buffer): Out;
}

export interface RequestDef<In, Out, R> extends MessageDef<In, Out> {
  readonly kind: 'request';
  readonly reply: MessageDef<unknown, R>;
}

/** A legacy `*_dump` request: details until the control_ping_reply that follows it. */
export interface DumpDef<In, Out, D> extends MessageDef<In, Out> {
  readonly kind: 'request';
  readonly stream: 'dump';
  readonly details: MessageDef<unknown, D>;
}

/** A cursor stream (`*_get`): details then a reply; retval -165 means "resend with the cursor". */
export interface CursorDef<In, Out, R, D> extends MessageDef<In, Out> {
  readonly kind: 'request';
  readonly stream: 'cursor';
  readonly reply: MessageDef<unknown, R>;
  readonly details: MessageDef<unknown, D>;
}

/** A `want_*` request whose success starts the listed events. */
export interface EventsDef<In, Out, R> extends RequestDef<In, Out, R> {
  readonly events: readonly MessageDef[];
}

/** The input and output types of a descriptor. */
export type InOf<M> = M extends MessageDef<infer I, unknown> ? I : never;
export type OutOf<M> = M extends MessageDef<unknown, infer O> ? O : never;

/** Everything one generated module exports for registration with a client or simulator. */
export interface ApiModule {
  readonly module: string;
  readonly source: string;
  readonly version: string;
  readonly messages: readonly MessageDef[];
  readonly types: readonly TypeSchema[];
}

/** Read position shared by the decoders of one message. */
export interface Cursor {
  p: number;
}
