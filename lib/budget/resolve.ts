/** Turns a container's request into the budgets the interposer enforces, per GPU. */
import { percentBytes } from '../ffi/native.js';
import type { InterposerConfig } from './types.js';
import { LimitError, limitError, type Limit, type LimitRequest } from './request.js';

/** Physical memory of the host's GPUs by container index, when known (NVML). */
export type GpuSizes = ReadonlyMap<number, number> | undefined;

/** A percent as written, from its exact ratio (num/den, den a power of ten): 1e-11 reads 0.00000000001. */
export function percentText(num: bigint, den: bigint): string {
  const decimals = den.toString().length - 1;
  const digits = num.toString().padStart(decimals + 1, '0');
  return decimals === 0 ? digits : `${digits.slice(0, -decimals)}.${digits.slice(-decimals)}`;
}

export function bytesOf(what: string, limit: Limit, gpu: number | undefined, gpuBytes: number | undefined): bigint {
  if ('bytes' in limit) {
    if (gpuBytes !== undefined && limit.bytes > BigInt(gpuBytes)) {
      throw new LimitError(`gpumem: ${what} asks for ${limit.bytes} bytes, more than the GPU's ${gpuBytes}`);
    }
    return limit.bytes;
  }
  if (gpuBytes === undefined || gpu === undefined) {
    throw new LimitError(
      `gpumem: ${what}=${percentText(limit.num, limit.den)}% needs the GPU's memory size, which gpumem could not learn (no NVML on this host, or GPUs not given with --gpus); use a size like 8g`,
    );
  }
  try {
    // In C, like the interposer's own percents: one rounding rule, and 0 bytes refused.
    return percentBytes(what, limit, gpu, gpuBytes);
  } catch (e) {
    throw limitError(e);
  }
}

/**
 * Budgets for the interposer; a percent is taken of each GPU's own size. `count`: how many GPUs
 * the container sees, when known: a per-GPU limit for a GPU it does not have is refused (it would
 * leave the GPU meant unlimited).
 */
export function resolveBudget(req: LimitRequest, gpus: GpuSizes, count?: number): InterposerConfig {
  // Named as request.ts and the interposer name them, so one input gets one message everywhere.
  const key = req.source === 'annotation' ? 'annotation gpumem.io/limit' : 'environment variable GPUMEM_LIMIT';
  const sep = req.source === 'annotation' ? '.' : '_';
  const perGpu = new Map<number, bigint>();
  let all: bigint | undefined;
  if (req.all) {
    if ('percent' in req.all) {
      // A percent for every GPU becomes one byte budget per GPU: each GPU's own share.
      if (!gpus) bytesOf(key, req.all, undefined, undefined);
      for (const [i, size] of gpus ?? []) perGpu.set(i, bytesOf(key, req.all, i, size));
    } else {
      all = req.all.bytes;
      for (const [i, size] of gpus ?? []) bytesOf(key, req.all, i, size);
    }
  }
  for (const [i, limit] of req.perGpu) {
    if (count !== undefined && i >= count) {
      const has = count === 0 ? 'it sees no GPU' : `it sees ${count} GPU${count > 1 ? 's' : ''} (index ${count > 1 ? `0-${count - 1}` : '0'})`;
      throw new LimitError(`gpumem: ${key}${sep}${i} is for the container's GPU ${i}, but ${has}; use ${key} for every GPU, or an index it has`);
    }
    perGpu.set(i, bytesOf(`${key}${sep}${i}`, limit, i, gpus?.get(i)));
  }
  // The config has no way to say 0 bytes: a 0 would be written as "no limit" and the container
  // would run unlimited. The grammar and percentBytes never give one; this keeps it so.
  for (const [i, bytes] of [...perGpu, ...(all === undefined ? [] : [[-1, all] as const])]) {
    if (!(bytes > 0n)) throw new LimitError(`gpumem: ${i < 0 ? key : `${key}${sep}${i}`} resolves to 0 bytes; use a larger limit`);
  }
  return all === undefined ? { perGpu } : { all, perGpu };
}
