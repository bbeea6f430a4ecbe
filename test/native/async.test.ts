// Stream-ordered allocation, memory pools and graph memory stay within the budget: a pool is
// charged by what it holds on the device (its reserved memory), not by what is allocated from it.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import {
  MiB, accountingUsage, envFor, makeStateDir, program, startHolding,
} from './fixtures/native.js';

interface Round {
  round: number;
  allocated: number;
  blocks: number;
  error: string | null;
  reserved: number;
  reserved_high: number;
  used: number;
  reserved_after: number;
  plain_after?: string | null;
  calls: Record<string, number>;
}

const budget = 64 * MiB;
const limited = (extra: Record<string, string> = {}) => envFor({ extra: { GPUMEM_LIMIT: '64m', ...extra } });

/** Runs async-fill (or its -lcuda build) and returns its JSON lines, one per round. */
const fill = (args: string[], env = limited(), linked = false) => {
  const r = spawnSync(program(linked ? 'async-fill-linked' : 'async-fill'), args, { env, encoding: 'utf8', timeout: 30_000 });
  const rounds = r.stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Round);
  return { rounds, first: rounds[0]!, last: rounds[rounds.length - 1]!, stderr: r.stderr, status: r.status };
};

const ways = [
  { name: 'looked up through cuGetProcAddress as cudart does', args: [] as string[], linked: false },
  { name: 'found with dlsym', args: ['--dlsym'], linked: false },
  { name: 'linked with -lcuda', args: [] as string[], linked: true },
];

for (const mode of ['default', 'pool'] as const) {
  const what = mode === 'default' ? "cuMemAllocAsync (the device's pool)" : 'cuMemAllocFromPoolAsync (an explicit pool)';
  for (const way of ways) {
    t.test(`${what}, ${way.name}: under GPUMEM_LIMIT=64m the fill stops at the budget and the pool never holds more`, async (t) => {
      const r = fill(['--mode', mode, ...way.args], limited(), way.linked);
      t.equal(r.status, 0, r.stderr);
      t.ok(r.first.allocated <= budget && r.first.allocated >= 48 * MiB, `allocated ${r.first.allocated / MiB} MiB`);
      t.equal(r.first.error, 'CUDA_ERROR_OUT_OF_MEMORY');
      t.ok(r.first.reserved_high <= budget, `the fake device's pool peaked at ${r.first.reserved_high / MiB} MiB`);
      t.equal(r.stderr, '', 'nothing is printed on stderr');
    });
  }
}

t.test('without the interposer an async fill gets the whole fake GPU', async (t) => {
  const r = fill([], envFor({ preload: false, extra: { FAKE_CUDA_DEVICE_MEM: '256m' } }));
  t.equal(r.first.allocated, 256 * MiB);
  t.equal(r.first.reserved_high, 256 * MiB);
});

t.test('with the interposer but no budget, async allocations are not limited', async (t) => {
  const r = fill([], envFor({ extra: { FAKE_CUDA_DEVICE_MEM: '256m' } }));
  t.equal(r.first.allocated, 256 * MiB);
  t.equal(r.stderr, '');
});

for (const way of ways) {
  t.test(`per-thread-stream (_ptsz) entries, ${way.name}, are wrapped, call the driver's _ptsz functions and are limited`, async (t) => {
    const d = fill(['--ptsz', ...way.args], limited(), way.linked);
    t.ok(d.first.allocated <= budget && d.first.allocated >= 48 * MiB, `allocated ${d.first.allocated / MiB} MiB`);
    t.equal(d.first.error, 'CUDA_ERROR_OUT_OF_MEMORY');
    t.equal(d.first.calls.cuMemAllocAsync_ptsz, d.first.blocks, 'every allocation reached cuMemAllocAsync_ptsz');
    t.equal(d.first.calls.cuMemAllocAsync, 0, 'none reached the legacy-stream cuMemAllocAsync');
    const p = fill(['--ptsz', '--mode', 'pool', ...way.args], limited(), way.linked);
    t.ok(p.first.allocated <= budget && p.first.allocated >= 48 * MiB);
    t.equal(p.first.calls.cuMemAllocFromPoolAsync_ptsz, p.first.blocks);
    t.equal(p.first.calls.cuMemAllocFromPoolAsync, 0);
    const g = fill(['--ptsz', '--mode', 'graph', ...way.args], limited(), way.linked);
    t.ok(g.first.calls.cuGraphLaunch_ptsz > 0 && g.first.calls.cuGraphLaunch === 0, 'graphs launch through cuGraphLaunch_ptsz');
  });
}

