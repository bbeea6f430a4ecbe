/** prestart: compute the container's budget and write the interposer's config (the shim made the accounting region). */
import { writeConfig } from '../ffi/native.js';
import { envRecord, limitRequest } from '../budget/request.js';
import { resolveBudget } from '../budget/resolve.js';
import { containerGpuSizes } from '../gpu/sizes.js';
import { loadSpec } from '../oci/spec.js';
import { removeStateDir, stateDir } from '../state.js';
import { log } from '../log.js';
import type { OciState } from './oci-state.js';

export function prestart(state: OciState): void {
  const dir = stateDir(state.id);
  try {
    const spec = loadSpec(state.bundle);
    const env = envRecord(spec.process?.env);
    const request = limitRequest(state.annotations ?? spec.annotations ?? {}, env);
    if (!request) throw new Error('gpumem-hook: the container asks for no limit, but the shim prepared it for one');
    const config = resolveBudget(request, containerGpuSizes(env));
    writeConfig(dir.configFile, config);
    log().info(
      { container: state.id, source: request.source, limit: config.all, perGpu: Object.fromEntries(config.perGpu) },
      'budget set',
    );
  } catch (e) {
    // runc aborts the start; leave nothing behind.
    removeStateDir(dir);
    throw e;
  }
}
