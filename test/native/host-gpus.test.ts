import t from 'tap';
import { spawnSync } from 'node:child_process';

// Runs hostGpus() in a fresh Node, with or without the fake NVML on the library path.
function hostGpus(env: Record<string, string>) {
  const r = spawnSync(
    process.execPath,
    ['--input-type=module', '-e', "import { hostGpus } from './dist/lib/ffi/native.js'; try { console.log(JSON.stringify(hostGpus())) } catch (e) { console.log(JSON.stringify({ error: e.message })) }"],
    { env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
  );
  return JSON.parse(r.stdout);
}

t.test('the host GPUs are read from NVML: count, size and UUID of each', async (t) => {
  const gpus = hostGpus({ LD_LIBRARY_PATH: 'native/build/fake', FAKE_CUDA_DEVICE_COUNT: '2', FAKE_CUDA_DEVICE_MEM: '24g' });
  t.equal(gpus.length, 2);
  t.same(gpus.map((g: { totalBytes: number }) => g.totalBytes), [24 * 2 ** 30, 24 * 2 ** 30]);
  t.match(gpus[0].uuid, /^GPU-[0-9a-f-]{36}$/);
  t.not(gpus[0].uuid, gpus[1].uuid);
});

t.test('a host without NVML gets a one-line reason, not a crash', async (t) => {
  const r = hostGpus({});
  t.match(r.error, /^NVML \(libnvidia-ml\.so\.1\) is not available on this host$/, "no made-up NVML error number");
});
