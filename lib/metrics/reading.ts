/** One scrape's reading of the host: every limited container's budgets and use, read fresh (gpumem ps's rows). */
import { psRows } from '../truth/rows.js';
import { sampleOf, type GpuSample } from './samples.js';

export interface Reading {
  /** Limited containers that still exist (a leftover's state is no container's). */
  containers: number;
  samples: GpuSample[];
  /** Containers whose config or region could not be read: each is missing from this scrape's series. */
  unreadable: { container: string; error: string }[];
}

/** `warned`: tampering already logged by this exporter, so that a finding is logged once, not every scrape. */
export async function takeReading(warned: Set<string>): Promise<Reading> {
  const rows = await psRows(warned);
  return {
    containers: new Set(rows.filter((r) => !r.gone).map((r) => r.container)).size,
    samples: rows.flatMap((r) => sampleOf(r) ?? []),
    unreadable: rows.flatMap((r) => (r.error && !r.gone ? [{ container: r.container, error: r.error }] : [])),
  };
}
