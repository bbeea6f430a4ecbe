/** What one scrape exports for each limited container's GPU, from what `gpumem ps` reads (pure). */
import type { Usage } from '../ffi/native.js';
import type { HostRecord } from '../truth/host-record.js';
import type { ContainerLook } from '../truth/look.js';

/**
 * A region report may carry a peak and a refused-allocation count per GPU index; the region has
 * neither yet. Read only where present, so that nothing is exported that the region does not say.
 */
export type CountedUsage = Usage & { peak?: ReadonlyMap<number, number>; refused?: ReadonlyMap<number, number> };

/** The label values of one series: which container, and which of its GPUs. */
export interface GpuLabels {
  /** The full container id, as the state directory is named. */
  container: string;
  /** The container's Docker name; '' when unknown (no engine, or one that does not know it). */
  name: string;
  /** The host GPU's UUID as NVML prints it; '' when not known (created without NVML, or "all" below). */
  gpu_uuid: string;
  /** The container's own GPU index, as gpumem ps shows it; "all": a budget for every GPU when none is known. */
  gpu: string;
}

export interface GpuSample {
  labels: GpuLabels;
  /** Bytes; null when this GPU has no budget of its own and no budget for all GPUs either. */
  budget: number | null;
  /** Bytes: the larger of the region's figure and NVML's for the container's processes (gpumem ps USED). */
  used: number;
  /** Bytes of `used` the driver took without an allocation call (code, local memory, heap). */
  driverOverhead: number;
  /** Present only when the region reports it. */
  peak?: number;
  refused?: number;
}

/** One container as a scrape found it; `record`: its host record (GPU UUIDs), null when it has none. */
export interface Seen {
  look: ContainerLook;
  record: HostRecord | null;
  name: string;
}

/** NVML's figure for one GPU row, as gpumem ps takes it: per GPU, or the sum when the container has one row. */
function hostFigure(c: ContainerLook, gpu: number, rowCount: number): number | null {
  if (!c.truth) return null;
  if ('perGpu' in c.truth) {
    if (gpu >= 0) return c.truth.perGpu.get(gpu) ?? null;
    const all = [...c.truth.perGpu.values()];
    return all.includes(null) ? null : (all as number[]).reduce((a, b) => a + b, 0);
  }
  return rowCount === 1 ? c.truth.total : null;
}

/** The series of one container; none when its state could not be read (counted as a scrape error instead). */
export function samplesOf({ look: c, record, name }: Seen): GpuSample[] {
  if (c.error || !c.config || !c.usage) return [];
  const { config } = c;
  const usage = c.usage as CountedUsage;
  // Its GPUs: those recorded at create (by UUID), those with a budget, those it uses.
  const gpus = new Set<number>([...config.perGpu.keys(), ...c.region.keys()]);
  for (const i of record?.gpus?.keys() ?? []) gpus.add(i);
  for (const i of config.uuids?.keys() ?? []) gpus.add(i);
  if (c.truth && 'perGpu' in c.truth) for (const [g, v] of c.truth.perGpu) if (v) gpus.add(g);
  if (gpus.size === 0) gpus.add(-1);
  return [...gpus]
    .sort((a, b) => a - b)
    .map((g) => {
      const region = g < 0 ? 0 : (c.region.get(g) ?? 0);
      const host = hostFigure(c, g, gpus.size);
      const uuid = g < 0 ? '' : (record?.gpus?.[g]?.uuid ?? config.uuids?.get(g) ?? '');
      const peak = g < 0 ? undefined : usage.peak?.get(g);
      const refused = g < 0 ? undefined : usage.refused?.get(g);
      return {
        labels: { container: c.id, name, gpu_uuid: uuid, gpu: g < 0 ? 'all' : String(g) },
        budget: (g >= 0 ? config.perGpu.get(g) : undefined) ?? config.all ?? null,
        used: Math.max(region, host ?? 0),
        driverOverhead: g < 0 ? 0 : (usage.driverPerGpu.get(g) ?? 0),
        // A map that exists but has no entry for this GPU: nothing there yet, 0.
        ...(usage.peak ? { peak: peak ?? 0 } : {}),
        ...(usage.refused ? { refused: refused ?? 0 } : {}),
      };
    });
}
