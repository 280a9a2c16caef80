/**
 * The client against a hostile or broken peer (issue 17, item 7): a frame length that desynchronises the
 * stream, an id VPP never announced, replies too short for their message, a peer that goes silent with
 * the socket open, and random byte streams. Each ends in a named error and a reset (then a reconnect),
 * never in a wedged client, a Node buffer error or an uncaught exception.
 */
import { allModules } from '../../vpp-api/generated/index.js';
import { control_ping, control_ping_reply } from '../../vpp-api/generated/memclnt.js';
import { cli_inband, cli_inband_reply } from '../../vpp-api/generated/vlib.js';
import * as vpe from '../../vpp-api/generated/vpe.js';
import {
  VppClient,
  VppDecodeError,
  VppDisconnectedError,
  VppProtocolError,
  VppTimeoutError,
  type ConnectionState,
  type VppClientOptions,
} from '../../vpp-api/client/index.js';
import { writeFrameHeader } from '../../vpp-api/transport/frame-reader.js';
import { feedClient, RawVppPeer, type PeerConnection, type PeerRequest } from '../helpers/raw-vpp-peer.js';
import { until } from '../helpers/until.js';

const clients: VppClient[] = [];
const peers: RawVppPeer[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => undefined);
  for (const p of peers.splice(0)) await p.stop();
});

async function peer(handler?: (req: PeerRequest, conn: PeerConnection) => void): Promise<RawVppPeer> {
  const p = await RawVppPeer.start(handler);
  peers.push(p);
  return p;
}

function client(p: RawVppPeer, extra: Partial<VppClientOptions> = {}): { c: VppClient; errors: Error[]; states: ConnectionState[] } {
  const c = new VppClient({
    socketPath: p.socketPath,
    modules: allModules,
    requestTimeoutMs: 2000,
    connectTimeoutMs: 5000,
    healthCheck: false,
    backoff: { initialDelayMs: 5, maxDelayMs: 20 },
    ...extra,
  });
  clients.push(c);
  const errors: Error[] = [];
  const states: ConnectionState[] = [];
  c.onError((e) => errors.push(e));
  c.onStateChange((s) => states.push(s.to));
  return { c, errors, states };
}

/** A header announcing `len` bytes for message `id`, followed by `body`. */
function rawFrame(len: number, id: number, body: Buffer = Buffer.alloc(0)): Buffer {
  const f = Buffer.alloc(18 + body.length);
  writeFrameHeader(f, 0, len);
  f.writeUInt16BE(id, 16);
  body.copy(f, 18);
  return f;
}

/** Node's own buffer errors must never reach a caller: every failure has a name of ours. */
function expectNoNodeBufferErrors(errors: Error[]): void {
  const text = errors.map((e) => `${e.message} ${String((e as { cause?: unknown }).cause)}`).join('\n');
  expect(text).not.toMatch(/out of range|outside buffer bounds|ERR_/);
}

/** Waits for a reconnect to connection `n` and checks the client works on it. */
async function expectRecovered(p: RawVppPeer, c: VppClient, n = 2): Promise<void> {
  await p.connection(n);
  await until(`client connected again on connection ${n}`, () => c.state === 'connected' && p.connections.length >= n);
  await expect(c.request(control_ping, {}, { timeoutMs: 10_000 })).resolves.toMatchObject({ retval: 0, vpe_pid: p.vpePid });
}

