/**
 * Admission (pure): whether a container's budgets fit beside the budgets already admitted on each
 * of its GPUs, keeping the policy's reserve back. With over-commit denied the sum of budgets on a
 * GPU never passes what it has less the reserve.
 */
import { formatBytes } from '../bytes.js';
import type { Policy } from '../policy/policy.js';
import type { GpuBudget } from './plan.js';
import { LimitError } from './request.js';
import { bytesOf } from './resolve.js';

/** One admitted budget: a container's on one GPU. */
export interface LedgerEntry {
  container: string;
  uuid: string;
  bytes: bigint;
}

export interface GpuRoom {
  total: bigint;
  reserve: bigint;
  admitted: bigint;
  containers: number;
  /** what a new budget may take: total - reserve - admitted, never below 0 */
  free: bigint;
}

/** What a GPU has left for budgets. */
export function roomOn(gpu: { uuid: string; totalBytes: number; index: number }, ledger: readonly LedgerEntry[], policy: Policy, policyFile: string): GpuRoom {
  const total = BigInt(gpu.totalBytes);
  const reserve = policy.reservePerGpu ? bytesOf(`policy ${policyFile}: reservePerGpu`, policy.reservePerGpu, gpu.index, gpu.totalBytes) : 0n;
  const mine = ledger.filter((e) => e.uuid === gpu.uuid);
  const admitted = mine.reduce((s, e) => s + e.bytes, 0n);
  const free = total - reserve - admitted;
  return { total, reserve: reserve > total ? total : reserve, admitted, containers: new Set(mine.map((e) => e.container)).size, free: free > 0n ? free : 0n };
}

/** Throws LimitError (the one line docker run shows) when a budget does not fit; over-commit allowed admits everything. */
export function admit(budgets: readonly GpuBudget[], ledger: readonly LedgerEntry[], policy: Policy, policyFile: string): void {
  if (policy.overcommit === 'allow') return;
  for (const b of budgets) {
    if (b.bytes === undefined) continue;
    const room = roomOn(b, ledger, policy, policyFile);
    if (b.bytes <= room.free) continue;
    const others = room.containers === 1 ? '1 container' : `${room.containers} containers`;
    const reserve = room.reserve > 0n ? `, ${formatBytes(room.reserve)} kept back by reservePerGpu` : '';
    throw new LimitError(
      `gpumem: GPU ${b.index} (${b.uuid}) has ${formatBytes(room.free)} free for budgets and this container asks for ${formatBytes(b.bytes)} (${b.from}); of its ${formatBytes(room.total)}, ${formatBytes(room.admitted)} is admitted to ${others}${reserve}; ask for less, or start it when others stop`,
    );
  }
}
