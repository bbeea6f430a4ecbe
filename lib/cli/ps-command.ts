/** `gpumem ps`: the containers gpumem limits on this host, their budgets and what they use now. */
import type { Argv } from 'yargs';
import { accountingUsage, readConfig } from '../ffi/native.js';
import { stateDir } from '../state.js';
import { limitedContainers } from '../state-lookup.js';
import { formatBytes, formatJsonLines, formatTable } from './table.js';

interface PsRow {
  container: string;
  gpu: string;
  limit: number | null;
  used: number;
  /** Of used: memory the driver took without an allocation call (code, local memory, heap). */
  driverTaken: number;
  processes: number;
  /** False when some process's driver-taken memory cannot be seen (NVML without per-process figures). */
  driverSeen: boolean;
  error?: string;
}

function rows(): PsRow[] {
  const ids = limitedContainers();
  const out: PsRow[] = [];
  for (const id of ids) {
    const dir = stateDir(id);
    try {
      const config = readConfig(dir.configFile);
      const usage = accountingUsage(dir.accountingFile);
      const gpus = new Set([...config.perGpu.keys(), ...usage.usedPerGpu.keys()]);
      if (gpus.size === 0) gpus.add(-1);
      for (const g of [...gpus].sort((a, b) => a - b)) {
        out.push({
          container: id,
          gpu: g < 0 ? 'all' : String(g),
          limit: (g >= 0 ? config.perGpu.get(g) : undefined) ?? config.all ?? null,
          used: g < 0 ? 0 : (usage.usedPerGpu.get(g) ?? 0),
          driverTaken: g < 0 ? 0 : (usage.driverPerGpu.get(g) ?? 0),
          processes: usage.processes,
          driverSeen: usage.driverUnseen === 0,
        });
      }
    } catch (e) {
      // A container can scribble on its region: report it, keep listing the others.
      out.push({ container: id, gpu: '-', limit: null, used: 0, driverTaken: 0, processes: 0, driverSeen: false, error: (e as Error).message });
    }
  }
  return out;
}

export function psCommand(y: Argv): Argv {
  return y.command(
    'ps',
    'list the containers gpumem limits, with their GPU memory budget and use',
    (c) => c.option('format', { choices: ['table', 'json'] as const, default: 'table' as const }),
    (a) => {
      const r = rows();
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
            status: x.error ?? (x.driverSeen ? 'ok' : 'ok, driver-taken memory not seen'),
          })),
        ),
      );
    },
  );
}
