/**
 * `gpumem ps`: the containers gpumem limits on this host, a row per container and GPU, with their
 * budgets and what they use now: what the host sees (NVML) where it can, since the region is the
 * container's to write; a container whose region says less than the host sees is flagged as
 * tampering, and logged. `gpumem top` shows the same rows refreshed.
 */
import type { Argv } from 'yargs';
import type { Usage } from '../ffi/native.js';
import { containerNames } from '../docker/container-names.js';
import { limitedContainers } from '../state-lookup.js';
import { leftoverState } from '../state-sweep.js';
import { stateDir } from '../state.js';
import { log } from '../log.js';
import { readHostRecord } from '../truth/host-record.js';
import { CONFIRM_MS, TAMPER_TOLERANCE, findings, type Finding } from '../truth/judge.js';
import { look, type ContainerLook } from '../truth/look.js';
import { fitColumns, formatBytes, formatJsonLines, renderTable, type Column } from './table.js';

export interface PsRow {
  container: string;
  /** Docker's name for it; null when the engine does not answer (or does not know it). */
  name: string | null;
  /** The container's GPU index, or 'all' when its GPUs are not known. */
  gpu: string;
  /** That GPU's UUID (as the config pins it, else as recorded at create); null: not known. */
  uuid: string | null;
  limit: number | null;
  /** What the host sees: the larger of the region's figure and NVML's for the container's processes. */
  used: number;
  /** What the container's region says. */
  regionUsed: number;
  /** NVML's sum for the container's processes; null where the host cannot tell. */
  hostUsed: number | null;
  /** Of the region's figure: memory the driver took without an allocation call (code, local memory, heap). */
  driverTaken: number;
  /** The most the container's processes held together on the GPU; null: its region keeps no peak. */
  peak: number | null;
  /** Allocations the budget refused on the GPU; null: its region keeps no count. */
  refused: number | null;
  processes: number;
  /** False when some process's driver-taken memory cannot be seen (NVML without per-process figures). */
  driverSeen: boolean;
  /** The host sees more than the region says, beyond what legitimately lags (TAMPER_TOLERANCE). */
  tampering: boolean;
  /** The container no longer exists (its state is a leftover the next start removes): why. */
  gone?: string;
  error?: string;
}

/** The region's peak and refused counters, where the region's report has them (a newer host library). */
type Counters = { peak?: ReadonlyMap<number, number>; refused?: ReadonlyMap<number, number> };

/** The host's figure for one row: per GPU, or the container's sum when it has one row and GPUs cannot be told apart. */
function hostFigure(c: ContainerLook, gpu: number, rowCount: number): number | null {
  if (!c.truth) return null;
  if ('perGpu' in c.truth) {
    if (gpu >= 0) return c.truth.perGpu.get(gpu) ?? null;
    const all = [...c.truth.perGpu.values()];
    return all.includes(null) ? null : (all as number[]).reduce((a, b) => a + b, 0);
  }
  return rowCount === 1 ? c.truth.total : null;
}

/** The UUID of each of the container's GPUs: the config's uuid lines (what its processes enforce), else the host record's. */
export function gpuUuids(c: ContainerLook): Map<number, string> {
  const out = new Map<number, string>();
  for (const [i, g] of (readHostRecord(stateDir(c.id))?.gpus ?? []).entries()) out.set(i, g.uuid);
  for (const [i, u] of c.config?.uuids ?? []) out.set(i, u);
  return out;
}

