/** Entry point of the plugin when run directly (`tsx cni-plugin/bin.ts`, or the plain bundle). */
import { startMain } from './main.js';

startMain();
