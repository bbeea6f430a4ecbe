/** What one scrape exports for each limited container's GPU: gpumem ps's rows, as series (pure). */
import type { PsRow } from '../truth/rows.js';

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
  /** Null where gpumem ps shows '-': the region keeps none, or (peak) the row is all GPUs together. */
  peak: number | null;
  refused: number | null;
}

/**
 * The series of one row; none for a container that is gone (a leftover's state is no container's)
 * or whose state could not be read (counted as a scrape error instead).
 */
export function sampleOf(r: PsRow): GpuSample | null {
  if (r.gone || r.error) return null;
  return {
    labels: { container: r.container, name: r.name ?? '', gpu_uuid: r.uuid ?? '', gpu: r.gpu },
    budget: r.limit,
    used: r.used,
    driverOverhead: r.driverTaken,
    peak: r.peak,
    refused: r.refused,
  };
}
