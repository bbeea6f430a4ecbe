/**
 * `gpumem ps`: the containers gpumem limits on this host, their budgets and what they use now:
 * what the host sees (NVML) where it can, since the region is the container's to write; a
 * container whose region says less than the host sees is flagged as tampering, and logged.
 */
import type { Argv } from 'yargs';
import { limitedContainers } from '../state-lookup.js';
import { leftoverState } from '../state-sweep.js';
import { log } from '../log.js';
import { CONFIRM_MS, TAMPER_TOLERANCE, findings, type Finding } from '../truth/judge.js';
import { look, type ContainerLook } from '../truth/look.js';
import { formatBytes, formatJsonLines, formatTable } from './table.js';

interface PsRow {
  container: string;
  gpu: string;
  limit: number | null;
  /** What the host sees: the larger of the region's figure and NVML's for the container's processes. */
  used: number;
  /** What the container's region says. */
  regionUsed: number;
  /** NVML's sum for the container's processes; null where the host cannot tell. */
  hostUsed: number | null;
  /** Of the region's figure: memory the driver took without an allocation call (code, local memory, heap). */
  driverTaken: number;
  processes: number;
  /** False when some process's driver-taken memory cannot be seen (NVML without per-process figures). */
  driverSeen: boolean;
  /** The host sees more than the region says, beyond what legitimately lags (TAMPER_TOLERANCE). */
  tampering: boolean;
  /** The container no longer exists (its state is a leftover the next start removes): why. */
  gone?: string;
  error?: string;
}

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

function rowsOf(c: ContainerLook, found: readonly Finding[]): PsRow[] {
  if (c.error || !c.config || !c.usage) {
    return [{ container: c.id, gpu: '-', limit: null, used: 0, regionUsed: 0, hostUsed: null, driverTaken: 0, processes: 0, driverSeen: false, tampering: false, error: c.error }];
  }
  const { config, usage } = c;
  const gpus = new Set([...config.perGpu.keys(), ...c.region.keys()]);
  if (c.truth && 'perGpu' in c.truth) for (const [g, v] of c.truth.perGpu) if (v) gpus.add(g);
  if (gpus.size === 0) gpus.add(-1);
  return [...gpus].sort((a, b) => a - b).map((g) => {
    const regionUsed = g < 0 ? 0 : (c.region.get(g) ?? 0);
    const hostUsed = hostFigure(c, g, gpus.size);
    return {
      container: c.id,
      gpu: g < 0 ? 'all' : String(g),
      limit: (g >= 0 ? config.perGpu.get(g) : undefined) ?? config.all ?? null,
      used: Math.max(regionUsed, hostUsed ?? 0),
      regionUsed,
      hostUsed,
      driverTaken: g < 0 ? 0 : (usage.driverPerGpu.get(g) ?? 0),
      processes: usage.processes,
      driverSeen: usage.driverUnseen === 0,
      tampering: found.some((f) => f.gpu === null || f.gpu === g),
    };
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * A look, and for the containers it finds over the tolerance a second one CONFIRM_MS later: what
 * lags legitimately has been charged by then, so only what both looks find is reported.
 */
async function rows(): Promise<PsRow[]> {
  const ids = limitedContainers();
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
      log().warn(
        { container, gpu: f.gpu ?? 'all', regionUsed: f.region, hostUsed: f.host, tolerance: TAMPER_TOLERANCE },
        `tampering: NVML shows the container's processes holding ${formatBytes(f.host)}, its accounting region says ${formatBytes(f.region)}`,
      );
    }
  }
  return looks.flatMap((c) => {
    const gone = leftoverState(c.id);
    return rowsOf(c, confirmed.get(c.id) ?? []).map((r) => (gone ? { ...r, gone } : r));
  });
}

function status(x: PsRow): string {
  if (x.gone) return 'gone: no such container (its state goes at the next start)';
  if (x.error) return x.error;
  if (x.tampering) return `TAMPERING: region says ${formatBytes(x.regionUsed)}`;
  return x.driverSeen ? 'ok' : 'ok, driver-taken memory not seen';
}

export function psCommand(y: Argv): Argv {
  return y.command(
    'ps',
    'list the containers gpumem limits, with their GPU memory budget and use',
    (c) => c.option('format', { choices: ['table', 'json'] as const, default: 'table' as const }),
    async (a) => {
      const r = await rows();
      if (a.format === 'json') {
        process.stdout.write(formatJsonLines(r));
        return;
      }
      process.stdout.write(
        formatTable(
          ['container id', 'gpu', 'limit', 'used', 'driver-taken', 'processes', 'status'],
          r.map((x) => ({
            'container id': x.container.slice(0, 12),
            gpu: x.gpu,
            limit: x.limit === null ? '-' : formatBytes(x.limit),
            used: formatBytes(x.used),
            'driver-taken': formatBytes(x.driverTaken),
            processes: x.processes,
            status: status(x),
          })),
        ),
      );
    },
  );
}
