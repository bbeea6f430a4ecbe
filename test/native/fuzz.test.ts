/** A short libFuzzer run of each C format reader (native/fuzz) over the committed corpus: any crash, hang or broken property fails. */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { appRoot } from '../../lib/paths.js';

const TARGETS = ['size', 'limit', 'config', 'accounting'];
// Short and bounded: 100k executions or 15 s, whichever comes first (docs/fuzzing.md has the long runs).
const RUNS = '100000';
const SECONDS = 15;
const inCI = process.env.CI === 'true' || process.env.CI === '1';

/** Why the fuzzers cannot be built here, or undefined when they can. */
function missingToolchain(): string | undefined {
  const r = spawnSync('clang', ['--print-runtime-dir'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return 'clang is not installed (Debian: apt-get install clang libclang-rt-14-dev)';
  const dir = r.stdout.trim();
  if (!existsSync(dir) || !readdirSync(dir).some((f) => f.startsWith('libclang_rt.fuzzer'))) {
    return `clang has no libFuzzer runtime in ${dir} (Debian: apt-get install libclang-rt-14-dev)`;
  }
  return undefined;
}

const missing = missingToolchain();
if (missing && !inCI) {
  t.plan(0, `skipped: ${missing}`);
} else {
  t.setTimeout(300_000);
  t.test('the fuzzers can be built here', async (t) => {
    // In CI a missing toolchain is a failure: the short run must not quietly stop happening.
    t.equal(missing, undefined, missing ?? 'clang and its libFuzzer runtime are installed');
  });
  const root = appRoot();
  for (const target of TARGETS) {
    t.test(`fuzzing the ${target} reader over the corpus finds no crash, hang or broken property`, { skip: missing !== undefined }, async (t) => {
      const r = spawnSync('bash', [join(root, 'native/fuzz/run.sh'), target, RUNS, `-max_total_time=${SECONDS}`], {
        cwd: root,
        encoding: 'utf8',
        timeout: 240_000,
        maxBuffer: 64 << 20,
      });
      const out = `${r.stdout}${r.stderr}`;
      const last = /fuzz \S+: (\d+) executions in \d+ s, (cov: \d+ ft: \d+), exit (\d+)/.exec(out);
      t.equal(r.status, 0, `run.sh ${target} exits 0`, { output: out.slice(-4000) });
      t.ok(last, 'it reports its executions and coverage', { output: out.slice(-2000) });
      // More than the corpus: the run really fuzzed, it did not stop after replaying the seeds.
      t.ok(Number(last?.[1] ?? 0) >= 1000, `${last?.[1]} executions (${last?.[2]})`);
      t.notMatch(out, /property broken|ERROR: (AddressSanitizer|libFuzzer|UndefinedBehaviorSanitizer)|runtime error:/, 'no sanitizer report or broken property');
    });
  }
}
