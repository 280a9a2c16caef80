/**
 * Replays the node-dataplane captures of a real VPP (../shared/vpp-golden/cnat.jsonl and hostlink.jsonl)
 * against the simulator: every `to_vpp` frame is written as captured, every `from_vpp` frame must come back
 * with the same id and context and the same bytes, except
 *  - fields tied to the capture run (vpe_pid, route stats indexes), compared decoded without them;
 *  - ip_route_details, compared as a set (hash order within a prefix length);
 *  - cnat_session_details, compared as a set (session hash order);
 *  - cli_inband replies, whose text holds heap offsets, FIB/DPO indexes, maglev maps and times: compared
 *    on the lines that carry configuration (translations and their paths, snat addresses, excluded prefixes,
 *    policy interfaces, feature arcs, session 5-tuples); `show interface features` is compared whole.
 *
 * Preconditions recreated explicitly: the host interface `vcni-hl0` (a veth on the capture host) through the
 * simulator's injected host checks; no /dev/vhost-net (the tap create must fail as captured); and the two
 * packets the capture wrote on `vcni-hl1` before `show cnat session` (a UDP datagram 169.254.100.2:40053 →
 * 10.96.0.10:53 and a TCP SYN 169.254.100.2:40443 → 10.96.0.1:443, the ports the capture's notes give),
 * injected into the simulator's cnat state at that point.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { memclnt } from '../../vpp-api/generated/index.js';
import { VppSimulator, noVhostNet } from '../../vpp-api/sim/index.js';
import { haveGolden, maskPrefixes, readGolden, toGoldenForm, type GoldenRecord, idsOf, bodyOf, decodedForm } from '../helpers/golden.js';
import { RawVppClient, type RawFrame } from '../helpers/raw-vpp-client.js';

const FILES = ['cnat.jsonl', 'hostlink.jsonl'] as const;

const RUN_TIED: Record<string, (v: Record<string, unknown>) => void> = {
  control_ping_reply: (v) => delete v.vpe_pid,
  ip_route_add_del_reply: (v) => delete v.stats_index,
  // An adjacency index: VPP made glean/ND adjacencies for the address and ip6 enable first (README: run-tied).
  ip_neighbor_add_del_reply: (v) => delete v.stats_index,
  ip_neighbor_details: (v) => delete v.age, // seconds since the entry was made
  ip_route_details: (v) => delete (v.route as Record<string, unknown>).stats_index,
};




/** The configuration-bearing lines of a CLI reply (see the file comment). */
export function cliEssence(cmd: string, text: string): string[] {
  const lines = text.split('\n');
  if (cmd.startsWith('show interface features')) return lines;
  if (cmd === 'show cnat translation') return lines.filter((l) => /^\[\d+\] \S+;\d+ \w+ lb:\w+/.test(l) || /^\S+;\d+->\S+;\d+$/.test(l));
  if (cmd === 'show cnat snat-policy') {
    return lines.filter(
      (l) => /^ {2}ip[46]: /.test(l) || /^ {4}\d+: \S+ dst$/.test(l) || /^(Included|k8s|Excluded)/.test(l) || /^ {2}\S+$/.test(l) || /^ {2}Hash table/.test(l),
    );
  }
  if (cmd.startsWith('show cnat session')) return lines.filter((l) => /^(TCP|UDP|SCTP) \[/.test(l)).sort();
  throw new Error(`no comparison rule for CLI command ${cmd}`);
}

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vpp-sim-golden-node-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const describeGolden = haveGolden ? describe : describe.skip;
if (!haveGolden) process.stderr.write('sim-golden-node: ../shared/vpp-golden is absent (a fresh clone has no ../shared); replay skipped\n');

describeGolden('simulator against real VPP captures of the node dataplane', () => {
  test.each(FILES.map((f) => [f]))('%s', async (file) => {
    const records = readGolden(file).sort((a, b) => a.seq - b.seq);
    const names = new Set(['vcni-hl0']);
    const sim = await VppSimulator.start({
      socketPath: join(dir, `${file}.sock`),
      messageIds: idsOf(records),
      // The capture's VPP loaded no urpf/vxlan plugin: announce its table exactly.
      onlyMessageIds: true,
      // link_mtu of the captured host-vcni-hl0 is 9000: the simulator takes it from the host interface.
      host: noVhostNet({ interfaceExists: (n) => names.has(n), interfaceUp: (n) => names.has(n), interfaceMtu: () => 9000 }),
    });
    try {
      const client = await RawVppClient.connect(sim.socketPath);
      try {
        await replay(file, records, client, sim);
      } finally {
        client.destroy();
      }
      if (file === 'cnat.jsonl') {
        // The last request (a translation with 0 paths) aborts VPP: no reply, EOF, a new instance.
        expect(sim.aborts).toHaveLength(1);
        expect(sim.aborts[0]!.reason).toMatch(/0 paths.*Out-of-memory/);
        expect(sim.state.cnat.translationList()).toEqual([]);
      } else {
        expect(sim.aborts).toEqual([]);
      }
    } finally {
      await sim.stop();
    }
  });
});

async function replay(file: string, records: GoldenRecord[], client: RawVppClient, sim: VppSimulator): Promise<void> {
  let tableKnown = false;
  let trafficSent = false;
  const cliCmds = new Map<number, string>();
  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const where = `${file}#${rec.seq} ${rec.dir} ${rec.name ?? '(raw)'}`;
    try {
      if (rec.dir === 'to_vpp') {
        if (rec.name === 'cli_inband') {
          const cmd = String(rec.fields?.cmd);
          cliCmds.set(Number(rec.fields?.context), cmd);
          if (cmd.startsWith('show cnat session') && !trafficSent) {
            trafficSent = true;
            expect(sim.state.cnat.traffic({ ipProto: 17, src: '169.254.100.2', srcPort: 40053, dst: '10.96.0.10', dstPort: 53 })).toBeDefined();
            expect(sim.state.cnat.traffic({ ipProto: 6, src: '169.254.100.2', srcPort: 40443, dst: '10.96.0.1', dstPort: 443 })).toBeDefined();
          }
        }
        client.writeRaw(Buffer.concat([Buffer.from(rec.header_hex!, 'hex'), Buffer.from(rec.frame_hex!, 'hex')]));
        if (rec.note?.includes('no reply: VPP aborted')) await client.waitClosed(2000);
        continue;
      }
      if (rec.name === 'ip_route_details' || rec.name === 'cnat_session_details') {
        const group = [rec];
        while (records[i + 1]?.dir === 'from_vpp' && records[i + 1]?.name === rec.name) group.push(records[++i]!);
        const frames: RawFrame[] = [];
        for (let k = 0; k < group.length; k++) frames.push(await client.next());
        expectSameSet(group, frames, client);
        continue;
      }
      const frame = await client.next();
      if (!tableKnown && frame.id === 16) {
        client.adoptTable(memclnt.sockclnt_create_reply.decode(frame.msg).message_table);
        tableKnown = true;
      }
      expectSameFrame(rec, frame, client, cliCmds);
      if (rec.name === 'sockclnt_delete_reply') await client.waitClosed(2000);
    } catch (e) {
      const err = e as Error;
      err.message = `${where}: ${err.message}`;
      throw err;
    }
  }
}

