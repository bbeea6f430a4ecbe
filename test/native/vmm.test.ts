// VMM memory stays charged while it is mapped: the driver frees a cuMemCreate handle's memory
// only at the last of its releases (cuMemRelease, also of handles cuMemRetainAllocationHandle
// returned) and its unmaps, and gpumem uncharges it exactly then.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { MiB, envFor, program, runProgram } from './fixtures/native.js';

interface Step { step: string; rc: number; used: number; device: number }

const probe = (script: string) => {
  const r = spawnSync(program('vmm-probe'), script.split(/\s+/), {
    env: envFor({ extra: { GPUMEM_LIMIT: '64m' } }), encoding: 'utf8', timeout: 30_000,
  });
  const steps = JSON.parse(r.stdout) as Step[];
  return { steps, at: (name: string) => steps.find((s) => s.step === name)!, stderr: r.stderr };
};

/** Every step succeeded and the budget's view equals the fake device's after each one. */
const exact = (t: { same: (a: unknown, b: unknown, m: string) => unknown }, steps: Step[]) => {
  t.same(steps.filter((s) => s.rc !== 0), [], 'every call succeeded');
  t.same(steps.filter((s) => s.used !== s.device), [], 'charged = what the device holds, at every step');
};

t.test('a handle released while mapped stays charged until its unmap', async (t) => {
  const r = probe('reserve 16m create A 4m map 0 A release A unmap 0 4m');
  exact(t, r.steps);
  t.equal(r.at('release A').used, 4 * MiB, 'still charged after cuMemRelease: the mapping keeps it');
  t.equal(r.at('unmap 0 4m').used, 0, 'uncharged at the last unmap');
});

t.test('unmapped first, a handle is uncharged at its release', async (t) => {
  const r = probe('reserve 16m create A 4m map 0 A unmap 0 4m release A');
  exact(t, r.steps);
  t.equal(r.at('unmap 0 4m').used, 4 * MiB, 'unmapping alone keeps the handle charged');
  t.equal(r.at('release A').used, 0);
});

t.test('one cuMemUnmap over the mappings of two handles uncharges both', async (t) => {
  const r = probe('reserve 16m create A 4m create B 2m map 0 A map 4m B release A release B unmap 0 6m');
  exact(t, r.steps);
  t.equal(r.at('release B').used, 6 * MiB);
  t.equal(r.at('unmap 0 6m').used, 0);
});

t.test('a handle mapped twice stays charged until both mappings are gone', async (t) => {
  const r = probe('reserve 16m create A 4m map 0 A map 4m A release A unmap 0 4m unmap 4m 4m');
  exact(t, r.steps);
  t.equal(r.at('unmap 0 4m').used, 4 * MiB);
  t.equal(r.at('unmap 4m 4m').used, 0);
});

t.test('a range that covers only part of a mapping is refused and uncharges nothing', async (t) => {
  const r = probe('reserve 16m create A 4m map 0 A release A unmap 0 2m unmap 0 4m');
  t.not(r.at('unmap 0 2m').rc, 0, 'the driver refuses a sub-range');
  t.equal(r.at('unmap 0 2m').used, 4 * MiB, 'and the charge stays');
  t.equal(r.at('unmap 0 4m').used, 0);
});

t.test('a retained handle is one more reference: its release does not uncharge early', async (t) => {
  const r = probe('reserve 16m create A 4m map 0 A retain R 0 release R unmap 0 4m release A');
  exact(t, r.steps);
  t.equal(r.at('release R').used, 4 * MiB, 'the retained handle\'s release leaves it charged');
  t.equal(r.at('unmap 0 4m').used, 4 * MiB, 'unmapped, the original handle still holds it');
  t.equal(r.at('release A').used, 0, 'uncharged at the last reference');

  const late = probe('reserve 16m create A 4m map 0 A release A retain R 2m unmap 0 4m release R');
  exact(t, late.steps);
  t.equal(late.at('unmap 0 4m').used, 4 * MiB, 'retained after the original was released: still charged when unmapped');
  t.equal(late.at('release R').used, 0);
});

for (const name of ['alloc-until-oom', 'alloc-until-oom-linked']) {
  t.test(`${name}: under GPUMEM_LIMIT=64m a fill that releases each handle right after mapping it is refused at 64 MiB`, async (t) => {
    const r = runProgram(name, ['--api', 'vmm', '--map', '--block', '4m', '--max', '1g'],
      envFor({ extra: { GPUMEM_LIMIT: '64m' } }));
    t.equal(r.json?.error, 'CUDA_ERROR_OUT_OF_MEMORY');
    t.equal(r.json?.allocated, 64 * MiB);
    t.equal(r.stderr, '');
  });
}

t.test('cuGetProcAddress hands out cuMemMap, cuMemUnmap and cuMemRetainAllocationHandle from their versions', async (t) => {
  const queries = ['cuMemMap:10020:0', 'cuMemUnmap:12000:0', 'cuMemRetainAllocationHandle:11000:0',
    'cuMemMap:10010:0', 'cuMemRetainAllocationHandle:10020:0'];
  const r = spawnSync(program('procaddress-probe'), queries, { env: envFor(), encoding: 'utf8' });
  const a = Object.fromEntries(
    (JSON.parse(r.stdout) as { query: string; rc: number; status: number; from: string; name: string }[]).map((q) => [q.query, q]),
  );
  for (const q of queries.slice(0, 3)) t.match(a[q], { rc: 0, status: 0, from: 'libgpumem.so', name: q.split(':')[0] }, q);
  t.match(a['cuMemMap:10010:0'], { rc: 500, status: 2, from: 'null' }, 'before CUDA 10.2 the driver answers');
  t.match(a['cuMemRetainAllocationHandle:10020:0'], { rc: 500, status: 2, from: 'null' }, 'before CUDA 11.0 the driver answers');
});
