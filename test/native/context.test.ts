// A CUDA context's own device memory is measured when it is created and charged to the budget.
import t from 'tap';
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MiB, accountingUsage, envFor, fakeDriverDir, runJson, runProgram, startHolding,
} from './fixtures/native.js';

interface Probe {
  retain: number; total: number; free_after_retain: number; free_after_second_retain: number;
  create?: number; free_after_create?: number; free_after_destroy?: number;
  release: number; release_again: number;
}

/** An empty state dir shared through GPUMEM_STATE_DIR, budget from GPUMEM_LIMIT. */
function envState(t: { teardown: (fn: () => void) => void }, limit: string, extra: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-ctx-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const env = envFor({
    extra: { GPUMEM_STATE_DIR: dir, GPUMEM_LIMIT: limit, FAKE_CUDA_CONTEXT_MEM: '8m', ...extra },
  });
  return { env, accounting: join(dir, 'shared', 'accounting') };
}

t.test('with an 8 MiB context and a 64 MiB budget a fill gets 56 MiB and the region shows 64 MiB used at the peak', async (t) => {
  for (const name of ['alloc-until-oom', 'alloc-until-oom-linked']) {
    const { env, accounting } = envState(t, '64m');
    const a = startHolding(name, ['--block', '1m', '--hold', '20'], env);
    t.teardown(() => a.child.kill('SIGKILL'));
    const r = await a.result;
    t.equal(r.allocated, 56 * MiB, `${name}: 56 MiB allocated`);
    t.equal(r.free_before, 56 * MiB, `${name}: told 56 MiB free once the context exists`);
    t.same(accountingUsage(accounting), { used: [64 * MiB], live: 1 }, `${name}: 64 MiB charged`);
    a.child.kill('SIGTERM');
    await a.exited;
    t.same(accountingUsage(accounting), { used: [0], live: 0 }, 'the exit gives context and memory back');
  }
});

t.test('two processes under one budget pay two contexts', async (t) => {
  const { env, accounting } = envState(t, '64m');
  const a = startHolding('alloc-until-oom', ['--max', '20m', '--hold', '20'], env);
  t.teardown(() => a.child.kill('SIGKILL'));
  t.equal((await a.result).allocated, 20 * MiB);
  const b = runProgram('alloc-until-oom-linked', ['--block', '1m'], env);
  t.equal(b.json?.allocated, 28 * MiB, '64 - 8 - 20 - 8 = 28 MiB left for the second process');
  t.same(accountingUsage(accounting), { used: [28 * MiB], live: 1 }, 'the holder: its context and 20 MiB');
  a.child.kill('SIGTERM');
  await a.exited;
});

t.test('retaining the primary context again charges nothing more and the last release gives it back', async (t) => {
  const { env, accounting } = envState(t, '64m');
  const p = startHolding('context-probe', ['--hold', '20'], env);
  t.teardown(() => p.child.kill('SIGKILL'));
  const r = (await p.result) as unknown as Probe;
  t.equal(r.retain, 0);
  t.equal(r.total, 64 * MiB);
  t.equal(r.free_after_retain, 56 * MiB, 'the context is charged once');
  t.equal(r.free_after_second_retain, 56 * MiB, 'a second retain is the same context');
  t.equal(r.release, 0);
  t.equal(r.release_again, 0);
  t.same(accountingUsage(accounting), { used: [0], live: 1 }, 'released twice: nothing charged');
  p.child.kill('SIGTERM');
  await p.exited;
});

t.test('a created context is charged what it took and destroying it gives that back', async (t) => {
  const { env } = envState(t, '64m');
  const r = runJson<Probe>('context-probe', ['--create'], env).json!;
  t.equal(r.create, 0, 'cuCtxCreate (cuCtxCreate_v4 at CUDA 13) succeeds');
  t.equal(r.free_after_create, 48 * MiB, 'a second context costs its own 8 MiB');
  t.equal(r.free_after_destroy, 56 * MiB, 'cuCtxDestroy gives it back');
});

t.test('a context larger than the whole budget is refused with CUDA_ERROR_OUT_OF_MEMORY and nothing stays charged', async (t) => {
  const { env, accounting } = envState(t, '4m');
  const r = runJson<Probe>('context-probe', [], env).json!;
  t.equal(r.retain, 2, 'cuDevicePrimaryCtxRetain returns CUDA_ERROR_OUT_OF_MEMORY');
  t.same(accountingUsage(accounting), { used: [0], live: 0 });
  const c = runJson<Probe>('context-probe', ['--create'], { ...env, GPUMEM_LIMIT: '12m' }).json!;
  t.equal(c.free_after_retain, 4 * MiB, 'with room for one context');
  t.equal(c.create, 2, 'a second context that does not fit is refused');
  const fresh = runJson<Probe>('context-probe', [], { ...env, GPUMEM_LIMIT: '12m' }).json!;
  t.equal(fresh.free_after_retain, 4 * MiB, 'and the refused one left nothing charged behind');
});

t.test('the context is charged what this process took even while another tenant allocates', async (t) => {
  const { env, accounting } = envState(t, '64m', { FAKE_NVML_NOISE: '1m' });
  const p = startHolding('context-probe', ['--hold', '20'], env);
  t.teardown(() => p.child.kill('SIGKILL'));
  const r = (await p.result) as unknown as Probe;
  t.equal(r.free_after_retain, 56 * MiB, 'NVML per-process figure: exactly the 8 MiB');
  p.child.kill('SIGTERM');
  await p.exited;
  t.same(accountingUsage(accounting), { used: [0], live: 0 });
});

t.test('without a per-process figure a disturbed measurement is still charged, at least the context', async (t) => {
  const { env } = envState(t, '64m', { FAKE_NVML_NOISE: '1m', FAKE_NVML_HIDE_PIDS: '1' });
  const r = runJson<Probe>('context-probe', [], env).json!;
  t.ok(r.free_after_retain <= 56 * MiB && r.free_after_retain >= 40 * MiB,
    `charged 8 MiB plus what the other tenant took meanwhile (free ${r.free_after_retain / MiB} MiB)`);
});

t.test('without NVML the context cannot be measured and is left uncharged', async (t) => {
  const { env } = envState(t, '64m');
  const lib = mkdtempSync(join(tmpdir(), 'gpumem-ctx-lib-'));
  t.teardown(() => rmSync(lib, { recursive: true, force: true }));
  symlinkSync(join(fakeDriverDir, 'libcuda.so.1'), join(lib, 'libcuda.so.1')); // no libnvidia-ml
  const r = runJson<Probe>('context-probe', [], { ...env, LD_LIBRARY_PATH: lib }).json!;
  t.equal(r.retain, 0, 'the context is still created');
  t.equal(r.free_after_retain, 64 * MiB, 'documented: no NVML, no measurement');
});

t.test('the fake driver takes the context memory from its device and gives it back', async (t) => {
  const r = runJson<Probe>('context-probe', ['--create'], envFor({ preload: false, extra: { FAKE_CUDA_CONTEXT_MEM: '8m' } })).json!;
  t.equal(r.total, 16 * 1024 * MiB);
  t.equal(r.free_after_retain, 16 * 1024 * MiB - 8 * MiB);
  t.equal(r.free_after_create, 16 * 1024 * MiB - 16 * MiB);
  t.equal(r.free_after_destroy, 16 * 1024 * MiB - 8 * MiB);
});
