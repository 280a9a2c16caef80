/**
 * The client's parts on their own: request bookkeeping on an injected clock, the async queue behind
 * dump(), the per-message size limits the transport checks frames against, and the transport seam.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allModules } from '../../vpp-api/generated/index.js';
import { control_ping, control_ping_reply, sockclnt_create_reply } from '../../vpp-api/generated/memclnt.js';
import * as iface from '../../vpp-api/generated/interface.js';
import { Pending, PendingKind, PendingRequests } from '../../vpp-api/client/pending-requests.js';
import { AsyncQueue } from '../../vpp-api/client/async-queue.js';
import { fixedSizes, frameLimits } from '../../vpp-api/client/message-limits.js';
import { VppApiError, VppTimeoutError } from '../../vpp-api/client/errors.js';
import { VppClient } from '../../vpp-api/client/client.js';
import { shortMessageError } from '../../vpp-api/codec/short-message.js';
import type { Transport, TransportEvents, TransportOptions } from '../../vpp-api/transport/transport.js';

function encode<I>(def: { size(v: I): number; encode(b: Buffer, p: number, id: number, ci: number, ctx: number, v: I): void }, ctx: number, v: I): Buffer {
  const b = Buffer.alloc(def.size(v));
  def.encode(b, 0, 1, 0, ctx, v);
  return b;
}

describe('PendingRequests', () => {
  function setup(): { clock: { t: number }; pr: PendingRequests; timeouts: boolean[]; observed: [string, number, string | undefined][] } {
    const clock = { t: 5000 };
    const timeouts: boolean[] = [];
    const observed: [string, number, string | undefined][] = [];
    const pr = new PendingRequests({ now: () => clock.t, sweepEveryMs: 1_000_000, observer: (...a) => observed.push(a), onTimeout: (_p, silent) => timeouts.push(silent) });
    return { clock, pr, timeouts, observed };
  }

  test('a deadline passes exactly at its timeout on the injected clock; silence is reported', async () => {
    const { clock, pr, timeouts, observed } = setup();
    const out: unknown[] = [];
    const p = new Pending(PendingKind.Request, control_ping, control_ping_reply, undefined, 300, (v) => out.push(v), (e) => out.push(e));
    pr.track(p, pr.allocContext());
    clock.t += 299;
    pr.sweep();
    expect(out).toEqual([]);
    clock.t += 1;
    pr.sweep();
    expect(out[0]).toBeInstanceOf(VppTimeoutError);
    expect(timeouts).toEqual([true]);
    expect(observed).toEqual([['control_ping', 0.3, 'VppTimeoutError']]);
    pr.stop();
  });

  test('a message received after the request was sent makes its timeout not silent', () => {
    const { clock, pr, timeouts } = setup();
    pr.track(new Pending(PendingKind.Request, control_ping, control_ping_reply, undefined, 100, () => undefined, () => undefined), pr.allocContext());
    clock.t += 10;
    pr.received();
    clock.t += 100;
    pr.sweep();
    expect(timeouts).toEqual([false]);
    pr.stop();
  });

  test('contexts skip the ones in use and wrap', () => {
    const { pr } = setup();
    const a = pr.allocContext();
    pr.track(new Pending(PendingKind.Request, control_ping, control_ping_reply, undefined, 100, () => undefined, () => undefined), a + 1);
    expect(pr.allocContext()).toBe(a + 2);
    pr.failAll(() => new Error('x'));
    expect(pr.size).toBe(0);
  });

  test('a reply with a negative retval rejects with its name; details extend the deadline', () => {
    const { clock, pr } = setup();
    const out: unknown[] = [];
    const req = new Pending(PendingKind.Request, iface.sw_interface_set_flags, iface.sw_interface_set_flags_reply, undefined, 100, (v) => out.push(v), (e) => out.push(e));
    pr.track(req, 7);
    pr.reply(7, iface.sw_interface_set_flags_reply, encode(iface.sw_interface_set_flags_reply, 7, { retval: -2 }));
    expect(out[0]).toBeInstanceOf(VppApiError);
    expect(out[0]).toMatchObject({ retvalName: 'VNET_API_ERROR_INVALID_SW_IF_INDEX' });

    const dump = new Pending(PendingKind.Dump, iface.sw_interface_dump, control_ping_reply, iface.sw_interface_details, 100, (v) => out.push(v), (e) => out.push(e));
    dump.items = [];
    pr.track(dump, 8);
    clock.t += 90;
    pr.reply(8, iface.sw_interface_details, encode(iface.sw_interface_details, 8, { sw_if_index: 3 }));
    clock.t += 90; // 180 after the start, 90 after the last details
    pr.sweep();
    expect(pr.size).toBe(1);
    pr.reply(8, control_ping_reply, encode(control_ping_reply, 8, { retval: 0 }));
    expect((out[1] as { sw_if_index: number }[]).map((d) => d.sw_if_index)).toEqual([3]);
    pr.stop();
  });
});

describe('AsyncQueue', () => {
  test('starts on the first next(), delivers in order, ends, and calls the cancel hook on early return', async () => {
    let started = 0;
    let cancelled = 0;
    let producer: { push(x: number): void; end(): void } | undefined;
    const q = new AsyncQueue<number>((p) => {
      started++;
      producer = p;
      p.push(1);
      p.push(2);
      return () => cancelled++;
    });
    expect(started).toBe(0);
    expect(await q.next()).toEqual({ value: 1, done: false });
    expect(started).toBe(1);
    expect(await q.next()).toEqual({ value: 2, done: false });
    const later = q.next();
    producer!.push(3);
    expect(await later).toEqual({ value: 3, done: false });
    await q.return();
    expect(cancelled).toBe(1);
    expect(await q.next()).toEqual({ value: undefined, done: true });
  });

  test('a failure after items is thrown once the items are consumed; a throwing start rejects the first next()', async () => {
    const q = new AsyncQueue<number>((p) => {
      p.push(1);
      p.fail(new Error('lost'));
    });
    expect(await q.next()).toEqual({ value: 1, done: false });
    await expect(q.next()).rejects.toThrow('lost');
    const bad = new AsyncQueue<number>(() => {
      throw new Error('not connected');
    });
    await expect(bad.next()).rejects.toThrow('not connected');
  });
});

describe('message size limits', () => {
  const all = allModules.flatMap((m) => m.messages);
  const sizes = fixedSizes(all, allModules);

  test('fixed-layout messages are held to their size, variable ones to the cap, unknown ids are refused', () => {
    expect(sizes.get(control_ping_reply.nameCrc)).toBe(18);
    expect(sizes.get(sockclnt_create_reply.nameCrc)).toBeUndefined();
    const limit = frameLimits(sizes, 1234)(new Map([[control_ping_reply.nameCrc, 20], [sockclnt_create_reply.nameCrc, 21], ['not_ours_12345678', 22]]));
    expect(limit(20)).toBe(18);
    expect(limit(21)).toBe(1234);
    expect(limit(22)).toBe(1234);
    expect(limit(23)).toBe("which is not in VPP's message table");
  });

  test('every frame a real VPP sent (golden captures) is within its limit, fixed-layout ones exactly at it', () => {
    const dir = join(process.cwd(), '../shared/vpp-golden');
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
    } catch {
      // The captures are outside the repository; without them this test has nothing to check.
    }
    let checked = 0;
    for (const f of files) {
      for (const line of readFileSync(join(dir, f), 'utf8').split('\n')) {
        if (!line) continue;
        const r = JSON.parse(line) as { dir: string; name_crc: string | null; frame_len: number; decode_error?: string };
        if (r.dir !== 'from_vpp' || !r.name_crc || r.decode_error || !sizes.has(r.name_crc)) continue;
        const fixed = sizes.get(r.name_crc);
        if (fixed === undefined) expect(r.frame_len).toBeLessThan(8 * 1024 * 1024);
        else expect([r.name_crc, r.frame_len]).toEqual([r.name_crc, fixed]);
        checked++;
      }
    }
    if (files.length > 0) expect(checked).toBeGreaterThan(100);
  });

  test('a short message names the field the cut falls in', () => {
    expect(shortMessageError(control_ping_reply, 1).field).toBe('_vl_msg_id');
    expect(shortMessageError(control_ping_reply, 3).field).toBe('context');
    expect(shortMessageError(control_ping_reply, 9).field).toBe('retval');
    expect(shortMessageError(control_ping_reply, 10).field).toBe('client_index');
    expect(shortMessageError(iface.sw_interface_details, 40).message).toMatch(/^cannot decode sw_interface_details: 40 bytes, the fixed part needs \d+: field \w+ is cut off$/);
  });
});

describe('the injected transport', () => {
  test('the client connects, sends and matches replies through any Transport; send(size, encode) writes in place', async () => {
    const table = new Map<string, number>();
    let id = 100;
    for (const m of allModules) for (const d of m.messages) if (!table.has(d.nameCrc)) table.set(d.nameCrc, id++);
    const sent: { size: number; msg: Buffer }[] = [];
    let events: TransportEvents | undefined;
    let closed = 0;
    const fake: Transport = {
      connect: async (ev) => {
        events = ev;
        return { clientIndex: 0x80000007, table };
      },
      send: (size, enc) => {
        const b = Buffer.alloc(size + 8, 0xee);
        enc(b, 8); // the encoder writes where it is told, nothing else
        expect(b.subarray(0, 8).every((x) => x === 0xee)).toBe(true);
        const msg = b.subarray(8);
        sent.push({ size, msg });
        // Answer control_ping at once, as VPP would.
        if (msg.readUInt16BE(0) === table.get(control_ping.nameCrc)) {
          const r = Buffer.alloc(control_ping_reply.fixedSize);
          control_ping_reply.encode(r, 0, table.get(control_ping_reply.nameCrc)!, 0, msg.readUInt32BE(control_ping.contextOffset), { retval: 0, vpe_pid: 99 });
          queueMicrotask(() => events?.onMessage(r));
        }
      },
      close: async () => void closed++,
      destroy: (err) => events?.onClose(err),
    };
    let made: TransportOptions | undefined;
    const c = new VppClient({ modules: allModules, healthCheck: false, transport: (o) => ((made = o), fake) });
    const info = await c.connect();
    expect(info).toMatchObject({ clientIndex: 0x80000007, vpePid: 99 });
    expect(made).toMatchObject({ socketPath: '/run/vpp/api.sock', clientName: 'vpp-cni' });
    // The limits the transport gets: exact for control_ping_reply, refused for an id not in the table.
    const limit = made!.frameLimit!(table);
    expect(limit(table.get(control_ping_reply.nameCrc)!)).toBe(control_ping_reply.fixedSize);
    expect(typeof limit(7)).toBe('string');
    await expect(c.request(control_ping, {})).resolves.toMatchObject({ vpe_pid: 99 });
    expect(sent.map((s) => [s.size, s.msg.readUInt32BE(control_ping.clientIndexOffset)])).toEqual([
      [control_ping.fixedSize, 0x80000007],
      [control_ping.fixedSize, 0x80000007],
    ]);
    await c.close();
    expect(closed).toBe(1);
  });
});
