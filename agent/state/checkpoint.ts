/**
 * The agent's checkpoint: every committed attachment, plus the operations in flight (intents), in one
 * versioned JSON file under the state dir. Written atomically (temp file, fsync, rename, fsync of the
 * directory) and read back through zod. A corrupt file, or one written by a newer version, is moved
 * aside (renamed with a suffix) and reported — never silently dropped.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { escapeText } from '../../contract/echo.js';
import { attachmentKey, type AttachRequest } from '../pod/attachment.js';
import { containerId, linuxIfName, netnsPath, podRef } from '../pod/kinds/parts.js';
import { ipConfigSchema, recordSchema, type AttachmentRecord, type AttachmentStore } from '../pod/record.js';
import { writeFileAtomic } from '../../lib/atomic-file.js';
import type { Logger } from '../../lib/logger.js';

export { writeFileAtomic } from '../../lib/atomic-file.js';

export const CHECKPOINT_VERSION = 1;
export const CHECKPOINT_FILE = 'attachments.json';
/** A checkpoint larger than this is not parsed (a record is about 2 KiB: room for thousands of pods). */
export const DEFAULT_CHECKPOINT_MAX_BYTES = 64 * 1024 * 1024;

const intentSchema = z.object({
  op: z.enum(['add', 'del']),
  containerId,
  ifName: linuxIfName,
  netns: netnsPath,
  pod: podRef,
  ips: z.array(ipConfigSchema),
  startedAt: z.iso.datetime(),
});
export type Intent = z.infer<typeof intentSchema>;

/** Items of `list` whose (containerId, ifName) an earlier item already has, as issues at their index. */
function refuseDuplicates(what: string, list: readonly { containerId: string; ifName: string }[], ctx: z.RefinementCtx, at: string): void {
  const seen = new Map<string, number>();
  list.forEach((r, i) => {
    const k = attachmentKey(r.containerId, r.ifName);
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else ctx.addIssue({ code: 'custom', path: [at, i], message: `duplicate ${what} for ${k} (also at index ${first})` });
  });
}

/**
 * The file: its version exactly (an older or nonsensical one is refused, a newer one reported as such
 * before parsing), the records (each kind's slice by the kind's schema) and the intents, one per
 * (container, interface) each.
 */
function fileSchemaOf(records: z.ZodType<AttachmentRecord>) {
  return z
    .object({
      version: z.literal(CHECKPOINT_VERSION, { error: (i) => `unsupported checkpoint version ${JSON.stringify(i.input)} (this agent reads version ${CHECKPOINT_VERSION})` }),
      attachments: z.array(records),
      intents: z.array(intentSchema).default([]),
    })
    .superRefine((f, ctx) => {
      refuseDuplicates('record', f.attachments, ctx, 'attachments');
      refuseDuplicates('intent', f.intents, ctx, 'intents');
    });
}

/** `attachments.0.objects.tun.swIfIndex: Too small…`; `(top level)` for an issue of the whole file. */
function describeIssue(e: z.ZodError): string {
  const i = e.issues[0]!;
  return `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`;
}

export type LoadOutcome = { kind: 'empty' } | { kind: 'loaded'; attachments: number; intents: number } | { kind: 'moved-aside'; reason: string; movedTo: string };

export interface CheckpointOptions {
  /** Files larger than this are moved aside unread (default 64 MiB). */
  maxBytes?: number;
  /**
   * The schema of a record (default: the pod kinds' composed `recordSchema`); a registry with more kinds
   * (tests) passes the record schema composed from it.
   */
  recordSchema?: z.ZodType<AttachmentRecord>;
}

export class CheckpointStore implements AttachmentStore {
  private readonly records = new Map<string, AttachmentRecord>();
  private readonly intents = new Map<string, Intent>();
  readonly path: string;
  /** What load() found (for logs, the sweep and tests). */
  outcome: LoadOutcome = { kind: 'empty' };

  private readonly fileSchema: ReturnType<typeof fileSchemaOf>;
  private readonly maxBytes: number;

  constructor(
    stateDir: string,
    private readonly log: Logger,
    private readonly now: () => Date = () => new Date(),
    opts: CheckpointOptions = {},
  ) {
    mkdirSync(stateDir, { recursive: true, mode: 0o700 });
    this.path = join(stateDir, CHECKPOINT_FILE);
    this.fileSchema = fileSchemaOf(opts.recordSchema ?? recordSchema);
    this.maxBytes = opts.maxBytes ?? DEFAULT_CHECKPOINT_MAX_BYTES;
  }

  /** Reads the file. A corrupt or future-version file is renamed aside and the store starts empty. */
  load(): LoadOutcome {
    this.records.clear();
    this.intents.clear();
    if (!existsSync(this.path)) return (this.outcome = { kind: 'empty' });
    let reason: string | undefined;
    let parsed: z.infer<ReturnType<typeof fileSchemaOf>> | undefined;
    try {
      const size = statSync(this.path).size;
      if (size > this.maxBytes) {
        reason = `${size} bytes, larger than the ${this.maxBytes} bytes a checkpoint may have (not parsed)`;
      } else {
        const raw: unknown = JSON.parse(readFileSync(this.path, 'utf8'));
        const version = (raw as { version?: unknown })?.version;
        if (typeof version === 'number' && Number.isInteger(version) && version > CHECKPOINT_VERSION) {
          reason = `written by a newer vpp-cni (checkpoint version ${version}, this agent reads up to ${CHECKPOINT_VERSION})`;
        } else {
          const r = this.fileSchema.safeParse(raw);
          if (r.success) parsed = r.data;
          else reason = `does not match the checkpoint schema: ${describeIssue(r.error)}`;
        }
      }
    } catch (e) {
      reason = `unreadable: ${(e as Error).message}`;
    }
    if (!parsed) {
      // The reason may quote the file (a parser's message): escaped and cut, like every echoed input.
      reason = escapeText(reason ?? 'unreadable', 1000);
      const movedTo = `${this.path}.bad-${this.now().toISOString().replace(/[:.]/g, '-')}`;
      renameSync(this.path, movedTo);
      this.log.error({ path: this.path, movedTo, reason }, 'checkpoint moved aside; the state will be rebuilt from VPP and the pod source');
      return (this.outcome = { kind: 'moved-aside', reason, movedTo });
    }
    for (const r of parsed.attachments) this.records.set(attachmentKey(r.containerId, r.ifName), r);
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
