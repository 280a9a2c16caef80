/**
 * Replays the captures of real VPP (../shared/vpp-golden) against the simulator, byte for byte: every
 * `to_vpp` frame is written as captured (header + frame) and every `from_vpp` frame must come back with the
 * same id, context and fields. Frames are compared byte for byte unless a field is tied to the capture run
 * (listed in RUN_TIED with the reason); such fields are left out of a decoded comparison instead.
 *
 * Preconditions the captures depend on are recreated explicitly, never skipped:
 *  - the netns `gld-pod1` named in memif/pbl/session filenames is created for the run (`ip netns add`) and
 *    deleted afterwards; where that is impossible, the simulator's injected host check reports it instead
 *    (the test says so on stderr);
 *  - af_packet's host interface `vcni-h1` comes from injected host checks (the capture host had a veth, up);
 *  - VPP's history before a capture: some captures ran on an instance that had freed sw_if_index 1 then 2
 *    (so it handed out 2 first) or had already drawn memif random socket ids; a warm-up connection repeats that
 *    history through the API before the capture's own connection (which still gets index 0x80000001, as
 *    registration 1 is freed again).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interface_, memclnt, memif } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet, type SimHost } from '../../vpp-api/sim/index.js';
import { describeWithShared, GOLDEN_DIR, GOLDEN_FILES, haveGolden, maskPrefixes, readGolden, toGoldenForm, type GoldenRecord, idsOf, bodyOf, decodedForm } from '../helpers/golden.js';
import { RawVppClient, type RawFrame } from '../helpers/raw-vpp-client.js';

const NETNS = 'gld-pod1';
const NETNS_PATH = `/var/run/netns/${NETNS}`;

/** What each capture needs from VPP's history (see the file comment). */
interface Plan {
  /** sw_if_index 1 and 2 were freed (1 first) before the capture. */
  freedOneThenTwo?: boolean;
  /** Memif random socket ids drawn before the capture. */
  randomDraws?: number;
  /** Host interfaces that exist on the capture host. */
  hostInterfaces?: string[];
}

const PLANS: Record<string, Plan> = {
  'handshake.jsonl': {},
  'basics.jsonl': {},
  'memif.jsonl': {},
  'routes.jsonl': { freedOneThenTwo: true },
  'tap.jsonl': {},
  'pbl.jsonl': { freedOneThenTwo: true, randomDraws: 1 },
  'session.jsonl': { freedOneThenTwo: true },
  'events.jsonl': { freedOneThenTwo: true },
  'pipelining.jsonl': {},
  'afpacket.jsonl': { hostInterfaces: ['vcni-h1'] },
  'errors.jsonl': { freedOneThenTwo: true, randomDraws: 2 },
};

/** Fields whose values belong to the capture run, per message (removed before comparing). */
const RUN_TIED: Record<string, { why: string; strip: (v: Record<string, unknown>) => void }> = {
  control_ping_reply: { why: 'vpe_pid is the VPP process id', strip: (v) => delete v.vpe_pid },
  show_threads_reply: {
    why: 'thread pid is the VPP process id',
    strip: (v) => {
      for (const t of v.thread_data as Record<string, unknown>[]) delete t.pid;
    },
  },
  ip_route_add_del_reply: { why: 'stats_index is a stats segment slot', strip: (v) => delete v.stats_index },
  ip_route_details: { why: 'stats_index is a stats segment slot', strip: (v) => delete (v.route as Record<string, unknown>).stats_index },
};




