/**
 * One unary gRPC call over HTTP/2 on a unix socket, with node:http2 only: the plugin makes a single call
 * per run, so a full gRPC runtime (channels, balancers, retries) would only cost start-up time.
 * Wire rules (gRPC over HTTP/2): POST /<service>/<method>, content-type application/grpc, te: trailers,
 * a 5-byte length prefix (compression flag + u32 big-endian length) before the message; the status comes
 * in the trailers (grpc-status, grpc-message), or in the headers of a trailers-only response.
 */
import { connect as netConnect } from 'node:net';

export const GRPC_STATUS = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

const STATUS_NAMES: Record<number, string> = {
  0: 'OK', 1: 'CANCELLED', 2: 'UNKNOWN', 3: 'INVALID_ARGUMENT', 4: 'DEADLINE_EXCEEDED', 5: 'NOT_FOUND', 6: 'ALREADY_EXISTS',
  7: 'PERMISSION_DENIED', 8: 'RESOURCE_EXHAUSTED', 9: 'FAILED_PRECONDITION', 10: 'ABORTED', 11: 'OUT_OF_RANGE',
  12: 'UNIMPLEMENTED', 13: 'INTERNAL', 14: 'UNAVAILABLE', 15: 'DATA_LOSS', 16: 'UNAUTHENTICATED',
};

export function statusName(code: number): string {
  return STATUS_NAMES[code] ?? String(code);
}

export class GrpcCallError extends Error {
  override readonly name = 'GrpcCallError';
  constructor(
    readonly status: number,
    readonly details: string,
    /** Whether an HTTP/2 connection had been established (timeouts before it mean "unreachable"). */
    readonly connected: boolean,
    /** errno of a failed connect (ENOENT, ECONNREFUSED, EACCES...). */
    readonly errno?: string,
  ) {
    super(`${statusName(status)}: ${details}`);
  }
}

/** node:http2 is loaded on first call (it cannot be part of the plugin's start-up snapshot). */
export function unaryCall(socketPath: string, path: string, message: Buffer, timeoutMs: number): Promise<Buffer> {
  // getBuiltinModule, not import(): a dynamic import has no loader inside the start-up snapshot.
  const { connect: h2connect, constants: h2 } = process.getBuiltinModule('node:http2') as typeof import('node:http2');
  return new Promise<Buffer>((resolve, reject) => {
    let connected = false;
    let settled = false;
    const session = h2connect('http://localhost', { createConnection: () => netConnect(socketPath) });
    const finish = (err: GrpcCallError | undefined, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(() => finish(new GrpcCallError(GRPC_STATUS.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`, connected)), timeoutMs);
    session.on('connect', () => (connected = true));
    /** A connect failure surfaces on the session or, first, on the pending stream ("caused by: connect ENOENT"). */
    const transportError = (e: Error & { code?: string; cause?: unknown }): void => {
      const cause = e.cause as { code?: string } | undefined;
      const code = [e.code, cause?.code, /connect (E[A-Z]+)/.exec(e.message)?.[1]].find((c) => c && /^E[A-Z]+$/.test(c));
      finish(new GrpcCallError(GRPC_STATUS.UNAVAILABLE, code ? `connect ${code}` : e.message, connected, code));
    };
    session.on('error', transportError);

    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc',
      [h2.HTTP2_HEADER_TE]: 'trailers',
      'grpc-timeout': `${Math.max(1, Math.ceil(timeoutMs))}m`,
    });
    let headers: Record<string, string | string[] | undefined> = {};
    let trailers: Record<string, string | string[] | undefined> = {};
    const chunks: Buffer[] = [];
    req.on('response', (h) => (headers = h));
    req.on('trailers', (t) => (trailers = t));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('error', transportError);
    req.on('end', () => {
      const statusText = trailers['grpc-status'] ?? headers['grpc-status'];
      const status = statusText === undefined ? (Number(headers[h2.HTTP2_HEADER_STATUS]) === 200 ? GRPC_STATUS.UNKNOWN : GRPC_STATUS.UNAVAILABLE) : Number(statusText);
      if (status !== GRPC_STATUS.OK) {
        const msg = String(trailers['grpc-message'] ?? headers['grpc-message'] ?? (statusText === undefined ? `no grpc-status (HTTP ${String(headers[h2.HTTP2_HEADER_STATUS])})` : ''));
        let details = msg;
        try {
          details = decodeURIComponent(msg);
        } catch {
          // keep it percent-encoded
        }
        finish(new GrpcCallError(status, details, true));
        return;
      }
      const body = Buffer.concat(chunks);
      if (body.length < 5) return finish(new GrpcCallError(GRPC_STATUS.INTERNAL, 'reply without a message', true));
      if (body[0] !== 0) return finish(new GrpcCallError(GRPC_STATUS.INTERNAL, 'compressed reply (not negotiated)', true));
      const len = body.readUInt32BE(1);
      if (body.length < 5 + len) return finish(new GrpcCallError(GRPC_STATUS.INTERNAL, 'truncated reply', true));
      finish(undefined, body.subarray(5, 5 + len));
    });
    const frame = Buffer.allocUnsafe(5 + message.length);
    frame[0] = 0;
    frame.writeUInt32BE(message.length, 1);
    message.copy(frame, 5);
    req.end(frame);
  });
}