t.test('without flags the plain entries are called, never the _ptsz ones', async (t) => {
  const r = fill([]);
  t.equal(r.first.calls.cuMemAllocAsync, r.first.blocks);
  t.equal(r.first.calls.cuMemAllocAsync_ptsz, 0);
});

t.test('cuGetProcAddress hands out the wrapper of the variant the flags ask for, at the right versions', async (t) => {
  const queries = [
    'cuMemAllocAsync:13000:0', 'cuMemAllocAsync:13000:2', 'cuMemFreeAsync:12000:2', 'cuMemAllocFromPoolAsync:11020:2',
    'cuGraphLaunch:12000:2', 'cuGraphLaunch:12000:1', 'cuGraphInstantiate:12000:0', 'cuGraphInstantiate:11040:0',
    'cuGraphInstantiateWithParams:12000:2', 'cuMemPoolTrimTo:12000:2', 'cuMemAllocAsync:11010:0', 'cuMemPoolGetAttribute:12000:0',
  ];
  const r = spawnSync(program('procaddress-probe'), queries, { env: limited(), encoding: 'utf8' });
  const a = Object.fromEntries((JSON.parse(r.stdout) as { query: string }[]).map((q) => [q.query, q]));
  const ours = (q: string, name: string) => t.match(a[q], { rc: 0, status: 0, from: 'libgpumem.so', name }, q);
  ours('cuMemAllocAsync:13000:0', 'cuMemAllocAsync');
  ours('cuMemAllocAsync:13000:2', 'cuMemAllocAsync_ptsz');
  ours('cuMemFreeAsync:12000:2', 'cuMemFreeAsync_ptsz');
  ours('cuMemAllocFromPoolAsync:11020:2', 'cuMemAllocFromPoolAsync_ptsz');
  ours('cuGraphLaunch:12000:2', 'cuGraphLaunch_ptsz');
  ours('cuGraphLaunch:12000:1', 'cuGraphLaunch');
  ours('cuGraphInstantiate:12000:0', 'cuGraphInstantiateWithFlags');
  ours('cuGraphInstantiate:11040:0', 'cuGraphInstantiate_v2');
  ours('cuGraphInstantiateWithParams:12000:2', 'cuGraphInstantiateWithParams_ptsz');
  ours('cuMemPoolTrimTo:12000:2', 'cuMemPoolTrimTo');
  t.match(a['cuMemAllocAsync:11010:0'], { rc: 500, status: 2, from: 'null' }, 'before CUDA 11.2 it does not exist');
  t.match(a['cuMemPoolGetAttribute:12000:0'], { rc: 0, from: 'libcuda.so.1' }, 'queries are not wrapped');
});

t.test('memory freed with cuMemFreeAsync and trimmed lets the next fill get the whole budget again', async (t) => {
  for (const mode of ['default', 'pool']) {
    const r = fill(['--mode', mode, '--rounds', '2', '--trim']);
    t.equal(r.first.reserved_after, 0, `${mode}: the trimmed pool holds nothing`);
    t.equal(r.last.allocated, r.first.allocated, `${mode}: the second fill gets as much as the first`);
    t.ok(r.last.reserved_high <= budget);
  }
  const synced = fill(['--rounds', '2']);
  t.equal(synced.first.reserved_after, 0, 'release threshold 0: synchronizing gave the memory back');
  t.equal(synced.last.allocated, synced.first.allocated, 'and the budget followed');
});

t.test('a pool that keeps freed memory is still charged: the budget counts what the device holds', async (t) => {
  for (const mode of ['default', 'pool']) {
    const r = fill(['--mode', mode, '--keep', '--rounds', '2', '--plain-after']);
    t.equal(r.first.reserved_after, r.first.allocated, `${mode}: all freed, and the pool still holds it`);
    t.equal(r.last.plain_after, 'CUDA_ERROR_OUT_OF_MEMORY', `${mode}: so a cuMemAlloc finds no budget left`);
    t.equal(r.last.allocated, r.first.allocated, `${mode}: while the pool itself serves the next fill from what it holds`);
    t.ok(r.last.reserved_high <= budget);
  }
  const state = makeStateDir(BigInt(budget), { createAccounting: true });
  t.teardown(state.cleanup);
  const held = startHolding('async-fill', ['--keep', '--plain-after', '--hold', '20'],
    envFor({ extra: { GPUMEM_STATE_DIR: state.dir } }));
  t.teardown(() => held.child.kill('SIGKILL'));
  const line = (await held.result) as unknown as Round;
  t.equal(accountingUsage(state.accounting).used?.[0], line.reserved_after,
    'the host sees the pool\'s reserved memory charged, though nothing is allocated from it');
  held.child.kill('SIGKILL');
  await held.exited;
});

