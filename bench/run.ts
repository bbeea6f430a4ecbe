/** `npm run bench`: what gpumem costs, as ratios against the same work without it, run side by side. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { formatTable } from '../lib/cli/table.js';
import { benchInterposer, cudartBench } from './interposer.js';
import { benchEngine, engineBenchUnavailable } from './engine.js';
import { benchRuntime, installScratch, runtimeBenchUnavailable } from './runtime.js';
import { benchTraining } from './training.js';
import type { Paired } from './paired.js';

const args = yargs(hideBin(process.argv))
  .scriptName('npm run bench --')
  .option('driver', {
    choices: ['fake', 'real'] as const,
    default: 'fake' as const,
    describe: "fake: the test double (the interposer's own cost); real: this host's GPU (adds cudart pairs and a PyTorch training loop)",
  })
  .option('rounds', { type: 'number', default: 7, describe: 'paired runs per case' })
  .option('runtime', { type: 'boolean', default: true, describe: 'also time container starts: through runc alone, and docker run through a private dockerd (root)' })
  .option('engine-rounds', { type: 'number', default: 21, describe: 'paired docker runs per start case' })
  .option('format', { choices: ['table', 'json'] as const, default: 'table' as const })
  .option('only', { choices: ['pairs', 'training'] as const, describe: 'run one group of cases (a short GPU lease)' })
  .strict()
  .parseSync();

interface Row extends Paired {
  case: string;
  unit: string;
  /** Higher is better (throughput) rather than lower (time). */
  higherIsBetter?: boolean;
}
const rows: Row[] = [];
// Progress on stderr: a rewritten line on a terminal, one line per case in a log.
const progress = (name: string, total = args.rounds) => (i: number, done?: readonly [number, number]) => {
  if (process.stderr.isTTY) {
    if (!done) process.stderr.write(`\r${name}: round ${i + 1}/${total}          `);
  } else if (!done && i === 0) process.stderr.write(`${name}: ${total} paired rounds\n`);
  else if (done) process.stderr.write(`  round ${i + 1}: baseline ${done[0].toFixed(1)}, gpumem ${done[1].toFixed(1)}\n`);
};

const paths: ('driver' | 'cudart')[] = ['driver'];
if (args.driver === 'real') {
  if (cudartBench()) paths.push('cudart');
  else process.stderr.write('cudart pairs: skipped, nvcc could not build bench/gpu/cudart_pairs.cu\n');
}
for (const path of args.only === 'training' ? [] : paths) {
  for (const size of [1 << 20, 512]) {
    const pairs = args.driver === 'fake' ? 200_000 : 10_000;
    const api = path === 'cudart' ? 'cudaMalloc+cudaFree' : 'cuMemAlloc+cuMemFree';
    const name = `${api} ${size === 512 ? '512 B' : '1 MiB'} (${args.driver} driver)`;
    rows.push({ case: name, unit: 'ns/pair', ...benchInterposer({ path, size, pairs }, args.driver, args.rounds, progress(name)) });
  }
}
if (args.driver === 'fake' && args.only !== 'training') {
  // Every kernel launch passes the interposer (code and local memory are charged at a kernel's
  // first launch); its cost per launch is isolated on the fake driver.
  const name = 'cuLaunchKernel, a kernel seen before (fake driver)';
  rows.push({ case: name, unit: 'ns/launch', ...benchInterposer({ path: 'launch', size: 0, pairs: 1_000_000 }, 'fake', args.rounds, progress(name)) });
}
if (args.driver === 'real' && args.only !== 'pairs') {
  const name = 'PyTorch training loop (20 x Linear 1024)';
  rows.push({ case: name, unit: 'steps/s', higherIsBetter: true, ...benchTraining(args.rounds, 600, progress(name)) });
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
  const noEngine = engineBenchUnavailable();
  if (noEngine) process.stderr.write(`\rdocker run starts: skipped, ${noEngine}\n`);
  else {
    for (const { name, result } of benchEngine(args['engine-rounds'], (n) => progress(n, args['engine-rounds']), (s) => process.stderr.write(`\r${s}\n`))) {
      rows.push({ case: name, unit: 'ms', ...result });
    }
  }
}
if (process.stderr.isTTY) process.stderr.write('\r' + ' '.repeat(80) + '\r');

if (args.format === 'json') {
  for (const r of rows) process.stdout.write(JSON.stringify(r) + '\n');
} else {
  process.stdout.write(
    formatTable(
      ['case', 'baseline', 'gpumem', 'difference', 'ratio'],
      rows.map((r) => ({
        case: r.case,
        baseline: `${r.baseline.toFixed(1)} ${r.unit}`,
        gpumem: `${r.candidate.toFixed(1)} ${r.unit}`,
        difference: `${(r.candidate - r.baseline).toFixed(1)} ${r.unit}`,
        ratio: r.ratio.toFixed(4),
      })),
    ),
  );
}
