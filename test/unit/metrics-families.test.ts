// The exporter's collector on readings made here (no host) from gpumem ps's rows: a region's peak
// and refused count per GPU are served under the container's labels; a region that keeps none
// (one a test makes) gets no such series, not zeros; a reading that fails is served as no
// containers and counted.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import parsePrometheus from 'parse-prometheus-text-format';
import { exporterRegistry, servedMetrics } from '../../lib/metrics/registry.js';
import { sampleOf } from '../../lib/metrics/samples.js';
import { rowsOf } from '../../lib/truth/rows.js';
import type { Usage } from '../../lib/ffi/native.js';
import type { Reading } from '../../lib/metrics/reading.js';
import type { ContainerLook } from '../../lib/truth/look.js';

// A failed reading is logged: never into the host's /var/log/gpumem.log.
process.env.GPUMEM_LOG_FILE = join(mkdtempSync(join(tmpdir(), 'gpumem-metrics-')), 'gpumem.log');

interface Family { name: string; type: string; metrics: { value: string; labels?: Record<string, string> }[] }
const parse = (text: string) => new Map((parsePrometheus as unknown as (s: string) => Family[])(text).map((f) => [f.name, f]));

const MiB = 2 ** 20;
const id = 'f'.repeat(64);
const uuid = (i: number) => `GPU-${String(i).repeat(8)}-0000-4000-8000-000000000000`;

function container(usage: Partial<Usage>, region = new Map([[0, 96 * MiB]])): ContainerLook {
  return {
    id,
    config: { perGpu: new Map([[0, 512 * MiB], [1, 256 * MiB]]), uuids: new Map([[0, uuid(3)], [1, uuid(5)]]) },
    usage: { usedPerGpu: region, driverPerGpu: new Map([[0, 6 * MiB]]), processes: 1, driverUnseen: 0, ...usage },
    region,
    truth: null,
  };
}

const reading = (c: ContainerLook): Reading => ({ containers: 1, samples: rowsOf(c, [], 'trainer').flatMap((r) => sampleOf(r) ?? []), unreadable: [] });

t.test('peak and refused allocations are served per GPU once the region reports them', async (t) => {
  const c = container({ peak: new Map([[0, 200 * MiB]]), refused: new Map([[0, 3]]) });
  const m = parse(await exporterRegistry(async () => reading(c)).scrape());
  const labels = (gpu: number) => ({ container: id, name: 'trainer', gpu_uuid: uuid(gpu === 0 ? 3 : 5), gpu: String(gpu) });
  t.same(m.get('gpumem_peak_bytes')?.metrics, [{ labels: labels(0), value: String(200 * MiB) }, { labels: labels(1), value: '0' }]);
  t.equal(m.get('gpumem_refused_allocations_total')?.type, 'COUNTER');
  t.same(m.get('gpumem_refused_allocations_total')?.metrics, [{ labels: labels(0), value: '3' }, { labels: labels(1), value: '0' }]);
  t.same(m.get('gpumem_used_bytes')?.metrics, [{ labels: labels(0), value: String(96 * MiB) }, { labels: labels(1), value: '0' }]);
  t.same(m.get('gpumem_driver_overhead_bytes')?.metrics.map((s) => s.value), [String(6 * MiB), '0']);
});

t.test('a region that keeps no counters gets no peak or refused series: nothing is made up', async (t) => {
  const e = exporterRegistry(async () => reading(container({})));
  const m = parse(await e.scrape());
  t.same(m.get('gpumem_peak_bytes')?.metrics ?? [], []);
  t.same(m.get('gpumem_refused_allocations_total')?.metrics ?? [], []);
  t.same(servedMetrics(e).sort(), ['gpumem_budget_bytes', 'gpumem_containers', 'gpumem_driver_overhead_bytes', 'gpumem_exporter_scrape_errors_total', 'gpumem_peak_bytes', 'gpumem_refused_allocations_total', 'gpumem_used_bytes']);
  t.same(m.get('gpumem_budget_bytes')?.metrics.map((s) => [s.labels?.gpu_uuid, Number(s.value)]), [[uuid(3), 512 * MiB], [uuid(5), 256 * MiB]],
    'budgets by the config\'s UUIDs where the container has no host record');
});

t.test('each scrape reads the host again: a changed budget shows at the next one', async (t) => {
  let budget = 512 * MiB;
  const e = exporterRegistry(async () => {
    const c = container({});
    c.config!.perGpu.set(0, budget);
    return reading(c);
  });
  const first = parse(await e.scrape()).get('gpumem_budget_bytes')?.metrics[0]?.value;
  budget = 1024 * MiB;
  const second = parse(await e.scrape()).get('gpumem_budget_bytes')?.metrics[0]?.value;
  t.same([first, second], [String(512 * MiB), String(1024 * MiB)]);
});

t.test('a reading that fails is served as no containers and counted as a scrape error', async (t) => {
  let fail = true;
  const e = exporterRegistry(async () => {
    if (fail) throw new Error('the state root cannot be read');
    return reading(container({}));
  });
  const m = parse(await e.scrape());
  t.equal(m.get('gpumem_containers')?.metrics[0]?.value, '0');
  t.same(m.get('gpumem_budget_bytes')?.metrics, []);
  t.equal(m.get('gpumem_exporter_scrape_errors_total')?.metrics[0]?.value, '1');
  fail = false;
  const next = parse(await e.scrape());
  t.equal(next.get('gpumem_budget_bytes')?.metrics.length, 2, 'the next scrape serves again');
  t.equal(next.get('gpumem_exporter_scrape_errors_total')?.metrics[0]?.value, '1', 'the count stays');
});

t.test('a container with one budget for all GPUs and none known is one series, gpu "all"', async (t) => {
  const c: ContainerLook = { id, config: { all: 64 * MiB, perGpu: new Map() }, usage: { usedPerGpu: new Map(), driverPerGpu: new Map(), processes: 0, driverUnseen: 0 }, region: new Map(), truth: null };
  t.same(rowsOf(c, [], null).map(sampleOf), [{ labels: { container: id, name: '', gpu_uuid: '', gpu: 'all' }, budget: 64 * MiB, used: 0, driverOverhead: 0, peak: null, refused: null }]);
});
