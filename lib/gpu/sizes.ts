/** The container's GPU sizes for percent limits and size checks; asks NVML only for GPU containers. */
import { hostGpus } from '../ffi/native.js';
import type { GpuSizes } from '../budget/resolve.js';
import { visibleGpuSizes } from './visible.js';

export function containerGpuSizes(env: Record<string, string>): GpuSizes {
  const visible = env.NVIDIA_VISIBLE_DEVICES;
  if (visible === undefined) return undefined;
  try {
    return visibleGpuSizes(visible, hostGpus());
  } catch {
    // No NVML on this host: sizes unknown; a percent limit is then refused with its own message.
    return undefined;
  }
}
