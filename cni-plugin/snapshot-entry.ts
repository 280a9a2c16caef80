/**
 * Entry of the single executable's V8 start-up snapshot. Everything a command needs (the commands, zod and
 * its schemas, the HTTP/2 client and the wire codec) is loaded while the snapshot is built, so a plugin run
 * starts from an initialized heap instead of loading and compiling modules on every pod.
 */
import { startupSnapshot } from 'node:v8';
import { startMain } from './main.js';
import './commands.js';

startupSnapshot.setDeserializeMainFunction(() => {
  startMain();
});
