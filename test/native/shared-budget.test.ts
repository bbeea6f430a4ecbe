// Several processes of one container share one budget through the accounting region.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MiB, accountingUsage, envFor, makeStateDir, program, runProgram, startHolding,
} from './fixtures/native.js';

const limit = BigInt(64 * MiB);

t.test('two processes together never get past the budget', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const a = startHolding('alloc-until-oom', ['--max', '40m', '--hold', '20'], env);
  t.teardown(() => a.child.kill('SIGKILL'));
  t.equal((await a.result).allocated, 40 * MiB, 'the first takes 40 MiB and holds it');

  const b = runProgram('alloc-until-oom-linked', ['--block', '4m'], env);
  t.equal(b.json?.allocated, 24 * MiB, 'the second gets only the remaining 24 MiB');
  t.equal(b.json?.free_before, 24 * MiB, 'and is told only 24 MiB are free');
  t.equal(b.json?.total, 64 * MiB);

  t.same(accountingUsage(state.accounting), { used: [40 * MiB], live: 1 },
    'the host sees what the holder still has; the exited process gave its share back');
  a.child.kill('SIGTERM');
  await a.exited;
});

t.test('processes starting at once share the budget and the region is created once', async (t) => {
  const state = makeStateDir(limit); // no accounting file: the processes race to create it
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const procs = Array.from({ length: 6 }, (_, i) =>
    startHolding(i % 2 ? 'alloc-until-oom' : 'alloc-until-oom-linked', ['--block', '1m', '--hold', '20'], env));
  t.teardown(() => procs.forEach((p) => p.child.kill('SIGKILL')));
  const results = await Promise.all(procs.map((p) => p.result));
  const total = results.reduce((sum, r) => sum + r.allocated, 0);
  t.equal(total, 64 * MiB, `together exactly the budget: ${results.map((r) => r.allocated / MiB).join(' + ')}`);
  t.ok(results.every((r) => r.error === 'CUDA_ERROR_OUT_OF_MEMORY'));
  t.same(accountingUsage(state.accounting), { used: [64 * MiB], live: 6 });
  procs.forEach((p) => p.child.kill('SIGTERM'));
  await Promise.all(procs.map((p) => p.exited));
});

t.test('a process killed with SIGKILL while holding memory gives its share back', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const a = startHolding('alloc-until-oom', ['--block', '4m', '--hold', '30'], env);
  t.equal((await a.result).allocated, 64 * MiB, 'the first takes the whole budget');
  a.child.kill('SIGKILL');
  await a.exited;
  t.same(accountingUsage(state.accounting), { used: [64 * MiB], live: 1 },
    'the dead process is still recorded until someone reclaims it');

  const c = runProgram('alloc-until-oom', ['--block', '4m'], env);
  t.equal(c.json?.allocated, 64 * MiB, 'the next process gets the whole budget');
  t.same(accountingUsage(state.accounting), { used: [0], live: 0 });
});

t.test('a process that exits without freeing gives its share back', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  t.equal(runProgram('alloc-until-oom', [], env).json?.allocated, 64 * MiB);
  t.equal(runProgram('alloc-until-oom', [], env).json?.allocated, 64 * MiB);
});

t.test('the host config wins over GPUMEM_LIMIT in the environment', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, GPUMEM_LIMIT: '1g' } });
  t.equal(runProgram('alloc-until-oom', [], env).json?.allocated, 64 * MiB);
});

t.test('a scribbled accounting region is reported in one line and allocations are refused', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  writeFileSync(state.accounting, randomBytes(4096));
  const r = runProgram('alloc-until-oom', [], envFor({ extra: { GPUMEM_STATE_DIR: state.dir } }));
  t.equal(r.json?.allocated, 0);
  t.equal(r.json?.error, 'CUDA_ERROR_OUT_OF_MEMORY');
  t.match(r.stderr, /^gpumem: .*accounting region has the wrong size\n$/);
});

t.test('a malformed config file is reported in one line and allocations are refused', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  writeFileSync(`${state.dir}/config/gpumem.conf`, 'gpumem-config 1\nlimit lots\n');
  const r = runProgram('alloc-until-oom', [], envFor({ extra: { GPUMEM_STATE_DIR: state.dir } }));
  t.equal(r.json?.allocated, 0);
  t.match(r.stderr, /^gpumem: .*line 2 is not `limit <bytes>`.*\n$/);
});

t.test('a process killed while holding the region lock does not hang the others', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-native-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = spawnSync(program('accounting-robust'), [join(dir, 'accounting')], { encoding: 'utf8', timeout: 10_000 });
  t.same(JSON.parse(r.stdout), { charged: 0, after_owner_died: 0, over_budget: -1, used: 4000 },
    'the lock recovers and the totals are rebuilt from the process slots');
});
