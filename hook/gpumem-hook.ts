/** gpumem-hook prestart|poststop: the OCI hook runc runs, with the container's state on stdin. */
import { readFileSync } from 'node:fs';
import { parseOciState } from '../lib/hook/oci-state.js';
import { log } from '../lib/log.js';

// Loaded per stage: poststop only removes a directory and need not load the FFI library.
const stages = {
  prestart: async () => (await import('../lib/hook/prestart.js')).prestart,
  poststop: async () => (await import('../lib/hook/poststop.js')).poststop,
} as const;
const stage = process.argv[2];
try {
  if (stage !== 'prestart' && stage !== 'poststop') {
    throw new Error(`gpumem-hook: unknown stage "${stage ?? ''}"; accepted: prestart, poststop`);
  }
  (await stages[stage]())(parseOciState(readFileSync(0, 'utf8')));
} catch (e) {
  const message = (e as Error).message;
  log().error({ stage }, message);
  process.stderr.write(message + '\n');
  process.exit(1);
}
