/**
 * PBL's FIB clones (docs/real-vpp.md): pbl_client_del of a clone's id crashed a real VPP (v26.10-rc0), so the
 * façade never sends it. `show pbl client` as that VPP printed it for one client on a routed /32.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addPblClient, deletePblClient, listPblClients, pblCloneIds } from '../../agent/vpp/pbl.js';
import type { VppApi } from '../../agent/vpp/api.js';
import { VppApiError, VppClient } from '../../vpp-api/client/index.js';
import { allModules, ip, pbl } from '../../vpp-api/generated/index.js';
import { VppSimulator } from '../../vpp-api/sim/index.js';

const REAL_SHOW = [
  '[0] pbl-client: 198.18.50.5 clone:1',
  '[1] pbl-client: 198.18.50.5',
  '  TCP ports:(empty)',
  '  UDP ports:(empty)',
  '  matched dpo',
  '    [@3]: arp-ipv4: via 198.18.50.5 loop0',
  '',
].join('\n');

function fakeVpp(cli: () => Promise<string>): { vpp: VppApi; deleted: number[] } {
  const deleted: number[] = [];
  const vpp = {
    cli,
    request: async (def: { name: string }, msg: { id: number }) => {
      if (def.name === 'pbl_client_del') deleted.push(msg.id);
      return { retval: 0 };
    },
    dumpAll: async () => [],
    streamAll: async () => [],
  } as unknown as VppApi;
  return { vpp, deleted };
}

test('the clone ids are read from show pbl client', async () => {
  expect([...(await pblCloneIds(fakeVpp(async () => REAL_SHOW).vpp))]).toEqual([1]);
});

test('deleting a clone sends nothing; deleting the original sends pbl_client_del', async () => {
  const f = fakeVpp(async () => REAL_SHOW);
  await deletePblClient(f.vpp, 1);
  expect(f.deleted).toEqual([]);
  await deletePblClient(f.vpp, 0);
  expect(f.deleted).toEqual([0]);
});

test('a VPP without the CLI (an error answer): no clone known, the delete is sent', async () => {
  const f = fakeVpp(async () => {
    throw new VppApiError('cli_inband', -1, { retval: -1, reply: "unknown input `show pbl client'" });
  });
  await deletePblClient(f.vpp, 3);
  expect(f.deleted).toEqual([3]);
});

test('against the simulator (which makes clones as the real VPP): the listing leaves the clone out, the delete skips it, the original goes with its clone, VPP stays up', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'vcni-pbl-guard-'));
  const sim = await VppSimulator.start({ socketPath: join(dir, 'api.sock') });
  const vpp = new VppClient({ socketPath: sim.socketPath, modules: allModules, healthCheck: false, requestTimeoutMs: 3000 });
  try {
    await vpp.connect();
    const id = await addPblClient(vpp, { ip: '198.18.50.5', swIfIndex: 0, ethernet: false, ports: [{ start: 80, end: 80, iproto: 6 }] });
    await vpp.request(ip.ip_route_add_del, { is_add: true, route: { table_id: 0, prefix: '198.18.50.5/32', paths: [{ sw_if_index: 0xffffffff, nh: { address: { ip4: '192.0.2.1' } } }] } });
    expect((await vpp.dumpAll(pbl.pbl_client_dump, {})).map((c) => c.client.id)).toEqual([id, id + 1]);
    expect([...(await pblCloneIds(vpp))]).toEqual([id + 1]);
    expect((await listPblClients(vpp)).map((c) => c.id)).toEqual([id]);
    await deletePblClient(vpp, id + 1);
    expect(sim.aborts).toEqual([]);
    await deletePblClient(vpp, id);
    expect(await vpp.dumpAll(pbl.pbl_client_dump, {})).toEqual([]);
    expect(sim.aborts).toEqual([]);
  } finally {
    await vpp.close();
    await sim.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
