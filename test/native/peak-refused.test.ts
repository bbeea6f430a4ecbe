// The accounting region's peak and refusal count per GPU, as gpumem ps and the exporter read
// them through the host library: the most a container's processes held together, and how many
// calls its budget refused.
import t from 'tap';
import { rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import * as host from '../../lib/ffi/native.js';
import { MiB, envFor, makeStateDir, program, runProgram, scribbleRegion, startHolding, writeConfig } from './fixtures/native.js';

const limit = BigInt(64 * MiB);

/** Peak and refusals of GPUs 0 and 1, and the total held now on them, as the host reads them. */
function stats(path: string) {
  const u = host.accountingUsage(path);
  const at = (m: Map<number, number> | undefined, g: number) => m?.get(g) ?? 0;
  return {
    used: [at(u.usedPerGpu, 0), at(u.usedPerGpu, 1)],
    peak: [at(u.peak, 0), at(u.peak, 1)],
    refused: [at(u.refused, 0), at(u.refused, 1)],
  };
}

t.test('two processes of one container: the peak is what they held together, each refusal is counted, per GPU', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  writeConfig(join(state.dir, 'config', 'gpumem.conf'), limit, [0n, BigInt(32 * MiB)]); // GPU 0: 64 MiB, GPU 1: 32 MiB
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_DEVICE_COUNT: '2' } });
  t.same(stats(state.accounting), { used: [0, 0], peak: [0, 0], refused: [0, 0] }, 'a fresh region has neither');

  // GPU 0: 40 MiB held while a second process asks for 30 MiB and is refused after 24.
  const a = startHolding('alloc-until-oom', ['--max', '40m', '--hold', '20', '--device', '0'], env);
  t.teardown(() => a.child.kill('SIGKILL'));
  t.match(await a.result, { allocated: 40 * MiB, error: null }, 'the first takes 40 MiB without a refusal');
  const b = runProgram('alloc-until-oom', ['--max', '30m', '--device', '0'], env);
  t.match(b.json, { allocated: 24 * MiB, error: 'CUDA_ERROR_OUT_OF_MEMORY' }, 'the second gets 24 MiB, then one refusal');

  // GPU 1: two fills one after the other, each refused once at 32 MiB.
  for (const name of ['alloc-until-oom', 'alloc-until-oom-linked']) {
    t.match(runProgram(name, ['--device', '1'], env).json, { allocated: 32 * MiB, error: 'CUDA_ERROR_OUT_OF_MEMORY' });
  }
  t.same(stats(state.accounting), { used: [40 * MiB, 0], peak: [64 * MiB, 32 * MiB], refused: [1, 2] },
    'peak 40 + 24 MiB on GPU 0 and 32 MiB on GPU 1 (one after the other, never together); 1 and 2 refusals');

  a.child.kill('SIGTERM');
  await a.exited;
  t.same(stats(state.accounting), { used: [0, 0], peak: [64 * MiB, 32 * MiB], refused: [1, 2] },
    'when everything is given back the peak and the refusals stay');
});

t.test('a VMM refusal and a stream-ordered refusal are counted like any other', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const vmm = runProgram('alloc-until-oom', ['--api', 'vmm', '--block', '8m'], env);
  t.match(vmm.json, { allocated: 64 * MiB, error: 'CUDA_ERROR_OUT_OF_MEMORY' }, 'cuMemCreate is refused past 64 MiB');
  t.match(stats(state.accounting), { peak: [64 * MiB], refused: [1] }, 'one refusal, peak the whole budget');

  const r = spawnSync(program('async-fill'), ['--mode', 'pool', '--block', '8m'], { env, encoding: 'utf8', timeout: 20_000 });
  const round = JSON.parse(r.stdout.trim().split('\n')[0] ?? '{}') as { error?: string };
  t.equal(round.error, 'CUDA_ERROR_OUT_OF_MEMORY', 'an explicit pool is refused at the budget', { stderr: r.stderr });
  t.match(stats(state.accounting), { used: [0], peak: [64 * MiB], refused: [2] }, 'a second refusal; the peak does not pass the budget');
});

t.test('a context the budget cannot hold is a refusal too', async (t) => {
  const state = makeStateDir(BigInt(16 * MiB), { createAccounting: true });
  t.teardown(state.cleanup);
  // Each context costs 64 MiB on the fake driver: it does not fit a 16 MiB budget.
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_CONTEXT_MEM: '64m' } });
  const r = runProgram('alloc-until-oom', [], env);
  t.not(r.status, 0, 'the program cannot get its context', { stderr: r.stderr });
  t.equal(stats(state.accounting).refused[0], 1, 'its one retain is counted as refused');
  t.equal(stats(state.accounting).used[0], 0, 'and nothing stays charged');
});

t.test('a scribbled peak or refusal count is reported, never crashes or hangs the host reader', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const a = startHolding('alloc-until-oom', ['--max', '16m', '--hold', '20'], env);
  t.teardown(() => a.child.kill('SIGKILL'));
  await a.result;
  scribbleRegion(state.accounting, 'peak.0', 0);
  t.equal(stats(state.accounting).peak[0], 16 * MiB, 'a peak zeroed below what is held is shown as what is held');
  scribbleRegion(state.accounting, 'peak.0', 0xffffffffffffffffn);
  scribbleRegion(state.accounting, 'refused.0', 0xffffffffffffffffn);
  scribbleRegion(state.accounting, 'refused.63', 0x8000000000000000n);
  const u = host.accountingUsage(state.accounting);
  t.equal(u.peak?.get(0), 2 ** 64, 'the largest peak is read back as a number');
  t.equal(u.refused?.get(0), 2 ** 64);
  t.equal(u.refused?.get(63), 2 ** 63);
  t.equal(u.usedPerGpu.get(0), 16 * MiB, 'the rest of the region reads as before');
  const b = runProgram('alloc-until-oom', ['--max', '8m'], env);
  t.equal(b.json?.allocated, 8 * MiB, 'and the budget still holds for the container (the counters decide nothing)');
  a.child.kill('SIGTERM');
  await a.exited;
});

t.test('a region of the previous layout (version 3) is refused in one line naming the version', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  scribbleRegion(state.accounting, 'version', 3);
  t.throws(() => host.accountingUsage(state.accounting), /unsupported version \(3; this gpumem reads version 4: .*restart it\)$/);
  // Smaller as well, as an older release made it: still named by its version, not its size.
  const short = Buffer.alloc(4096);
  short.write('gpumemA\n', 0, 'latin1');
  short.writeUInt32LE(3, 8);
  rmSync(state.accounting);
  writeFileSync(state.accounting, short);
  t.throws(() => host.accountingUsage(state.accounting), /unsupported version \(3;/);
  const r = runProgram('alloc-until-oom', [], envFor({ extra: { GPUMEM_STATE_DIR: state.dir } }));
  t.equal(r.json?.allocated, 0, 'a process there refuses every allocation (failed closed)');
  t.match(r.stderr, /gpumem: .*unsupported version \(3;/, 'and says why in one line');
});
