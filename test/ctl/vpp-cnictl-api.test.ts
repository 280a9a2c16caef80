/**
 * `vpp-cnictl api` run as a process, as an operator runs it: output, exit codes, and one clear line for
 * every error case (socket missing or not permitted, unknown message, CRC mismatch, retval < 0, timeout).
 */
import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VppSimulator } from '../../vpp-api/sim/index.js';
import { haveRoot } from '../helpers/netns.js';
import { RawVppPeer } from '../helpers/raw-vpp-peer.js';
import { EXIT, exitTableMarkdown } from '../../ctl/exit-codes.js';
import { control_ping, control_ping_reply } from '../../vpp-api/generated/memclnt.js';
import { show_version } from '../../vpp-api/generated/vpe.js';
import { writeFrameHeader } from '../../vpp-api/transport/frame-reader.js';

const dir = mkdtempSync(join(tmpdir(), 'vcni-ctl-'));
chmodSync(dir, 0o755);
let sim: VppSimulator;
let skewed: VppSimulator;

interface Run {
  code: number;
  out: string;
  err: string;
}

function ctl(args: string[], opts: { uid?: number; gid?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', join(process.cwd(), 'ctl/main.ts'), ...args],
      { cwd: process.cwd(), timeout: 30_000, env: { ...process.env, VPPCNI_VPP_API_SOCKET: '' }, ...opts },
      (err, out, errOut) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, out: String(out), err: String(errOut) }),
    );
  });
}

beforeAll(async () => {
  sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock') });
  // A VPP whose show_version has another CRC (version skew).
  skewed = await VppSimulator.start({ socketPath: join(dir, 'skew.sock'), crcOverrides: new Map([['show_version', 0xdeadbeef]]) });
});

afterAll(async () => {
  await sim?.stop();
  await skewed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('success paths', () => {
  test('call prints the reply as JSON with VPP field names', async () => {
    const r = await ctl(['api', 'call', 'control_ping', '--socket', sim.socketPath]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ retval: 0, client_index: expect.any(Number), vpe_pid: sim.vpePid });
  });

  test('enums by name, addresses as strings, then a dump as JSON lines', async () => {
    const lo = await ctl(['api', 'call', 'create_loopback', '{"mac_address":"02:fe:00:00:00:aa"}', '--socket', sim.socketPath]);
    expect(lo.code).toBe(0);
    const sw = (JSON.parse(lo.out) as { sw_if_index: number }).sw_if_index;
    const up = await ctl(['api', 'call', 'sw_interface_set_flags', JSON.stringify({ sw_if_index: sw, flags: 'IF_STATUS_API_FLAG_ADMIN_UP' }), '--socket', sim.socketPath]);
    expect(up.code).toBe(0);
    const addr = await ctl(['api', 'call', 'sw_interface_add_del_address', JSON.stringify({ sw_if_index: sw, is_add: true, prefix: '10.77.0.1/24' }), '--socket', sim.socketPath]);
    expect(addr.code).toBe(0);
    const dump = await ctl(['api', 'dump', 'sw_interface_dump', JSON.stringify({ sw_if_index: sw }), '--socket', sim.socketPath]);
    expect(dump.code).toBe(0);
    const lines = dump.out.trim().split('\n').map((l) => JSON.parse(l) as { sw_if_index: number; l2_address: string; flags: number });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ sw_if_index: sw, l2_address: '02:fe:00:00:00:aa' });
    expect(lines[0]!.flags & 1).toBe(1);
  });

  test('cli prints the text', async () => {
    const r = await ctl(['api', 'cli', 'show version', '--socket', sim.socketPath]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/vpp/i);
  });

  test('check reports compatibility', async () => {
    const r = await ctl(['api', 'check', '--socket', sim.socketPath]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^connected to .*: \d+ compatible, 0 with another CRC, 0 missing/);
  });
});

