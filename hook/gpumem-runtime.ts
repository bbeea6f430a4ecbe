/**
 * `gpumem-runtime create` (or `exec` of a limited container) decided in-process, or
 * `gpumem-runtime kernel-limit set|clear ID` done in-process: the C shim runs this only when no
 * agent answered (slow: a Node start).
 */
import { create } from '../lib/runtime/create.js';
import { applyKernelLimit, kernelLimitOp } from '../lib/kernel-limit.js';
import { hostInventory } from '../lib/gpu/inventory.js';
import { loadPolicy } from '../lib/policy/load.js';
import { configureLog, log } from '../lib/log.js';

const args = process.argv.slice(2);
if (args[0] === 'kernel-limit') {
  const op = kernelLimitOp(args[1]), id = args[2];
  if (!op || !id || args.length !== 3) {
    process.stderr.write(`gpumem-runtime: kernel-limit takes "set ID" or "clear ID"; got ${JSON.stringify(args.slice(1).join(' '))}\n`);
    process.exit(2);
  }
  try {
    const policy = loadPolicy();
    configureLog({ file: policy.logFile, level: policy.logLevel }); // the agent would log where the policy says
  } catch {
    // a broken policy is the next create's to refuse; this line still goes to the default log
  }
  log().warn({ container: id }, `gpumem agent not answering: the kernel memory limit ${op === 'set' ? 'set' : 'cleared'} in-process (a Node start)`);
  const done = applyKernelLimit(op, id, hostInventory());
  if (!done.ok) process.stderr.write(done.message + '\n');
  process.exit(done.ok ? 0 : 1);
}
log().warn({ argv: args }, 'gpumem agent not answering: deciding in-process (a Node start per limited container)');
const outcome = create(args, process.cwd());
process.exit(outcome.ok ? 0 : 1);
