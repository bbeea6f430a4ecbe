// Memory the driver takes without an allocation call (code it loads, local memory, the device
// heap) is charged to the budget: refused beforehand where a call can be refused, measured from
// NVML's per-process figure at once or within a reconcile tick otherwise. Against the fake driver,
// which takes such memory on launches, module loads and limit raises (fakes/fake_cuda_code.c).
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MiB, envFor, makeStateDir, program, runJson, runProgram, accountingUsage } from './fixtures/native.js';

interface Step { op: string; rc: number; used: number; free: number; device_used: number }
interface Probe { steps: Step[]; total: number; device_peak: number }

const OOM = 2; // CUDA_ERROR_OUT_OF_MEMORY

function probe(args: string[], extra: Record<string, string> = {}) {
  const r = runJson<Probe>('driver-taken-probe', args, envFor({ extra: { GPUMEM_LIMIT: '64m', ...extra } }));
  if (!r.json) throw new Error(`driver-taken-probe failed: ${r.stderr}`);
  return { ...r.json, stderr: r.stderr };
}
const last = (p: Probe) => p.steps[p.steps.length - 1]!;

t.test('code a kernel\'s first launch makes the driver load is charged as soon as the launch returns', async (t) => {
  const p = probe(['load', '8m', 'func', '0', 'launch']);
  t.equal(p.steps[0]!.used, 0, 'a lazy module load takes nothing yet');
  t.equal(last(p).device_used, 8 * MiB, 'the fake driver loaded 8 MiB of code at the launch');
  t.equal(last(p).used, 8 * MiB, 'and the budget shows it at once');
  t.equal(last(p).free, 56 * MiB, 'free = budget minus everything charged, driver-taken included');
});

t.test('a kernel whose local memory would pass the budget is refused before the driver grows it', async (t) => {
  // 32 KiB per thread on the fake's 1024 threads = 31 MiB of growth beyond the 1 KiB stack.
  const p = probe(['alloc', '40m', 'load', '1m', 'func', '32768', 'launch', 'func', '8192', 'launch']);
  t.equal(p.steps[3]!.rc, OOM, 'CUDA_ERROR_OUT_OF_MEMORY from cuLaunchKernel');
  t.equal(p.steps[3]!.device_used, 40 * MiB, 'the device never took the growth (nor the code)');
  t.equal(p.steps[5]!.rc, 0, 'a kernel that fits launches');
  t.equal(p.steps[5]!.used, 40 * MiB + 1 * MiB + 7 * MiB, 'its code and 7 MiB of local memory are charged');
  t.equal(p.steps[5]!.used, p.steps[5]!.device_used, 'exactly what the device holds');
  t.ok(p.device_peak <= 64 * MiB, `the device never held more than the budget (peak ${p.device_peak / MiB} MiB)`);
});

t.test('raising the stack, heap or printf FIFO limit is charged, or refused when it does not fit', async (t) => {
  const p = probe(['alloc', '8m', 'stack', '65536', 'stack', '16384', 'heap', '32m', 'heap', '128m', 'fifo', '2m']);
  const [, stackBig, stack, heap, heapBig, fifo] = p.steps;
  t.equal(stackBig!.rc, OOM, 'a 64 KiB stack (63 MiB more) does not fit next to 8 MiB');
  t.equal(stackBig!.device_used, 8 * MiB, 'and the device never took it');
  t.equal(stack!.rc, 0);
  t.equal(stack!.used, 8 * MiB + 15 * MiB, 'a 16 KiB stack: 15 KiB more per thread, charged');
  t.equal(heap!.used, stack!.used + 24 * MiB, 'the heap raised from 8 to 32 MiB: 24 MiB charged');
  t.equal(heapBig!.rc, OOM, 'a 128 MiB heap does not fit');
  t.equal(fifo!.used, heap!.used + 1 * MiB, 'the FIFO raised from 1 to 2 MiB');
  t.equal(fifo!.used, fifo!.device_used, 'the budget shows exactly what the device holds');
  t.ok(p.device_peak <= 64 * MiB);
});

