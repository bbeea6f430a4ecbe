// Failed closed (the interposer cannot read or trust its budget), a program may allocate nothing,
// and what it is told agrees: nothing free, of the budget last known, never the GPU's own size.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { MiB, envFor, makeStateDir, program, runJson, runProgram } from './fixtures/native.js';

interface Mem { total: number; free: number; used: number }
interface NvmlReport { devices: (Mem & { v2: Mem & { reserved: number } })[] }

t.test('with an invalid GPUMEM_LIMIT a program is told of no memory at all, not of the whole 16 GiB GPU', async (t) => {
  const env = envFor({ extra: { GPUMEM_LIMIT: '12parsecs' } });
  const r = runProgram('alloc-until-oom', ['--block', '4m'], env);
  t.match(r.json, { allocated: 0, total: 0, free_before: 0, device_total: 0 }, 'cuMemGetInfo and cuDeviceTotalMem');
  t.equal(r.stderr.split('\n').length, 2, 'and why, in one line');
  const d = runJson<NvmlReport>('nvml-meminfo', [], env).json!.devices[0]!;
  t.same({ total: d.total, used: d.used, free: d.free }, { total: 0, used: 0, free: 0 }, 'NVML agrees');
});

t.test('with a region it cannot trust a program is told its 64 MiB budget, none of it free', async (t) => {
  const state = makeStateDir(BigInt(64 * MiB));
  t.teardown(state.cleanup);
  writeFileSync(state.accounting, 'not a region'); // what a container could leave there
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const r = runProgram('alloc-until-oom', ['--block', '4m'], env);
  t.match(r.json, { allocated: 0, total: 64 * MiB, free_before: 0, device_total: 64 * MiB });
  t.match(r.stderr, /^gpumem: .*accounting.*\n$/, 'and why, in one line');
  for (const name of ['nvml-meminfo', 'nvml-meminfo-linked']) {
    const d = runJson<NvmlReport>(name, [], env).json!.devices[0]!;
    t.same({ total: d.total, used: d.used, free: d.free }, { total: 64 * MiB, used: 64 * MiB, free: 0 }, name);
    t.same(d.v2, { total: 64 * MiB, reserved: 0, used: 64 * MiB, free: 0 }, `${name} _v2`);
  }
});

t.test('per-GPU budgets stay per GPU when closed: each GPU shows its own, a GPU without one shows nothing', async (t) => {
  const state = makeStateDir(0n);
  t.teardown(state.cleanup);
  writeFileSync(`${state.dir}/config/gpumem.conf`, `gpumem-config 1\nlimit.1 ${32 * MiB}\n`);
  writeFileSync(state.accounting, 'not a region');
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_DEVICE_COUNT: '2' } });
  t.match(runProgram('alloc-until-oom', ['--device', '1'], env).json, { allocated: 0, total: 32 * MiB, device_total: 32 * MiB, free_before: 0 });
  t.match(runProgram('alloc-until-oom', ['--device', '0'], env).json, { allocated: 0, total: 0, device_total: 0 });
});

// What a container sees when the host's state was wiped under it: gpumem's config directory
// still mounted, the file in it gone. Run in a mount namespace of its own with /run on a private
// tmpfs, so the host's state root is never touched.
t.test("in a container whose budget file is gone from the host, a program is refused everything, never unlimited", async (t) => {
  const env = envFor({ extra: { GPUMEM_LIMIT: '512m' } }); // what an image could bake in: not consulted
  const script = 'mount -t tmpfs gpumem-test /run && mkdir -p /run/gpumem/config && exec "$@"';
  const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script, 'sh', program('alloc-until-oom'), '--block', '4m'], { env, encoding: 'utf8' });
  t.equal(r.status, 0, r.stderr);
  t.match(JSON.parse(r.stdout.trim().split('\n').pop()!), { allocated: 0, total: 0, device_total: 0 }, 'nothing allocated, a GPU of no memory');
  t.match(r.stderr, /^gpumem: this container's budget \(\/run\/gpumem\/config\/gpumem.conf\) is gone from the host: every GPU allocation is refused\n$/, 'and why, in one line');
});
