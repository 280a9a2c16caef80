/**
 * PBL's FIB clones (docs/real-vpp.md): pbl_client_del of a clone's id crashed a real VPP (v26.10-rc0), so the
 * façade never sends it. `show pbl client` as that VPP printed it for one client on a routed /32.
 */
import { deletePblClient, pblCloneIds } from '../../agent/vpp/pbl.js';
import type { VppApi } from '../../agent/vpp/api.js';
import { VppApiError } from '../../vpp-api/client/index.js';

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
