/** Node half of `gpumem-runtime create` (the sh entry calls it only for specs that mention a limit). */
import { parseRuntimeArgs } from '../lib/oci/runtime-args.js';
import { prepareBundle } from '../lib/runtime/create.js';
import { reportToEngine } from '../lib/runtime/runc-log.js';

const args = parseRuntimeArgs(process.argv.slice(2), process.cwd());
try {
  if (args.subcommand !== 'create' || !args.containerId) {
    throw new Error('gpumem-runtime: expected "create [--bundle DIR] ID" (the sh entry passes everything else to runc)');
  }
  prepareBundle(args.bundle, args.containerId);
} catch (e) {
  reportToEngine(args.log, (e as Error).message);
  process.exit(1);
}
