// NVML (what nvidia-smi, pynvml and PyTorch read) shows the container's budget and its use.
import t from 'tap';
import {
  MiB, envFor, makeStateDir, runJson, startHolding, updateBudget,
} from './fixtures/native.js';

interface Mem { total: number; free: number; used: number }
interface NvmlDevice extends Mem {
  index: number; rc: number; uuid: string; v2: Mem & { reserved: number }; v2_bad_version_rc: number;
}
interface NvmlReport { count: number; devices: NvmlDevice[] }

const programs = ['nvml-meminfo', 'nvml-meminfo-linked'];

t.test('nvml-meminfo under the interposer reports total = budget and used = the container\'s charge', async (t) => {
  const state = makeStateDir(BigInt(64 * MiB), { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_CONTEXT_MEM: '8m' } });
  const holder = startHolding('alloc-until-oom', ['--max', '20m', '--hold', '20'], env);
  t.teardown(() => holder.child.kill('SIGKILL'));
  await holder.result;
  for (const name of programs) {
    const r = runJson<NvmlReport>(name, [], env).json!;
    t.equal(r.count, 1, name);
    const d = r.devices[0]!;
    t.same({ total: d.total, used: d.used, free: d.free },
      { total: 64 * MiB, used: 28 * MiB, free: 36 * MiB }, `${name}: 20 MiB and one 8 MiB context`);
    t.same(d.v2, { total: 64 * MiB, reserved: 0, used: 28 * MiB, free: 36 * MiB }, `${name}: _v2 the same`);
    t.equal(d.v2_bad_version_rc, 25, 'a wrong struct version is still refused by NVML itself');
  }
  holder.child.kill('SIGTERM');
  await holder.exited;
});

t.test('without a budget nvml-meminfo shows the device as it is', async (t) => {
  for (const name of programs) {
    const d = runJson<NvmlReport>(name, [], envFor()).json!.devices[0]!;
    t.same({ total: d.total, used: d.used, free: d.free }, { total: 16384 * MiB, used: 0, free: 16384 * MiB }, name);
  }
});

t.test('after the budget is lowered below the use nvml-meminfo shows used = total and free = 0, never an underflow', async (t) => {
  const state = makeStateDir(BigInt(64 * MiB), { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_CONTEXT_MEM: '8m' } });
  const holder = startHolding('alloc-until-oom', ['--max', '40m', '--hold', '20'], env);
  t.teardown(() => holder.child.kill('SIGKILL'));
  await holder.result;
  t.equal(updateBudget(`${state.dir}/config/gpumem.conf`, state.accounting, BigInt(16 * MiB)), undefined);
  for (const name of programs) {
    const d = runJson<NvmlReport>(name, [], env).json!.devices[0]!;
    t.same({ total: d.total, used: d.used, free: d.free }, { total: 16 * MiB, used: 16 * MiB, free: 0 }, name);
    t.same(d.v2, { total: 16 * MiB, reserved: 0, used: 16 * MiB, free: 0 }, `${name} _v2`);
  }
  holder.child.kill('SIGTERM');
  await holder.exited;
});

t.test('NVML and the driver agree on which GPU is which: budgets per GPU follow the index', async (t) => {
  const state = makeStateDir(BigInt(64 * MiB), { createAccounting: true });
  t.teardown(state.cleanup);
  t.equal(updateBudget(`${state.dir}/config/gpumem.conf`, state.accounting, BigInt(64 * MiB), [0n, BigInt(32 * MiB)]), undefined);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_DEVICE_COUNT: '2' } });
  const r = runJson<NvmlReport>('nvml-meminfo', [], env).json!;
  t.same(r.devices.map((d) => d.total), [64 * MiB, 32 * MiB]);
  t.same(r.devices.map((d) => d.uuid), [
    'GPU-fa4e0000-0000-0000-0000-000000000000', 'GPU-fa4e0000-0000-0000-0000-000000000001']);
});