describe('every error case: non-zero exit and one clear line', () => {
  test('socket missing', async () => {
    const r = await ctl(['api', 'call', 'control_ping', '--socket', join(dir, 'nope.sock')]);
    expect(r.code).toBe(3);
    expect(r.err.trim().split('\n')).toHaveLength(1);
    expect(r.err).toContain(`VPP API socket ${join(dir, 'nope.sock')} does not exist`);
  });

  (haveRoot() ? test : test.skip)('socket not permitted', async () => {
    const locked = join(dir, 'locked');
    mkdirSync(locked, { mode: 0o700 });
    const s = await VppSimulator.start({ socketPath: join(locked, 'api.sock') });
    try {
      const r = await ctl(['api', 'call', 'control_ping', '--socket', s.socketPath], { uid: 65534, gid: 65534 });
      expect(r.code).toBe(3);
      expect(r.err.trim().split('\n')).toHaveLength(1);
      expect(r.err).toContain(`permission denied on VPP API socket ${s.socketPath}`);
    } finally {
      await s.stop();
    }
  });

  test('unknown message', async () => {
    const r = await ctl(['api', 'call', 'memif_creat', '--socket', sim.socketPath]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe('vpp-cnictl: unknown message "memif_creat" (did you mean memif_create, memif_create_reply, memif_create_v2, memif_create_v2_reply?)');
  });

  test('CRC mismatch for the message used', async () => {
    const r = await ctl(['api', 'call', 'show_version', '--socket', skewed.socketPath]);
    expect(r.code).toBe(4);
    expect(r.err.trim()).toBe('vpp-cnictl: show_version: CRC mismatch, VPP has show_version_deadbeef, this client was built for show_version_51077d14');
  });

  test('retval < 0, with its name', async () => {
    const r = await ctl(['api', 'call', 'sw_interface_set_flags', '{"sw_if_index":9999,"flags":1}', '--socket', sim.socketPath]);
    expect(r.code).toBe(1);
    expect(r.err.trim()).toBe('vpp-cnictl: sw_interface_set_flags: VPP returned -2 (VNET_API_ERROR_INVALID_SW_IF_INDEX)');
  });

  test('timeout', async () => {
    sim.faults.noReply('show_version');
    try {
      const r = await ctl(['api', 'call', 'show_version', '--socket', sim.socketPath, '--timeout', '300']);
      expect(r.code).toBe(5);
      expect(r.err.trim()).toBe('vpp-cnictl: show_version: no reply from VPP within 300 ms');
    } finally {
      sim.faults.clear();
    }
  });

  test.each([
    [['api', 'call', 'control_ping', '{bad'], /^vpp-cnictl: control_ping: invalid JSON: /],
    [['api', 'call', 'sw_interface_set_flags', '{"sw_if":1}'], /^vpp-cnictl: sw_interface_set_flags: unknown field "sw_if" \(fields: sw_if_index, flags\)$/],
    [['api', 'call', 'sw_interface_set_flags', '{"flags":"UP"}'], /^vpp-cnictl: sw_interface_set_flags\.flags: "UP" is not a member of if_status_flags/],
    [['api', 'call', 'sw_interface_dump'], /^vpp-cnictl: sw_interface_dump is not a request with a single reply \(use: api dump sw_interface_dump\)$/],
    [['api', 'dump', 'control_ping'], /^vpp-cnictl: control_ping is not a dump or stream \(use: api call control_ping\)$/],
    [['api', 'frobnicate'], /^vpp-cnictl: unknown api command "frobnicate"$/],
    [['api', 'call', 'control_ping', '--timeout', 'soon'], /^vpp-cnictl: --timeout: "soon" is not a positive number of milliseconds$/],
  ])('bad input %j', async (args, re) => {
    const r = await ctl([...args, '--socket', sim.socketPath]);
    expect(r.code).toBe(2);
    expect(r.err.trim()).toMatch(re);
  });
});

describe('exit codes say what happened (one table, as the README lists it)', () => {
  test('the README table is the one in ctl/exit-codes.ts', () => {
    const readme = readFileSync(join(process.cwd(), 'README.md'), 'utf8');
    const m = /<!-- exit-codes:begin -->\n([\s\S]*?)\n<!-- exit-codes:end -->/.exec(readme);
    expect(m?.[1]).toBe(exitTableMarkdown());
  });

  /** A raw VPP side: control_ping answered, show_version handled by `onShowVersion`. */
  async function hostile(onShowVersion: (ctx: number, write: (b: Buffer) => void, destroy: () => void, p: RawVppPeer) => void): Promise<RawVppPeer> {
    const p = await RawVppPeer.start((req, conn) => {
      if (req.def === control_ping) conn.pong(req.context);
      if (req.def === show_version) onShowVersion(req.context, (b) => conn.write(b), () => conn.socket.destroy(), p);
    });
    return p;
  }

  test.each([
    ['the connection is lost mid-request: 3 (not 1)', EXIT.connect, /^vpp-cnictl: show_version: connection to VPP lost: VPP closed the API connection$/, (_c: number, _w: (b: Buffer) => void, destroy: () => void) => destroy()],
    [
      'a frame out of step: 6',
      EXIT.badAnswer,
      /^vpp-cnictl: show_version: connection to VPP lost: frame announces 67108863 bytes, above the 8388608-byte limit: stream out of step$/,
      (ctx: number, write: (b: Buffer) => void, _d: () => void, p: RawVppPeer) => {
        const f = p.frame(control_ping_reply, ctx, {});
        writeFrameHeader(f, 0, 64 * 1024 * 1024 - 1);
        write(f);
      },
    ],
    [
      'a reply too short for its message: 6, naming the message and the field',
      EXIT.badAnswer,
      /^vpp-cnictl: show_version: bad show_version_reply from VPP: cannot decode show_version_reply: 12 bytes, the fixed part needs \d+: field program is cut off$/,
      (ctx: number, write: (b: Buffer) => void, _d: () => void, p: RawVppPeer) => {
        const f = p.frame(show_version.reply, ctx, { program: 'vpp' });
        writeFrameHeader(f, 0, 12);
        write(f.subarray(0, 16 + 12));
      },
    ],
  ])('%s', async (_what, code, line, act) => {
    const p = await hostile(act);
    try {
      const r = await ctl(['api', 'call', 'show_version', '--socket', p.socketPath, '--timeout', '3000']);
      expect(r.err.trim()).toMatch(line);
      expect(r.code).toBe(code);
    } finally {
      await p.stop();
    }
  });

  test.each([
    [['api', 'check', '--bogus']],
    [['api', 'call', 'control_ping', '{}', 'extra']],
    [['api', 'bench', '--window', 'many']],
    [['pods', '--bogus']],
    [['api', 'call', 'control_ping', '--socket']],
  ])('bad usage %j: 2', async (args) => {
    const r = await ctl(args);
    expect(r.code).toBe(EXIT.usage);
    expect(r.err).toMatch(/^vpp-cnictl/);
  });
});