t.test('an eager module load that no longer fits is unloaded and refused', async (t) => {
  const p = probe(['alloc', '60m', 'load', '8m', 'load', '2m'], { FAKE_CUDA_MODULE_LOADING: 'EAGER' });
  t.equal(p.steps[1]!.rc, OOM, 'CUDA_ERROR_OUT_OF_MEMORY from cuModuleLoadData');
  t.equal(p.steps[1]!.device_used, 60 * MiB, 'the module is gone again');
  t.equal(p.steps[1]!.used, 60 * MiB, 'and nothing of it stays charged');
  t.equal(p.steps[2]!.rc, 0, 'a module that fits loads');
  t.equal(p.steps[2]!.used, 62 * MiB);
  // Documented (native/README.md): the code is on the device between the load and the unload.
  t.ok(p.device_peak <= 64 * MiB + 8 * MiB, 'past the budget by at most the refused module, for that moment');
});

t.test('memory the driver takes outside any call is charged by the background reconcile within two ticks', async (t) => {
  const p = probe(['take', '4m', 'sleep', '500', 'alloc', '64m', 'alloc', '56m']);
  t.equal(p.steps[0]!.used, 0, 'nothing the interposer could see at that moment');
  t.equal(p.steps[1]!.used, 4 * MiB, 'seen within 500 ms');
  t.equal(p.steps[2]!.rc, OOM, 'so the whole budget can no longer be allocated');
  t.equal(p.steps[3]!.rc, 0, 'what is left can');
  t.equal(last(p).used, 60 * MiB);
});

t.test('managed memory is charged once: NVML leaves it out of the process figure and so does the measurement', async (t) => {
  const p = probe(['managed', '16m', 'sleep', '300', 'alloc', '48m', 'alloc', '1m']);
  t.equal(p.steps[1]!.used, 16 * MiB, 'still 16 MiB after a reconcile tick');
  t.equal(p.steps[2]!.rc, 0, 'the rest of the budget is there');
  t.equal(p.steps[3]!.rc, OOM);
});

for (const [what, extra] of [
  ['lists no processes (drivers before 535 inside a container)', { FAKE_NVML_HIDE_PIDS: '1' }],
  ['lists the process under its host pid', { FAKE_NVML_HOST_PIDS: '1' }],
] as const) {
  t.test(`when NVML ${what}, allocations and limits are still enforced and the process says once that driver-taken memory is unseen`, async (t) => {
    const p = probe(['take', '4m', 'sleep', '300', 'alloc', '8m', 'stack', '65536', 'stack', '16384', 'alloc', '64m', 'alloc', '32m'], extra);
    t.equal(p.steps[1]!.used, 0, 'memory taken outside any call is not seen');
    t.equal(p.steps[3]!.rc, OOM, 'a stack raise past the budget is still refused beforehand');
    t.equal(p.steps[4]!.used, 8 * MiB + 15 * MiB, 'a stack raise that fits is charged by what it provisions');
    t.equal(p.steps[5]!.rc, OOM, 'allocations past the budget are refused');
    t.equal(p.steps[6]!.rc, 0, 'and those within it granted');
    const lines = p.stderr.trim().split('\n').filter((l) => l.includes('driver takes'));
    t.equal(lines.length, 1, 'one line, once');
    t.match(lines[0], /^gpumem: NVML shows no per-process memory .*not charged$/);
  });
}

