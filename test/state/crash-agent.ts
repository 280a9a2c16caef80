/**
 * An agent process for sigkill.test.ts: the real Agent with a step hook that SIGKILLs its own process when
 * the ADD reaches the step named by VCNI_CRASH_AT. Flags as for agent/main.ts (a pods file is required).
 * Prints `ready` once VPP is connected and the checkpoint reconciled. With VCNI_ID_PREFIX, it sees only the
 * veth host ends of container ids with that prefix (see scoped-netns.ts).
 */
import { Agent } from '../../agent/agent.js';
import { loadConfig } from '../../agent/config.js';
import { createLogger } from '../../agent/log.js';
import { PodsFileSource } from '../../agent/pod-info/pods-file.js';
import { ScopedHostNetns } from './scoped-netns.js';

const cfg = loadConfig(process.env, process.argv.slice(2));
const log = createLogger('silent', 'crash-agent');
const crashAt = process.env.VCNI_CRASH_AT;
const agent = new Agent(cfg, log, {
  pods: new PodsFileSource(cfg.podsFile!, log),
  ...(process.env.VCNI_ID_PREFIX ? { netns: new ScopedHostNetns(process.env.VCNI_ID_PREFIX) } : {}),
  stepHook: (step) => {
    if (step === crashAt) process.kill(process.pid, 'SIGKILL');
  },
});
agent
  .start()
  .then(() => agent.ready())
  .then(() => agent.state.settled())
  .then(() => process.stdout.write('ready\n'))
  .catch((e: unknown) => {
    process.stderr.write(`crash-agent: ${(e as Error).message}\n`);
    process.exit(1);
  });
