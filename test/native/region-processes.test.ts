// The region's process slots as gpumem inspect reads them through the host library: each live
// process of the container with what it holds per GPU, gone when it exits; a slot's driver-taken
// figure above what it holds (a scribble) is capped, and a scribbled header is an error, not a list.
import t from 'tap';
import { join } from 'node:path';
import * as host from '../../lib/ffi/native.js';
import { MiB, envFor, makeStateDir, runProgram, scribbleRegion, startHolding, writeConfig } from './fixtures/native.js';

const limit = BigInt(64 * MiB);

t.test('each process of the container is one slot with its own use per GPU, until it exits', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  writeConfig(join(state.dir, 'config', 'gpumem.conf'), limit, [0n, BigInt(32 * MiB)]);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_DEVICE_COUNT: '2' } });
  t.same(host.accountingProcesses(state.accounting), [], 'a fresh region: no process');

  const a = startHolding('alloc-until-oom', ['--max', '40m', '--hold', '20', '--device', '0'], env);
  const b = startHolding('alloc-until-oom', ['--max', '8m', '--hold', '20', '--device', '1'], env);
  t.teardown(() => { a.child.kill('SIGKILL'); b.child.kill('SIGKILL'); });
  await Promise.all([a.result, b.result]);
  const seen = host.accountingProcesses(state.accounting).sort((x, y) => x.pid - y.pid);
  const want = [
    { pid: a.child.pid!, usedPerGpu: new Map([[0, 40 * MiB]]), driverPerGpu: new Map(), driverUnseen: false },
    { pid: b.child.pid!, usedPerGpu: new Map([[1, 8 * MiB]]), driverPerGpu: new Map(), driverUnseen: false },
  ].sort((x, y) => x.pid - y.pid);
  t.same(seen, want, 'both, by pid, each with what it holds on its GPU');

  a.child.kill('SIGTERM');
  await a.exited;
  t.same(host.accountingProcesses(state.accounting).map((p) => p.pid), [b.child.pid], 'the one that exited is gone');
  t.equal(runProgram('alloc-until-oom', ['--max', '4m', '--device', '0'], env).json?.allocated, 4 * MiB);
  t.same(host.accountingProcesses(state.accounting).map((p) => p.pid), [b.child.pid], 'so is one that ran and ended');
});

t.test('what a container scribbles in a slot is capped, and a scribbled header is refused in one line', async (t) => {
  const state = makeStateDir(limit, { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir } });
  const a = startHolding('alloc-until-oom', ['--max', '16m', '--hold', '20'], env);
  t.teardown(() => a.child.kill('SIGKILL'));
  await a.result;
  const slot = host.accountingProcesses(state.accounting);
  t.equal(slot.length, 1);
  for (let i = 0; i < 4; i++) scribbleRegion(state.accounting, `slot.${i}.driver.0`, 2n ** 62n);
  t.same(host.accountingProcesses(state.accounting)[0]?.driverPerGpu, new Map([[0, 16 * MiB]]), 'driver-taken memory above what it holds reads as what it holds');
  scribbleRegion(state.accounting, 'max_slots', 7);
  t.throws(() => host.accountingProcesses(state.accounting), /accounting/, 'a header the host does not recognise is an error');
});
