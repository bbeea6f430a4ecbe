/**
 * `gpumem-runtime create`: the one decision gpumem makes for a container, before runc runs. The
 * request is read from the spec, the budget resolved against the GPUs' sizes, the interposer's
 * config and the accounting region written, and the spec edited to mount them. The same code
 * runs in the agent (fast path) and in-process (no agent).
 */
import { resolve } from 'node:path';
import { createAccounting, writeConfig, type HostGpu } from '../ffi/native.js';
import { envRecord, requests, type LimitRequest } from '../budget/request.js';
import { checkNamespace } from '../budget/namespace.js';
import { resolveBudget } from '../budget/resolve.js';
import { containerGpus } from '../gpu/sizes.js';
import { containerPaths, stateRoot } from '../layout.js';
import { applyModifiers, bindMounts, readOnlyBind, readWriteBind } from '../oci/modifiers.js';
import { processEdits } from './process-edits.js';
import { prepareExec } from './exec.js';
import { parseRuntimeArgs } from './runc-args.js';
import { loadSpec, saveSpec, type Spec } from '../oci/spec.js';
import { unsafeTarget, type Target } from '../oci/mount-targets.js';
import { realSource, rootfsKinds, rootfsOf } from '../oci/rootfs.js';
import { interposerDir, preloadFile } from '../paths.js';
import { createStateDir, removeStateDir, stateDir } from '../state.js';
import { sweepLeftoverState } from '../state-sweep.js';
import { writeHostRecord } from '../truth/host-record.js';
import { reportToEngine } from './runc-log.js';
import { log } from '../log.js';

/** The host's GPUs (NVML); throws when the host has none to ask. The agent caches them. */
export type GpuInventory = () => readonly HostGpu[];

export type CreateDecision = ({ action: 'pass'; reason: string } | { action: 'limit'; request: LimitRequest; shadowed?: LimitRequest }) & {
  /** Near misses of gpumem's keys, for the decision log. */
  warnings: string[];
};

/** The pure part: which containers gpumem touches, from the spec's annotations and env. Throws LimitError on bad input. */
export function decide(annotations: Record<string, string>, env: Record<string, string>): CreateDecision {
  const warnings = checkNamespace(annotations, env);
  const { request, shadowed } = requests(annotations, env);
  if (!request) return { action: 'pass', reason: 'no gpumem.io/limit annotation and no GPUMEM_LIMIT variable', warnings };
  return { action: 'limit', request, ...(shadowed ? { shadowed } : {}), warnings };
}

/** Decides for the bundle and, for a limited container, prepares everything runc will mount. */
export function prepareBundle(bundle: string, containerId: string, gpus: GpuInventory, runtimeRoot: string | null = null): CreateDecision {
  const spec = loadSpec(bundle);
  const env = envRecord(spec.process?.env);
  const decision = decide(spec.annotations ?? {}, env);
  for (const w of decision.warnings) log().warn({ container: containerId }, w);
  if (decision.action === 'pass') {
    log().info({ container: containerId, reason: decision.reason }, 'pass through');
    return decision;
  }
  checkMountTargets(bundle, spec);
  const visible = containerGpus(env, gpus);
  const config = resolveBudget(decision.request, visible.sizes, visible.count);
  // Not used, but judged the same way: bad input in gpumem's namespace is refused wherever it is.
  if (decision.shadowed) resolveBudget(decision.shadowed, visible.sizes, visible.count);
  const dir = stateDir(containerId);
  sweepLeftoverState();
  createStateDir(dir);
  try {
    // Files runc bind-mounts must exist before it runs; a file mount (not the directory) leaves
    // the container no directory of the host's to put symlinks or files in.
    writeConfig(dir.configFile, config);
    createAccounting(dir.accountingFile);
    writeHostRecord(dir, spec, env, runtimeRoot);
    const inside = containerPaths();
    applyModifiers(spec, [
      // Directories of the host's where it can: what is written into the image's directory
      // beneath (docker cp) never shows through. The preload list has to be a file in /etc.
      bindMounts([
        readOnlyBind(interposerDir(), inside.interposerDir),
        readOnlyBind(preloadFile(), inside.preload),
        readOnlyBind(dir.configDir, inside.configDir),
        readOnlyBind(dir.sharedDir, inside.sharedDir),
        readWriteBind(dir.accountingFile, inside.accounting),
      ]),
      ...processEdits(),
    ]);
    // Last: a spec that mounts the state exists only once the state is complete.
    saveSpec(bundle, spec);
  } catch (e) {
    removeStateDir(dir);
    throw e;
  }
  log().info(
    { container: containerId, source: decision.request.source, limit: config.all, perGpu: Object.fromEntries(config.perGpu) },
    'budget set',
  );
  return decision;
}

/** Refuses a container whose image or volumes would send gpumem's mounts elsewhere (issue: hostile images). */
function checkMountTargets(bundle: string, spec: Spec): void {
  const inside = containerPaths();
  const targets: Target[] = [
    { path: inside.interposerDir, expects: 'directory', what: 'its interposer' },
    { path: inside.preload, expects: 'file', what: 'the preload list that loads it' },
    { path: inside.configDir, expects: 'directory', what: "the interposer's config" },
    { path: inside.sharedDir, expects: 'directory', what: 'the accounting region' },
  ];
  const why = unsafeTarget(targets, spec.mounts ?? [], rootfsKinds(rootfsOf(bundle, spec)), realSource, stateRoot());
  if (why) throw new Error(why);
}

export type CreateOutcome = { ok: true; containerId: string; decision: CreateDecision } | { ok: false; message: string };

/**
 * One `runc create` (or `runc exec` of a limited container) command line, from wherever it came (the shim's argv, or the agent's client):
 * a refusal is reported to the engine through runc's --log file, as `docker run` shows it.
 */
export function create(argv: readonly string[], cwd: string, gpus: GpuInventory): CreateOutcome {
  const parsed = parseRuntimeArgs(argv, cwd);
  // Relative to the caller's directory, which is not the agent's.
  const args = {
    ...parsed,
    bundle: resolve(cwd, parsed.bundle),
    log: parsed.log && resolve(cwd, parsed.log),
    root: parsed.root && resolve(cwd, parsed.root),
  };
  try {
    if (args.subcommand === 'exec' && args.containerId) {
      const edited = prepareExec(args, cwd);
      return { ok: true, containerId: args.containerId, decision: { action: 'pass', reason: edited ? 'exec process edited' : 'not limited', warnings: [] } };
    }
    if (args.subcommand !== 'create' || !args.containerId) {
      throw new Error('gpumem-runtime: expected "create [--bundle DIR] ID" or "exec --process FILE ID" (the shim passes everything else to runc)');
    }
    return { ok: true, containerId: args.containerId, decision: prepareBundle(args.bundle, args.containerId, gpus, args.root ?? null) };
  } catch (e) {
    // Logged, told to the engine and answered as one and the same line.
    return { ok: false, message: reportToEngine(args.log, (e as Error).message, args.containerId) };
  }
}
