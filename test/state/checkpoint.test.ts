/** The checkpoint file: atomic writes, zod read-back, corrupt and future-version files moved aside. */
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckpointStore, CHECKPOINT_FILE, CHECKPOINT_VERSION, writeFileAtomic } from '../../agent/state/checkpoint.js';
import type { AttachmentRecord } from '../../agent/pod/record.js';
import { silentLogger } from '../../lib/logger.js';
import { AtomicFileError, tempName } from '../../lib/atomic-file.js';

const logs: { level: string; msg: string; obj: object }[] = [];
const log = {
  ...silentLogger,
  info: (obj: object, msg = '') => void logs.push({ level: 'info', msg, obj }),
  warn: (obj: object, msg = '') => void logs.push({ level: 'warn', msg, obj }),
  error: (obj: object, msg = '') => void logs.push({ level: 'error', msg, obj }),
};
let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'vcni-ckpt-'));
  logs.length = 0;
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const spec = { rx: 1, tx: 1, rxqsz: 1024, txqsz: 1024, isl3: true, rxMode: 'adaptive' as const };
function record(cid: string): AttachmentRecord {
  return {
    containerId: cid,
    ifName: 'eth0',
    netns: '/var/run/netns/p',
    pod: { namespace: 'default', name: 'web' },
    kind: 'tun',
    ips: [{ address: '10.0.0.5/24' }],
    routes: [{ dst: '0.0.0.0/0' }],
    objects: {
      tun: { swIfIndex: 3, tag: `vcni:${cid}:eth0:tun:default/web`, hostIfName: 'eth0', l2: false, spec },
      memif: { mode: 'pbl', socketId: 1013904223, socketFilename: 'abstract:vpp/memif-eth0,netns_name=/var/run/netns/p', socketName: '@vpp/memif-eth0', swIfIndex: 4, tag: 't', l2: true, spec: { ...spec, isl3: false }, ports: [{ proto: 'tcp', start: 80, end: 90 }] },
      pbl: [{ ip: '10.0.0.5', id: 0 }],
      routes: [{ prefix: '10.0.0.5/32', tableId: 0, swIfIndex: 3 }],
      neighbors: [{ swIfIndex: 4, ip: '10.0.0.5', mac: '02:00:00:00:00:01' }],
      vcl: { namespaceId: 'vcni-x-eth0', secret: '18446744073709551615', sockName: 'abstract:vpp/session,netns_name=/var/run/netns/p', socketName: '@vpp/session', loopSwIfIndex: 5 },
    },
    result: { interfaces: [{ name: 'eth0', mtu: 1450, sandbox: '/var/run/netns/p' }], ips: [{ address: '10.0.0.5/24', interface: 0 }], routes: [{ dst: '0.0.0.0/0' }] },
    createdAt: '2026-11-21T00:00:00.000Z',
  };
}

