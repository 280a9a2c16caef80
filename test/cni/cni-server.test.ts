/**
 * The agent's CNI server against hostile or careless clients (raw HTTP/2 streams on its socket): calls
 * cancelled or expired while waiting for their container's turn are never executed, oversized messages
 * are refused from their length prefix, every input is validated naming the field, and the waiting
 * queue per container is bounded. The operations behind the server are a recording stub.
 */
import * as http2 from 'node:http2';
import { connect as netConnect } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddReply, AddRequest, type AddRequestMsg } from '../../contract/generated/cni-backend.js';
import { decode, encode } from '../../contract/wire.js';
import { CniServer, MAX_REQUEST_BYTES, MAX_WAITING_PER_CONTAINER, type CniOperations } from '../../agent/cni/server.js';
import type { AddInput, AttachmentKeyInput } from '../../agent/cni/attachment-manager.js';
import type { AttachResult } from '../../agent/pod/attachment.js';
import { unaryCall } from '../../cni-plugin/grpc-unary.js';
import { until } from '../helpers/until.js';
import { silentLogger } from '../../lib/logger.js';

const ADD_PATH = '/vppcni.v1.CniBackend/Add';

class StubOps implements CniOperations {
  readonly adds: AddInput[] = [];
  readonly dels: AttachmentKeyInput[] = [];
  private hold: Promise<void> | undefined;
  private releaseHold: (() => void) | undefined;

  /** ADDs block until release(). */
  block(): void {
    this.hold = new Promise((r) => (this.releaseHold = r));
  }
  release(): void {
    this.releaseHold?.();
    this.hold = undefined;
  }

  async add(input: AddInput): Promise<AttachResult> {
    this.adds.push(input);
    await this.hold;
    return { interfaces: [{ name: input.ifName, sandbox: input.netns }], ips: [], routes: [] };
  }
  async del(a: AttachmentKeyInput): Promise<void> {
    this.dels.push(a);
    await this.hold;
  }
  check(): Promise<void> {
    return Promise.resolve();
  }
  gc(): Promise<number> {
    return Promise.resolve(0);
  }
}

interface Line {
  obj: Record<string, unknown>;
  msg: string | undefined;
}
const lines: Line[] = [];
const log = {
  ...silentLogger,
  info: (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, msg }),
  warn: (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, msg }),
  error: (obj: object, msg?: string) => lines.push({ obj: obj as Record<string, unknown>, msg }),
};

let dir: string;
let socketPath: string;
let ops: StubOps;
let server: CniServer;
const sessions: http2.ClientHttp2Session[] = [];

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'vcni-srv-'));
  socketPath = join(dir, 'cni', 'agent.sock');
  ops = new StubOps();
  lines.length = 0;
  server = new CniServer(socketPath, ops, { notReady: () => undefined, degraded: () => false }, log);
  await server.start();
});