t.test('inside a pid namespace, as in a container, the process finds itself in NVML under the pid it sees', async (t) => {
  const env = envFor({ extra: { GPUMEM_LIMIT: '64m' } });
  const r = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', program('driver-taken-probe'), 'take', '4m', 'sleep', '500'],
    { env, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const p = JSON.parse(r.stdout) as Probe;
  t.equal(last(p).used, 4 * MiB, 'the driver-taken 4 MiB is charged');
  t.notMatch(r.stderr, /no per-process memory/);
});

t.test('a process that died but was not reaped gives its charge back: a zombie holds no device memory', async (t) => {
  const state = makeStateDir(64n * BigInt(MiB));
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  // The shell starts the holder, then becomes `sleep`, which never reaps it.
  const parent = spawn('sh', ['-c', `"${program('fill-on-signal')}" 64m >/dev/null & echo $!; exec sleep 30`], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  t.teardown(() => parent.kill('SIGKILL'));
  const pid = await new Promise<number>((ok) => parent.stdout!.once('data', (d: Buffer) => ok(Number(d.toString().trim()))));
  for (let i = 0; i < 100 && (accountingUsage(state.accounting).used?.[0] ?? 0) < 64 * MiB; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(accountingUsage(state.accounting).used?.[0], 64 * MiB, 'the holder took the whole budget');
  process.kill(pid, 'SIGKILL');
  await new Promise((r) => setTimeout(r, 200));
  t.match(spawnSync('cat', [`/proc/${pid}/stat`], { encoding: 'utf8' }).stdout, /\) Z /, 'it is a zombie now');
  const r = runProgram('alloc-until-oom', ['--block', '1m', '--max', '1g'], env);
  t.equal(r.json?.allocated, 64 * MiB, 'the next process gets the whole budget');
});

t.test('standalone, GPUMEM_LIMIT gives a whole process tree one budget from the start, and the tree cleans up after itself', async (t) => {
  const tmp = mkdtempSync(join(tmpdir(), 'gpumem-tree-'));
  t.teardown(() => rmSync(tmp, { recursive: true, force: true }));
  const env = envFor({ extra: { GPUMEM_LIMIT: '64m', TMPDIR: tmp } });
  const fill = `"${program('alloc-until-oom')}" --block 1m --max 1g --hold 1`;
  // The shell never touches CUDA: the budget must still be one for both of its children.
  const r = spawnSync('sh', ['-c', `${fill} & ${fill}; wait`], { env, encoding: 'utf8' });
  const allocated = r.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { allocated: number }).allocated);
  t.equal(allocated.length, 2);
  t.equal(allocated[0]! + allocated[1]!, 64 * MiB, `together 64 MiB (${allocated.map((a) => a / MiB).join(' + ')})`);
  t.same(readdirSync(tmp), [], 'the private state dir is gone with the last process');
});

t.test('where the host configured the container, GPUMEM_STATE_DIR and GPUMEM_LIMIT inside it change nothing', async (t) => {
  const other = mkdtempSync(join(tmpdir(), 'gpumem-elsewhere-'));
  t.teardown(() => rmSync(other, { recursive: true, force: true }));
  const script = [
    'set -e',
    'mount -t tmpfs none /run/gpumem 2>/dev/null || { mkdir -p /run/gpumem && mount -t tmpfs none /run/gpumem; }',
    'mkdir /run/gpumem/config /run/gpumem/shared',
    `printf 'gpumem-config 1\\nlimit ${32 * MiB}\\n' > /run/gpumem/config/gpumem.conf`,
    `exec "${program('alloc-until-oom')}" --block 1m --max 1g`,
  ].join('\n');
  const env = envFor({ extra: { GPUMEM_STATE_DIR: other, GPUMEM_LIMIT: '1g' } });
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { env, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout.trim()) as { allocated: number; total: number };
  t.equal(j.allocated, 32 * MiB, 'the host config\'s 32 MiB holds');
  t.equal(j.total, 32 * MiB);
  t.same(readdirSync(other), [], 'the directory the variable names was never used');
});

t.test('a process\'s first kernel launch needs room for the code it loads; later ones keep a headroom above what was measured', async (t) => {
  // A 512 MiB context (as large as a real one): its first launch must find 5/16 of it, 160 MiB,
  // free; 1/32 of it, 16 MiB, is held back above what the driver was measured to take.
  const extra = { GPUMEM_LIMIT: '1g', FAKE_CUDA_CONTEXT_MEM: '512m' };
  const p = probe(['alloc', '400m', 'load', '8m', 'func', '0', 'launch', 'free', 'launch', 'load', '4m', 'func', '0', 'launch'], extra);
  const [alloc, , , full, freed, first, , , second] = p.steps;
  t.equal(alloc!.used, 512 * MiB + 16 * MiB + 400 * MiB, 'context, headroom and the allocation');
  t.equal(full!.rc, OOM, 'with 96 MiB left the first launch is refused: its code might not fit');
  t.equal(full!.device_used, 912 * MiB, 'and the device loaded nothing');
  t.equal(freed!.rc, 0);
  t.equal(first!.rc, 0, 'with room, it runs');
  t.equal(first!.used, 512 * MiB + 8 * MiB + 16 * MiB, 'its 8 MiB of code charged at once');
  t.equal(second!.rc, 0, 'later first launches need only what is left');
  t.equal(second!.used, first!.used + 4 * MiB);
  t.ok(p.device_peak <= 1024 * MiB);
});