t.test('a pool that grows past the budget in one step is trimmed back and the allocation refused', async (t) => {
  const r = fill([], limited({ GPUMEM_LIMIT: '16m', FAKE_CUDA_POOL_CHUNK: '32m' }));
  t.equal(r.first.allocated, 0);
  t.equal(r.first.error, 'CUDA_ERROR_OUT_OF_MEMORY');
  t.equal(r.first.reserved, 0, 'the 32 MiB chunk the driver took was given back');
  const s = fill([], limited({ GPUMEM_LIMIT: '48m', FAKE_CUDA_POOL_CHUNK: '32m' }));
  t.equal(s.first.allocated, 32 * MiB, 'one chunk fits a 48 MiB budget, two do not');
  t.ok(s.first.reserved_high <= 48 * MiB, 'once the chunk size is seen, the second chunk is refused before it is taken');
});

for (const way of ways) {
  t.test(`graph memory nodes, ${way.name}: launches are charged and refused past the budget`, async (t) => {
    const r = fill(['--mode', 'graph', ...way.args], limited(), way.linked);
    t.equal(r.status, 0, r.stderr);
    t.ok(r.first.allocated <= budget && r.first.allocated >= 48 * MiB, `largest graph launched: ${r.first.allocated / MiB} MiB`);
    t.equal(r.first.error, 'CUDA_ERROR_OUT_OF_MEMORY', 'the next larger graph is refused at launch');
    t.ok(r.first.reserved_high <= budget, `the graph pool peaked at ${r.first.reserved_high / MiB} MiB`);
    t.equal(r.first.calls.cuGraphLaunch, 3 * r.first.blocks, 'every graph that fits is launched three times');
  });
}

t.test('graph memory the pool keeps after launches is charged until trimmed', async (t) => {
  const state = makeStateDir(BigInt(budget), { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const held = startHolding('async-fill', ['--mode', 'graph', '--max', '24m', '--hold', '20'], env);
  t.teardown(() => held.child.kill('SIGKILL'));
  const line = (await held.result) as unknown as Round;
  t.ok(line.reserved > 0 && line.reserved <= budget, `the graph pool holds ${line.reserved / MiB} MiB`);
  t.equal(accountingUsage(state.accounting).used?.[0], line.reserved, 'and exactly that is charged');
  held.child.kill('SIGKILL');
  await held.exited;
  const trimmed = fill(['--mode', 'graph', '--max', '24m', '--trim'], limited());
  t.equal(trimmed.first.reserved_after, 0, 'cuDeviceGraphMemTrim gives it back');
});

t.test('after the process exits, the budget is whole again', async (t) => {
  const state = makeStateDir(BigInt(budget), { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  for (const mode of ['default', 'pool', 'graph']) {
    const a = fill(['--mode', mode], env);
    t.ok(a.first.allocated >= 48 * MiB, `${mode}: filled ${a.first.allocated / MiB} MiB and exited holding it`);
    t.same(accountingUsage(state.accounting), { used: [0], live: 0 }, `${mode}: nothing is charged after exit`);
    t.equal(fill(['--mode', mode], env).first.allocated, a.first.allocated, `${mode}: the next process gets it all`);
  }
});

t.test('two processes filling pools at once share one budget', async (t) => {
  const state = makeStateDir(BigInt(budget), { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const a = startHolding('async-fill', ['--max', '40m', '--hold', '20'], env);
  t.teardown(() => a.child.kill('SIGKILL'));
  const first = (await a.result) as unknown as Round;
  const b = fill(['--mode', 'pool'], env);
  t.ok(first.allocated + b.first.allocated <= budget, `${first.allocated / MiB} + ${b.first.allocated / MiB} MiB`);
  t.ok(b.first.allocated >= 16 * MiB, 'the second still gets what is left');
  a.child.kill('SIGKILL');
  await a.exited;
});
