// Budgets keyed by GPU UUID: a container's GPU keeps its own budget and counter whatever order or
// names CUDA_VISIBLE_DEVICES gives the devices inside it.
import t from 'tap';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as host from '../../lib/ffi/native.js';
import { MiB, envFor, runJson, runProgram, startHolding } from './fixtures/native.js';

interface NvmlReport { count: number; devices: { index: number; uuid: string; total: number; free: number }[] }

const fakeHost = { FAKE_CUDA_DEVICE_COUNT: '2' };
// The fake host's GPUs as the host sees them (NVML, no interposer): host GPU i is uuids[i].
const hostView = runJson<NvmlReport>('nvml-meminfo', [], envFor({ preload: false, extra: fakeHost })).json!;
const [uuid0, uuid1] = hostView.devices.map((d) => d.uuid) as [string, string];
const madeUp = 'GPU-0badc0de-0000-4000-8000-000000000000';

/** A container whose GPU 0 is host GPU 0 (64 MiB) and GPU 1 host GPU 1 (128 MiB), unless told otherwise. */
function container(t: { teardown(fn: () => void): void }, uuids = new Map([[0, uuid0], [1, uuid1]]),
  perGpu = new Map([[0, BigInt(64 * MiB)], [1, BigInt(128 * MiB)]])) {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-uuid-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'config'));
  mkdirSync(join(dir, 'shared'));
  const config = join(dir, 'config', 'gpumem.conf');
  const accounting = join(dir, 'shared', 'accounting');
  host.writeConfig(config, { perGpu, uuids });
  host.createAccounting(accounting);
  /** The environment of a process in it that sees the devices CUDA_VISIBLE_DEVICES names (undefined: all). */
  const env = (visible?: string) => {
    const e = envFor({ extra: { ...fakeHost, GPUMEM_STATE_DIR: dir } });
    delete e.CUDA_VISIBLE_DEVICES;
    return visible === undefined ? e : { ...e, CUDA_VISIBLE_DEVICES: visible };
  };
  return { dir, config, accounting, env };
}

t.test('a process that sees the GPUs in the other order is held to each GPU\'s own budget', async (t) => {
  const c = container(t);
  const first = runProgram('alloc-until-oom', ['--device', '0'], c.env('1,0'));
  t.equal(first.json?.allocated, 128 * MiB, 'its device 0 is host GPU 1: the container\'s GPU 1, 128 MiB');
  t.equal(first.json?.total, 128 * MiB, 'and cuMemGetInfo says 128 MiB');
  t.equal(first.json?.device_total, 128 * MiB, 'and cuDeviceTotalMem too');
  const second = runProgram('alloc-until-oom-linked', ['--device', '1'], c.env('1,0'));
  t.equal(second.json?.allocated, 64 * MiB, 'its device 1 is host GPU 0: 64 MiB');
  t.equal(second.json?.total, 64 * MiB);
  t.equal(first.stderr + second.stderr, '', 'nothing is printed');
});

t.test('GPUs named by UUID in CUDA_VISIBLE_DEVICES, or only one of them, keep their budgets', async (t) => {
  const c = container(t);
  const byUuid = `${uuid1},${uuid0}`;
  t.equal(runProgram('alloc-until-oom', ['--device', '0'], c.env(byUuid)).json?.allocated, 128 * MiB);
  t.equal(runProgram('alloc-until-oom', ['--device', '1'], c.env(byUuid)).json?.allocated, 64 * MiB);
  const only = runProgram('alloc-until-oom', ['--device', '0'], c.env('1'));
  t.equal(only.json?.allocated, 128 * MiB, 'a process seeing only host GPU 1 gets its 128 MiB on its device 0');
  t.equal(only.json?.total, 128 * MiB);
});

