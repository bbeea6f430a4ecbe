/** The container's GPUs for percent limits and size checks: how many, and how big; asks for the host's GPUs only for GPU containers. */
import type { GpuSizes } from '../budget/resolve.js';
import type { HostGpu } from './host-gpu.js';
import { visibleGpuCount, visibleGpuSizes } from './visible.js';

export interface ContainerGpus {
  /** Physical memory by container index, when known. */
  sizes: GpuSizes;
  /** How many GPUs the container sees, when known (a list of devices is counted without NVML). */
  count: number | undefined;
}

export function containerGpus(env: Record<string, string>, hostGpus: () => readonly HostGpu[]): ContainerGpus {
  const visible = env.NVIDIA_VISIBLE_DEVICES;
  if (visible === undefined) return { sizes: undefined, count: undefined };
  let host: readonly HostGpu[] | undefined;
  try {
    host = hostGpus();
  } catch {
    // No NVML on this host: sizes unknown; a percent limit is then refused with its own message.
  }
  return { sizes: host && visibleGpuSizes(visible, host), count: visibleGpuCount(visible, host?.length) };
}