afterEach(async () => {
  ops.release();
  for (const s of sessions.splice(0)) s.destroy();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

function addRequest(containerId: string, over: Partial<AddRequestMsg> = {}): AddRequestMsg {
  return {
    attachment: { container_id: containerId, if_name: 'eth0', netns: `/var/run/netns/${containerId}`, pod: { namespace: 'default', name: 'web', uid: '' } },
    ips: [{ address: '10.0.0.5/32' }],
    routes: [],
    network_name: 'vppnet',
    annotations: null,
    ...over,
  };
}

function frame(body: Buffer, claimedLength = body.length): Buffer {
  const f = Buffer.alloc(5 + body.length);
  f.writeUInt32BE(claimedLength, 1);
  body.copy(f, 5);
  return f;
}

function session(): http2.ClientHttp2Session {
  const s = http2.connect('http://localhost', { createConnection: () => netConnect(socketPath) });
  s.on('error', () => undefined);
  sessions.push(s);
  return s;
}

interface Outcome {
  status: number;
  message: string;
  body: Buffer;
}

/** One raw call on `s`: resolves with the grpc status (trailers or trailers-only headers) and the body. */
function rawCall(s: http2.ClientHttp2Session, path: string, data: Buffer, timeoutMs?: number): { stream: http2.ClientHttp2Stream; done: Promise<Outcome> } {
  const stream = s.request({
    ':method': 'POST',
    ':path': path,
    'content-type': 'application/grpc',
    te: 'trailers',
    ...(timeoutMs ? { 'grpc-timeout': `${timeoutMs}m` } : {}),
  });
  const done = new Promise<Outcome>((resolve) => {
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (t) => (trailers = t));
    stream.on('data', (d: Buffer) => chunks.push(d));
    stream.on('error', () => undefined);
    stream.on('close', () => {
      const status = Number(trailers['grpc-status'] ?? headers['grpc-status'] ?? -1);
      resolve({ status, message: decodeURIComponent(String(trailers['grpc-message'] ?? headers['grpc-message'] ?? '')), body: Buffer.concat(chunks) });
    });
  });
  stream.end(data);
  return { stream, done };
}

/** A unary ADD through the plugin's own client; the decoded reply. */
async function add(req: AddRequestMsg, timeoutMs = 10_000): Promise<Record<string, unknown>> {
  const raw = await unaryCall(socketPath, ADD_PATH, encode(AddRequest, req), timeoutMs);
  return decode(AddReply, raw);
}

describe('cancellation and deadlines', () => {
  test('500 ADD streams opened and reset on one connection while the container is busy are never executed', async () => {
    ops.block();
    const first = add(addRequest('c1'), 120_000); // held until release(): its deadline must outlast the test
    await until('the first ADD runs', () => ops.adds.length === 1);
    const s = session();
    const body = frame(encode(AddRequest, addRequest('c1')));
    for (let wave = 0; wave < 50; wave++) {
      expect(ops.adds).toHaveLength(1); // the first still holds the container
      const streams = Array.from({ length: 10 }, () => rawCall(s, ADD_PATH, body));
      await until(`wave ${wave}: 10 calls waiting`, () => server.waiting === 10, 30_000);
      for (const c of streams) c.stream.close(http2.constants.NGHTTP2_CANCEL);
      await until(`wave ${wave}: the cancelled calls left the queue`, () => server.waiting === 0, 30_000);
    }
    expect(server.skipped).toBe(500);
    ops.release();
    expect(await first).toMatchObject({ error: null, interfaces: [{ name: 'eth0' }] });
    // the next real request runs at once: only it and the first were executed
    expect(await add(addRequest('c1'))).toMatchObject({ error: null });
    expect(ops.adds).toHaveLength(2);
    expect(lines.filter((l) => l.obj['reason'] === 'cancelled by the client')).toHaveLength(500);
  }, 120_000);

  test('500 ADD streams opened at once and reset: none executed, the next real ADD runs at once', async () => {
    ops.block();
    const first = add(addRequest('c6'), 120_000); // held until release(): its deadline must outlast the test
    await until('the first ADD runs', () => ops.adds.length === 1);
    const s = session();
    const body = frame(encode(AddRequest, addRequest('c6')));
    const streams = Array.from({ length: 500 }, () => rawCall(s, ADD_PATH, body));
    await until('some calls wait', () => server.waiting > 0);
    for (const c of streams) c.stream.close(http2.constants.NGHTTP2_CANCEL);
    await Promise.all(streams.map((c) => c.done));
    await until('the queue is empty', () => server.waiting === 0);
    ops.release();
    await first;
    expect(await add(addRequest('c6'))).toMatchObject({ error: null });
    expect(ops.adds).toHaveLength(2);
  }, 60_000);

  test('a call whose deadline passes while it waits is refused (DEADLINE_EXCEEDED) and never executed', async () => {
    ops.block();
    const first = add(addRequest('c2'), 120_000); // held until release(): its deadline must outlast the test
    await until('the first ADD runs', () => ops.adds.length === 1);
    const late = rawCall(session(), ADD_PATH, frame(encode(AddRequest, addRequest('c2'))), 200);
    const out = await late.done;
    expect(out.status).toBe(4); // DEADLINE_EXCEEDED
    await until('the expired call left the queue', () => server.waiting === 0);
    ops.release();
    await first;
    expect(ops.adds).toHaveLength(1);
    expect(server.skipped).toBe(1);
    expect(lines.find((l) => l.obj['reason'] === 'deadline passed')?.msg).toBe('CNI request not executed: deadline passed while it waited for an earlier operation on the container');
  });

  test('other containers are not held up by a busy one', async () => {
    ops.block();
    const first = add(addRequest('c3'), 120_000); // held until release(): its deadline must outlast the test
    await until('the first ADD runs', () => ops.adds.length === 1);
    const other = add(addRequest('c4'), 120_000);
    await until('the other container\'s ADD runs', () => ops.adds.length === 2);
    ops.release();
    await Promise.all([first, other]);
  });

  test(`at most ${MAX_WAITING_PER_CONTAINER} calls wait per container; more are refused with 11`, async () => {
    ops.block();
    const first = add(addRequest('c5'), 120_000); // held until release(): its deadline must outlast the test
    await until('the first ADD runs', () => ops.adds.length === 1);
    const waiting = Array.from({ length: MAX_WAITING_PER_CONTAINER }, () => add(addRequest('c5'), 120_000));
    await until('the queue is full', () => server.waiting === MAX_WAITING_PER_CONTAINER);
    const refused = await add(addRequest('c5'));
    expect(refused['error']).toMatchObject({ code: 11, msg: `container "c5": ${MAX_WAITING_PER_CONTAINER} requests are already waiting for it; try again later` });
    ops.release();
    await Promise.all([first, ...waiting]);
    expect(ops.adds).toHaveLength(1 + MAX_WAITING_PER_CONTAINER);
  });
});

describe('bounds and validation', () => {
  test('a message above the bound is refused from its length prefix (RESOURCE_EXHAUSTED), unparsed', async () => {
    const claimed = rawCall(session(), ADD_PATH, frame(Buffer.alloc(0), MAX_REQUEST_BYTES + 1));
    expect((await claimed.done).status).toBe(8);
    const real = rawCall(session(), ADD_PATH, frame(Buffer.alloc(MAX_REQUEST_BYTES + 16, 0x0a)));
    expect((await real.done).status).toBe(8);
    expect(ops.adds).toHaveLength(0);
  });

  test('malformed protobuf: 7 naming the field', async () => {
    const out = await rawCall(session(), ADD_PATH, frame(Buffer.from([0x0a, 0x02, 0x08, 0x01]))).done;
    expect(out.status).toBe(0);
    expect(decode(AddReply, out.body.subarray(5))['error']).toEqual({
      code: 7,
      msg: 'invalid request: malformed AddRequest: AddRequest.attachment.container_id: expected a string',
      details: '',
    });
    expect(ops.adds).toHaveLength(0);
  });

  test.each([
    ['no attachment', addRequest('x', { attachment: null }), 'invalid request: AddRequest.attachment: missing Attachment'],
    [
      'a container id with control characters (echoed escaped)',
      addRequest('a\u0007b\nc'),
      'invalid request: AddRequest.attachment.container_id: expected letters, digits, _ . - (starting with a letter or digit) (got "a\\u0007b\\nc")',
    ],
    ['a long interface name (echoed cut)', addRequest('x', { attachment: { container_id: 'x', if_name: 'e'.repeat(100), netns: '', pod: null } }), `invalid request: AddRequest.attachment.if_name: at most 15 characters (got "${'e'.repeat(64)}…" (100 characters))`],
    ['no IPs', addRequest('x', { ips: [] }), 'invalid request: AddRequest.ips: at least 1 element'],
    ['an address without prefix length', addRequest('x', { ips: [{ address: '10.0.0.5' }] }), 'invalid request: AddRequest.ips[0].address: expected an address with prefix length, e.g. 10.1.0.5/24 (got "10.0.0.5")'],
    ['an impossible address', addRequest('x', { ips: [{ address: '10.0.0.256/24' }] }), 'invalid request: AddRequest.ips[0].address: not an IP address before the "/" (got "10.0.0.256/24")'],
    ['a prefix length too long', addRequest('x', { ips: [{ address: '10.0.0.5/33' }] }), 'invalid request: AddRequest.ips[0].address: prefix length above 32 (got "10.0.0.5/33")'],
    ['a route gateway that is no address', addRequest('x', { routes: [{ dst: '0.0.0.0/0', gw: '1.2.3' }] }), 'invalid request: AddRequest.routes[0].gw: not an IP address (got "1.2.3")'],
    ['an empty annotation key', addRequest('x', { annotations: { entries: { '': 'v' } } }), 'invalid request: AddRequest.annotations.entries[""]: invalid key: must not be empty'],
  ])('%s: 7 naming the field', async (_n, req, msg) => {
    const reply = await add(req);
    expect(reply['error']).toMatchObject({ code: 7, msg });
    expect(ops.adds).toHaveLength(0);
  });

  test('a valid ADD reaches the operations with network name and runtime annotations; absent optional fields stay absent', async () => {
    const reply = await add(addRequest('ok1', { ips: [{ address: '10.0.0.5/32', gateway: '10.0.0.1' }, { address: 'fd00::5/128' }], annotations: { entries: { a: 'b' } } }));
    expect(reply).toEqual({ error: null, interfaces: [{ name: 'eth0', sandbox: '/var/run/netns/ok1' }] });
    expect(ops.adds[0]).toEqual({
      containerId: 'ok1',
      ifName: 'eth0',
      netns: '/var/run/netns/ok1',
      pod: { namespace: 'default', name: 'web' },
      ips: [{ address: '10.0.0.5/32', gateway: '10.0.0.1' }, { address: 'fd00::5/128' }],
      routes: [],
      network: 'vppnet',
      annotations: { a: 'b' },
    });
    await add(addRequest('ok2'));
    expect(ops.adds[1]).not.toHaveProperty('annotations');
  });
});
