#!/usr/bin/env node
/**
 * install-cni: the DaemonSet init container's step (node dist/deploy/install-cni.js, or tsx
 * deploy/install-cni.ts). Installs the vpp-cni plugin binary and our conflist on the host; see
 * deploy/install.ts for the options and behaviour. This file only hands argv and the environment over.
 * The work inside is synchronous, so a SIGTERM arriving mid-copy ends the process with the default action
 * and can leave its ".vpp-cni.tmp-<pid>" behind (a later run replaces it only if it gets the same pid,
 * as the first process of a fresh container usually does); failures that are not signals clean up.
 */
import { runInstall } from './install.js';

runInstall(process.argv.slice(2), process.env, {
  out: (l) => process.stdout.write(`${l}\n`),
  err: (l) => process.stderr.write(`${l}\n`),
}).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.stderr.write(`install-cni: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  },
);
