/** `npm run bench`: what gpumem costs, as ratios against the same work without it, run side by side. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { formatTable } from '../lib/cli/table.js';
import { benchInterposer } from './interposer.js';
import { benchRuntime, installScratch, runtimeBenchUnavailable } from './runtime.js';
import type { Paired } from './paired.js';

const args = yargs(hideBin(process.argv))
  .scriptName('npm run bench --')
  .option('driver', { choices: ['fake', 'real'] as const, default: 'fake' as const, describe: 'fake: the test double; real: this host\'s GPU' })
  .option('rounds', { type: 'number', default: 7, describe: 'paired runs per case' })
  .option('runtime', { type: 'boolean', default: true, describe: 'also time container starts (root, runc)' })
  .option('format', { choices: ['table', 'json'] as const, default: 'table' as const })
  .strict()
  .parseSync();

interface Row extends Paired {
  case: string;
  unit: string;
}
const rows: Row[] = [];
const progress = (name: string) => (i: number) => process.stderr.write(`\r${name}: round ${i + 1}/${args.rounds}   `);

const pairsFor = (size: number): number => (args.driver === 'fake' ? 200_000 : size > 4096 ? 2_000 : 20_000);
for (const size of [1 << 20, 512]) {
  const name = `cuMemAlloc+cuMemFree ${size === 512 ? '512 B' : '1 MiB'} (${args.driver} driver)`;
  const r = benchInterposer({ size, pairs: pairsFor(size) }, args.driver, args.rounds, progress(name));
  rows.push({ case: name, unit: 'ns/pair', ...r });
}

if (args.runtime) {
  const why = runtimeBenchUnavailable();
  if (why) process.stderr.write(`\rcontainer start: skipped, ${why}\n`);
  else {
    process.stderr.write('\rinstalling gpumem under /tmp/gpumem-bench/prefix ...\n');
    const runtime = installScratch();
    rows.push({ case: 'container start, no limit (pass-through)', unit: 'ms', ...benchRuntime(runtime, false, args.rounds, progress('pass-through')) });
    rows.push({ case: 'container start, gpumem.io/limit=1g', unit: 'ms', ...benchRuntime(runtime, true, args.rounds, progress('limited')) });
  }
}
process.stderr.write('\r' + ' '.repeat(72) + '\r');

if (args.format === 'json') {
  for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
} else {
  process.stdout.write(
    formatTable(
      ['case', 'baseline', 'gpumem', 'added', 'ratio'],
      rows.map((r) => ({
        case: r.case,
        baseline: `${r.baseline.toFixed(1)} ${r.unit}`,
        gpumem: `${r.candidate.toFixed(1)} ${r.unit}`,
        added: `${(r.candidate - r.baseline).toFixed(1)} ${r.unit}`,
        ratio: r.ratio.toFixed(3),
      })),
    ),
  );
}
