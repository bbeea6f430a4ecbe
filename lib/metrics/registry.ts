/**
 * The exporter's metric families (prom-client), each filled by its collect() from the reading of
 * the scrape that asks: nothing is cached between scrapes, so a changed budget or a new container
 * shows at the next one.
 */
import { Counter, Gauge, Registry, type LabelValues } from 'prom-client';
import { log } from '../log.js';
import { takeReading, type Reading } from './reading.js';
import type { GpuLabels, GpuSample } from './samples.js';

const LABELS = ['container', 'name', 'gpu_uuid', 'gpu'] as const;
type Label = (typeof LABELS)[number];

export interface Exporter {
  registry: Registry;
  /** The metrics as Prometheus' text format, from a fresh reading. */
  scrape: () => Promise<string>;
}

/** `read`: the reading of a scrape (tests give another). */
export function exporterRegistry(read?: () => Promise<Reading>): Exporter {
  const warned = new Set<string>();
  const reading = read ?? (() => takeReading(warned));
  const registry = new Registry();
  // The reading of the scrape in progress: every family's collect() reads the same one.
  let current: Reading | null = null;
  const empty: Reading = { containers: 0, samples: [], unreadable: [] };
  const now = (): Reading => current ?? empty;

  const perGpu = (name: string, help: string, value: (s: GpuSample) => number | null | undefined) =>
    new Gauge<Label>({
      name,
      help,
      labelNames: LABELS,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of now().samples) {
          const v = value(s);
          if (v !== null && v !== undefined) this.set(s.labels as GpuLabels & LabelValues<Label>, v);
        }
      },
    });

  perGpu('gpumem_budget_bytes', "The container's GPU memory budget on this GPU, in bytes", (s) => s.budget);
  perGpu('gpumem_used_bytes', "GPU memory the container holds on this GPU, in bytes: the larger of its accounting region's figure and what NVML shows its processes hold (gpumem ps USED)", (s) => s.used);
  perGpu('gpumem_driver_overhead_bytes', 'Of gpumem_used_bytes, memory the driver took without an allocation call (code, local memory, heap), in bytes', (s) => s.driverOverhead);
  new Gauge({
    name: 'gpumem_containers',
    help: 'Containers gpumem limits on this host',
    registers: [registry],
    collect() {
      this.set(now().containers);
    },
  });
  const errors = new Counter({
    name: 'gpumem_exporter_scrape_errors_total',
    help: "Readings that failed at a scrape: a container whose config or accounting region could not be read (its series are missing from that scrape), or the whole reading",
    registers: [registry],
  });

  perGpu('gpumem_peak_bytes', 'The most GPU memory the container has held on this GPU, in bytes, as its accounting region reports it (driver-taken memory included)', (s) => s.peak);
  new Counter<Label>({
    name: 'gpumem_refused_allocations_total',
    help: 'Allocations the interposer refused on this GPU because they would pass the budget',
    labelNames: LABELS,
    registers: [registry],
    collect() {
      this.reset();
      for (const s of now().samples) if (s.refused !== null) this.inc(s.labels as GpuLabels & LabelValues<Label>, s.refused);
    },
  });

  let queue: Promise<unknown> = Promise.resolve();
  const once = async (): Promise<string> => {
    try {
      current = await reading();
    } catch (e) {
      // Served without the container families, and counted, so an alert can say the exporter is blind.
      errors.inc();
      log().warn({ err: (e as Error).message }, `gpumem exporter: the host could not be read: ${(e as Error).message}`);
      current = empty;
    }
    if (current.unreadable.length) errors.inc(current.unreadable.length);
    try {
      return await registry.metrics();
    } finally {
      current = null;
    }
  };
  // One scrape at a time: each family reads its own scrape's reading.
  const scrape = (): Promise<string> => {
    const next = queue.then(once, once);
    queue = next.catch(() => undefined);
    return next;
  };
  return { registry, scrape };
}

/** The metric names the exporter serves now (the Grafana dashboard's test checks against these). */
export const servedMetrics = (e: Exporter): string[] => e.registry.getMetricsAsArray().map((m) => m.name);
