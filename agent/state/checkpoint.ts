/**
 * The agent's checkpoint: every committed attachment, plus the operations in flight (intents), in one
 * versioned JSON file under the state dir. Written atomically (temp file, fsync, rename, fsync of the
 * directory) and read back through zod. A corrupt file, or one written by a newer version, is moved
 * aside (renamed with a suffix) and reported — never silently dropped.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { attachmentKey, type AttachRequest, type AttachmentRecord } from '../pod/attachment.js';
import type { AttachmentStore } from '../cni/attachment-manager.js';

export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_FILE = 'attachments.json';

const specSchema = z.object({ rx: z.number(), tx: z.number(), rxqsz: z.number(), txqsz: z.number(), isl3: z.boolean(), rxMode: z.enum(['polling', 'interrupt', 'adaptive', 'default']) });
const podRef = z.object({ namespace: z.string(), name: z.string(), uid: z.string().optional() });
const ipConfig = z.object({ address: z.string(), gateway: z.string().optional() });
const routeConfig = z.object({ dst: z.string(), gw: z.string().optional() });
const portRange = z.object({ proto: z.enum(['tcp', 'udp']), start: z.number(), end: z.number() });

export const recordSchema = z.object({
  containerId: z.string(),
  ifName: z.string(),
  netns: z.string(),
  pod: podRef,
  kind: z.enum(['tun', 'veth', 'memif-multinet']),
  network: z.string().optional(),
  ips: z.array(ipConfig),
  routes: z.array(routeConfig),
  objects: z.object({
    tun: z.object({ swIfIndex: z.number(), tag: z.string(), hostIfName: z.string(), hostMac: z.string().optional(), l2: z.boolean(), spec: specSchema }).optional(),
    veth: z
      .object({ swIfIndex: z.number(), tag: z.string(), hostIfName: z.string(), podIfName: z.string(), podMac: z.string(), vppMac: z.string(), l2: z.boolean(), spec: specSchema })
      .optional(),
    memif: z
      .object({
        mode: z.enum(['pbl', 'multinet']),
        socketId: z.number(),
        socketFilename: z.string(),
        socketName: z.string(),
        swIfIndex: z.number(),
        tag: z.string(),
        l2: z.boolean(),
        spec: specSchema,
        ports: z.array(portRange).optional(),
      })
      .optional(),
    pbl: z.array(z.object({ ip: z.string(), id: z.number() })),
    routes: z.array(z.object({ prefix: z.string(), tableId: z.number(), swIfIndex: z.number(), nh: z.string().optional() })),
    neighbors: z.array(z.object({ swIfIndex: z.number(), ip: z.string(), mac: z.string() })),
    vcl: z.object({ namespaceId: z.string(), secret: z.string(), sockName: z.string(), socketName: z.string(), loopSwIfIndex: z.number() }).optional(),
    dummy: z.string().optional(),
  }),
  result: z.object({
    interfaces: z.array(z.object({ name: z.string(), mac: z.string().optional(), mtu: z.number().optional(), sandbox: z.string(), socketPath: z.string().optional() })),
    ips: z.array(z.object({ address: z.string(), gateway: z.string().optional(), interface: z.number() })),
    routes: z.array(routeConfig),
  }),
  /** The pod's annotations at ADD (for re-creation after a VPP restart). */
  annotations: z.record(z.string(), z.string()).optional(),
  /** Rebuilt from VPP's tags after the checkpoint was lost (containerId is the tags' 12-character prefix). */
  rebuilt: z.boolean().optional(),
  createdAt: z.string(),
});

const intentSchema = z.object({
  op: z.enum(['add', 'del']),
  containerId: z.string(),
  ifName: z.string(),
  netns: z.string(),
  pod: podRef,
  ips: z.array(ipConfig),
  startedAt: z.string(),
});
export type Intent = z.infer<typeof intentSchema>;

const fileSchema = z.object({
  version: z.number().int(),
  attachments: z.array(recordSchema),
  intents: z.array(intentSchema).default([]),
});

export interface CheckpointLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type LoadOutcome = { kind: 'empty' } | { kind: 'loaded'; attachments: number; intents: number } | { kind: 'moved-aside'; reason: string; movedTo: string };