/** Compares one received frame with its captured counterpart. */
function expectSameFrame(rec: GoldenRecord, frame: RawFrame, client: RawVppClient): void {
  expect(frame.id).toBe(rec.msg_id);
  const def = client.def(frame.id);
  expect(def?.name).toBe(rec.name);
  if (!def) return;
  // Header: data_len, timestamp 0, q = 0 only for sockclnt_create_reply (a heap pointer otherwise).
  expect(frame.header.readUInt32BE(8)).toBe(frame.msg.length);
  expect(frame.header.readUInt32BE(12)).toBe(0);
  const q = frame.header.readBigUInt64BE(0);
  if (rec.name === 'sockclnt_create_reply') expect(q).toBe(0n);
  else expect(q).not.toBe(0n);
  if (def.contextOffset >= 0) expect(frame.msg.readUInt32BE(def.contextOffset)).toBe(rec.fields?.context);
  if (def.clientIndexOffset >= 0) expect(frame.msg.readUInt32BE(def.clientIndexOffset)).toBe(rec.fields?.client_index);

  if (rec.name === 'sockclnt_create_reply') {
    // VPP lists its table in hash order; the entries must be the same.
    const got = memclnt.sockclnt_create_reply.decode(frame.msg);
    const want = bodyOf(rec, def) as { response: number; index: number; count: number; message_table: { index: number; name: string }[] };
    expect({ response: got.response, index: got.index, count: got.count }).toEqual({ response: want.response, index: want.index, count: want.count });
    const byIndex = (a: { index: number }, b: { index: number }): number => a.index - b.index;
    expect([...got.message_table].sort(byIndex)).toEqual([...want.message_table].sort(byIndex));
    return;
  }
  const cmdReply = rec.name === 'cli_inband_reply' && typeof rec.fields?.reply === 'string' && rec.fields.reply.startsWith('Plugin API message ID ranges');
  if (cmdReply) {
    // `show api plugin` lists every plugin of that VPP; the simulator knows the ranges of its own modules only.
    const got = decodedForm(def, frame.msg) as { retval: number; reply: string };
    expect(got.retval).toBe(rec.fields?.retval);
    const lines = got.reply.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect((rec.fields?.reply as string).split('\n')).toContain(l);
    return;
  }
  const tied = RUN_TIED[rec.name ?? ''];
  if (!tied) {
    expect(frame.msg.toString('hex')).toBe(rec.frame_hex);
    return;
  }
  const got = decodedForm(def, frame.msg);
  const want = maskPrefixes(toGoldenForm(bodyOf(rec, def))) as Record<string, unknown>;
  tied.strip(got);
  tied.strip(want);
  expect(got).toEqual(want);
}

function expectSameRouteSet(recs: GoldenRecord[], frames: RawFrame[], client: RawVppClient): void {
  // ip_route_dump walks VPP's FIB hashes: the order within a prefix length is hash order. Compare as a set.
  const key = (v: Record<string, unknown>): string => String((v.route as { prefix: string }).prefix);
  const norm = (v: Record<string, unknown>): Record<string, unknown> => {
    RUN_TIED.ip_route_details!.strip(v);
    return v;
  };
  const def = client.def(frames[0]!.id)!;
  for (const f of frames) {
    expect(f.id).toBe(recs[0]!.msg_id);
    expect(f.msg.readUInt32BE(def.contextOffset)).toBe(recs[0]!.fields?.context);
  }
  const got = frames.map((f) => norm(decodedForm(def, f.msg))).sort((a, b) => key(a).localeCompare(key(b)));
  const want = recs.map((r) => norm(maskPrefixes(toGoldenForm(bodyOf(r, def))) as Record<string, unknown>)).sort((a, b) => key(a).localeCompare(key(b)));
  expect(got).toEqual(want);
}

async function warmUp(sim: VppSimulator, plan: Plan): Promise<void> {
  if (!plan.freedOneThenTwo && !plan.randomDraws) return;
  const c = await RawVppClient.open(sim.socketPath, 'warm-up');
  if (plan.freedOneThenTwo) {
    const a = await c.request(interface_.create_loopback, {}, interface_.create_loopback_reply);
    const b = await c.request(interface_.create_loopback, {}, interface_.create_loopback_reply);
    expect([a.sw_if_index, b.sw_if_index]).toEqual([1, 2]);
    await c.request(interface_.delete_loopback, { sw_if_index: 1 }, interface_.delete_loopback_reply);
    await c.request(interface_.delete_loopback, { sw_if_index: 2 }, interface_.delete_loopback_reply);
  }
  for (let i = 0; i < (plan.randomDraws ?? 0); i++) {
    const r = await c.request(memif.memif_socket_filename_add_del_v2, { is_add: true, socket_id: 0xffffffff, socket_filename: 'abstract:warm-up' }, memif.memif_socket_filename_add_del_v2_reply);
    await c.request(memif.memif_socket_filename_add_del_v2, { is_add: false, socket_id: r.socket_id, socket_filename: '' }, memif.memif_socket_filename_add_del_v2_reply);
  }
  await c.disconnect();
}

