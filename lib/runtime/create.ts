/** `gpumem-runtime create`: decide whether a container gets a budget, and if so prepare its bundle before runc runs. */
import { createAccounting } from '../ffi/native.js';
import { envRecord, limitRequest, type LimitRequest } from '../budget/request.js';
import { resolveBudget } from '../budget/resolve.js';
import { containerGpuSizes } from '../gpu/sizes.js';
import { applyModifiers, bindMounts, gpumemHooks, readOnlyBind, readWriteBind } from '../oci/modifiers.js';
import { loadSpec, saveSpec, type Spec } from '../oci/spec.js';
import { container, hookExecutable, interposerPath, preloadFile } from '../paths.js';
import { createStateDir, removeStateDir, stateDir } from '../state.js';
import { log } from '../log.js';

export type CreateDecision = { action: 'pass'; reason: string } | { action: 'limit'; request: LimitRequest };

/** The pure decision: which containers gpumem touches. Throws LimitError on bad input. */
export function decide(spec: Spec): CreateDecision {
  const env = envRecord(spec.process?.env);
  const request = limitRequest(spec.annotations ?? {}, env);
  if (!request) return { action: 'pass', reason: 'no gpumem.io/limit annotation and no GPUMEM_LIMIT variable' };
  // Validate now, so bad input fails `docker run` before anything is created; the hook resolves for real.
  resolveBudget(request, containerGpuSizes(env));
  return { action: 'limit', request };
}

/** Edits the bundle in place for a limited container; leaves it untouched otherwise. */
export function prepareBundle(bundle: string, containerId: string): CreateDecision {
  const spec = loadSpec(bundle);
  const decision = decide(spec);
  if (decision.action === 'pass') {
    log().info({ container: containerId, reason: decision.reason }, 'pass through');
    return decision;
  }
  const dir = stateDir(containerId);
  createStateDir(dir);
  try {
    // Created here, not in the hook: runc bind-mounts the file itself, so it must exist first, and
    // a file mount leaves the container no directory of the host's to put symlinks or files in.
    createAccounting(dir.accountingFile);
    applyModifiers(spec, [
      gpumemHooks(hookExecutable()),
      bindMounts([
        readOnlyBind(interposerPath(), container.interposer),
        readOnlyBind(preloadFile(), container.preload),
        readOnlyBind(dir.configDir, container.configDir),
        readWriteBind(dir.accountingFile, container.accounting),
      ]),
    ]);
    saveSpec(bundle, spec);
  } catch (e) {
    removeStateDir(dir);
    throw e;
  }
  log().info({ container: containerId, source: decision.request.source }, 'bundle prepared');
  return decision;
}
