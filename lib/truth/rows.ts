/**
 * The rows gpumem ps, top, inspect and the exporter show: one per limited container and GPU, with
 * its budget and what it uses now: what the host sees (NVML) where it can, since the region is the
 * container's to write; a container whose region says less than the host sees is flagged as
 * tampering, and logged.
 */
import type { Usage } from '../ffi/native.js';
import { containerNames } from '../docker/container-names.js';
import { limitedContainers } from '../state-lookup.js';
import { leftoverState } from '../state-sweep.js';
import { stateDir } from '../state.js';
import { log } from '../log.js';
import { formatBytes } from '../bytes.js';
import { readHostRecord } from './host-record.js';
import { CONFIRM_MS, TAMPER_TOLERANCE, findings, type Finding } from './judge.js';
import { look, type ContainerLook } from './look.js';

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