export function rowsOf(c: ContainerLook, found: readonly Finding[], name: string | null): PsRow[] {
  if (c.error || !c.config || !c.usage) {
    return [{ container: c.id, name, gpu: '-', uuid: null, limit: null, used: 0, regionUsed: 0, hostUsed: null, driverTaken: 0, peak: null, refused: null, processes: 0, driverSeen: false, tampering: false, error: c.error }];
  }
  const { config } = c;
  const usage = c.usage as Usage & Counters;
  const uuids = gpuUuids(c);
  const gpus = new Set([...config.perGpu.keys(), ...c.region.keys(), ...uuids.keys()]);
  if (c.truth && 'perGpu' in c.truth) for (const [g, v] of c.truth.perGpu) if (v) gpus.add(g);
  if (gpus.size === 0) gpus.add(-1);
  return [...gpus].sort((a, b) => a - b).map((g) => {
    const regionUsed = g < 0 ? 0 : (c.region.get(g) ?? 0);
    const hostUsed = hostFigure(c, g, gpus.size);
    // Counters the region lacks are unknown (null), never 0: 0 would claim nothing was refused.
    const counter = (m: ReadonlyMap<number, number> | undefined): number | null => (m === undefined ? null : g < 0 ? [...m.values()].reduce((a, b) => a + b, 0) : (m.get(g) ?? 0));
    return {
      container: c.id,
      name,
      gpu: g < 0 ? 'all' : String(g),
      uuid: g < 0 ? null : (uuids.get(g) ?? null),
      limit: (g >= 0 ? config.perGpu.get(g) : undefined) ?? config.all ?? null,
      used: Math.max(regionUsed, hostUsed ?? 0),
      regionUsed,
      hostUsed,
      driverTaken: g < 0 ? 0 : (usage.driverPerGpu.get(g) ?? 0),
      // The peak of all GPUs together is not the sum of their peaks: only per GPU.
      peak: g < 0 ? null : counter(usage.peak),
      refused: counter(usage.refused),
      processes: usage.processes,
      driverSeen: usage.driverUnseen === 0,
      tampering: found.some((f) => f.gpu === null || f.gpu === g),
    };
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A look, and for the containers it finds over the tolerance a second one CONFIRM_MS later: what
 * lags legitimately has been charged by then, so only what both looks find is reported (and
 * logged: `warned` keeps a long-running caller, gpumem top, from logging one finding each refresh).
 */
export async function confirmedLook(ids: readonly string[], warned?: Set<string>): Promise<{ looks: ContainerLook[]; confirmed: Map<string, Finding[]> }> {
  let looks = look(ids);
  const first = new Map(looks.map((c) => [c.id, c.truth ? findings(c.region, c.truth) : []]));
  const confirmed = new Map<string, Finding[]>();
  if ([...first.values()].some((f) => f.length > 0)) {
    await sleep(CONFIRM_MS);
    looks = look(ids);
    for (const c of looks) {
      const again = c.truth ? findings(c.region, c.truth) : [];
      const before = first.get(c.id) ?? [];
      // The same GPU over the tolerance twice (or the container's GPUs together, twice).
      const both = again.filter((f) => before.some((b) => b.gpu === f.gpu));
      if (both.length) confirmed.set(c.id, both);
    }
  }
  for (const [container, found] of confirmed) {
    for (const f of found) {
      const key = `${container} ${f.gpu ?? 'all'}`;
      if (warned?.has(key)) continue;
      warned?.add(key);
      log().warn(
        { container, gpu: f.gpu ?? 'all', regionUsed: f.region, hostUsed: f.host, tolerance: TAMPER_TOLERANCE },
        `tampering: NVML shows the container's processes holding ${formatBytes(f.host)}, its accounting region says ${formatBytes(f.region)}`,
      );
    }
  }
  return { looks, confirmed };
}

/** Every limited container's rows, named by the Docker engine where it answers. */
export async function psRows(warned?: Set<string>): Promise<PsRow[]> {
  const [names, { looks, confirmed }] = await Promise.all([containerNames(), confirmedLook(limitedContainers(), warned)]);
  return looks.flatMap((c) => {
    const gone = leftoverState(c.id);
    return rowsOf(c, confirmed.get(c.id) ?? [], names.get(c.id) ?? null).map((r) => (gone ? { ...r, gone } : r));
  });
}

export function status(x: PsRow): string {
  if (x.gone) return 'gone: no such container (its state goes at the next start)';
  if (x.error) return x.error;
  if (x.tampering) return `TAMPERING: region says ${formatBytes(x.regionUsed)}`;
  return x.driverSeen ? 'ok' : 'ok, driver-taken memory not seen';
}

/**
 * UUIDs as the table shows them unless --no-trunc: the shortest of kind and 8 hex digits
 * ("GPU-4f2e91ab"), then kind, 4 and the last 4 ("GPU-fa4e…0001"), that tells apart every UUID
 * the table shows; else whole. Random UUIDs differ early; made-up ones (a fake's) may differ last.
 */
export function shortUuids(uuids: Iterable<string>): (u: string) => string {
  const all = [...new Set(uuids)];
  const forms = [(u: string) => u.slice(0, 12), (u: string) => `${u.slice(0, 8)}…${u.slice(-4)}`];
  const ok = /^(GPU|MIG)-[0-9a-f]{8}-/i;
  for (const f of forms) {
    if (new Set(all.map(f)).size === all.length) return (u) => (ok.test(u) ? f(u) : u);
  }
  return (u) => u;
}

/**
 * The columns, in the order shown; when the width is short the name is cut first, then columns
 * go, the lowest `drop` first: STATUS (whatever is not ok is then told under the table), PIDS,
 * DRIVER, UUID, PEAK, REFUSED, NAME.
 */
const COLUMNS: Column[] = [
  { key: 'container id' },
  { key: 'name', min: 8, drop: 7 },
  { key: 'gpu' },
  { key: 'uuid', drop: 4 },
  { key: 'budget' },
  { key: 'used' },
  { key: 'driver', drop: 3 },
  { key: 'peak', drop: 5 },
  { key: 'refused', drop: 6 },
  { key: 'pids', drop: 2 },
  { key: 'status', drop: 1 },
];

const size = (v: number | null): string => (v === null ? '-' : formatBytes(v));

/** The rows as a table at most `width` wide where the columns allow; noTrunc: full ids and UUIDs, nothing cut or dropped. */
export function psTable(rows: readonly PsRow[], opts: { width: number; noTrunc?: boolean }): string {
  const short = shortUuids(rows.flatMap((x) => (x.uuid === null ? [] : [x.uuid])));
  const cells = rows.map((x) => ({
    'container id': opts.noTrunc ? x.container : x.container.slice(0, 12),
    name: x.name ?? '-',
    gpu: x.gpu,
    uuid: x.uuid === null ? '-' : opts.noTrunc ? x.uuid : short(x.uuid),
    budget: size(x.limit),
    used: formatBytes(x.used),
    driver: formatBytes(x.driverTaken),
    peak: size(x.peak),
    refused: x.refused === null ? '-' : x.refused,
    pids: x.processes,
    status: status(x),
  }));
  const layout = fitColumns(COLUMNS, cells, opts.noTrunc ? Infinity : opts.width);
  let text = renderTable(layout, cells);
  if (!layout.columns.some((c) => c.key === 'status')) {
    // Not left out for want of room: what is wrong is told below, one line a row.
    for (const [i, x] of rows.entries()) {
      const s = status(x);
      if (s !== 'ok') text += `${cells[i]?.['container id']} GPU ${x.gpu}: ${s}\n`;
    }
  }
  return text;
}

/** The terminal's width when stdout is one, else 80 (a pipe, a file, a script). */
export const outputWidth = (): number => (process.stdout.isTTY && process.stdout.columns > 0 ? process.stdout.columns : 80);

export function psCommand(y: Argv): Argv {
  return y.command(
    'ps',
    'list the containers gpumem limits, a row per container and GPU, with their GPU memory budget and use',
    (c) =>
      c
        .option('format', { choices: ['table', 'json'] as const, default: 'table' as const, describe: 'table, or one JSON object a row (bytes as numbers, null where unknown)' })
        .option('trunc', { type: 'boolean', default: true, describe: "cut ids and UUIDs short and fit the terminal's width; --no-trunc: whole, nothing cut or left out" })
        .example('gpumem ps', 'a table fitted to the terminal (80 columns when not one)')
        .example('gpumem ps --no-trunc', 'full container ids, names and GPU UUIDs')
        .example('gpumem ps --format json | jq -r "select(.tampering) | .container"', 'the containers whose region under-reports what NVML sees')
        .epilogue('Exit status: 0 when listed (also with none), 1 when gpumem cannot run (one line on stderr).'),
    async (a) => {
      const r = await psRows();
      if (a.format === 'json') {
        process.stdout.write(formatJsonLines(r));
        return;
      }
      process.stdout.write(psTable(r, { width: outputWidth(), noTrunc: a.trunc === false }));
    },
  );
}
