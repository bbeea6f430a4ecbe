/** Which of a container's GPU indexes each host GPU is, from the GPUs recorded at create (pure). */
import type { HostGpu } from '../gpu/host-gpu.js';

/**
 * Host GPU index (NVML's) → the container's GPU index, read as lib/gpu/visible.ts reads the
 * variable for limits: "all" keeps the host's order, a list ("2,0" or UUIDs) numbers the
 * container's GPUs in its order. Null when it cannot be told: no variable (CDI devices), or a
 * device the host does not list (MIG).
 */
export function containerGpuOf(visible: string | null, host: readonly HostGpu[], uuids?: readonly string[] | null): Map<number, number> | null {
  // Recorded at create by UUID (every form: the variable, CDI devices): exact.
  if (uuids) {
    const out = new Map<number, number>();
    for (const [i, uuid] of uuids.entries()) {
      const gpu = host.find((g) => g.uuid.toLowerCase() === uuid.toLowerCase());
      if (gpu) out.set(gpu.index, i); // a MIG device: NVML lists its processes under its GPU (not mapped: unknown)
    }
    return out.size === uuids.length ? out : null;
  }
  if (visible === null) return null;
  const v = visible.trim();
  if (v === '' || v === 'none' || v === 'void') return new Map();
  if (v === 'all') return new Map(host.map((g) => [g.index, g.index]));
  const out = new Map<number, number>();
  for (const [i, name] of v.split(',').map((s) => s.trim()).entries()) {
    const gpu = /^\d+$/.test(name) ? host[Number(name)] : host.find((g) => g.uuid === name);
    if (!gpu) return null;
    out.set(gpu.index, i);
  }
  return out;
}
