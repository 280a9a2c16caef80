/**
 * The CniBackend service for a grpc-js server, with the contract's own codec (contract/wire.ts, tables
 * generated from cni-backend.proto): server and plugin parse and write the same bytes the same way.
 * Structurally a grpc-js ServiceDefinition (contract/ imports no runtime).
 */
import { METHODS, SERVICE, type MethodName } from './generated/cni-backend.js';
import { decode, encode } from './wire.js';

export interface UnaryMethodDefinition {
  path: string;
  requestStream: false;
  responseStream: false;
  originalName: string;
  requestSerialize: (value: unknown) => Buffer;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (value: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
}

export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

export function methodPath(method: MethodName): string {
  return `/${SERVICE}/${method}`;
}

/**
 * One definition per rpc. `rawRequests`: the handler receives the request's bytes (a Buffer) and decodes
 * them itself, so a malformed message becomes an answer naming the field instead of a transport error.
 */
export function cniBackendService(opts: { rawRequests?: boolean } = {}): Record<MethodName, UnaryMethodDefinition> {
  const out = {} as Record<MethodName, UnaryMethodDefinition>;
  for (const m of METHOD_NAMES) {
    const [req, reply] = METHODS[m];
    out[m] = {
      path: methodPath(m),
      requestStream: false,
      responseStream: false,
      originalName: m,
      requestSerialize: (v) => encode(req, v as object),
      requestDeserialize: opts.rawRequests ? (b) => b : (b) => decode(req, b),
      responseSerialize: (v) => encode(reply, v as object),
      responseDeserialize: (b) => decode(reply, b),
    };
  }
  return out;
}
