/** Turns a container's request into the budgets the interposer enforces, per GPU. */
import type { InterposerConfig } from '../ffi/native.js';
import { LimitError, type Limit, type LimitRequest } from './request.js';

/** Physical memory of the host's GPUs by container index, when known (NVML). */
export type GpuSizes = ReadonlyMap<number, number> | undefined;

function bytesOf(what: string, limit: Limit, gpuBytes: number | undefined): number {
  if ('bytes' in limit) {
    if (gpuBytes !== undefined && limit.bytes > gpuBytes) {
      throw new LimitError(`gpumem: ${what} asks for ${limit.bytes} bytes, more than the GPU's ${gpuBytes}`);
    }
    return limit.bytes;
  }
  if (gpuBytes === undefined) {
    throw new LimitError(
      `gpumem: ${what}=${limit.percent}% needs the GPU's memory size, which gpumem could not learn (no NVML on this host, or GPUs not given with --gpus); use a size like 8g`,
    );
  }
  return Math.floor((gpuBytes * limit.percent) / 100);
}

/** Budgets for the interposer; a percent is taken of each GPU's own size. */
export function resolveBudget(req: LimitRequest, gpus: GpuSizes): InterposerConfig {
  const key = req.source === 'annotation' ? 'gpumem.io/limit' : 'GPUMEM_LIMIT';
  const sep = req.source === 'annotation' ? '.' : '_';
  const perGpu = new Map<number, number>();
  let all: number | undefined;
  if (req.all) {
    if ('percent' in req.all) {
      // A percent for every GPU becomes one byte budget per GPU: each GPU's own share.
      if (!gpus) bytesOf(key, req.all, undefined);
      for (const [i, size] of gpus ?? []) perGpu.set(i, bytesOf(key, req.all, size));
    } else {
      all = req.all.bytes;
      for (const size of gpus?.values() ?? []) bytesOf(key, req.all, size);
    }
  }
  for (const [i, limit] of req.perGpu) perGpu.set(i, bytesOf(`${key}${sep}${i}`, limit, gpus?.get(i)));
  return all === undefined ? { perGpu } : { all, perGpu };
}
