/**
 * The budget decision for one container (pure): what it asks for, which GPUs it has and the host
 * policy give one budget per GPU, each with where it came from. Admission (admission.ts) then
 * judges the budgets against the host's ledger.
 */
import { formatBytes } from '../bytes.js';
import type { ContainerGpus } from '../gpu/container-gpus.js';
import type { InventoryGpu } from '../gpu/host-gpu.js';
import type { Policy } from '../policy/policy.js';
import { LimitError, type Limit, type LimitRequest } from './request.js';
import { bytesOf, percentText, resolveBudget } from './resolve.js';
import type { InterposerConfig } from './types.js';

/** One GPU's budget, for admission and the decision log. */
export interface GpuBudget {
  /** the container's GPU index */
  index: number;
  uuid: string;
  totalBytes: number;
  /** undefined: no budget on this GPU (no request, no default, no maximum) */
  bytes?: bigint;
  /** where the budget came from: the key as written, or the policy's field */
  from: string;
}

export type Plan =
  | { action: 'pass'; reason: string }
  | {
      action: 'limit';
      config: InterposerConfig;
      /** the container's GPUs with their budgets; empty when gpumem cannot tell its GPUs */
      gpus: GpuBudget[];
      /** where the budget came from when GPUs are not known */
      from?: string;
      /** decisions worth a warning in the log (an ignored variable) */
      notes: string[];
    };

export interface PlanInput {
  request?: LimitRequest;
  gpus: ContainerGpus;
  policy: Policy;
  /** the policy file, for messages */
  policyFile: string;
}

const limitText = (l: Limit): string => ('bytes' in l ? formatBytes(l.bytes) : `${percentText(l.num, l.den)}%`);

/** The key a request's limit came from, as its messages name it. */
function keyOf(req: LimitRequest, which: { index?: number; uuid?: string }): string {
  const ann = req.source === 'annotation';
  if (which.uuid) return `annotation gpumem.io/limit.${which.uuid}`;
  if (which.index !== undefined) return ann ? `annotation gpumem.io/limit.${which.index}` : `environment variable GPUMEM_LIMIT_${which.index}`;
  return ann ? 'annotation gpumem.io/limit' : 'environment variable GPUMEM_LIMIT';
}

/** The policy's own budget for a GPU that asks for none: defaultLimit, else maxLimit (every GPU container at most that). */
function policyLimit(p: Policy): { limit: Limit; from: string } | undefined {
  if (p.defaultLimit) return { limit: p.defaultLimit, from: 'policy defaultLimit' };
  if (p.maxLimit) return { limit: p.maxLimit, from: 'policy maxLimit' };
  return undefined;
}

/** What an ignored environment leaves: the request without it. */
function applyEnvPolicy(req: LimitRequest | undefined, p: Policy, notes: string[]): LimitRequest | undefined {
  if (req?.source !== 'env' || p.envLimit !== 'ignore') return req;
  notes.push('GPUMEM_LIMIT* ignored: the host policy says envLimit "ignore"');
  return undefined;
}

/** Checks one budget against maxLimit and the envLimit "lower" rule; `gpu` gives percents their size. */
function bounded(inp: PlanInput, bytes: bigint, from: string, fromEnv: boolean, gpu: { index: number; uuid?: string; totalBytes?: number }): bigint {
  const p = inp.policy;
  const on = gpu.uuid ? `GPU ${gpu.index} (${gpu.uuid})` : `GPU ${gpu.index}`;
  const resolve = (l: Limit, field: string): bigint | undefined => {
    if ('bytes' in l) return l.bytes;
    if (gpu.totalBytes === undefined) {
      throw new LimitError(`gpumem: policy ${inp.policyFile}: ${field} ${limitText(l)} is a percent, and this host cannot tell the size of the container's ${on}; use a size`);
    }
    return bytesOf(`policy ${field}`, l, gpu.index, gpu.totalBytes);
  };
  if (p.maxLimit) {
    const max = resolve(p.maxLimit, 'maxLimit') as bigint;
    if (bytes > max) {
      throw new LimitError(`gpumem: ${from} asks for ${formatBytes(bytes)} on ${on}, more than this host's maxLimit ${limitText(p.maxLimit)} (${inp.policyFile}); ask for at most ${formatBytes(max)}`);
    }
  }
  if (fromEnv && p.envLimit === 'lower') {
    const base = policyLimit(p);
    const ceiling = base && resolve(base.limit, base.from.replace('policy ', ''));
    if (ceiling !== undefined && bytes > ceiling) {
      throw new LimitError(
        `gpumem: ${from} asks for ${formatBytes(bytes)} on ${on}, more than the ${formatBytes(ceiling)} of ${base!.from}; this host's policy (envLimit "lower") lets the environment only lower a budget, use the annotation gpumem.io/limit to ask for more`,
      );
    }
  }
  return bytes;
}

