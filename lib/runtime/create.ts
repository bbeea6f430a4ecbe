/**
 * `gpumem-runtime create`: the one decision gpumem makes for a container, before runc runs. The
 * request is read from the spec, the budget resolved against the GPUs' sizes, the interposer's
 * config and the accounting region written, and the spec edited to mount them. The same code
 * runs in the agent (fast path) and in-process (no agent).
 */
import { resolve } from 'node:path';
import { createAccounting, writeConfig } from '../ffi/native.js';
import { envRecord, requests, type LimitRequest } from '../budget/request.js';
import { checkNamespace } from '../budget/namespace.js';
import { planBudget, type GpuBudget, type Plan } from '../budget/plan.js';
import { admit } from '../budget/admission.js';
import { containerGpus, looksLikeGpuContainer, type ContainerGpus } from '../gpu/container-gpus.js';
import { gpuSpecFacts } from '../gpu/spec-facts.js';
import { hostInventory, refreshInventory, type Inventory } from '../gpu/inventory.js';
import { loadPolicy, policyFile } from '../policy/load.js';
import type { Policy } from '../policy/policy.js';
import { containerPaths, stateRoot } from '../layout.js';
import { ledgerEntries, admitting } from '../ledger.js';
import { applyModifiers, bindMounts, readOnlyBind, readWriteBind } from '../oci/modifiers.js';
import { processEdits } from './process-edits.js';
import { prepareExec } from './exec.js';
import { lowerRuntime } from './lower.js';
import { parseRuntimeArgs } from './runc-args.js';
import { loadSpec, saveSpec, type Spec } from '../oci/spec.js';
import { unsafeTarget, type Target } from '../oci/mount-targets.js';
import { realSource, rootfsKinds, rootfsOf } from '../oci/rootfs.js';
import { interposerDir, preloadFile } from '../paths.js';
import { createStateDir, removeStateDir, stateDir } from '../state.js';
import { writeHostRecord } from '../truth/host-record.js';
import { markKernelLimit } from '../kernel-limit.js';
import { reportToEngine } from './runc-log.js';
import { configureLog, log } from '../log.js';

/** The host's GPUs (NVML, cached for the boot); undefined when the host has none to ask. The agent keeps it in memory. */
export type GpuInventory = { current: () => Inventory | undefined; refresh: () => Inventory | undefined };

export const bootInventory: GpuInventory = { current: hostInventory, refresh: refreshInventory };

export type CreateDecision = ({ action: 'pass'; reason: string } | { action: 'limit'; request?: LimitRequest; shadowed?: LimitRequest }) & {
  /** Near misses of gpumem's keys, for the decision log. */
  warnings: string[];
};

/** The pure part: what the container asks of gpumem, from the spec's annotations and env. Throws LimitError on bad input. */
export function decide(annotations: Record<string, string>, env: Record<string, string>): CreateDecision {
  const warnings = checkNamespace(annotations, env);
  const { request, shadowed } = requests(annotations, env);
  if (!request) return { action: 'pass', reason: 'no gpumem.io/limit annotation and no GPUMEM_LIMIT variable', warnings };
  return { action: 'limit', request, ...(shadowed ? { shadowed } : {}), warnings };
}

/** The engine's name for the container, where the spec carries one (CRI and nerdctl do; Docker does not). */
function containerName(annotations: Record<string, string>): string | undefined {
  return annotations['io.kubernetes.cri.container-name'] ?? annotations['nerdctl/name'] ?? undefined;
}

/** Which GPUs: a name the cached inventory lacks (MIG devices made since) asks NVML again, once. */
function gpusOf(spec: Spec, env: Record<string, string>, asked: boolean, inventory: GpuInventory): ContainerGpus | 'none' {
  const facts = gpuSpecFacts(spec, env, lowerRuntime());
  // A container that asks for a limit means the GPUs its variable names, whatever passes them on.
  if (asked) facts.visibleApplies = true;
  if (!looksLikeGpuContainer(facts)) return 'none';
  try {
    return containerGpus(facts, inventory.current()?.gpus);
  } catch (e) {
    return containerGpus(facts, inventory.refresh()?.gpus);
  }
}

