/** `gpumem-runtime create` (or `exec` of a limited container) decided in-process: the C shim runs this only when no agent answered (slow: a Node start). */
import { create } from '../lib/runtime/create.js';
import { log } from '../lib/log.js';

log().warn({ argv: process.argv.slice(2) }, 'gpumem agent not answering: deciding in-process (a Node start per limited container)');
const outcome = create(process.argv.slice(2), process.cwd());
process.exit(outcome.ok ? 0 : 1);
