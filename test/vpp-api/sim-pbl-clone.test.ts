/**
 * PBL's FIB clones in the simulator, as the real plugin has them (docs/real-vpp.md): a route covering a client's
 * address makes a clone in the same pool; the dump lists it, `show pbl client` tells it apart (`clone:N`),
 * deleting the original removes both, deleting the clone's id crashes VPP (the simulator aborts).
 */
import { ip, pbl, vlib } from '../../vpp-api/generated/index.js';
import type { VppSimulator } from '../../vpp-api/sim/index.js';
import { RawVppClient, SimFixture } from '../helpers/raw-vpp-client.js';

const fx = new SimFixture('vpp-sim-pbl-clone');
afterAll(() => fx.cleanup());

const ANY = 0xffffffff;

function client(addr: string, tableId = 0) {
  return {
    client: {
      id: ANY,
      addr,
      paths: { sw_if_index: 1, weight: 1, proto: 0 as const, nh: { address: { ip4: addr } } },
      flags: 0,
      table_id: tableId,
      port_ranges: [{ start: 8080, end: 8080, iproto: 6 as const }],
    },
  };
}

function route(prefix: string, tableId = 0) {
  return { table_id: tableId, prefix, paths: [{ sw_if_index: ANY, nh: { address: { ip4: '192.0.2.1' } } }] };
}

async function setup(): Promise<{ sim: VppSimulator; c: RawVppClient }> {
  const sim = await fx.start();
  return { sim, c: await fx.client(sim) };
}

async function add(c: RawVppClient, addr: string, tableId = 0): Promise<number> {
  const r = await c.request(pbl.pbl_client_update, client(addr, tableId), pbl.pbl_client_update_reply);
  expect(r.retval).toBe(0);
  return r.id;
}

async function routeAddDel(c: RawVppClient, isAdd: boolean, prefix: string, tableId = 0): Promise<void> {
  expect((await c.request(ip.ip_route_add_del, { is_add: isAdd, route: route(prefix, tableId) }, ip.ip_route_add_del_reply)).retval).toBe(0);
}

async function dumpIds(c: RawVppClient): Promise<[number, string][]> {
  return (await c.dump(pbl.pbl_client_dump, {}, pbl.pbl_client_details)).map((d) => [d.client.id, d.client.addr]);
}

async function show(c: RawVppClient): Promise<string> {
  return (await c.request(vlib.cli_inband, { cmd: 'show pbl client' }, vlib.cli_inband_reply)).reply;
}

const FULL = (id: number, addr: string): string => `[${id}] pbl-client: ${addr}\n  TCP ports: 8080\n  UDP ports:(empty)\n  matched dpo\n    [@0]: dpo-drop ip4\n`;

test('no route: no clone; a /32 route to the address: a clone with the next id, listed by the dump, named by the CLI', async () => {
  const { sim, c } = await setup();
  expect(await add(c, '10.1.0.5')).toBe(0);
  expect(await dumpIds(c)).toEqual([[0, '10.1.0.5']]);
  expect(await show(c)).toBe(FULL(0, '10.1.0.5'));

  await routeAddDel(c, true, '10.1.0.5/32');
  expect(await dumpIds(c)).toEqual([
    [0, '10.1.0.5'],
    [1, '10.1.0.5'],
  ]);
  // The real VPP's layout: the original is one line naming its clone, the clone is shown in full.
  expect(await show(c)).toBe(`[0] pbl-client: 10.1.0.5 clone:1\n${FULL(1, '10.1.0.5')}`);

  // The route goes: the clone goes, its id is free again.
  await routeAddDel(c, false, '10.1.0.5/32');
  expect(await dumpIds(c)).toEqual([[0, '10.1.0.5']]);
  expect(await show(c)).toBe(FULL(0, '10.1.0.5'));
  expect(await add(c, '10.1.0.6')).toBe(1);
  expect(sim.aborts).toEqual([]);
});

test('a client made while a covering route exists gets its clone at once (original first); other tables and addresses are not covered', async () => {
  const { sim, c } = await setup();
  await routeAddDel(c, true, '10.2.0.0/24');
  expect(await add(c, '10.2.0.7')).toBe(0);
  expect(await add(c, '10.3.0.7')).toBe(2);
  expect(await c.request(ip.ip_table_add_del, { is_add: true, table: { table_id: 7, is_ip6: false, name: 't7' } }, ip.ip_table_add_del_reply)).toEqual({ retval: 0 });
  expect(await add(c, '10.2.0.8', 7)).toBe(3);
  expect(await dumpIds(c)).toEqual([
    [0, '10.2.0.7'],
    [1, '10.2.0.7'],
    [2, '10.3.0.7'],
    [3, '10.2.0.8'],
  ]);
  // A route in table 7 covers the table-7 client only; deleting the table flushes it and the clone goes.
  await routeAddDel(c, true, '10.2.0.0/16', 7);
  expect((await dumpIds(c)).map(([id]) => id)).toEqual([0, 1, 2, 3, 4]);
  expect(await show(c)).toContain('[3] pbl-client: 10.2.0.8 clone:4\n');
  expect(await c.request(ip.ip_table_add_del, { is_add: false, table: { table_id: 7, is_ip6: false, name: '' } }, ip.ip_table_add_del_reply)).toEqual({ retval: 0 });
  expect((await dumpIds(c)).map(([id]) => id)).toEqual([0, 1, 2, 3]);
  expect(sim.aborts).toEqual([]);
});

test('deleting the original removes both; an update of the clone id is a no-op answering that id', async () => {
  const { sim, c } = await setup();
  await add(c, '10.4.0.5');
  await routeAddDel(c, true, '10.4.0.5/32');
  expect(await c.request(pbl.pbl_client_update, { client: { ...client('10.4.0.5').client, id: 1 } }, pbl.pbl_client_update_reply)).toEqual({ retval: 0, id: 1 });
  expect((await dumpIds(c)).map(([id]) => id)).toEqual([0, 1]);
  expect(await c.request(pbl.pbl_client_del, { id: 0 }, pbl.pbl_client_del_reply)).toEqual({ retval: 0 });
  expect(await dumpIds(c)).toEqual([]);
  expect(await show(c)).toBe('');
  // Both ids are free: a new client takes 0, and its clone (the route is still there) 1.
  expect(await add(c, '10.4.0.5')).toBe(0);
  expect((await dumpIds(c)).map(([id]) => id)).toEqual([0, 1]);
  expect(sim.aborts).toEqual([]);
});

test("deleting a clone's id crashes VPP: no reply, the connection drops, a fresh instance, recorded in aborts", async () => {
  const { sim, c } = await setup();
  const pid = sim.state.vpePid;
  await add(c, '10.5.0.5');
  await routeAddDel(c, true, '10.5.0.5/32');
  c.send(pbl.pbl_client_del, { id: 1 });
  await c.waitClosed();
  expect(sim.aborts).toHaveLength(1);
  expect(sim.aborts[0]!.reason).toMatch(/pbl_client_del of id 1, the FIB clone of pbl client 0: SIGSEGV/);
  expect(sim.aborts[0]!.vpePid).toBe(pid);
  expect(sim.state.pblPool.indexes()).toEqual([]);
});
