// The host changes a running container's budget: new config, then the region's generation.
import t from 'tap';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  MiB, accountingGeneration, accountingUsage, bumpGeneration, envFor, makeStateDir, program,
  readConfig, runProgram, scribbleRegion, updateBudget,
} from './fixtures/native.js';

interface Round { round: number; allocated: number; held: number; free: number; total: number }

/** fill-on-signal: fills at start and again at every next(); resolves each JSON line. */
function startFiller(env: Record<string, string>) {
  const child = spawn(program('fill-on-signal'), ['--block', '1m'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Round[] = [];
  const waiters: ((r: Round) => void)[] = [];
  let buf = '';
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
  child.stdout.on('data', (d: Buffer) => {
    buf += d.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const r = JSON.parse(buf.slice(0, nl)) as Round;
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(r); else lines.push(r);
    }
  });
  const nextLine = () => new Promise<Round>((ok) => {
    const r = lines.shift();
    if (r) ok(r); else waiters.push(ok);
  });
  const exited = new Promise<void>((ok) => child.on('exit', () => ok()));
  /** Its stderr once it matches (stdout and stderr are separate pipes: either may arrive first). */
  const stderrMatching = async (re: RegExp) => {
    for (let i = 0; i < 100 && !re.test(stderr); i++) await new Promise((ok) => setTimeout(ok, 20));
    return stderr;
  };
  return {
    child, exited, first: nextLine(), stderr: () => stderr, stderrMatching,
    fillAgain: () => { child.kill('SIGUSR1'); return nextLine(); },
  };
}

function setup(t: { teardown: (fn: () => void) => void }, limit: number) {
  const state = makeStateDir(BigInt(limit), { createAccounting: true });
  t.teardown(state.cleanup);
  const env = envFor({ extra: { GPUMEM_STATE_DIR: state.dir, FAKE_CUDA_CONTEXT_MEM: '8m' } });
  const config = `${state.dir}/config/gpumem.conf`;
  return { ...state, env, config };
}

t.test('raising the budget through gpumem_budget_update lets a running process allocate more', async (t) => {
  const s = setup(t, 32 * MiB);
  const f = startFiller(s.env);
  t.teardown(() => f.child.kill('SIGKILL'));
  t.match(await f.first, { allocated: 24 * MiB, total: 32 * MiB }, 'fills 32 MiB less its context');
  t.equal(updateBudget(s.config, s.accounting, BigInt(64 * MiB)), undefined);
  t.same(readConfig(s.config, 1), { limitAll: BigInt(64 * MiB), perGpu: [0n] }, 'the config holds the new budget');
  t.match(await f.fillAgain(), { allocated: 32 * MiB, held: 56 * MiB, total: 64 * MiB, free: 0 },
    'the same process, still holding, now gets 32 MiB more');
  t.same(accountingUsage(s.accounting), { used: [64 * MiB], live: 1 });
  f.child.kill('SIGTERM');
  await f.exited;
});

t.test('lowering the budget refuses new allocations and leaves existing ones in place', async (t) => {
  const s = setup(t, 64 * MiB);
  const f = startFiller(s.env);
  t.teardown(() => f.child.kill('SIGKILL'));
  t.match(await f.first, { allocated: 56 * MiB });
  t.equal(updateBudget(s.config, s.accounting, BigInt(16 * MiB)), undefined);
  t.match(await f.fillAgain(), { allocated: 0, held: 56 * MiB, total: 16 * MiB, free: 0 },
    'nothing more, nothing taken back, free clamped at 0');
  t.same(accountingUsage(s.accounting), { used: [64 * MiB], live: 1 });
  const other = runProgram('alloc-until-oom', ['--block', '1m'], s.env);
  t.equal(other.json?.allocated, undefined, 'a new process cannot even get its context in');
  t.match(other.stdout, /cannot make a context current/);
  f.child.kill('SIGTERM');
  await f.exited;
  t.equal(runProgram('alloc-until-oom', ['--block', '1m'], s.env).json?.allocated, 8 * MiB,
    'once the use fell, the lower budget applies: 16 MiB less one context');
});

t.test('per-GPU budgets change the same way', async (t) => {
  const s = setup(t, 64 * MiB);
  t.equal(updateBudget(s.config, s.accounting, BigInt(64 * MiB), [BigInt(24 * MiB)]), undefined);
  t.equal(runProgram('alloc-until-oom', ['--block', '1m'], s.env).json?.allocated, 16 * MiB);
});

t.test('a scribbled generation counter does not change the limit', async (t) => {
  const s = setup(t, 32 * MiB);
  const f = startFiller(s.env);
  t.teardown(() => f.child.kill('SIGKILL'));
  t.match(await f.first, { allocated: 24 * MiB });
  scribbleRegion(s.accounting, 'generation', 0xdeadbeefn);
  t.equal(accountingGeneration(s.accounting), 0xdeadbeefn, 'the counter holds what was scribbled');
  t.match(await f.fillAgain(), { allocated: 0, total: 32 * MiB },
    'the process re-reads the read-only config and finds the same budget');
  t.equal(runProgram('alloc-until-oom', ['--block', '1m'], s.env).stdout.includes('cannot make a context current'), true,
    'a new process is held to the same budget');
  f.child.kill('SIGTERM');
  await f.exited;
});

t.test('the host reader still rejects a scribbled region, and gpumem_budget_update refuses one', async (t) => {
  const s = setup(t, 32 * MiB);
  const good = readFileSync(s.accounting);
  scribbleRegion(s.accounting, 'version', 1); // the format before the generation counter
  t.match(accountingUsage(s.accounting), { error: /unsupported version/ });
  t.match(updateBudget(s.config, s.accounting, BigInt(64 * MiB)), /unsupported version/);
  writeFileSync(s.accounting, randomBytes(good.length));
  t.match(accountingUsage(s.accounting), { error: /bad magic/ });
  t.match(updateBudget(s.config, s.accounting, BigInt(64 * MiB)), /bad magic/);
  writeFileSync(s.accounting, good.subarray(0, 100));
  t.match(updateBudget(s.config, s.accounting, BigInt(64 * MiB)), /wrong size/);
  t.match(updateBudget(s.config, `${s.dir}/missing`, BigInt(64 * MiB)), /cannot open/);
  t.match(updateBudget(s.config, s.accounting, 3n << 62n), /invalid arguments/);
});

t.test('a config the host breaks closes the budget until a good one arrives', async (t) => {
  const s = setup(t, 32 * MiB);
  const f = startFiller(s.env);
  t.teardown(() => f.child.kill('SIGKILL'));
  t.match(await f.first, { allocated: 24 * MiB });
  writeFileSync(s.config, 'gpumem-config 1\nlimit lots\n');
  bumpGeneration(s.accounting);
  // Already at its budget, the process gets nothing either way: what says the budget closed is
  // the one line naming the config. It is still shown the budget it last had, never the GPU.
  const closed = await f.fillAgain();
  t.match(closed, { allocated: 0, free: 0, total: 32 * MiB }, 'fails closed: nothing free of the last budget');
  const broken = /gpumem: .*gpumem\.conf/g;
  t.equal((await f.stderrMatching(broken)).match(broken)?.length, 1, 'and says why, once');
  t.equal(updateBudget(s.config, s.accounting, BigInt(40 * MiB)), undefined);
  t.match(await f.fillAgain(), { allocated: 8 * MiB, total: 40 * MiB }, 'and opens again with the new budget');
  f.child.kill('SIGTERM');
  await f.exited;
});