t.test('two processes of one container with different orders charge each GPU\'s one counter', async (t) => {
  const c = container(t);
  const a = startHolding('alloc-until-oom', ['--device', '1', '--max', '40m', '--hold', '20'], c.env('0,1'));
  t.teardown(() => a.child.kill('SIGKILL'));
  t.equal((await a.result).allocated, 40 * MiB, 'A (0,1) holds 40 MiB on its device 1: host GPU 1');
  const b = startHolding('alloc-until-oom-linked', ['--device', '0', '--hold', '20'], c.env('1,0'));
  t.teardown(() => b.child.kill('SIGKILL'));
  const br = await b.result;
  t.equal(br.allocated, 88 * MiB, 'B (1,0) gets the 88 MiB left of host GPU 1 on its device 0');
  t.equal(br.free_before, 88 * MiB, 'and is told only that much is free');
  const d = runProgram('alloc-until-oom', ['--device', '0', '--max', '24m'], c.env('0,1'));
  t.equal(d.json?.allocated, 24 * MiB, 'host GPU 0 is untouched by either');
  const e = startHolding('alloc-until-oom', ['--device', '1', '--max', '16m', '--hold', '20'], c.env('1,0'));
  t.teardown(() => e.child.kill('SIGKILL'));
  t.equal((await e.result).allocated, 16 * MiB, 'E (1,0) holds 16 MiB on its device 1: host GPU 0');
  const u = host.accountingUsage(c.accounting);
  t.same([u.usedPerGpu.get(0) ?? 0, u.usedPerGpu.get(1) ?? 0], [16 * MiB, 128 * MiB],
    'the host reads per container GPU what each host GPU holds: 16 MiB on GPU 0, 40 + 88 MiB on GPU 1');
  t.equal(u.processes, 3);
  const inside = runJson<NvmlReport>('nvml-meminfo', [], c.env('1,0')).json!;
  t.same(inside.devices.map((x) => [x.uuid, x.total, x.free]),
    [[uuid0, 64 * MiB, 48 * MiB], [uuid1, 128 * MiB, 0]], 'NVML inside shows each GPU with its own budget and use');
  for (const p of [a, b, e]) p.child.kill('SIGTERM');
  await Promise.all([a.exited, b.exited, e.exited]);
});

