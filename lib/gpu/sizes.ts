/** The container's GPU sizes for percent limits and size checks; asks for the host's GPUs only for GPU containers. */
import type { GpuSizes } from '../budget/resolve.js';
import type { HostGpu } from './host-gpu.js';
import { visibleGpuSizes } from './visible.js';

export function containerGpuSizes(env: Record<string, string>, hostGpus: () => readonly HostGpu[]): GpuSizes {
  const visible = env.NVIDIA_VISIBLE_DEVICES;
  if (visible === undefined) return undefined;
  try {
    return visibleGpuSizes(visible, hostGpus());
  } catch {
    // No NVML on this host: sizes unknown; a percent limit is then refused with its own message.
    return undefined;
  }
}
