/** What a container's spec says about its GPUs, read from the spec alone (pure). */
import { basename } from 'node:path';
import type { Spec } from '../oci/spec.js';
import { nvidiaDeviceMinors, type GpuSpecFacts } from './container-gpus.js';

/** NVIDIA's hooks that turn NVIDIA_VISIBLE_DEVICES into devices (dockerd adds the first for --gpus). */
const NVIDIA_HOOKS = new Set(['nvidia-container-runtime-hook', 'nvidia-container-toolkit']);

function hasNvidiaHook(spec: Spec): boolean {
  for (const hooks of Object.values(spec.hooks ?? {})) {
    if (Array.isArray(hooks) && hooks.some((h) => typeof h?.path === 'string' && NVIDIA_HOOKS.has(basename(h.path)))) return true;
  }
  return false;
}

/**
 * `lowerRuntime`: the runtime gpumem chains to; NVIDIA's (nvidia-container-runtime) reads the
 * variable itself, runc does not: an image's own ENV NVIDIA_VISIBLE_DEVICES=all gives no GPU there.
 */
export function gpuSpecFacts(spec: Spec, env: Record<string, string>, lowerRuntime: string | null): GpuSpecFacts {
  const linux = spec.linux as { devices?: unknown } | undefined;
  return {
    visible: env.NVIDIA_VISIBLE_DEVICES,
    visibleApplies: hasNvidiaHook(spec) || (lowerRuntime !== null && /nvidia/i.test(basename(lowerRuntime))),
    deviceMinors: nvidiaDeviceMinors(linux?.devices),
  };
}
