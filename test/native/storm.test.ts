// 8 processes x 16 threads allocate and free (cuMemAlloc, pitch, managed, VMM create+map with the
// handle released before or after the unmap) against one budget while processes are SIGKILLed
// at random instants and replaced: the accounting stays exact and the budget is never passed.
import t from 'tap';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { MiB, accountingUsage, envFor, makeStateDir, program, runJson, sharedDevice } from './fixtures/native.js';

const budget = 128 * MiB;
const contextMem = 8 * MiB;
const processes = 8;
const seconds = 6;
const kills = 6;

interface Report { pid: number; held: number; allocs?: number; by_kind?: number[]; refused?: number; info_bad?: number; error?: string }
interface Proc { child: ChildProcess; report: Promise<Report | null>; exited: Promise<number | null>; killed: boolean }

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

t.test('a storm of allocations with random SIGKILLs leaves the accounting exact and never passes the budget', async (t) => {
  const state = makeStateDir(BigInt(budget), { createAccounting: true });
  t.teardown(state.cleanup);
  const shared = join(state.dir, 'fake-device');
  t.equal(spawnSync(program('storm'), ['--init-shared', shared]).status, 0);
  const env = envFor({
    extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_CONTEXT_MEM: '8m', FAKE_CUDA_SHARED: shared },
  });
  const all: Proc[] = [];
  let seed = 1;
  const start = (secs: number): Proc => {
    const child = spawn(program('storm'),
      ['--threads', '16', '--seconds', secs.toFixed(2), '--max-block', '2m', '--seed', String(seed++)],
      { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    const report = new Promise<Report | null>((ok) => {
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('\n')) ok(JSON.parse(out.slice(0, out.indexOf('\n'))) as Report);
      });
      child.on('exit', () => ok(null));
    });
    const exited = new Promise<number | null>((ok) => child.on('exit', (code) => ok(code)));
    const p = { child, report, exited, killed: false };
    all.push(p);
    return p;
  };
  t.teardown(() => all.forEach((p) => p.child.kill('SIGKILL')));

  const began = Date.now();
  let live = Array.from({ length: processes }, () => start(seconds));
  for (let k = 0; k < kills; k++) {
    await sleep(300 + Math.random() * ((seconds * 1000 - 1500) / kills));
    const victim = live[Math.floor(Math.random() * live.length)]!;
    victim.killed = true;
    victim.child.kill('SIGKILL');
    live = live.filter((p) => p !== victim);
    const left = seconds - (Date.now() - began) / 1000;
    live.push(start(Math.max(0.5, left)));
  }

  // Every survivor reports what it still holds, within a bound: nothing hangs.
  const watchdog = setTimeout(() => all.forEach((p) => p.child.kill('SIGKILL')), (seconds + 10) * 1000);
  const reports = (await Promise.all(live.map((p) => p.report))) as (Report | null)[];
  t.ok(reports.every((r) => r !== null), 'every survivor reported (none hung or died)');
  const ok = reports.filter((r): r is Report => r !== null);
  t.ok(ok.every((r) => !r.info_bad), 'cuMemGetInfo never said free > total');
  const allocs = ok.reduce((s, r) => s + (r.allocs ?? 0), 0);
  t.ok(allocs > 1000, `the storm did allocate (${allocs} allocations, ${ok.reduce((s, r) => s + (r.refused ?? 0), 0)} refused)`);
  const byKind = [0, 1, 2, 3].map((k) => ok.reduce((s, r) => s + (r.by_kind?.[k] ?? 0), 0));
  t.ok(byKind.every((n) => n > 50), `every family took part (malloc, pitch, managed, VMM: ${byKind.join(', ')})`);

  // A process joining reclaims the killed ones' slots; NVML shows the container's use. A reading
  // the reconcile thread took while a call was between the driver and its charge is believed only
  // if the next ones agree: once the storm is over, a few ticks leave the charges exact.
  await sleep(800);
  const expected = ok.reduce((s, r) => s + r.held + (r.error ? 0 : contextMem), 0);
  const nvml = runJson<{ devices: { used: number; total: number }[] }>('nvml-meminfo', [], env).json!;
  t.equal(nvml.devices[0]!.used, expected, 'NVML: the use is exactly what the survivors hold');
  t.same(accountingUsage(state.accounting), { used: [expected], live: ok.length },
    'the region equals what is still allocated (dead processes hold nothing)');
  const device = sharedDevice(shared);
  t.equal(device.live_total, expected, 'the fake device holds exactly what the region says');
  t.ok(device.peak <= budget, `the device never held more than the budget (peak ${device.peak / MiB} MiB of ${budget / MiB})`);
  t.ok(device.peak > budget / 2, 'and the storm did push against it');

  live.forEach((p) => p.child.kill('SIGTERM'));
  const codes = await Promise.all(live.map((p) => p.exited));
  clearTimeout(watchdog);
  t.same(codes, live.map(() => 0), 'all survivors exit cleanly on SIGTERM');
  t.same(accountingUsage(state.accounting), { used: [0], live: 0 }, 'and give everything back');
  t.ok(Date.now() - began < 20_000, `bounded (${((Date.now() - began) / 1000).toFixed(1)} s)`);
});
