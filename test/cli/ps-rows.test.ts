// The region's peak and refused counters, where its report has them, are the rows' PEAK and
// REFUSED (per GPU; a container whose GPUs are not known shows the refusals of all of them and no
// peak); a region without them shows "-" (null), never 0.
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { psTable } from '../../lib/cli/ps-command.js';
import { rowsOf } from '../../lib/truth/rows.js';
import type { ContainerLook } from '../../lib/truth/look.js';

process.env.GPUMEM_STATE_ROOT = mkdtempSync(join(tmpdir(), 'gpumem-rows-'));
const MiB = 2 ** 20;
const id = 'f'.repeat(64);

function look(counters: { peak?: Map<number, number>; refused?: Map<number, number> }, perGpu: Map<number, number>, all?: number): ContainerLook {
  return {
    id,
    config: { perGpu, ...(all === undefined ? {} : { all }), uuids: new Map([...perGpu.keys()].map((g) => [g, `GPU-0000000${g}-0000-0000-0000-000000000000`])) },
    usage: { usedPerGpu: new Map([[0, 10 * MiB]]), driverPerGpu: new Map(), processes: 1, driverUnseen: 0, ...counters } as ContainerLook['usage'],
    region: new Map([[0, 10 * MiB]]),
    truth: null,
  };
}

t.test('a region that counts peak and refused allocations shows them per GPU', async (t) => {
  const rows = rowsOf(look({ peak: new Map([[0, 60 * MiB]]), refused: new Map([[0, 3]]) }, new Map([[0, 64 * MiB], [1, 64 * MiB]])), [], 'trainer');
  t.match(rows, [{ gpu: '0', peak: 60 * MiB, refused: 3 }, { gpu: '1', peak: 0, refused: 0 }]);
  const table = psTable(rows, { width: 200 }).split('\n');
  t.match(table[1], /^f{12}\s+trainer\s+0\s+GPU-00000000\s+64MiB\s+10MiB\s+0B\s+60MiB\s+3\s+1\s+ok$/);
  t.match(table[2], /^f{12}\s+trainer\s+1\s+GPU-00000001\s+64MiB\s+0B\s+0B\s+0B\s+0\s+1\s+ok$/);
});

t.test('a region without the counters shows - for them, and a container of unknown GPUs the refusals of all', async (t) => {
  t.match(rowsOf(look({}, new Map([[0, 64 * MiB]])), [], null), [{ peak: null, refused: null }]);
  t.match(rowsOf(look({ peak: new Map([[0, 9]]), refused: new Map([[0, 2], [3, 1]]) }, new Map(), 64 * MiB), [], null), [{ gpu: '0', peak: 9, refused: 2 }]);
  const unknown: ContainerLook = { ...look({ refused: new Map([[0, 2], [3, 1]]) }, new Map(), 64 * MiB), region: new Map() };
  (unknown.usage as { usedPerGpu: Map<number, number> }).usedPerGpu = new Map();
  t.match(rowsOf(unknown, [], null), [{ gpu: 'all', peak: null, refused: 3 }]);
});
