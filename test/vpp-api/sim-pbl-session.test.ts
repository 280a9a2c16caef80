/** pbl clients (with the plugin's quirks) and the session layer / app namespaces in the simulator. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { interface_, memclnt, pbl, session, vlib } from '../../vpp-api/generated/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-pbl-session');
const fakeNetns = mkdtempSync(join(tmpdir(), 'vpp-sim-netns-'));
afterAll(async () => {
  await fx.cleanup();
  rmSync(fakeNetns, { recursive: true, force: true });
});

const ALL = 0xffffffff;

function client(addr: string, ports: { start: number; end: number; iproto: 6 | 17 }[], id = ALL, flags = 0) {
  return {
    client: {
      id,
      addr,
      paths: { sw_if_index: 1, weight: 1, proto: (addr.includes(':') ? 1 : 0) as 0 | 1, nh: { address: addr.includes(':') ? { ip6: addr } : { ip4: addr } } },
      flags,
      table_id: 0,
      port_ranges: ports,
    },
  };
}

async function cli(c: RawVppClient, cmd: string): Promise<{ retval: number; reply: string }> {
  return c.request(vlib.cli_inband, { cmd }, vlib.cli_inband_reply);
}

describe('pbl', () => {
  test('new ids from the pool, details with context 0 and zeroed paths/flags/ports, a no-op update, -6 on delete twice', async () => {
    const c = await fx.client(await fx.start());
    const a = await c.request(pbl.pbl_client_update, client('10.0.0.5', [{ start: 4444, end: 20000, iproto: 6 }, { start: 4444, end: 20000, iproto: 17 }]), pbl.pbl_client_update_reply);
    const b = await c.request(pbl.pbl_client_update, client('fd00:10::5', [{ start: 53, end: 53, iproto: 17 }], ALL, 1), pbl.pbl_client_update_reply);
    expect([a, b]).toEqual([
      { retval: 0, id: 0 },
      { retval: 0, id: 1 },
    ]);

    const ctx = c.send(pbl.pbl_client_dump, {});
    c.send(memclnt.control_ping, {}, { context: ctx });
    const got = [];
    for (;;) {
      const f = await c.next();
      if (f.id === c.id(memclnt.control_ping_reply)) {
        expect(f.msg.readUInt32BE(2)).toBe(ctx);
        break;
      }
      expect(f.id).toBe(c.id(pbl.pbl_client_details));
      expect(f.msg.readUInt32BE(2)).toBe(0); // the plugin never sets the context
      got.push(pbl.pbl_client_details.decode(f.msg).client);
    }
    expect(got.map((x) => [x.id, x.addr, x.flags, x.n_ports, x.paths.sw_if_index, x.paths.weight])).toEqual([
      [0, '10.0.0.5', 0, 0, 0, 0],
      [1, 'fd00:10::5', 0, 0, 0, 0],
    ]);

    const show = '[0] pbl-client: 10.0.0.5\n  TCP ports: 4444-20000\n  UDP ports: 4444-20000\n  matched dpo\n    [@0]: dpo-drop ip4\n[1] pbl-client: fd00:10::5\n  TCP ports:(empty)\n  UDP ports: 53\n  matched dpo\n    [@0]: dpo-drop ip6\n';
    expect(await cli(c, 'show pbl client')).toEqual({ retval: 0, reply: show });
    // An update of an existing id answers 0 with the same id and changes nothing.
    expect(await c.request(pbl.pbl_client_update, client('10.0.0.5', [{ start: 8080, end: 8081, iproto: 6 }], 0), pbl.pbl_client_update_reply)).toEqual({ retval: 0, id: 0 });
    expect(await cli(c, 'show pbl client')).toEqual({ retval: 0, reply: show });

    expect(await c.request(pbl.pbl_client_del, { id: 0 }, pbl.pbl_client_del_reply)).toEqual({ retval: 0 });
    expect(await c.request(pbl.pbl_client_del, { id: 0 }, pbl.pbl_client_del_reply)).toEqual({ retval: -6 });
    // A freed id is reused; single ports print as one number, adjacent ranges merge.
    const again = await c.request(pbl.pbl_client_update, client('10.0.0.6', [{ start: 80, end: 80, iproto: 6 }, { start: 81, end: 90, iproto: 6 }, { start: 100, end: 100, iproto: 6 }]), pbl.pbl_client_update_reply);
    expect(again).toEqual({ retval: 0, id: 0 });
    expect((await cli(c, 'show pbl client')).reply).toContain('[0] pbl-client: 10.0.0.6\n  TCP ports: 80-90 100\n  UDP ports:(empty)\n');
  });
});

describe('session layer', () => {
  test('sapi only before enable (-1 after), namespaces need the session layer (-30), v4/v3 names, -19 on bad input', async () => {
    const c = await fx.client(await fx.start());
    const v4 = (over: Partial<{ is_add: boolean; sw_if_index: number; namespace_id: string; sock_name: string; secret: bigint }>) =>
      c.request(session.app_namespace_add_del_v4, { secret: 7n, is_add: true, sw_if_index: ALL, ip4_fib_id: 0, ip6_fib_id: 0, namespace_id: 'ns', sock_name: '', ...over }, session.app_namespace_add_del_v4_reply);
    expect(await v4({})).toEqual({ retval: -30, appns_index: 0 });
    expect((await cli(c, 'show app ns')).retval).toBe(-1);
    expect(await c.request(session.session_sapi_enable_disable, { is_enable: true }, session.session_sapi_enable_disable_reply)).toEqual({ retval: 0 });
    expect(await c.request(session.session_enable_disable_v2, { rt_engine_type: 1 }, session.session_enable_disable_v2_reply)).toEqual({ retval: 0 });
    expect(await c.request(session.session_sapi_enable_disable, { is_enable: true }, session.session_sapi_enable_disable_reply)).toEqual({ retval: -1 });

    const loop = await c.request(interface_.create_loopback, { mac_address: '00:00:00:00:00:00' }, interface_.create_loopback_reply);
    expect(await v4({ sw_if_index: 9999 })).toEqual({ retval: -19, appns_index: 0 });
    expect(await v4({ sw_if_index: loop.sw_if_index, namespace_id: 'pod1', secret: 1234605616436508552n, sock_name: `abstract:vpp/session,netns_name=${fakeNetns}` })).toEqual({ retval: 0, appns_index: 1 });
    const v3 = await c.request(
      session.app_namespace_add_del_v3,
      { secret: 153n, is_add: true, sw_if_index: loop.sw_if_index, ip4_fib_id: 0, ip6_fib_id: 0, namespace_id: 'pod1-v3', netns: fakeNetns, sock_name: 'vpp/session-v3' },
      session.app_namespace_add_del_v3_reply,
    );
    expect(v3).toEqual({ retval: 0, appns_index: 2 });
    const show = await cli(c, 'show app ns');
    expect(show.retval).toBe(0);
    const plain = show.reply.replace(/\x1b\[[0-9;]*m/g, '');
    const rows = plain.trimEnd().split('\n').map((l) => l.trim().split(/\s+/));
    expect(rows).toEqual([
      ['Index', 'Secret', 'Interface', 'Id', 'Socket'],
      ['0', '0', 'DELETED', '(4294967295)', 'default', '/run/vpp/app_ns_sockets/default'],
      ['1', '1234605616436508552', 'loop0', 'pod1', `abstract:vpp/session,netns_name=${fakeNetns}`],
      ['2', '153', 'loop0', 'pod1-v3', `abstract:vpp/session-v3,netns_name=${fakeNetns}`],
    ]);
    expect(show.reply.startsWith('\x1b[33mIndex\x1b[0m ')).toBe(true);

    expect(await v4({ is_add: false, namespace_id: 'pod1' })).toEqual({ retval: 0, appns_index: 0 });
    expect(await v4({ is_add: false, namespace_id: 'pod1' })).toEqual({ retval: -19, appns_index: 0 });
    // With the socket API on, a namespace whose netns does not exist cannot listen: -1 (VPP keeps the namespace).
    expect(await v4({ sw_if_index: loop.sw_if_index, namespace_id: 'lost', sock_name: 'abstract:x,netns_name=/nonexistent/netns/x' })).toEqual({ retval: -1, appns_index: 0 });
    expect((await cli(c, 'show app ns')).reply).toContain('lost');
  });

  test('cli: unknown input, abbreviations, show version / interface / ip fib / memif', async () => {
    const c = await fx.client(await fx.start());
    expect(await cli(c, 'no such command')).toEqual({ retval: -1, reply: "unknown input `no such command'\n" });
    expect(await cli(c, 'show version')).toEqual({ retval: 0, reply: 'vpp v26.10-rc0~374-gb575ec2c56d built by root on vm at 2026-11-21T22:37:05\n' });
    expect((await cli(c, 'sh ver')).reply).toMatch(/^vpp v/);
    expect((await cli(c, 'show interface')).reply).toMatch(/local0\s+0\s+down/);
    expect((await cli(c, 'show ip fib')).reply).toContain('ipv4-VRF:0');
    expect((await cli(c, 'show memif')).reply).toContain('/run/vpp/memif.sock');
    expect((await cli(c, 'show api plugin')).reply).toMatch(/memif_bf42b70a\s+\d+\s+\d+/);
  });
});