function expectSameFrame(rec: GoldenRecord, frame: RawFrame, client: RawVppClient, cliCmds: Map<number, string>): void {
  expect(frame.id).toBe(rec.msg_id);
  const def = client.def(frame.id);
  expect(def?.name).toBe(rec.name);
  if (!def) return;
  expect(frame.header.readUInt32BE(8)).toBe(frame.msg.length);
  if (def.contextOffset >= 0) expect(frame.msg.readUInt32BE(def.contextOffset)).toBe(rec.fields?.context);
  if (rec.name === 'sockclnt_create_reply') {
    const got = memclnt.sockclnt_create_reply.decode(frame.msg);
    const want = bodyOf(rec, def) as { count: number; index: number; message_table: { index: number; name: string }[] };
    expect({ index: got.index, count: got.count }).toEqual({ index: want.index, count: want.count });
    const byIndex = (a: { index: number }, b: { index: number }): number => a.index - b.index;
    expect([...got.message_table].sort(byIndex)).toEqual([...want.message_table].sort(byIndex));
    return;
  }
  if (rec.name === 'cli_inband_reply') {
    const cmd = cliCmds.get(Number(rec.fields?.context)) ?? '';
    const got = def.decode(frame.msg) as { retval: number; reply: string };
    expect(got.retval).toBe(rec.fields?.retval);
    expect(cliEssence(cmd, got.reply)).toEqual(cliEssence(cmd, String(rec.fields?.reply)));
    return;
  }
  const strip = RUN_TIED[rec.name ?? ''];
  if (!strip) {
    expect(frame.msg.toString('hex')).toBe(rec.frame_hex);
    return;
  }
  const got = decodedForm(def, frame.msg);
  const want = maskPrefixes(toGoldenForm(bodyOf(rec, def))) as Record<string, unknown>;
  strip(got);
  strip(want);
  expect(got).toEqual(want);
}

function expectSameSet(recs: GoldenRecord[], frames: RawFrame[], client: RawVppClient): void {
  const def = client.def(frames[0]!.id)!;
  for (const f of frames) {
    expect(f.id).toBe(recs[0]!.msg_id);
    expect(f.msg.readUInt32BE(def.contextOffset)).toBe(recs[0]!.fields?.context);
  }
  const strip = RUN_TIED[def.name];
  const norm = (v: Record<string, unknown>): string => {
    strip?.(v);
    return JSON.stringify(v);
  };
  const got = frames.map((f) => norm(decodedForm(def, f.msg))).sort();
  const want = recs.map((r) => norm(maskPrefixes(toGoldenForm(bodyOf(r, def))) as Record<string, unknown>)).sort();
  expect(got).toEqual(want);
  if (!strip) {
    // Without run-tied fields, each frame's bytes must equal one captured frame's.
    expect(frames.map((f) => f.msg.toString('hex')).sort()).toEqual(recs.map((r) => r.frame_hex!).sort());
  }
}