/** The container's GPUs are known: one budget per GPU, by UUID. */
function planKnown(inp: PlanInput, gpus: readonly InventoryGpu[], req: LimitRequest | undefined, notes: string[]): Plan {
  if (req) {
    for (const [i] of req.perGpu) {
      if (i >= gpus.length) resolveBudget({ ...req, all: undefined, byUuid: undefined, perGpu: new Map([[i, req.perGpu.get(i)!]]) }, undefined, gpus.length);
    }
    for (const [uuid] of req.byUuid ?? []) {
      if (!gpus.some((g) => g.uuid.toLowerCase() === uuid.toLowerCase())) {
        const has = gpus.length === 0 ? 'it has no GPU' : `its GPUs are ${gpus.map((g) => g.uuid).join(', ')}`;
        throw new LimitError(`gpumem: ${keyOf(req, { uuid })} is for a GPU this container does not have (${has}); use gpumem.io/limit, or one of its UUIDs`);
      }
    }
  }
  const budgets: GpuBudget[] = gpus.map((g, index) => {
    const byUuid = req?.byUuid && [...req.byUuid].find(([u]) => u.toLowerCase() === g.uuid.toLowerCase());
    const asked: { limit: Limit; from: string } | undefined = byUuid
      ? { limit: byUuid[1], from: keyOf(req!, { uuid: byUuid[0] }) }
      : req?.perGpu.has(index)
        ? { limit: req.perGpu.get(index)!, from: keyOf(req, { index }) }
        : req?.all
          ? { limit: req.all, from: keyOf(req, {}) }
          : undefined;
    const chosen = asked ?? policyLimit(inp.policy);
    const base = { index, uuid: g.uuid, totalBytes: g.totalBytes };
    if (!chosen) return { ...base, from: 'no limit asked, no policy default' };
    const raw = bytesOf(chosen.from.replace(/^policy /, `policy ${inp.policyFile}: `), chosen.limit, index, g.totalBytes);
    const bytes = bounded(inp, raw, chosen.from, asked !== undefined && req?.source === 'env', base);
    if (!(bytes > 0n)) throw new LimitError(`gpumem: ${chosen.from} resolves to 0 bytes on GPU ${index}; use a larger limit`);
    return { ...base, bytes, from: chosen.from };
  });
  if (budgets.every((b) => b.bytes === undefined)) return { action: 'pass', reason: 'a GPU container that asks for no limit, and the host policy has no defaultLimit or maxLimit' };
  const config: InterposerConfig = {
    perGpu: new Map(budgets.filter((b) => b.bytes !== undefined).map((b) => [b.index, b.bytes!])),
    uuids: new Map(budgets.map((b) => [b.index, b.uuid])),
  };
  return { action: 'limit', config, gpus: budgets, notes };
}

/** The container's GPUs are not known (no NVML, or no GPU in its spec but a limit asked): budgets by index, as the interposer numbers its devices. */
function planUnknown(inp: PlanInput, count: number | undefined, req: LimitRequest | undefined, notes: string[]): Plan {
  let request = req;
  let from: string;
  if (!request) {
    const chosen = policyLimit(inp.policy);
    if (!chosen) return { action: 'pass', reason: 'a GPU container that asks for no limit, and the host policy has no defaultLimit or maxLimit' };
    if ('percent' in chosen.limit) {
      throw new LimitError(`gpumem: policy ${inp.policyFile}: ${chosen.from.replace('policy ', '')} ${limitText(chosen.limit)} is a percent, and this host cannot tell the container's GPUs (no NVML); use a size`);
    }
    request = { source: 'annotation', all: chosen.limit, perGpu: new Map() };
    from = chosen.from;
  } else from = keyOf(request, {});
  const config = resolveBudget(request, undefined, count);
  const fromEnv = req?.source === 'env';
  if (config.all !== undefined) bounded(inp, config.all, from, fromEnv, { index: 0 });
  for (const [i, b] of config.perGpu) bounded(inp, b, req ? keyOf(req, { index: i }) : from, fromEnv, { index: i });
  return { action: 'limit', config, gpus: [], from, notes };
}

/** The plan for one container; throws LimitError (one line for docker run) on anything refused. */
export function planBudget(inp: PlanInput): Plan {
  const notes: string[] = [];
  const req = applyEnvPolicy(inp.request, inp.policy, notes);
  const g = inp.gpus;
  if (g.kind === 'known') return planKnown(inp, g.gpus, req, notes);
  if (g.kind === 'unknown') return planUnknown(inp, g.count, req, notes);
  // No GPU in its spec: only what it asks for (a GPU reached another way, e.g. a fake driver in tests).
  if (!req) return { action: 'pass', reason: inp.request ? 'sees no GPU; its GPUMEM_LIMIT* is ignored by the host policy' : 'sees no GPU and asks for no limit' };
  return planUnknown(inp, undefined, req, notes);
}
