/** The agent's logger: pino JSON on stdout, one event per line (readable with `kubectl logs`, pino-pretty locally). */
import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, node: string, destination?: NodeJS.WritableStream): Logger {
  const opts = { level, base: { component: 'vpp-cni-agent', node: node || undefined }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(opts, destination) : pino(opts);
}