describe('a frame length no VPP sends', () => {
  test.each([
    ['64 MiB for a fixed-size reply', 64 * 1024 * 1024 - 1],
    ['a few bytes more than the reply has', 18 + 40],
  ])('%s: the stream is reset at once, the request fails as disconnected, the client reconnects', async (_what, len) => {
    const p = await peer((req, conn) => {
      if (req.def === control_ping) conn.pong(req.context);
      // On the first connection, show_version gets a header no VPP sends (its reply is 18... bytes of fixed size).
      if (req.def === vpe.show_version && conn.n === 1) conn.write(rawFrame(len, p.id(control_ping_reply), Buffer.alloc(16)));
    });
    const { c, errors } = client(p);
    await c.connect();
    const err = await c.request(vpe.show_version, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VppDisconnectedError);
    expect((err as Error).message).toMatch(/show_version: connection to VPP lost: frame announces \d+ bytes/);
    expect(errors.map((e) => e.message).join('\n')).toMatch(/stream out of step/);
    expectNoNodeBufferErrors(errors);
    await expectRecovered(p, c);
  });

  test('a message id VPP never announced: reset, reconnect', async () => {
    const p = await peer((req, conn) => {
      if (req.def !== control_ping) return;
      if (conn.n === 1 && req.context !== 1) conn.write(rawFrame(10, 9, Buffer.alloc(8)));
      else conn.pong(req.context);
    });
    const { c, errors } = client(p);
    await c.connect();
    await expect(c.request(control_ping, {})).rejects.toBeInstanceOf(VppDisconnectedError);
    expect(errors.map((e) => e.message).join('\n')).toMatch(/message id 9, which is not in VPP's message table: stream out of step/);
    await expectRecovered(p, c);
  });

  test('a variable-size reply announcing more than ever comes: silence resets the stream (on the injected clock)', async () => {
    const p = await peer((req, conn) => {
      if (req.def === control_ping) conn.pong(req.context);
      // A plausible length for cli_inband_reply, but the rest never comes: every later reply is swallowed.
      if (req.def === cli_inband && conn.n === 1) conn.write(rawFrame(100_000, p.id(cli_inband_reply), Buffer.alloc(12)));
    });
    let clock = 1_000_000;
    const { c, errors } = client(p, { requestTimeoutMs: 150, now: () => clock, stall: { timeouts: 3, quietMs: 1000 } });
    await c.connect();
    // Three requests time out with nothing received, but the silence is still short: no reset yet.
    const first = Promise.all([c.cli('show version'), c.request(control_ping, {}), c.request(control_ping, {})].map((x) => x.catch((e: unknown) => e)));
    clock += 150;
    for (const r of await first) expect(r).toBeInstanceOf(VppTimeoutError);
    expect(errors).toEqual([]);
    expect(c.state).toBe('connected');
    // A fourth one, a second later: the stream is dead, the socket is dropped and the client reconnects.
    const fourth = c.request(control_ping, {}).catch((e: unknown) => e);
    clock += 1000;
    expect(await fourth).toBeInstanceOf(VppTimeoutError);
    await until('reset', () => errors.length > 0);
    expect(errors.map((e) => e.message)).toEqual(['nothing from VPP for 1150 ms and 3+ requests unanswered: the connection is stuck or out of step, reconnecting']);
    await expectRecovered(p, c);
  });
});

describe('replies too short for their message', () => {
  test.each([
    [8, 'retval'],
    [14, 'vpe_pid'],
  ])('a control_ping_reply of %i bytes: VppProtocolError naming the message and the cut field %s', async (len, field) => {
    const p = await peer((req, conn) => {
      if (req.def !== control_ping) return;
      if (conn.n === 1 && req.context !== 1) {
        const f = p.frame(control_ping_reply, req.context, { retval: 0, vpe_pid: 1 });
        writeFrameHeader(f, 0, len);
        conn.write(f.subarray(0, 16 + len));
      } else conn.pong(req.context);
    });
    const { c, errors } = client(p);
    await c.connect();
    const err = await c.request(control_ping, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VppProtocolError);
    expect((err as Error).message).toBe(`control_ping: bad control_ping_reply from VPP: cannot decode control_ping_reply: ${len} bytes, the fixed part needs 18: field ${field} is cut off`);
    const cause = (err as { cause?: unknown }).cause;
    expect(cause).toBeInstanceOf(VppDecodeError);
    expect(cause).toMatchObject({ messageName: 'control_ping_reply', field });
    expectNoNodeBufferErrors(errors);
    await expectRecovered(p, c);
  });

  test('a reply too short to hold its context: a named decode error, not a Node buffer error', async () => {
    const p = await peer((req, conn) => {
      if (req.def !== control_ping) return;
      if (conn.n === 1 && req.context !== 1) conn.write(rawFrame(4, p.id(control_ping_reply), Buffer.from([0, 0])));
      else conn.pong(req.context);
    });
    const { c, errors } = client(p);
    await c.connect();
    await expect(c.request(control_ping, {})).rejects.toBeInstanceOf(VppDisconnectedError);
    expect(errors.map((e) => e.message)).toContain('bad control_ping_reply from VPP: cannot decode control_ping_reply: 4 bytes, the fixed part needs 18: field context is cut off');
    expectNoNodeBufferErrors(errors);
    await expectRecovered(p, c);
  });
});

test('a peer silent with the socket open: health pings move to not-responding, then the client reconnects', async () => {
  const p = await peer((req, conn) => {
    if (req.def === control_ping && (conn.n > 1 || req.context === 1)) conn.pong(req.context);
  });
  const { c, errors, states } = client(p, { healthCheck: { intervalMs: 80, timeoutMs: 60, misses: 2 }, stall: { quietMs: 300 } });
  await c.connect();
  await until('reconnected', () => p.connections.length >= 2 && c.state === 'connected');
  expect(states.slice(0, 4)).toEqual(['connecting', 'connected', 'not-responding', 'reconnecting']);
  expect(errors.map((e) => e.message).join('\n')).toMatch(/nothing from VPP for \d+ ms and 3\+ requests unanswered/);
  await expect(c.request(control_ping, {}, { timeoutMs: 10_000 })).resolves.toMatchObject({ vpe_pid: p.vpePid });
});

describe('any byte stream from VPP: a named error or a reset, never a hang or an uncaught exception', () => {
  /** xorshift32: the same streams on every run. */
  function prng(seed: number): () => number {
    let x = seed >>> 0 || 1;
    return () => {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      return x / 0x100000000;
    };
  }

  function garbage(p: RawVppPeer, rnd: () => number, context: number): Buffer {
    const replyIds = [...p.ids.values()];
    const parts: Buffer[] = [];
    const n = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < n; i++) {
      const kind = Math.floor(rnd() * 4);
      const body = Buffer.alloc(Math.floor(rnd() * 64));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(rnd() * 256);
      if (body.length >= 6 && rnd() < 0.5) body.writeUInt32BE(context, 2); // aim at the pending request
      const id = replyIds[Math.floor(rnd() * replyIds.length)]!;
      if (kind === 0) parts.push(body); // bytes with no framing at all
      else if (kind === 1) parts.push(rawFrame(body.length + 2, id, body)); // a known id, random content
      else if (kind === 2) parts.push(rawFrame(Math.floor(rnd() * 2 ** 32), id, body)); // any length
      else parts.push(rawFrame(Math.max(0, body.length + 2 - Math.floor(rnd() * 8)), Math.floor(rnd() * 0x10000), body));
    }
    return Buffer.concat(parts);
  }

  test('60 seeded streams', async () => {
    const p = await peer();
    const named = new Set(['VppDisconnectedError', 'VppProtocolError', 'VppTimeoutError', 'VppApiError']);
    const outcomes = new Map<string, number>();
    for (let seed = 1; seed <= 60; seed++) {
      const rnd = prng(seed * 7919);
      // A hang would show as this test's own timeout: every request is bounded by requestTimeoutMs.
      const r = await feedClient(p, [garbage(p, rnd, 2)]);
      outcomes.set(r.result, (outcomes.get(r.result) ?? 0) + 1);
      expect([...named, 'answered']).toContain(r.result);
      for (const e of r.errors) expect(['TransportError', 'VppProtocolError']).toContain(e.name);
      expect(JSON.stringify(r)).not.toMatch(/out of range|outside buffer bounds|ERR_/);
    }
    // The streams do reach the reset path (not only timeouts).
    expect(outcomes.get('VppDisconnectedError') ?? 0).toBeGreaterThan(0);
  });
});