t.test('a device that no uuid line names gets nothing, and says so in one line', async (t) => {
  const c = container(t, new Map([[0, uuid1]]), new Map([[0, BigInt(64 * MiB)]]));
  const named = runProgram('alloc-until-oom', ['--device', '1'], c.env());
  t.equal(named.json?.allocated, 64 * MiB, 'host GPU 1, named as the container\'s GPU 0, has its budget');
  const unnamed = runProgram('alloc-until-oom', ['--device', '0', '--block', '4m'], c.env());
  t.notOk(unnamed.json?.allocated, `nothing is allocated on host GPU 0: ${unnamed.stdout}`);
  t.equal(unnamed.stderr,
    `gpumem: CUDA device 0 (UUID ${uuid0.slice(4)}) is not one of this container's GPUs (no uuid line of its config names it): every allocation on it is refused\n`);
  const nvml = runJson<NvmlReport>('nvml-meminfo', [], c.env()).json!;
  t.same(nvml.devices.map((x) => [x.total, x.free]), [[0, 0], [64 * MiB, 64 * MiB]],
    'NVML shows the unnamed GPU with nothing in it, the named one with its budget');

  const none = container(t, new Map([[0, madeUp]]), new Map([[0, BigInt(64 * MiB)]]));
  for (const dev of ['0', '1']) {
    const r = runProgram('alloc-until-oom', ['--device', dev], none.env());
    t.notOk(r.json?.allocated, `a config naming a UUID no device has: nothing on device ${dev}`);
    t.match(r.stderr, /is not one of this container's GPUs/);
  }
});

t.test('bad uuid lines are refused by the parser with one line naming the line', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-uuid-parse-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gpumem.conf');
  const good = 'GPU-fa4e0000-0000-0000-0000-000000000001';
  const cases: [string, RegExp][] = [
    [`uuid.0 GPU-fa4e0000-0000-0000-0000-00000000001`, /line 2 has no GPU UUID/], // a digit short
    [`uuid.0 GPU-fa4e00000-000-0000-0000-000000000001`, /line 2 has no GPU UUID/], // dash misplaced
    [`uuid.0 gpu-fa4e0000-0000-0000-0000-000000000001`, /line 2 has no GPU UUID/], // not NVML's prefix
    [`uuid.0 GPU-fa4e0000-0000-0000-0000-00000000000g`, /line 2 has no GPU UUID/],
    [`uuid.0 ${good} `, /line 2 has no GPU UUID/],
    [`uuid.0 ${good.slice(4)}`, /line 2 has no GPU UUID/],
    [`uuid.64 ${good}`, /line 2 is not `limit <bytes>`, `limit.<i> <bytes>` or `uuid.<i> <GPU UUID>`/],
    [`uuid.01 ${good}`, /line 2 is not/],
    [`uuid. ${good}`, /line 2 is not/],
    [`uuid.0 ${good}\nuuid.0 ${good.replace(/1$/, '2')}`, /line 3 is not/],
    [`uuid.0 ${good}\nuuid.1 ${good.toUpperCase()}`, /line 3 names a GPU UUID an earlier uuid line already named/],
  ];
  for (const [lines, message] of cases) {
    writeFileSync(path, `gpumem-config 1\n${lines}\n`);
    let error = '';
    try {
      host.readBudgets(path);
    } catch (e) {
      error = (e as Error).message;
    }
    t.match(error, message, JSON.stringify(lines));
    t.match(error, new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: [^\n]*$`), 'one line, naming the file');
  }
});

t.test('uuids written by the host library read back the same, in NVML\'s lowercase', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gpumem-uuid-write-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'gpumem.conf');
  const mig = 'MIG-0B5C8F0E-2A4D-5E6F-8A9B-0C1D2E3F4A5B';
  host.writeConfig(path, { all: 1n << 30n, perGpu: new Map([[3, 2n << 30n]]), uuids: new Map([[0, uuid1], [3, mig]]) });
  t.same(host.readBudgets(path), {
    all: 1n << 30n, perGpu: new Map([[3, 2n << 30n]]), uuids: new Map([[0, uuid1], [3, mig.toLowerCase().replace(/^mig/, 'MIG')]]),
  });
  host.writeConfig(path, { all: 1n << 30n, perGpu: new Map() });
  t.same(host.readBudgets(path), { all: 1n << 30n, perGpu: new Map() }, 'no uuids: none read back');
  const refused = (uuids: Map<number, string>) => {
    try {
      host.writeConfig(path, { perGpu: new Map(), uuids });
      return '';
    } catch (e) {
      return (e as Error).message;
    }
  };
  t.match(refused(new Map([[1, 'GPU-1234']])), /^uuid of GPU 1, "GPU-1234", is not a GPU UUID \(accepted: GPU- or MIG- /);
  t.match(refused(new Map([[0, uuid0], [2, uuid0.toUpperCase().replace(/^GPU/, 'GPU')]])), /^uuid of GPU 2, .* is GPU 0's too/);
  t.match(refused(new Map([[0, 'x'.repeat(200)]])), /uuid of GPU 0, .* is not a GPU UUID/);
  t.same(host.readBudgets(path), { all: 1n << 30n, perGpu: new Map() }, 'a refused write leaves the config as it was');
});

t.test('a live budget change that keeps the uuids applies to the GPU they name', async (t) => {
  const c = container(t);
  const before = host.readBudgets(c.config);
  host.updateBudget(c.config, c.accounting, { ...before, perGpu: new Map([[0, BigInt(64 * MiB)], [1, BigInt(32 * MiB)]]) });
  t.equal(runProgram('alloc-until-oom', ['--device', '0'], c.env('1,0')).json?.allocated, 32 * MiB,
    'the new budget of the container\'s GPU 1 holds on host GPU 1');
  t.same(host.readBudgets(c.config).uuids, before.uuids, 'and the uuids are still there');
});
