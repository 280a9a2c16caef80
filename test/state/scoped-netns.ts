/**
 * The host netns as one agent on a node sees it. Test processes share this machine's host netns, each with
 * its own simulator and agents, where a node has one agent: a sweep would take another process's live veth
 * host ends for orphans (ours by name and alias, held by no record of its own). So the link list the test
 * agents read hides the veth host ends whose alias carries another run's container ids (an alias of ours,
 * `vcni:<cid12>:…`, whose container id does not start with the run's prefix); links of anyone else (other
 * aliases, or none) stay visible, as on a node.
 */
import { LinuxNetns } from '../../agent/linux/netns.js';
import { isVethHostName } from '../../agent/pod/kinds/veth.js';

export class ScopedHostNetns extends LinuxNetns {
  constructor(private readonly idPrefix: string) {
    super();
  }

  override async hostIpJson(args: readonly string[]): Promise<unknown> {
    const out = await super.hostIpJson(args);
    if (!Array.isArray(out)) return out;
    return (out as { ifname?: string; ifalias?: string }[]).filter(
      (l) => !(typeof l.ifname === 'string' && isVethHostName(l.ifname) && l.ifalias?.startsWith('vcni:') && !l.ifalias.startsWith(`vcni:${this.idPrefix}`)),
    );
  }
}