const budgetsForLog = (gpus: readonly GpuBudget[]) =>
  gpus.map((g) => ({ index: g.index, uuid: g.uuid, budget: g.bytes ?? null, from: g.from })); // bigints: pino writes them exactly

/** Decides for the bundle and, for a limited container, prepares everything runc will mount. */
export function prepareBundle(bundle: string, containerId: string, inventory: GpuInventory = bootInventory, runtimeRoot: string | null = null): CreateDecision {
  const spec = loadSpec(bundle);
  const env = envRecord(spec.process?.env);
  const annotations = spec.annotations ?? {};
  const name = containerName(annotations);
  const who = { container: containerId, ...(name ? { name } : {}) };
  // Read first, so that even a refusal of bad input is logged where the policy says.
  let policy: Policy | Error;
  try {
    policy = loadPolicy();
    configureLog({ file: policy.logFile, level: policy.logLevel });
  } catch (e) {
    policy = e as Error;
  }
  const decision = decide(annotations, env);
  const warnings = [...decision.warnings];
  const gpus = gpusOf(spec, env, decision.action === 'limit', inventory);
  if (gpus === 'none' && decision.action === 'pass') {
    log().info({ ...who, outcome: 'passed', reason: 'sees no GPU and asks for no limit', ...(warnings.length ? { warnings } : {}) }, 'pass through');
    return decision;
  }
  // From here on the host policy decides: a broken one refuses, with its own line.
  if (policy instanceof Error) throw policy;
  const request = decision.action === 'limit' ? decision.request : undefined;
  const plan = planBudget({ request, gpus: gpus === 'none' ? { kind: 'none' } : gpus, policy, policyFile: policyFile() });
  // Not used, but judged the same way: bad input in gpumem's namespace is refused wherever it is.
  if (decision.action === 'limit' && decision.shadowed) {
    planBudget({ request: decision.shadowed, gpus: gpus === 'none' ? { kind: 'none' } : gpus, policy: { ...policy, envLimit: 'allow' }, policyFile: policyFile() });
  }
  if (plan.action === 'pass') {
    log().info({ ...who, outcome: 'passed', reason: plan.reason, ...(warnings.length ? { warnings } : {}) }, 'pass through');
    return { action: 'pass', reason: plan.reason, warnings: decision.warnings };
  }
  warnings.push(...plan.notes);
  checkMountTargets(bundle, spec);
  admitting(() => {
    admit(plan.gpus, ledgerEntries(containerId), policy, policyFile());
    writeState(bundle, containerId, spec, env, runtimeRoot, plan, inventory.current());
  });
  log().info(
    {
      ...who,
      outcome: 'limited',
      ...(plan.gpus.length ? { gpus: budgetsForLog(plan.gpus) } : { gpus: null, limit: plan.config.all ?? null, perGpu: Object.fromEntries(plan.config.perGpu), from: plan.from }),
      ...(warnings.length ? { warnings } : {}),
    },
    'budget set',
  );
  return { action: 'limit', ...(request ? { request } : {}), warnings: decision.warnings };
}

/** The container's state (config, region, host record with its ledger entry, the kernel-limit marker where it applies) and the spec edits that mount it. */
function writeState(bundle: string, containerId: string, spec: Spec, env: Record<string, string>, runtimeRoot: string | null, plan: Extract<Plan, { action: 'limit' }>, inventory: Inventory | undefined): void {
  const dir = stateDir(containerId);
  createStateDir(dir);
  try {
    // Files runc bind-mounts must exist before it runs; a file mount (not the directory) leaves
    // the container no directory of the host's to put symlinks or files in.
    writeConfig(dir.configFile, plan.config);
    createAccounting(dir.accountingFile);
    const recorded = plan.gpus.length ? plan.gpus.map((g) => ({ uuid: g.uuid, bytes: g.bytes === undefined ? null : g.bytes.toString() })) : null;
    writeHostRecord(dir, spec, env, runtimeRoot, recorded);
    markKernelLimit(dir, inventory); // R615+ only: the shim sets the driver's own limit after runc's create
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
export function create(argv: readonly string[], cwd: string, gpus: GpuInventory = bootInventory): CreateOutcome {
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