let dir = '';
let createdNetns = false;
let netnsFallback = false;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpp-sim-golden-'));
  if (!haveGolden) return;
  expect(existsSync('/var/run/netns/gld-missing')).toBe(false);
  if (existsSync(NETNS_PATH)) return;
  try {
    execFileSync('ip', ['netns', 'add', NETNS], { stdio: 'pipe' });
    createdNetns = true;
  } catch (e) {
    netnsFallback = true;
    process.stderr.write(`sim-golden: cannot create netns ${NETNS} (${(e as Error).message.split('\n')[0]}); the host check reports ${NETNS_PATH} as existing instead\n`);
  }
});

afterAll(() => {
  if (createdNetns) execFileSync('ip', ['netns', 'delete', NETNS], { stdio: 'pipe' });
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function hostFor(plan: Plan): SimHost | undefined {
  const overrides: Parameters<typeof noVhostNet>[0] = {};
  if (plan.hostInterfaces) {
    const names = new Set(plan.hostInterfaces);
    overrides.interfaceExists = (n) => names.has(n);
    // Up on the capture host (the README: both veth ends up), so af_packet_create_if had nothing to set.
    overrides.interfaceUp = (n) => names.has(n);
  }
  if (netnsFallback) overrides.pathExists = (p) => p === NETNS_PATH || existsSync(p);
  // The tap capture needs the default host of a machine without /dev/vhost-net; pin it where vhost-net exists.
  if (Object.keys(overrides).length === 0 && !existsSync('/dev/vhost-net')) return undefined;
  return noVhostNet(overrides);
}

describeWithShared('sim-golden', GOLDEN_DIR, 'the real VPP captures')('simulator against real VPP captures', () => {
  test('the captures are there and every golden file has a replay plan', () => {
    expect({ captures: GOLDEN_DIR, present: haveGolden }).toEqual({ captures: GOLDEN_DIR, present: true });
    expect(Object.keys(PLANS).sort()).toEqual([...GOLDEN_FILES].sort());
  });

  test.each(GOLDEN_FILES.map((f) => [f]))('%s', async (file) => {
    const records = readGolden(file).sort((a, b) => a.seq - b.seq);
    const plan = PLANS[file]!;
    const host = hostFor(plan);
    const sim = await VppSimulator.start({ socketPath: join(dir, `${file}.sock`), messageIds: idsOf(records), onlyMessageIds: true, ...(host ? { host } : {}) });
    try {
      await warmUp(sim, plan);
      const client = await RawVppClient.connect(sim.socketPath);
      try {
        await replayRecords(file, records, client);
      } finally {
        client.destroy();
      }
    } finally {
      await sim.stop();
    }
  });
});

async function replayRecords(file: string, records: GoldenRecord[], client: RawVppClient): Promise<void> {
  let tableKnown = false;
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const where = `${file}#${rec.seq} ${rec.dir} ${rec.name ?? '(raw)'}`;
    try {
      if (rec.dir === 'to_vpp') {
        const bytes = Buffer.concat([Buffer.from(rec.header_hex!, 'hex'), Buffer.from(rec.frame_hex!, 'hex')]);
        if (rec.note?.startsWith('complete frame sent as two writes')) {
          // header + 10 body bytes, a pause, then the rest: the frame must be buffered, not dropped.
          client.writeRaw(bytes.subarray(0, 26));
          await new Promise((r) => setTimeout(r, 50));
          client.writeRaw(bytes.subarray(26));
        } else {
          client.writeRaw(bytes);
        }
        if (rec.note?.includes('no reply within 2 s (stream out of step)')) await client.expectNothing(300);
        continue;
      }
      if (rec.name === 'ip_route_details') {
        const group = [rec];
        while (records[i + 1]?.dir === 'from_vpp' && records[i + 1]?.name === 'ip_route_details') group.push(records[++i]!);
        const frames: RawFrame[] = [];
        for (let k = 0; k < group.length; k++) frames.push(await client.next());
        expectSameRouteSet(group, frames, client);
        continue;
      }
      const frame = await client.next();
      if (!tableKnown && frame.id === 16) {
        // The handshake went out as raw captured bytes: learn the ids the simulator announced (the capture's).
        client.adoptTable(memclnt.sockclnt_create_reply.decode(frame.msg).message_table);
        tableKnown = true;
      }
      expectSameFrame(rec, frame, client);
      if (rec.note?.startsWith('VPP closed the connection')) {
        await client.waitClosed(2000);
      }
    } catch (e) {
      const err = e as Error;
      err.message = `${where}: ${err.message}`;
      throw err;
    }
  }
}