describe('checkpoint', () => {
  test('round trip: records and intents survive a reload, written 0600 with no temp file left', async () => {
    const a = new CheckpointStore(dir, log);
    expect(a.load()).toEqual({ kind: 'empty' });
    await a.put(record('aaaa'));
    await a.begin('add', { containerId: 'bbbb', ifName: 'eth0', netns: '/x', pod: { namespace: 'n', name: 'p' }, ips: [] });
    expect(readdirSync(dir)).toEqual([CHECKPOINT_FILE]);
    expect(statSync(join(dir, CHECKPOINT_FILE)).mode & 0o777).toBe(0o600);
    const b = new CheckpointStore(dir, log);
    expect(b.load()).toEqual({ kind: 'loaded', attachments: 1, intents: 1 });
    expect(b.all()).toEqual([record('aaaa')]);
    expect(b.pendingIntents().map((i) => [i.op, i.containerId])).toEqual([['add', 'bbbb']]);
    await b.abandon('bbbb/eth0');
    await b.delete('aaaa/eth0');
    const c = new CheckpointStore(dir, log);
    expect(c.load()).toEqual({ kind: 'loaded', attachments: 0, intents: 0 });
  });

  test('a commit clears the intent of the same attachment', async () => {
    const a = new CheckpointStore(dir, log);
    await a.begin('add', { containerId: 'cccc', ifName: 'eth0', netns: '/x', pod: { namespace: 'n', name: 'p' }, ips: [] });
    await a.put(record('cccc'));
    expect(a.pendingIntents()).toEqual([]);
  });

  test.each([
    ['truncated JSON', '{"version":1,"attachments":[', /unreadable: /],
    ['wrong shape', JSON.stringify({ version: 1, attachments: [{ containerId: 1 }] }), /does not match the checkpoint schema: attachments\.0\.containerId/],
    ['future version', JSON.stringify({ version: CHECKPOINT_VERSION + 1, attachments: [], intents: [] }), /written by a newer vpp-cni \(checkpoint version 2, this agent reads up to 1\)/],
  ])('%s: moved aside with a suffix and logged, never dropped', (_n, content, reason) => {
    writeFileSync(join(dir, CHECKPOINT_FILE), content);
    const s = new CheckpointStore(dir, log, () => new Date('2026-11-22T01:02:03.004Z'));
    const out = s.load();
    expect(out.kind).toBe('moved-aside');
    if (out.kind !== 'moved-aside') return;
    expect(out.reason).toMatch(reason);
    expect(out.movedTo).toBe(join(dir, `${CHECKPOINT_FILE}.bad-2026-11-22T01-02-03-004Z`));
    expect(readFileSync(out.movedTo, 'utf8')).toBe(content);
    expect(s.all()).toEqual([]);
    expect(logs.find((l) => l.level === 'error')?.msg).toBe('checkpoint moved aside; the state will be rebuilt from VPP and the pod source');
  });

  test('a record rebuilt from VPP (12-character container id) is found and deleted by the full id', async () => {
    const a = new CheckpointStore(dir, log);
    const full = 'abcdef0123456789'.repeat(4);
    await a.put({ ...record(full.slice(0, 12)), rebuilt: true });
    await a.put(record('0123456789ab'));
    expect(a.get(`${full}/eth0`)?.containerId).toBe(full.slice(0, 12));
    // Only rebuilt records stand for longer ids.
    expect(a.get(`0123456789abffff/eth0`)).toBeUndefined();
    expect(a.get(`${full}/eth1`)).toBeUndefined();
    await a.delete(`${full}/eth0`);
    expect(a.all().map((r) => r.containerId)).toEqual(['0123456789ab']);
    const b = new CheckpointStore(dir, log);
    b.load();
    expect(b.all().map((r) => r.containerId)).toEqual(['0123456789ab']);
  });

  test('stage changes memory only; sync writes them once', async () => {
    const a = new CheckpointStore(dir, log);
    await a.put(record('aaaa'));
    const written = readFileSync(join(dir, CHECKPOINT_FILE), 'utf8');
    a.stage({ ...record('aaaa'), createdAt: '2027-01-01T00:00:00.000Z' });
    a.stage(record('bbbb'));
    expect(a.all()).toHaveLength(2);
    expect(readFileSync(join(dir, CHECKPOINT_FILE), 'utf8')).toBe(written);
    await a.sync();
    const b = new CheckpointStore(dir, log);
    b.load();
    expect(b.all().map((r) => [r.containerId, r.createdAt])).toEqual([
      ['aaaa', '2027-01-01T00:00:00.000Z'],
      ['bbbb', '2026-11-21T00:00:00.000Z'],
    ]);
  });

  describe('hostile or damaged files (each moved aside with a reason that names the field, never loaded)', () => {
    const file = (attachments: unknown[], extra: object = {}): string => JSON.stringify({ version: 1, attachments, intents: [], ...extra });
    const rec = (patch: (r: AttachmentRecord) => unknown): unknown => patch(JSON.parse(JSON.stringify(record('aaaa'))) as AttachmentRecord);
    function load(content: string, maxBytes?: number): string {
      logs.length = 0;
      writeFileSync(join(dir, CHECKPOINT_FILE), content);
      const s = new CheckpointStore(dir, log, () => new Date('2026-11-22T01:02:03.004Z'), maxBytes === undefined ? {} : { maxBytes });
      const out = s.load();
      expect(s.all()).toEqual([]);
      expect(out.kind).toBe('moved-aside');
      expect(logs.filter((l) => l.level === 'error').map((l) => l.msg)).toEqual(['checkpoint moved aside; the state will be rebuilt from VPP and the pod source']);
      return out.kind === 'moved-aside' ? out.reason : '';
    }

    test.each([0, -1, -2147483648, 1.5])('version %p is refused, not read as version 1', (version) => {
      expect(load(JSON.stringify({ version, attachments: [], intents: [] }))).toBe(
        `does not match the checkpoint schema: version: unsupported checkpoint version ${version} (this agent reads version 1)`,
      );
    });

    test('duplicate (containerId, ifName) records are refused, naming both', () => {
      expect(load(file([record('aaaa'), record('bbbb'), { ...record('aaaa'), createdAt: '2027-01-01T00:00:00.000Z' }]))).toBe(
        'does not match the checkpoint schema: attachments.2: duplicate record for aaaa/eth0 (also at index 0)',
      );
    });

    test('duplicate intents are refused too', () => {
      const i = { op: 'add', containerId: 'c1', ifName: 'eth0', netns: '/x', pod: { namespace: 'n', name: 'p' }, ips: [], startedAt: '2026-11-21T00:00:00.000Z' };
      expect(load(file([], { intents: [i, { ...i, op: 'del' }] }))).toMatch(/^does not match the checkpoint schema: intents\.1: duplicate intent for c1\/eth0/);
    });

    test.each([
      ['swIfIndex -1', (r: AttachmentRecord) => ((r.objects.tun!.swIfIndex = -1), r), /^does not match the checkpoint schema: attachments\.0\.objects\.tun\.swIfIndex: /],
      ['swIfIndex 1.5', (r: AttachmentRecord) => ((r.objects.routes[0]!.swIfIndex = 1.5), r), /attachments\.0\.objects\.routes\.0\.swIfIndex: /],
      ['swIfIndex ~0', (r: AttachmentRecord) => ((r.objects.memif!.swIfIndex = 0xffffffff), r), /attachments\.0\.objects\.memif\.swIfIndex: /],
      ['reversed ports', (r: AttachmentRecord) => ((r.objects.memif!.ports = [{ proto: 'tcp', start: 90, end: 80 }]), r), /attachments\.0\.objects\.memif\.ports\.0\.end: start is greater than end/],
      ['port 0', (r: AttachmentRecord) => ((r.objects.memif!.ports = [{ proto: 'udp', start: 0, end: 80 }]), r), /objects\.memif\.ports\.0\.start: /],
      ['relative netns', (r: AttachmentRecord) => ((r.netns = 'var/run/netns/p'), r), /attachments\.0\.netns: expected an absolute path/],
      ['an address that is not one', (r: AttachmentRecord) => ((r.ips = [{ address: '10.0.0.500/24' }]), r), /attachments\.0\.ips\.0\.address: expected address\/prefix-length/],
      ['a slice of an unknown kind', (r: AttachmentRecord) => ({ ...r, objects: { ...r.objects, wireguard: { swIfIndex: 1 } } }), /attachments\.0\.objects: /],
      ['a MAC that is not one', (r: AttachmentRecord) => ((r.objects.neighbors[0]!.mac = 'zz'), r), /objects\.neighbors\.0\.mac: expected a MAC address/],
    ])('%s is refused', (_n, patch, reason) => {
      expect(load(file([rec(patch)]))).toMatch(reason);
    });

    test('an issue of the whole file names it instead of an empty path', () => {
      expect(load('[]')).toMatch(/^does not match the checkpoint schema: \(top level\): /);
      expect(load('"x"')).not.toContain(': : ');
    });

    test('a reason quoting the file (the JSON parser’s message) has its control characters escaped', () => {
      const reason = load('\u0001\u001b[2J"version":1');
      expect(reason).toMatch(/^unreadable: /);
      expect(reason).not.toMatch(/[\u0000-\u001f\u007f-\u009f]/);
      expect(reason).toContain('\\u001b');
    });

    test('a file over the size limit is moved aside unread', () => {
      const content = file([record('aaaa')]);
      expect(load(content, 100)).toBe(`${Buffer.byteLength(content)} bytes, larger than the 100 bytes a checkpoint may have (not parsed)`);
    });
  });

  test('a failed atomic write leaves no temp file and the target as it was', () => {
    const target = join(dir, 'target');
    mkdirSync(target);
    writeFileSync(join(target, 'keep'), 'x');
    // rename(2) of a file over a non-empty directory fails after the temp file was written.
    const err = (() => {
      try {
        writeFileAtomic(target, 'data');
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    // The one writer (lib/atomic-file.ts) names the operation and the path, and keeps the errno.
    expect(err).toBeInstanceOf(AtomicFileError);
    expect((err as AtomicFileError).message).toMatch(new RegExp(`^rename ${join(dir, tempName('target'))} over ${target}: `));
    expect((err as AtomicFileError).code).toMatch(/^E(ISDIR|NOTEMPTY|EXIST)$/);
    expect(readdirSync(dir)).toEqual(['target']);
    expect(readdirSync(target)).toEqual(['keep']);
  });

  test('an atomic write gives the file its mode whatever the umask, and never follows a link at the temp name', () => {
    const target = join(dir, 'moded');
    const old = process.umask(0o077);
    try {
      writeFileAtomic(target, 'x', 0o644);
    } finally {
      process.umask(old);
    }
    expect(statSync(target).mode & 0o777).toBe(0o644);
    const elsewhere = join(dir, 'elsewhere');
    writeFileSync(elsewhere, 'untouched');
    symlinkSync(elsewhere, join(dir, tempName('linked')));
    expect(() => writeFileAtomic(join(dir, 'linked'), 'data')).toThrow(/^create temp file /);
    expect(readFileSync(elsewhere, 'utf8')).toBe('untouched');
  });
});
