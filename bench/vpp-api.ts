/**
 * `npm run bench:vpp-api -- [--socket PATH] [--requests N] [--window W] [--sync N]`
 * Starts the VPP simulator as a separate process unless --socket is given.
 */
import { runApiBench, parseBenchArgs } from '../ctl/api-bench.js';

const io = { out: (l: string) => console.log(l), err: (l: string) => console.error(l) };
let opts;
try {
  opts = parseBenchArgs(process.argv.slice(2), undefined);
} catch (e) {
  console.error(`bench:vpp-api: ${(e as Error).message}`);
  process.exit(2);
}
runApiBench(opts, io).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    console.error(`bench:vpp-api: ${(e as Error).message}`);
    process.exitCode = 1;
  },
);
