/** Which of the host's GPUs a container sees, in its own numbering, and how big each is. */
import type { HostGpu } from './host-gpu.js';
import type { GpuSizes } from '../budget/resolve.js';

/**
 * Sizes of the container's GPUs by container index, from NVIDIA_VISIBLE_DEVICES as `--gpus` sets
 * it ("all", "none", or host indexes and GPU UUIDs, comma-separated). Undefined when the sizes are
 * unknown: no such variable (e.g. CDI devices), MIG devices, or a device the host does not list.
 */
export function visibleGpuSizes(visible: string | undefined, host: readonly HostGpu[]): GpuSizes {
  if (visible === undefined) return undefined;
  const v = visible.trim();
  if (v === '' || v === 'none' || v === 'void') return new Map();
  if (v === 'all') return new Map(host.map((g, i) => [i, g.totalBytes]));
  const sizes = new Map<number, number>();
  const names = v.split(',').map((s) => s.trim());
  for (const [i, name] of names.entries()) {
    const gpu = /^\d+$/.test(name) ? host[Number(name)] : host.find((g) => g.uuid === name);
    if (!gpu) return undefined;
    sizes.set(i, gpu.totalBytes);
  }
  return sizes;
}

/** How many GPUs NVIDIA_VISIBLE_DEVICES gives the container: a list is counted as written, "all" is the host's count. */
export function visibleGpuCount(visible: string | undefined, hostCount: number | undefined): number | undefined {
  if (visible === undefined) return undefined;
  const v = visible.trim();
  if (v === '' || v === 'none' || v === 'void') return 0;
  if (v === 'all') return hostCount;
  return v.split(',').length;
}
