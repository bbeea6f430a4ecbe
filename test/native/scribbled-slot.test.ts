// A container can write its own accounting region. What the driver took on its own is charged
// from NVML's figure and the process's own record of its charges, so numbers scribbled into its
// slot neither make the interposer forget that memory nor count it twice.
import t from 'tap';
import { spawn } from 'node:child_process';
import { MiB, accountingUsage, envFor, makeStateDir, program, scribbleRegion } from './fixtures/native.js';

interface Step { op: string; rc: number; used: number }
const OOM = 2; // CUDA_ERROR_OUT_OF_MEMORY

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

for (const [what, scribble] of [
  ['claims all it holds was allocated (nothing driver-taken)', { 'slot.0.used.0': 1 << 30 }],
  ['is zeroed', { 'slot.0.used.0': 0, 'slot.0.driver.0': 0 }],
] as const) {
  t.test(`a process whose slot ${what} still has exactly what it holds charged, and no more of its budget`, async (t) => {
    const state = makeStateDir(64n * BigInt(MiB), { createAccounting: true });
    t.teardown(state.cleanup);
    // 8 MiB allocated, 4 MiB taken by the driver outside any call; then, after the scribble and
    // well past the reconcile's readings, the rest of the 64 MiB budget and 1 MiB more.
    const child = spawn(program('driver-taken-probe'), ['alloc', '8m', 'take', '4m', 'sleep', '1800', 'alloc', '52m', 'alloc', '1m'],
      { env: envFor({ extra: { GPUMEM_STATE_DIR: state.dir } }), stdio: ['ignore', 'pipe', 'inherit'] });
    t.teardown(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise((r) => child.on('exit', r));

    for (let i = 0; i < 40 && accountingUsage(state.accounting).used?.[0] !== 12 * MiB; i++) await sleep(25);
    t.equal(accountingUsage(state.accounting).used?.[0], 12 * MiB, 'the 4 MiB the driver took are charged');
    for (const [field, value] of Object.entries(scribble)) scribbleRegion(state.accounting, field, value);
    await sleep(900); // three readings over 200 ms believe a lower figure; two ticks a higher one
    t.equal(accountingUsage(state.accounting).used?.[0], 12 * MiB, 'the region still charges the 12 MiB the process holds');

    await exited;
    const steps = (JSON.parse(out) as { steps: Step[] }).steps;
    t.equal(steps[3]!.rc, 0, 'the rest of the budget can be allocated');
    t.equal(steps[4]!.rc, OOM, 'but not a byte more');
  });
}
