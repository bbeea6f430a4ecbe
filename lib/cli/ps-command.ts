/**
 * `gpumem ps`: the containers gpumem limits on this host as a table (or JSON lines), a row per
 * container and GPU (lib/truth/rows.ts); `gpumem top` shows the same table refreshed.
 */
import type { Argv } from 'yargs';
import { psRows, type PsRow } from '../truth/rows.js';
import { fitColumns, formatBytes, formatJsonLines, renderTable, type Column } from './table.js';

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
