// One process under GPUMEM_LIMIT: the budget is what it can allocate and what it is told.
import t from 'tap';
import { MiB, envFor, programs, runProgram } from './fixtures/native.js';

const sixteenGiB = 16 * 1024 * MiB;

for (const name of programs) {
  t.test(`${name}: with GPUMEM_LIMIT=64m a program fills 64 MiB, not the whole GPU`, async (t) => {
    const r = runProgram(name, ['--block', '4m'], envFor({ extra: { GPUMEM_LIMIT: '64m' } }));
    t.equal(r.status, 0, r.stderr);
    t.ok(r.json, `printed JSON: ${r.stdout}`);
    t.ok(r.json!.allocated >= 60 * MiB && r.json!.allocated <= 64 * MiB, `allocated ${r.json!.allocated}`);
    t.equal(r.json!.error, 'CUDA_ERROR_OUT_OF_MEMORY');
    t.equal(r.json!.total, 64 * MiB, 'cuMemGetInfo reports the budget as the total');
    t.equal(r.json!.free_before, 64 * MiB, 'and all of it free before the fill');
    t.equal(r.json!.free_after, 64 * MiB - r.json!.allocated, 'and what is left after it');
    t.equal(r.json!.device_total, 64 * MiB, 'cuDeviceTotalMem reports the budget');
    t.equal(r.stderr, '', 'nothing is printed on stderr');
  });

  t.test(`${name}: without the interposer a program gets the whole fake GPU`, async (t) => {
    const r = runProgram(name, ['--block', '64m'], envFor({ preload: false }));
    t.equal(r.json?.allocated, sixteenGiB);
    t.equal(r.json?.total, sixteenGiB);
    t.equal(r.json?.device_total, sixteenGiB);
  });

  t.test(`${name}: with the interposer but no budget, nothing is limited`, async (t) => {
    const r = runProgram(name, ['--block', '64m'], envFor({ extra: { FAKE_CUDA_DEVICE_MEM: '2g' } }));
    t.equal(r.json?.allocated, 2048 * MiB);
    t.equal(r.json?.device_total, 2048 * MiB);
    t.equal(r.stderr, '');
  });

  t.test(`${name}: an invalid GPUMEM_LIMIT is reported in one line and every allocation is refused`, async (t) => {
    const r = runProgram(name, ['--block', '4m'], envFor({ extra: { GPUMEM_LIMIT: '12parsecs' } }));
    t.equal(
      r.stderr,
      'gpumem: environment variable GPUMEM_LIMIT="12parsecs" is not a valid limit; use a size like 512m, 8g or 8GiB (a number with an optional unit b, k, m, g, t or p; binary multiples) or a percent of the GPU like 50%\n',
    );
    t.equal(r.json?.allocated, 0);
    t.equal(r.json?.error, 'CUDA_ERROR_OUT_OF_MEMORY');
  });
}

t.test('GPUMEM_LIMIT_<i> sets the budget of one device and GPUMEM_LIMIT the others', async (t) => {
  const extra = { FAKE_CUDA_DEVICE_COUNT: '2', GPUMEM_LIMIT: '64m', GPUMEM_LIMIT_1: '32m' };
  const d0 = runProgram('alloc-until-oom', ['--device', '0'], envFor({ extra }));
  const d1 = runProgram('alloc-until-oom', ['--device', '1'], envFor({ extra }));
  t.equal(d0.json?.allocated, 64 * MiB);
  t.equal(d1.json?.allocated, 32 * MiB);
  t.equal(d1.json?.device_total, 32 * MiB);
});

t.test('a program that frees before exit fills exactly the budget in small blocks', async (t) => {
  const env = envFor({ extra: { GPUMEM_LIMIT: '64m' } });
  const r = runProgram('alloc-until-oom', ['--block', '1m', '--free'], env);
  t.equal(r.json?.allocated, 64 * MiB);
  t.equal(r.json?.blocks, 64);
});

t.test('--max stops the fill early without an error', async (t) => {
  const r = runProgram('alloc-until-oom', ['--max', '20m'], envFor({ extra: { GPUMEM_LIMIT: '64m' } }));
  t.equal(r.json?.allocated, 20 * MiB);
  t.equal(r.json?.error, null);
});
