/**
 * vpp-cnictl's side of the agent's troubleshooting socket (contract/ctl-api.ts): one HTTP request over the
 * unix socket, bounded by a timeout, its answer validated (zod) before use. Each failure is its own class so
 * the commands map it to one exit code (exit-codes.ts).
 */
import { request } from 'node:http';
import type { z } from 'zod';
import type { CtlErrorBody } from '../contract/ctl-api.js';
import { EXIT, type ExitCode } from './exit-codes.js';

/** The agent answered with a status other than 200; `message` is its error line. */
export class CtlHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class CtlConnectError extends Error {}
export class CtlTimeoutError extends Error {}
export class CtlMalformedError extends Error {}

/** The validated answer, or a CtlMalformedError naming the first bad field. */
export function parseAnswer<T>(schema: z.ZodType<T>, what: string, value: unknown): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const where = issue ? `${issue.path.join('.') || '(top)'}: ${issue.message}` : r.error.message;
  throw new CtlMalformedError(`the agent answered ${what} with something this vpp-cnictl does not understand (agent of another release?): ${where}`);
}

/** The error line of a non-200 answer: the body's `error` when it has one (a string), else the status. */
function errorLine(status: number, parsed: unknown): string {
  if (parsed !== null && typeof parsed === 'object' && typeof (parsed as Partial<CtlErrorBody>).error === 'string') return (parsed as CtlErrorBody).error;
  return `HTTP ${status}`;
}

/**
 * `method path` on the agent's socket; a 200 answer is validated with `schema`. No request body is sent
 * (POST /v1/node/cleanup takes none).
 */
export function agentCall<T>(socketPath: string, method: 'GET' | 'POST', path: string, timeoutMs: number, schema: z.ZodType<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method, timeout: timeoutMs, headers: method === 'POST' ? { 'content-length': 0 } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          return reject(new CtlHttpError(res.statusCode ?? 0, `agent answered HTTP ${res.statusCode} with something that is not JSON`));
        }
        if (res.statusCode === 200) {
          try {
            resolve(parseAnswer(schema, `${method} ${path}`, parsed));
          } catch (e) {
            reject(e as Error);
          }
        } else reject(new CtlHttpError(res.statusCode ?? 0, errorLine(res.statusCode ?? 0, parsed)));
      });
    });
    req.on('timeout', () => req.destroy(new CtlTimeoutError(`no answer from the agent at ${socketPath} within ${timeoutMs} ms`)));
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (e instanceof CtlTimeoutError) return reject(e);
      const hint =
        e.code === 'ENOENT'
          ? 'no such socket (is the agent running on this node? --agent-socket / VPPCNI_CTL_SOCKET)'
          : e.code === 'EACCES'
            ? 'permission denied (the socket is root only)'
            : e.code === 'ECONNREFUSED'
              ? 'connection refused (agent not running?)'
              : e.message;
      reject(new CtlConnectError(`cannot reach the agent at ${socketPath}: ${hint}`));
    });
    req.end();
  });
}

/**
 * The exit code for a failed agent call: 3 unreachable, 5 timeout, 6 an answer not understood, 2 the agent
 * refused the input (400), 1 any other answer of the agent's (404: it does not know the object; 405, 409,
 * 500: it said no), 7 anything else (a bug here).
 */
export function agentErrorExit(e: unknown): ExitCode {
  if (e instanceof CtlConnectError) return EXIT.connect;
  if (e instanceof CtlTimeoutError) return EXIT.timeout;
  if (e instanceof CtlMalformedError) return EXIT.badAnswer;
  if (e instanceof CtlHttpError) return e.status === 400 ? EXIT.usage : EXIT.refused;
  return EXIT.internal;
}
