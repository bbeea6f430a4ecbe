/** What the host sees a container hold on its GPUs (NVML), and whether its region under-reports that beyond what legitimately lags (pure). */
import type { GpuProcess } from '../ffi/native.js';

const MiB = 2 ** 20;

/**
 * How far NVML's figure for a container may pass its region's before `gpumem ps` calls it
 * tampering. Allocations are charged before the driver is asked and given back after it freed
 * them, so they lead NVML, never lag it. What lags is memory the driver takes on its own (code,
 * local memory, its bookkeeping): each process charges it right after the launch or load that
 * took it, or within two of its reconcile's 100 ms ticks, and a kernel's code loaded lazily is on
 * the device before its launch returns (native/README.md, "The margin, stated"). The host takes
 * the rest out itself: it reads the region before and after NVML (an allocation between them is
 * in the second reading), and a container over the tolerance is looked at again CONFIRM_MS later,
 * when a lag has been charged and a lie has not. What remains is rounding and about one kernel's
 * code, well under 64 MiB.
 *
 * Not covered, on purpose: a process whose driver hides its NVML figure from it (before 565,
 * inside a container) cannot charge what the driver takes on its own, so the host sees an honest
 * one hold that much more. Its region says so, but the region is what is being checked: that
 * flag widens nothing, and such a container is flagged once its driver-taken memory passes 64 MiB.
 */
export const TAMPER_TOLERANCE = 64 * MiB;

/** Longer than the reconcile needs to charge growth (two 100 ms ticks) or to believe a drop (200 ms). */
export const CONFIRM_MS = 400;

/**
 * NVML's figures for one container's processes, by the container's GPU index; or only their sum
 * when its GPUs cannot be told apart (no NVIDIA_VISIBLE_DEVICES recorded, MIG, a process on a GPU
 * the container was not given). null: some figure is unknown (NVML could not tell, or could not
 * list that GPU's processes).
 */
export type Truth = { perGpu: Map<number, number | null> } | { total: number | null };

const add = (a: number | null, b: number | null): number | null => (a === null || b === null ? null : a + b);

export function truthFor(
  processes: readonly GpuProcess[],
  isMine: (pid: number) => boolean,
  gpuOf: ReadonlyMap<number, number> | null,
  unlisted: ReadonlySet<number>,
): Truth {
  const mine = processes.filter((p) => isMine(p.pid));
  if (gpuOf && mine.every((p) => gpuOf.has(p.gpu))) {
    const perGpu = new Map<number, number | null>();
    for (const [host, inside] of gpuOf) perGpu.set(inside, unlisted.has(host) ? null : 0);
    for (const p of mine) {
      const g = gpuOf.get(p.gpu) as number;
      perGpu.set(g, add(perGpu.get(g) as number | null, p.used)); // set above: null is unknown, not 0
    }
    return { perGpu };
  }
  return { total: mine.reduce<number | null>((sum, p) => add(sum, p.used), 0) };
}

/** Where the host sees more than the region says, beyond TAMPER_TOLERANCE; gpu null: all the container's GPUs together. */
export interface Finding {
  gpu: number | null;
  region: number;
  host: number;
}

/** region: the region's figure by the container's GPU index. */
export function findings(region: ReadonlyMap<number, number>, truth: Truth): Finding[] {
  if ('perGpu' in truth) {
    const out: Finding[] = [];
    for (const [gpu, host] of [...truth.perGpu].sort((a, b) => a[0] - b[0])) {
      const r = region.get(gpu) ?? 0;
      if (host !== null && host - r > TAMPER_TOLERANCE) out.push({ gpu, region: r, host });
    }
    return out;
  }
  const r = [...region.values()].reduce((a, b) => a + b, 0);
  return truth.total !== null && truth.total - r > TAMPER_TOLERANCE ? [{ gpu: null, region: r, host: truth.total }] : [];
}