/** Writes `data` to `path` atomically: temp file in the same directory, fsync, rename, fsync the directory. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const dir = dirname(path);
  const tmp = join(dir, `.${CHECKPOINT_FILE}.tmp-${process.pid}`);
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

export class CheckpointStore implements AttachmentStore {
  private readonly records = new Map<string, AttachmentRecord & { annotations?: Record<string, string> }>();
  private readonly intents = new Map<string, Intent>();
  readonly path: string;
  /** What load() found (for logs, the sweep and tests). */
  outcome: LoadOutcome = { kind: 'empty' };

  constructor(
    stateDir: string,
    private readonly log: CheckpointLogger,
    private readonly now: () => Date = () => new Date(),
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.path = join(stateDir, CHECKPOINT_FILE);
  }

  /** Reads the file. A corrupt or future-version file is renamed aside and the store starts empty. */
  load(): LoadOutcome {
    this.records.clear();
    this.intents.clear();
    if (!existsSync(this.path)) return (this.outcome = { kind: 'empty' });
    let reason: string | undefined;
    let parsed: z.infer<typeof fileSchema> | undefined;
    try {
      const raw: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
      const version = (raw as { version?: unknown })?.version;
      if (typeof version === 'number' && version > CHECKPOINT_VERSION) {
        reason = `written by a newer vpp-cni (checkpoint version ${version}, this agent reads up to ${CHECKPOINT_VERSION})`;
      } else {
        const r = fileSchema.safeParse(raw);
        if (r.success) parsed = r.data;
        else reason = `does not match the checkpoint schema: ${r.error.issues[0]!.path.join('.')}: ${r.error.issues[0]!.message}`;
      }
    } catch (e) {
      reason = `unreadable: ${(e as Error).message}`;
    }
    if (!parsed) {
      const movedTo = `${this.path}.bad-${this.now().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(this.path, movedTo);
      this.log.error({ path: this.path, movedTo, reason }, 'checkpoint moved aside; the state will be rebuilt from VPP and the pod source');
      return (this.outcome = { kind: 'moved-aside', reason: reason!, movedTo });
    }
    for (const r of parsed.attachments) this.records.set(attachmentKey(r.containerId, r.ifName), r as AttachmentRecord);
    for (const i of parsed.intents) this.intents.set(attachmentKey(i.containerId, i.ifName), i);
    this.log.info({ path: this.path, attachments: this.records.size, intents: this.intents.size }, 'checkpoint loaded');
    return (this.outcome = { kind: 'loaded', attachments: this.records.size, intents: this.intents.size });
  }

  /** True when records changed in memory only (stage) since the last write. */
  private dirty = false;

  private flush(): void {
    this.dirty = false;
    const data = JSON.stringify({ version: CHECKPOINT_VERSION, attachments: [...this.records.values()], intents: [...this.intents.values()] });
    writeFileAtomic(this.path, data);
  }

  all(): AttachmentRecord[] {
    return [...this.records.values()];
  }

  get(key: string): AttachmentRecord | undefined {
    return this.records.get(this.resolve(key));
  }

  /**
   * The key a record is stored under: `key` itself, or — for a record rebuilt from VPP's tags, which
   * only know the container id's first 12 characters — the short key the runtime's full id maps to.
   */
  private resolve(key: string): string {
    if (this.records.has(key)) return key;
    const slash = key.indexOf('/');
    if (slash <= 12) return key;
    const short = `${key.slice(0, 12)}${key.slice(slash)}`;
    return this.records.get(short)?.rebuilt ? short : key;
  }

  pendingIntents(): Intent[] {
    return [...this.intents.values()];
  }

  /** Records that an ADD or DEL starts (so a crash in the middle can be finished or undone). */
  begin(op: 'add' | 'del', req: Pick<AttachRequest, 'containerId' | 'ifName' | 'netns' | 'pod' | 'ips'>): Promise<void> {
    this.intents.set(attachmentKey(req.containerId, req.ifName), {
      op,
      containerId: req.containerId,
      ifName: req.ifName,
      netns: req.netns,
      pod: req.pod,
      ips: req.ips,
      startedAt: this.now().toISOString(),
    });
    this.flush();
    return Promise.resolve();
  }

  /** The operation ended without a change to keep (failed ADD rolled back). */
  abandon(key: string): Promise<void> {
    if (this.intents.delete(key)) this.flush();
    return Promise.resolve();
  }

  put(rec: AttachmentRecord): Promise<void> {
    const key = attachmentKey(rec.containerId, rec.ifName);
    this.records.set(key, rec);
    this.intents.delete(key);
    this.flush();
    return Promise.resolve();
  }

  /**
   * Replaces a record in memory only; `sync()` writes it. For the bulk re-creation after a VPP restart:
   * one write instead of one per pod. A crash before the write leaves the old record, whose objects the
   * next start finds missing and makes again.
   */
  stage(rec: AttachmentRecord): void {
    this.records.set(attachmentKey(rec.containerId, rec.ifName), rec);
    this.dirty = true;
  }

  /** Writes what `stage` changed (nothing when nothing did). */
  sync(): Promise<void> {
    if (this.dirty) this.flush();
    return Promise.resolve();
  }

  delete(key: string): Promise<void> {
    this.records.delete(this.resolve(key));
    this.intents.delete(key);
    this.flush();
    return Promise.resolve();
  }
}
