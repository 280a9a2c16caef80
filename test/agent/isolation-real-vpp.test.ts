/**
 * The isolation objects on a real VPP: set VPPCNI_TEST_VPP_SOCKET to the API socket of a VPP this test may change
 * (it switches the node-wide punt settings on and leaves them; every pod object it makes it removes). Loopbacks
 * stand in for the pods' eth0: this checks what VPP keeps and answers, not the datapath (a TCP connection to a
 * VCL app and a dropped spoofed source need VPP's VCL test apps and pod namespaces, which this test does not run).
 */
import { existsSync } from 'node:fs';
import { VppClient } from '../../vpp-api/client/index.js';
import { allModules, interface_, session, urpf } from '../../vpp-api/generated/index.js';
import { createSourceCheck, createVclIsolation, deleteSourceCheck, deleteVclIsolation, ensureNodePunt } from '../../agent/pod/isolation/apply.js';
import { readIsolationInventory, verifySourceCheck, verifyVclIsolation } from '../../agent/pod/isolation/inventory.js';
import { vppIsolationOps } from '../../agent/vpp/isolation.js';
import { ANY, planNodePunt, planSourceCheck, planVcl } from '../../agent/pod/isolation/plan.js';
import { allocateTableId, tableKey } from '../../agent/pod/isolation/tables.js';
import { transact } from '../../agent/pod/transaction.js';

const SOCKET = process.env['VPPCNI_TEST_VPP_SOCKET'] ?? '';
const haveVpp = SOCKET !== '' && existsSync(SOCKET);
const quiet = { debug: () => undefined, warn: () => undefined };
const owner = { containerId: `f7${process.pid.toString(16).padStart(10, '0')}`, ifName: 'eth0', podNamespace: 'test', podName: 'isolation' };

(haveVpp ? describe : describe.skip)(`isolation on a real VPP (${haveVpp ? SOCKET : 'skipped: no real VPP; set VPPCNI_TEST_VPP_SOCKET'})`, () => {
  let vpp: VppClient;
  const loopbacks: number[] = [];
  beforeAll(async () => {
    vpp = new VppClient({ socketPath: SOCKET, modules: allModules, healthCheck: false, requestTimeoutMs: 5000 });
    await vpp.connect();
  });
  afterAll(async () => {
    for (const sw of loopbacks) await vpp.request(interface_.delete_loopback, { sw_if_index: sw }).catch(() => undefined);
    await vpp.close();
  });

  test('VCL objects and a source check as planned, adopted without change, removed by DEL', async () => {
    const ops = vppIsolationOps(vpp);
    const used = new Set((await ops.tables()).map((t) => t.tableId));
    const puntId = allocateTableId('node:punt', used);
    await vpp.request(session.session_sapi_enable_disable, { is_enable: true }).catch(() => undefined); // refused once the layer is on
    await vpp.request(session.session_enable_disable_v2, { rt_engine_type: 1 });
    await ensureNodePunt(ops, planNodePunt(puntId));

    const eth0 = (await vpp.request(interface_.create_loopback, {})).sw_if_index;
    const loop = (await vpp.request(interface_.create_loopback, {})).sw_if_index;
    loopbacks.push(eth0, loop);
    const address = '198.18.77.5';
    const plan = planVcl({
      owner,
      addresses: [address],
      eth0: { swIfIndex: eth0, ethernet: true }, // a loopback is an ethernet interface in VPP: routes through it carry the next hop
      vrfTableId: allocateTableId(tableKey(owner, 'vrf'), used.add(puntId)),
      puntTableId: puntId,
      namespaceId: `vcni-${owner.containerId.slice(0, 12)}-eth0`,
      sockName: `abstract:vpp/session-test-${process.pid}`,
    });
    await ops.routeAdd(plan.steer[0]!.replaces);
    const vcl = await transact('real', quiet, undefined, (tx) => createVclIsolation(ops, tx, plan, loop, 5n));
    const check = planSourceCheck({ owner, addresses: [address], allowedPrefixes: ['198.18.0.0/24'], interfaces: [{ swIfIndex: eth0, ethernet: true }], rpfTableId: allocateTableId(tableKey(owner, 'rpf'), used) });
    const src = await transact('real', quiet, undefined, (tx) => createSourceCheck(ops, tx, check));

    const inv = await readIsolationInventory(ops, [loop], puntId);
    expect(verifyVclIsolation(vcl, inv)).toEqual([]);
    expect(verifySourceCheck(src, inv)).toEqual([]);
    expect(await vpp.dumpAll(urpf.urpf_interface_dump, { sw_if_index: eth0 })).toEqual([
      { sw_if_index: eth0, is_input: true, mode: 1, af: 0, table_id: check.tables[0]!.tableId },
      { sw_if_index: eth0, is_input: true, mode: 1, af: 1, table_id: check.tables[0]!.tableId },
    ]);

    await deleteSourceCheck(ops, src);
    await deleteVclIsolation(ops, vcl);
    await ops.routeDel(plan.steer[0]!.replaces);
    const after = await ops.tables();
    expect(after.filter((t) => t.tableId === plan.tables[0]!.tableId || t.tableId === check.tables[0]!.tableId)).toEqual([]);
    expect((await vpp.dumpAll(urpf.urpf_interface_dump, { sw_if_index: ANY })).filter((u) => u.sw_if_index === eth0 && u.mode !== 0)).toEqual([]);
  });
});
