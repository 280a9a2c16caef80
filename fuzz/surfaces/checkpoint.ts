/**
 * The checkpoint read back from disk (in-process): mutated checkpoint files through CheckpointStore.load.
 * Every file must load, be empty, or be moved aside with a reason; load must never throw. (The checkpoint
 * is h1's area in issue 17: this harness drives today's public entry point only.)
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHECKPOINT_FILE, CheckpointStore } from '../../agent/state/checkpoint.js';
import { mutate, RAW_CONTROL, STACK_RE, type Outcome, type Surface } from '../lib.js';
import { silentLogger } from '../../lib/logger.js';

const spec = { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024, isl3: true, rxMode: 'adaptive' };
const record = {
  containerId: 'c1',
  ifName: 'eth0',
  netns: '/var/run/netns/p',
  pod: { namespace: 'default', name: 'web' },
  kind: 'tun',
  ips: [{ address: '10.0.0.5/24' }],
  routes: [{ dst: '0.0.0.0/0' }],
  objects: {
    tun: { swIfIndex: 3, tag: 'vcni:c1:eth0:tun:default/web', hostIfName: 'eth0', l2: false, spec },
    memif: { mode: 'pbl', socketId: 1, socketFilename: 'abstract:vpp/memif-eth0', socketName: '@vpp/memif-eth0', swIfIndex: 4, tag: 't', l2: true, spec, ports: [{ proto: 'tcp', start: 80, end: 90 }] },
    pbl: [{ ip: '10.0.0.5', id: 0 }],
    routes: [{ prefix: '10.0.0.5/32', tableId: 0, swIfIndex: 3 }],
    neighbors: [{ swIfIndex: 4, ip: '10.0.0.5', mac: '02:00:00:00:00:01' }],
  },
  result: { interfaces: [{ name: 'eth0', mtu: 1450, sandbox: '/var/run/netns/p' }], ips: [{ address: '10.0.0.5/24', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }] },
  annotations: { 'cni.projectcalico.org/vppVcl': 'disable' },
  createdAt: '2026-11-21T00:00:00.000Z',
};
const SEEDS = [
  JSON.stringify({ version: 1, attachments: [record], intents: [{ op: 'add', containerId: 'c2', ifName: 'eth0', netns: '/n', pod: { namespace: 'a', name: 'b' }, ips: [], startedAt: '2026-11-21T00:00:00.000Z' }] }),
  JSON.stringify({ version: 1, attachments: [] }),
  JSON.stringify({ version: 2, attachments: [] }),
];
const TOKENS = ['{', '}', '[', ']', ',', ':', '"', 'null', 'true', '"version":', '"attachments":', '"__proto__":', '"constructor":', '1e999', '-1', '"\\u0000"'];

export function checkpointSurface(): Surface {
  let dir = '';
  let n = 0;
  const log = silentLogger;
  return {
    name: 'checkpoint',
    level: 'in-process',
    target: 100_000,
    boundMs: 1_000,
    setup: () => {
      dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'vppcni-fuzz-ckpt-'));
      return Promise.resolve();
    },
    teardown: () => {
      rmSync(dir, { recursive: true, force: true });
      return Promise.resolve();
    },
    one(rng) {
      const text = rng.chance(0.05) ? rng.pick(SEEDS) : mutate(rng, rng.pick(SEEDS), TOKENS, rng.chance(0.02) ? 4 * 1024 * 1024 : 64 * 1024);
      return {
        input: text,
        run: (): Outcome => {
          const d = join(dir, String(n++ % 4));
          mkdirSync(d, { recursive: true });
          writeFileSync(join(d, CHECKPOINT_FILE), text);
          try {
            const o = new CheckpointStore(d, log).load();
            if (o.kind === 'moved-aside') {
              if (STACK_RE.test(o.reason)) return { failure: 'stack', detail: o.reason.slice(0, 500) };
              if (RAW_CONTROL.test(o.reason) || o.reason.length > 4096) return { failure: 'unexpected', detail: `reason ${o.reason.length} characters or with raw control characters: ${JSON.stringify(o.reason.slice(0, 300))}` };
            }
            return undefined;
          } catch (e) {
            return { failure: 'crash', detail: e instanceof Error ? `${e.name}: ${e.message}`.slice(0, 500) : String(e) };
          } finally {
            for (const f of readdirSync(d)) unlinkSync(join(d, f));
          }
        },
      };
    },
  };
}
