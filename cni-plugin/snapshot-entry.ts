/**
 * Entry of the single executable's V8 start-up snapshot. Everything a command needs (the commands, zod and
 * its schemas, the wire codec) is loaded while the snapshot is built, and every schema parses a sample
 * once, so zod's compiled validators are in the snapshot too: a plugin run starts from an initialized
 * heap instead of loading, compiling and warming modules for every pod.
 */
import { startupSnapshot } from 'node:v8';
import { startMain } from './main.js';
import './commands.js';
import { parseNetConf } from './netconf.js';
import { buildAddResult, formatResult, parseResult } from './result.js';
import { warmReplySchemas } from './agent-client.js';
import { decode, encode } from '../contract/wire.js';
import { AddReply, AddRequest } from '../contract/generated/cni-backend.js';

function warmUp(): void {
  const conf = {
    cniVersion: '1.1.0',
    name: 'warm',
    type: 'vpp-cni',
    agentSocket: '/var/run/vpp-cni/agent.sock',
    ipam: { type: 'host-local', ranges: [[{ subnet: '10.0.0.0/24' }]] },
    dns: { nameservers: ['10.0.0.10'] },
  };
  parseNetConf(conf, 'ADD');
  parseNetConf(conf, 'DEL');
  const ipam = parseResult({ cniVersion: '1.0.0', ips: [{ address: '10.0.0.2/24', gateway: '10.0.0.1' }], routes: [{ dst: '0.0.0.0/0' }], dns: {} }, '1.0.0', 'ipam');
  const msg = { interfaces: [{ name: 'eth0', mtu: 1450, sandbox: '/x' }], error: null };
  for (const v of ['1.1.0', '1.0.0', '0.4.0']) formatResult(buildAddResult(msg.interfaces, ipam, undefined, 'eth0', v), v);
  decode(AddRequest, encode(AddRequest, { attachment: { container_id: 'c', if_name: 'eth0', netns: '/x', pod: { namespace: 'n', name: 'p', uid: '' } }, ips: [], routes: [], network_name: '', annotations: { entries: { a: 'b' } } }));
  warmReplySchemas(decode(AddReply, encode(AddReply, msg)));
}

warmUp();
startupSnapshot.setDeserializeMainFunction(() => {
  startMain();
});
